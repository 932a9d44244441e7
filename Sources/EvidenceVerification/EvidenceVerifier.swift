// SPDX-License-Identifier: Apache-2.0
// Verification from raw inputs (evidence bytes, certificate files, collateral): the entry point of `verify`.

import AgentBase
import Cryptography
import TEEEvidence

/// Verifies evidence given as bytes, with certificates given as named files' bytes (PEM bundles or DER).
///
/// Throws ``VerificationError`` only when an input cannot be read; evidence that was read but fails a
/// check is returned as a rejected ``VerificationResult`` naming every failed check.
public enum EvidenceVerifier {
    /// A named input file's contents (the name is used in error messages only).
    public typealias NamedBytes = (name: String, bytes: [UInt8])

    /// Verifies an SNP report (1184 bytes) or an extended report (the report followed by the GHCB
    /// certificate table, whose certificates are used too).
    ///
    /// - Parameters:
    ///   - report: the report bytes as received (never re-encoded: the signature covers these bytes).
    ///   - certificates: VCEK/VLEK, ASK/ASVK and ARK certificates from files the user passes.
    ///   - trustRoots: extra roots to trust besides AMD's pinned ARKs (e.g. the simulator's); only when passed.
    ///   - revocationLists: AMD KDS CRLs (DER or PEM), checked when their issuer is in the chain.
    ///   - shippedCertificates: complete the chain with AMD's shipped ASK/ASVK and ARK (``AMDCertificates``).
    ///   - fetched: certificates obtained elsewhere for this report (e.g. a VCEK from AMD KDS), untrusted
    ///     like every other input.
    ///   - time: the time certificate validity is checked at.
    public static func verifySNP(
        report: [UInt8], certificates: [NamedBytes], trustRoots: [NamedBytes] = [],
        revocationLists: [NamedBytes] = [], shippedCertificates: Bool = false, fetched: [Certificate] = [],
        at time: Timestamp
    ) throws(VerificationError) -> VerificationResult {
        let parsed: SNPReport
        var embedded: [Certificate] = []
        var crls: [CertificateRevocationList] = []
        do {
            if report.count > SNPReport.size {
                parsed = try SNPReport(parsing: Array(report[0..<SNPReport.size]))
                let table = try SNPCertificateTable(parsing: Array(report[SNPReport.size...]))
                for entry in table.entries where [.vcek, .vlek, .ask, .ark].contains(entry.kind) {
                    guard let certificate = try? Certificate(der: entry.der) else {
                        throw VerificationError(
                            .unreadableCertificate,
                            "failed to read the \(entry.kind?.rawValue.uppercased() ?? "") certificate in the report's "
                                + "certificate table")
                    }
                    embedded.append(certificate)
                }
                for entry in table.entries where entry.kind == .crl {
                    guard let crl = try? CertificateRevocationList(der: entry.der) else {
                        throw VerificationError(
                            .unreadableCertificate, "failed to read the CRL in the report's certificate table")
                    }
                    crls.append(crl)
                }
            } else {
                parsed = try SNPReport(parsing: report)
            }
        } catch let error as VerificationError {
            throw error
        } catch {
            throw VerificationError(.unreadableEvidence, "failed to read the SNP report", underlying: error)
        }
        let given = try loadCertificates(certificates, what: "certificate")
        let roots = try loadCertificates(trustRoots, what: "trust root")
        for file in revocationLists {
            do {
                crls.append(try CertificateRevocationList.parse(pemOrDER: file.bytes))
            } catch {
                throw VerificationError(
                    .unreadableCertificate, "failed to read CRL file '\(file.name)': it is neither a PEM nor a DER CRL",
                    underlying: error)
            }
        }
        return SNPVerifier.verify(
            report: parsed, certificates: embedded + given + fetched, extraRoots: roots, revocationLists: crls,
            shippedCertificates: shippedCertificates, at: time)
    }

    /// Verifies a TDX quote (v4 or v5; trailing padding is ignored). The PCK chain comes from the quote's
    /// certification data; with `collateralDirectory` (TCB info, QE identity and the TCB signing chain
    /// as Intel PCS serves them) the collateral signatures and the TCB status are checked too; with
    /// `eventLog` (the CCEL data, or `cc_eventlog` as an agent sends it: CCEL then runtime events) its replay
    /// must give exactly RTMR0–3 of the quote, and each runtime (AAEL) event must match its digest.
    public static func verifyTDX(
        quote: [UInt8], collateralDirectory: String? = nil, eventLog: [UInt8]? = nil, trustRoots: [NamedBytes] = [],
        at time: Timestamp
    ) throws(VerificationError) -> VerificationResult {
        let parsed: TDXQuote
        do {
            parsed = try TDXQuote(parsing: quote)
        } catch {
            throw VerificationError(.unreadableEvidence, "failed to read the TDX quote", underlying: error)
        }
        let collateral = try loadCollateral(collateralDirectory)
        var log: CCELEventLog?
        if let eventLog {
            do {
                log = try CCELEventLog(parsing: eventLog)
            } catch {
                throw VerificationError(.unreadableEvidence, "failed to read the CCEL event log", underlying: error)
            }
        }
        let roots = try loadCertificates(trustRoots, what: "trust root")
        var result = TDXVerifier.verify(quote: parsed, extraRoots: roots, collateral: collateral, at: time)
        if let log {
            let replay = TDXEventLogCheck(log: log).evaluate(parsed) + TDXRuntimeEventCheck().evaluate(log)
            result.rejections += replay.failures
            result.passed += replay.passed
        }
        return result
    }

    /// Parses each file as a PEM bundle or one DER certificate; `what` names them in errors.
    public static func loadCertificates(_ files: [NamedBytes], what: String) throws(VerificationError) -> [Certificate]
    {
        var certificates: [Certificate] = []
        for file in files {
            do {
                certificates += try Certificate.parse(pemOrDER: file.bytes)
            } catch {
                throw VerificationError(
                    .unreadableCertificate,
                    "failed to read \(what) file '\(file.name)': it is neither PEM certificates nor one DER "
                        + "certificate", underlying: error)
            }
        }
        return certificates
    }

    /// The Intel PCS collateral in `directory`, when one is given.
    static func loadCollateral(_ directory: String?) throws(VerificationError) -> TDXCollateral? {
        guard let directory else { return nil }
        do {
            return try TDXCollateral(directory: directory)
        } catch {
            throw VerificationError(
                .unreadableCollateral, "failed to read the collateral in '\(directory)'", underlying: error)
        }
    }
}
