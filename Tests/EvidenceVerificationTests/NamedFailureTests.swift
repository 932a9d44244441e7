// SPDX-License-Identifier: Apache-2.0
// Every single-bit change in a signed region or a certificate is rejected naming the check; bad input is an error.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEEvidence
import TestSupport
import Testing

/// SNP report fields whose flip, besides breaking the signature, another check sees (or that decide which
/// key signed): offset range → the codes such a flip may add.
private let snpFieldsOtherChecksRead: [(Range<Int>, Set<VerificationFailure.Code>)] = [
    (0x34..<0x38, [.unsupportedSignatureAlgorithm]),  // SIGNATURE_ALGO
    (0x48..<0x4C, [.unsignedReport, .missingSigningCertificate]),  // KEY_INFO
    (0x180..<0x188, [.tcbMismatch]),  // REPORTED_TCB
    (0x188..<0x18B, [.productMismatch]),  // CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP
    (0x1A0..<0x1E0, [.chipIDMismatch]),  // CHIP_ID
]

/// What a certificate flip may be rejected with: the chain breaks, and checks reading the changed
/// certificate (its key, its SPL or hwID extensions, its validity) may fail too.
private let snpCertificateFlipCodes: Set<VerificationFailure.Code> = [
    .missingSigningCertificate, .missingIntermediate, .missingRoot, .untrustedRoot, .reportSignatureMismatch,
    .tcbMismatch, .missingTCBExtension, .chipIDMismatch, .certificateNotValid, .productMismatch,
]

@Suite("Failures name the check")
struct NamedFailureTests {
    @Test(
        "a flip in the SNP signed region fails the report signature, plus only checks reading that field",
        arguments: SNPChainVector.all)
    func snpSignedRegion(vector: SNPChainVector) throws {
        let (report, certificates, date) = try vector.load()
        // Every region (header, policy, TCBs, REPORT_DATA, MEASUREMENT, ..., CHIP_ID) and every bit position.
        var tested = 0
        var exact = 0
        for offset in stride(from: 0, to: SNPReport.signedRange.upperBound, by: 13) {
            var bytes = report.rawBytes
            bytes[offset] ^= UInt8(1) << (offset % 8)
            guard let tampered = try? SNPReport(parsing: bytes) else { continue }  // rejected by the parser
            tested += 1
            let codes = SNPVerifier.verify(report: tampered, certificates: certificates, at: date).codes
            let location = "flip at 0x\(String(offset, radix: 16)): \(codes)"
            if let (_, others) = snpFieldsOtherChecksRead.first(where: { $0.0.contains(offset) }) {
                #expect(!codes.isEmpty, "\(location)")
                #expect(Set(codes).isSubset(of: others.union([.reportSignatureMismatch])), "\(location)")
            } else {
                exact += 1
                #expect(codes == [.reportSignatureMismatch], "\(location)")
            }
        }
        // 52 sampled offsets; the parser rejects 14-16 of them (reserved fields, must-be-zero bits), and 7 fall
        // in fields another check reads.
        #expect(tested >= 36, "only \(tested) flips parsed")
        #expect(exact >= 29, "only \(exact) flips had a determined outcome")
        // The signature itself: R and S.
        for offset in [0x2A0, 0x2C3, 0x2E8, 0x30F] {
            var bytes = report.rawBytes
            bytes[offset] ^= 0x80
            let result = SNPVerifier.verify(report: try SNPReport(parsing: bytes), certificates: certificates, at: date)
            #expect(result.codes == [.reportSignatureMismatch])
        }
    }

    @Test("flipping sampled bits in the VCEK, ASK or ARK breaks the chain, and fails nothing unrelated")
    func snpCertificates() throws {
        for vector in [SNPChainVector.all[0], SNPChainVector.all[1], SNPChainVector.all[7]] {
            let (report, certificates, date) = try vector.load()
            var tested = 0
            for index in certificates.indices {
                let der = certificates[index].der
                // The signed part (TBSCertificate) starts at 4 and is 4 + its 2-byte length long.
                let tbsEnd = 8 + (Int(der[6]) << 8 | Int(der[7]))
                for offset in stride(from: 8, to: tbsEnd, by: max(1, tbsEnd / 9)) {
                    var flipped = der
                    flipped[offset] ^= UInt8(1) << (offset % 8)
                    guard let broken = try? Certificate(der: flipped) else { continue }
                    tested += 1
                    var set = certificates
                    set[index] = broken
                    let codes = SNPVerifier.verify(report: report, certificates: set, at: date).codes
                    let location = "\(vector.report) certificate \(index) flip at \(offset): \(codes)"
                    // The flipped certificate's own signature no longer verifies: a link of the chain is gone.
                    #expect(codes.contains { $0.family == .chain }, "\(location)")
                    #expect(Set(codes).isSubset(of: snpCertificateFlipCodes), "\(location)")
                }
            }
            // 3 certificates × 9-10 sampled offsets; about half make the certificate unreadable (not counted).
            #expect(tested >= 14, "\(vector.report): only \(tested) certificate flips parsed")
        }
    }

    @Test("flipping sampled bits in each region of a TDX quote fails the check that covers it")
    func tdxRegions() throws {
        for file in ["spr-e4-v4-quote.dat", "tdx15-v5-quote.dat"] {
            let bytes = try Fixtures.bytes("tdx/" + file)
            let quote = try TDXQuote(parsing: bytes)
            let date = try #require(Timestamp(iso8601: "2026-06-01T00:00:00Z"))
            #expect(TDXVerifier.verify(quote: quote, at: date).trusted)
            let signedEnd = quote.signedBytes.count
            let signature = signedEnd + 4
            let key = signature + 64
            let qeReport = key + 64 + 2 + 4
            let qeSignature = qeReport + 384
            let authData = qeSignature + 64 + 2
            let chain = authData + quote.qeAuthData.count + 2 + 4
            // Each region and the exact failures a flip in it gives (QE REPORTDATA, the last 64 bytes of the
            // QE report, is also what binds the attestation key).
            let qeReportData = qeReport + 320..<qeSignature
            let regions: [(String, Range<Int>, (Int) -> [VerificationFailure.Code])] = [
                ("header and body", 0..<signedEnd, { _ in [.quoteSignatureMismatch] }),
                ("quote signature", signature..<key, { _ in [.quoteSignatureMismatch] }),
                ("attestation key", key..<key + 64, { _ in [.quoteSignatureMismatch, .qeReportDataMismatch] }),
                (
                    "QE report", qeReport..<qeSignature,
                    {
                        qeReportData.contains($0)
                            ? [.qeReportDataMismatch, .qeReportSignatureMismatch] : [.qeReportSignatureMismatch]
                    }
                ),
                ("QE report signature", qeSignature..<qeSignature + 64, { _ in [.qeReportSignatureMismatch] }),
                ("QE auth data", authData..<authData + quote.qeAuthData.count, { _ in [.qeReportDataMismatch] }),
            ]
            var tested = 0
            for (name, range, expected) in regions {
                for offset in stride(from: range.lowerBound, to: range.upperBound, by: max(1, range.count / 11)) {
                    var flipped = bytes
                    flipped[offset] ^= UInt8(1) << (offset % 8)
                    guard let tampered = try? TDXQuote(parsing: flipped) else { continue }
                    tested += 1
                    let codes = TDXVerifier.verify(quote: tampered, at: date).codes
                    #expect(codes == expected(offset), "\(file) \(name) flip at \(offset): \(codes)")
                }
            }
            // 6 regions × 11-12 sampled offsets; the parser rejects flips in a few header fields.
            #expect(tested >= 60, "\(file): only \(tested) flips parsed")
            // The PCK chain (leaf, PCK Platform CA, root) is PEM text: change base64 characters across all
            // three certificates (a changed character flips 1-6 bits of the DER).
            let chainLength = quote.pckChain.count
            let begin = Array("-----BEGIN CERTIFICATE-----\n".utf8)
            #expect(Array(bytes[chain..<chain + begin.count]) == begin)
            let base64 = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8))
            let chainCodes: Set<VerificationFailure.Code> = [
                .qeReportSignatureMismatch, .unreadablePCKChain, .missingRoot, .brokenChain, .untrustedRoot,
                .certificateNotValid,
            ]
            var testedChain = 0
            for offset in stride(from: chain + begin.count, to: chain + chainLength - 100, by: 89)
            where base64.contains(bytes[offset]) {
                var flipped = bytes
                flipped[offset] = flipped[offset] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                guard let tampered = try? TDXQuote(parsing: flipped) else { continue }
                testedChain += 1
                let codes = TDXVerifier.verify(quote: tampered, at: date).codes
                #expect(!codes.isEmpty, "\(file) PCK flip at \(offset) accepted")
                #expect(Set(codes).isSubset(of: chainCodes), "\(codes)")
            }
            #expect(testedChain > 30, "only \(testedChain) PCK chain positions were tested")
        }
    }

    @Test("a TDX quote is checked at the given time: after the PCK certificate expires it names validity")
    func tdxExpiry() throws {
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/spr-e4-v4-quote.dat"))
        let late = try #require(Timestamp(iso8601: "2030-01-01T00:00:00Z"))
        let result = TDXVerifier.verify(quote: quote, at: late)
        #expect(Set(result.codes) == [.certificateNotValid], "\(result.failures)")
        #expect(result.failures.allSatisfy { $0.hasPrefix("validity: '") && $0.contains(" is not valid at ") })
        let early = try #require(Timestamp(iso8601: "2022-01-01T00:00:00Z"))
        #expect(Set(TDXVerifier.verify(quote: quote, at: early).codes) == [.certificateNotValid])
    }
}

@Suite("Verification from raw inputs")
struct EvidenceVerifierTests {
    @Test("truncated and garbage evidence is a clear unreadable-evidence error, never a crash")
    func unreadable() throws {
        let report = try Fixtures.bytes("snp/genoa-v3-report.bin")
        let quote = try Fixtures.bytes("tdx/spr-e4-v4-quote.dat")
        let at = Timestamp(secondsSinceEpoch: 1_750_000_000)
        var garbage = [UInt8](repeating: 0, count: 5000)
        for index in garbage.indices { garbage[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
        let inputs: [[UInt8]] =
            [[], [0x02], garbage, Array(garbage.prefix(1184))]
            + stride(from: 1, to: 1184, by: 97).map { Array(report.prefix($0)) }
        for input in inputs {
            let error = #expect(throws: VerificationError.self) {
                _ = try EvidenceVerifier.verifySNP(report: input, certificates: [], at: at)
            }
            #expect(error?.code == .unreadableEvidence)
            #expect(error?.description.hasPrefix("failed to read the SNP report") == true)
        }
        for input in [[], garbage] + stride(from: 1, to: 4900, by: 211).map({ Array(quote.prefix($0)) }) {
            let error = #expect(throws: VerificationError.self) {
                _ = try EvidenceVerifier.verifyTDX(quote: input, at: at)
            }
            #expect(error?.code == .unreadableEvidence)
        }
    }

    @Test("a certificate file that is neither PEM nor DER is an unreadable-certificate error naming the file")
    func unreadableCertificate() throws {
        let report = try Fixtures.bytes("snp/genoa-v3-report.bin")
        let error = #expect(throws: VerificationError.self) {
            _ = try EvidenceVerifier.verifySNP(
                report: report, certificates: [(name: "notes.txt", bytes: Array("hello".utf8))],
                at: Timestamp(secondsSinceEpoch: 0))
        }
        #expect(error?.code == .unreadableCertificate)
        #expect(error?.description.contains("'notes.txt'") == true)
    }

    @Test("an extended report carries its certificates: it verifies with no certificate files")
    func extendedReport() throws {
        let vector = SNPChainVector.all[5]
        let (report, certificates, date) = try vector.load()
        let kinds: [SNPCertificateTable.Kind] = [.vcek, .ask, .ark]
        let table = SNPCertificateTable(certificates: zip(kinds, certificates.map(\.der)).map { ($0, $1) })
        let result = try EvidenceVerifier.verifySNP(
            report: report.rawBytes + table.serialize(), certificates: [], at: date)
        #expect(result.failures == [])
        guard case .trusted(let details) = result.outcome else {
            Issue.record("not trusted: \(result.failures)")
            return
        }
        #expect(details.passed.contains("report signature"))
        #expect(details.summary == .snp(report.summary()))
    }

    @Test("the outcome of a rejected result lists exactly its failures")
    func rejectedOutcome() throws {
        let (report, _, date) = try SNPChainVector.all[0].load()
        let result = try EvidenceVerifier.verifySNP(report: report.rawBytes, certificates: [], at: date)
        #expect(result.outcome == .rejected(result.rejections))
        #expect(result.codes == [.missingSigningCertificate])
        #expect(
            result.failures == [
                "vcek: no VCEK certificate given (pass it with --cert, or use an extended report with its certificate "
                    + "table)"
            ])
    }

    @Test("an extra root is trusted only when passed; a chain to an unknown root is rejected naming 'ark'")
    func extraRoot() throws {
        let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let arkKey = try PrivateKey.generateRSA(bits: 2048)
        var arkBuilder = CertificateBuilder(
            subject: [("CN", "ARK-Test")], serial: [1], notBefore: now - 3600, notAfter: now + 3600,
            publicKey: arkKey.publicKey)
        arkBuilder.basicConstraints(ca: true)
        let ark = try arkBuilder.sign(issuer: [("CN", "ARK-Test")], key: arkKey, alg: .sha384, rsaPSS: true)
        let (report, certificates, date) = try SNPChainVector.all[0].load()
        // The real VCEK and ASK, but an ARK that did not sign the ASK: the chain is broken.
        let broken = SNPVerifier.verify(
            report: report, certificates: [certificates[0], certificates[1]], extraRoots: [ark], at: date)
        #expect(broken.codes == [.missingRoot], "\(broken.failures)")
        // With no ASK at all, the VCEK has no issuer.
        let noASK = SNPVerifier.verify(report: report, certificates: [certificates[0]], extraRoots: [ark], at: date)
        #expect(noASK.codes == [.missingIntermediate], "\(noASK.failures)")
        // An extra root changes nothing for a chain to AMD's pinned ARK.
        let roots = try EvidenceVerifier.loadCertificates(
            [(name: "ark.pem", bytes: Array(ark.pem.utf8))], what: "trust root")
        let real = SNPVerifier.verify(report: report, certificates: certificates, extraRoots: roots, at: date)
        #expect(real.failures == [] && real.passed.contains("vcek chain to AMD ARK-Milan"))
    }

    @Test("the compiled-in fingerprints are those of the published AMD ARKs and the Intel SGX Root CA")
    func trustAnchors() throws {
        var products: [String: String] = [:]
        for product in ["milan", "genoa", "turin"] {
            for kind in ["vcek-ask-ark", "vlek-asvk-ark"] {
                let chain = try Certificate.parse(pemOrDER: Fixtures.bytes("certs/amd-\(product)-\(kind).pem"))
                let ark = try #require(chain.last)
                products[Hex.encode(ark.spkiSHA256)] = String(ark.subject.split(separator: "-").last ?? "")
            }
        }
        #expect(products.count == 3)
        #expect(Set(products.keys) == Set(TrustAnchors.amdARK.keys))
        for (fingerprint, product) in TrustAnchors.amdARK {
            #expect(products[fingerprint]?.hasPrefix(product) == true)
        }
        let intel = try Certificate.parse(pemOrDER: Fixtures.bytes("collateral/intel-sgx-root-ca.pem"))
        #expect(intel.map { Hex.encode($0.spkiSHA256) } == [TrustAnchors.intelSGXRootCA])
    }
}
