// SPDX-License-Identifier: Apache-2.0
// The vTPM operations against swtpm (NV round trip, quote verified), the missing library, hostile answers.

import AgentBase
import Cryptography
import TEEDevice
import TEEEvidence
import TEESimulator
import TestSupport
import Testing

@testable import VTPM

#if canImport(Glibc)
import Glibc
#endif

@Suite("tpm2-tss through dlopen, against swtpm", .tags(.integration))
struct SoftwareTPMIntegrationTests {
    func withTPM(_ body: (TPM, SoftwareTPM) throws -> Void) throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-swtpm")
        defer { Fixtures.removeTree(directory) }
        let software = try SoftwareTPM.start(stateDirectory: directory + "/state")
        defer { software.stop() }
        try body(try TPM(tcti: software.tcti), software)
    }

    @Test(
        "NV write then read returns the bytes; a new size redefines 0x01400002",
        .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
    func nvRoundTrip() throws {
        try withTPM { tpm, _ in
            let vtpm = AzureVTPM(tpm: tpm)
            #expect(try tpm.nvReadPublic(index: AzureVTPM.reportDataIndex).map(\.size) == nil)
            let digest = (0..<48).map { UInt8($0 * 3 & 0xFF) }
            try vtpm.writeReportData(digest)
            #expect(try vtpm.readNV(index: AzureVTPM.reportDataIndex, maxSize: 64) == digest)
            let public1 = try #require(try tpm.nvReadPublic(index: AzureVTPM.reportDataIndex))
            #expect(public1.size == 48)
            #expect(public1.attributes & AzureVTPM.reportDataAttributes == AzureVTPM.reportDataAttributes)
            let padded = [UInt8](repeating: 0xA5, count: 64)
            try vtpm.writeReportData(padded)
            #expect(try vtpm.readNV(index: AzureVTPM.reportDataIndex, maxSize: 64) == padded)
            #expect(throws: VTPMError.self) { try vtpm.writeReportData([UInt8](repeating: 0, count: 65)) }
        }
    }

    @Test(
        "an NV index larger than the TPM's NV buffer is read in chunks",
        .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
    func chunkedRead() throws {
        try withTPM { tpm, _ in
            let chunk = try tpm.maxNVBuffer()
            let size = chunk + 700
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try tpm.nvDefineSpace(index: 0x0140_0010, size: size, attributes: 0x0002_0002)
            try tpm.nvWrite(index: 0x0140_0010, data: Array(bytes[..<chunk]), offset: 0)
            try tpm.nvWrite(index: 0x0140_0010, data: Array(bytes[chunk...]), offset: chunk)
            #expect(try AzureVTPM(tpm: tpm).readNV(index: 0x0140_0010) == bytes)
        }
    }

    @Test(
        "a quote over PCRs 0-23 verifies with the AK, carries the nonce and digests the PCRs read",
        .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
    func quoteVerifies() throws {
        try withTPM { tpm, _ in
            let ak = try tpm.provisionAttestationKey(at: AzureVTPM.attestationKeyHandle)
            #expect(ak.modulus.count == 256)
            #expect(try tpm.readRSAPublicKey(at: AzureVTPM.attestationKeyHandle) == ak)
            try tpm.extendPCR(4, digest: DigestAlgorithm.sha256.hash(Array("boot".utf8)))
            let nonce = (0..<48).map { UInt8($0) }
            let quote = try AzureVTPM(tpm: tpm).quote(nonce: nonce)
            #expect(quote.pcrs.count == 24)
            #expect(quote.pcrs[4] != [UInt8](repeating: 0, count: 32))
            let info = try TPMQuoteInfo(parsing: quote.message)
            #expect(info.extraData == nonce)
            #expect(info.pcrSelections.first?.indices == Array(0..<24))
            #expect(info.pcrDigest == DigestAlgorithm.sha256.hash(quote.pcrs.flatMap { $0 }))
            let key = try PublicKey(rsaModulus: ak.modulus, exponent: ak.exponent)
            #expect(key.verifyRSAPKCS1(.sha256, signature: quote.signature, data: quote.message))
            var flipped = quote.message
            flipped[flipped.count - 1] ^= 1
            #expect(!key.verifyRSAPKCS1(.sha256, signature: quote.signature, data: flipped))
        }
    }

    @Test(
        "no AK at 0x81000003: the quote fails and says which handle",
        .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
    func missingAK() throws {
        try withTPM { tpm, _ in
            let error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).quote(nonce: [1]) }
            #expect(error?.message.contains("0x81000003") == true, "\(String(describing: error))")
        }
    }

    @Test(
        "no HCL report: reading it says this is not an Azure CVM",
        .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
    func missingHCLReport() throws {
        try withTPM { tpm, _ in
            let error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readHCLReport() }
            #expect(error?.message.contains("not an Azure confidential VM") == true)
        }
    }
}

@Suite("the tpm2-tss library is optional and loaded only on use")
struct TSSLoadingTests {
    @Test("a missing libtss2 gives the install hint")
    func missingLibrary() {
        let error = #expect(throws: VTPMError.self) {
            _ = try TSSLibrary.load(esys: "libtss2-esys-ccagent-absent.so.0")
        }
        #expect(error?.code == .libraryMissing)
        #expect(
            error?.message.contains(
                "Azure vTPM support needs libtss2-esys (apt install libtss2-esys-3.0.2-0 libtss2-tctildr0") == true,
            "\(String(describing: error))")
        #expect(error?.message.contains("libtss2-esys-ccagent-absent.so.0") == true)
    }

    @Test("a TCTI that cannot be opened is a clear error, not a crash")
    func badTCTI() {
        let error = #expect(throws: VTPMError.self) { _ = try TPM(tcti: "device:/nonexistent/tpmrm0") }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("device:/nonexistent/tpmrm0") == true)
    }
}

@Suite("non-Azure runs never load libtss2", .tags(.integration))
struct LibraryLoadingIntegrationTests {
    /// The shared objects `arguments` loads, from the dynamic loader's own trace.
    static func loadedLibraries(_ arguments: [String]) throws -> String {
        try Subprocess.run([Binaries.ccagent] + arguments, environment: ["LD_DEBUG": "files"]).output
    }

    @Test("ccagent --version, status and sim-snp evidence never load libtss2; sim-az-snp does")
    func notLoadedOutsideAzure() throws {
        let fixture = try SimulatorFixture.shared()
        let simulator = fixture.directory + "/sim"
        let out = fixture.directory + "/sim-snp-report"
        for arguments in [
            ["--version"],
            ["status", "--tee", "sim-snp", "--simulator-dir", simulator, "--state-file", fixture.directory + "/st"],
            ["report", "generate", "--tee", "sim-snp", "--simulator-dir", simulator, "--out", out],
        ] {
            let trace = try LibraryLoadingIntegrationTests.loadedLibraries(arguments)
            #expect(trace.contains("file=libcrypto"), "the trace works: \(trace.prefix(400))")
            #expect(!trace.contains("libtss2"), "\(arguments) loaded libtss2")
        }
        guard SoftwareTPMRequirement.present else { return }
        let trace = try LibraryLoadingIntegrationTests.loadedLibraries([
            "report", "generate", "--tee", "sim-az-snp", "--simulator-dir", simulator, "--out", out,
        ])
        #expect(trace.contains("file=libtss2-esys.so.0"), "the Azure path loads it (so the check above can fail)")
    }
}

@Suite("hostile vTPM answers are refused with the command named")
struct HostileTPMTests {
    @Test("an NV index claiming an absurd size")
    func absurdSize() {
        let tpm = FakeTPM()
        tpm.nvIndices[AzureVTPM.hclReportIndex] = [1, 2, 3]
        tpm.claimedSize[AzureVTPM.hclReportIndex] = 10_000_000
        let error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readHCLReport() }
        #expect(error?.code == .badAnswer)
        #expect(error?.message.contains("10000000 bytes") == true, "\(String(describing: error))")
    }

    @Test("NV_Read returning fewer bytes than asked")
    func shortRead() {
        let tpm = FakeTPM()
        tpm.nvIndices[AzureVTPM.hclReportIndex] = [UInt8](repeating: 7, count: 3000)
        tpm.shortRead = true
        let error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readHCLReport() }
        #expect(error?.message.contains("NV_Read at offset 0 returned 1023 bytes, not 1024") == true)
    }

    @Test("an NV buffer size out of range")
    func badBufferSize() {
        let tpm = FakeTPM()
        tpm.nvIndices[AzureVTPM.hclReportIndex] = [1]
        tpm.maxBuffer = 0
        let error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readHCLReport() }
        #expect(error?.message.contains("TPM_PT_NV_BUFFER_MAX is 0") == true)
    }

    @Test("a quote signed with another scheme, hash or size")
    func badQuote() throws {
        let tpm = FakeTPM()
        tpm.quoteAnswer.signatureAlgorithm = 0x0018
        var error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).quote(nonce: [1]) }
        #expect(error?.message.contains("not RSASSA") == true)
        tpm.quoteAnswer.signatureAlgorithm = 0x0014
        tpm.quoteAnswer.hashAlgorithm = 0x0004
        error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).quote(nonce: [1]) }
        #expect(error?.message.contains("not SHA-256") == true)
        tpm.quoteAnswer.hashAlgorithm = 0x000B
        tpm.quoteAnswer.signature = [UInt8](repeating: 0, count: 4000)
        error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).quote(nonce: [1]) }
        #expect(error?.message.contains("4000-byte signature") == true)
        tpm.quoteAnswer.signature = [UInt8](repeating: 0, count: 256)
        #expect(throws: Never.self) { try AzureVTPM(tpm: tpm).quote(nonce: [1]) }
        #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).quote(nonce: [UInt8](repeating: 0, count: 65)) }
    }

    @Test("PCR values of the wrong size, unasked PCRs, or no progress")
    func badPCRs() throws {
        let tpm = FakeTPM()
        tpm.pcrAnswer = { pcrs in pcrs.prefix(8).map { (index: $0, value: [UInt8](repeating: 0, count: 20)) } }
        var error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readPCRs() }
        #expect(error?.message.contains("20 bytes for SHA-256 PCR 0") == true)
        tpm.pcrAnswer = { _ in [(index: 30, value: [UInt8](repeating: 0, count: 32))] }
        error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readPCRs() }
        #expect(error?.message.contains("PCR 30, which was not asked for") == true)
        tpm.pcrAnswer = { _ in [] }
        error = #expect(throws: VTPMError.self) { try AzureVTPM(tpm: tpm).readPCRs() }
        #expect(error?.message.contains("no values") == true)
        tpm.pcrAnswer = { pcrs in pcrs.prefix(8).map { (index: $0, value: [UInt8](repeating: 1, count: 32)) } }
        #expect(try AzureVTPM(tpm: tpm).readPCRs().count == 24)
    }

    @Test("a paravisor that never refreshes the HCL report: the agent gives up and says so")
    func staleReport() {
        let tpm = FakeTPM()
        tpm.nvIndices[AzureVTPM.hclReportIndex] = [UInt8](repeating: 0, count: 2000)
        let error = #expect(throws: VTPMError.self) {
            try AzureVTPM(tpm: tpm).freshHCLReport(reportData: [1, 2, 3], settleSeconds: 0.05) { _ in false }
        }
        #expect(error?.message.contains("did not refresh") == true)
        #expect(tpm.nvIndices[AzureVTPM.reportDataIndex] == [1, 2, 3], "the report data was written as given")
    }
}
