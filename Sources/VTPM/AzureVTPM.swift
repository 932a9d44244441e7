// SPDX-License-Identifier: Apache-2.0
// The Azure paravisor's vTPM: report data in, HCL report out, the quote and the PCRs, every answer checked.

#if canImport(Glibc)
import Glibc
#endif

/// A TPM2_Quote as Azure evidence carries it (upstream's `vtpm::Quote`): the RSASSA signature, the
/// TPMS_ATTEST message, and the 24 SHA-256 PCR values.
public struct VTPMQuote: Sendable, Equatable {
    public var signature: [UInt8]
    public var message: [UInt8]
    public var pcrs: [[UInt8]]

    public init(signature: [UInt8], message: [UInt8], pcrs: [[UInt8]]) {
        self.signature = signature
        self.message = message
        self.pcrs = pcrs
    }
}

/// The Azure CVM vTPM operations (the `az-cvm-vtpm` crate's `vtpm` module), on any ``TPMCommands``.
/// The TPM's answers are treated as hostile: sizes, counts and algorithms are checked and a mismatch is an
/// error that names the command.
public struct AzureVTPM {
    /// Where the paravisor keeps the HCL report.
    public static let hclReportIndex: UInt32 = 0x0140_0001
    /// Where the guest writes the report data for a fresh HCL report.
    public static let reportDataIndex: UInt32 = 0x0140_0002
    /// The attestation key (HCLAkPub), a persistent RSA signing key.
    public static let attestationKeyHandle: UInt32 = 0x8100_0003
    /// PCRs 0–23 of the SHA-256 bank.
    public static let quotedPCRs = Array(0..<24)
    /// TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD: the attributes upstream defines 0x01400002 with.
    public static let reportDataAttributes: UInt32 = 0x0000_0002 | 0x0002_0000
    /// The largest HCL report read (the NV index on Azure is a few KiB; anything larger is refused).
    public static let maxHCLReportSize = 32 * 1024
    /// The largest RSA signature accepted (RSA-4096).
    public static let maxSignatureSize = 512

    public let tpm: any TPMCommands

    public init(tpm: any TPMCommands) { self.tpm = tpm }

    /// Writes `reportData` (1–64 bytes: upstream writes the runtime-data digest as it is) to NV index
    /// 0x01400002, defining it (owner read/write) when absent and redefining it when its size differs, as
    /// upstream's `write_nv_index` does.
    public func writeReportData(_ reportData: [UInt8]) throws(VTPMError) {
        guard (1...64).contains(reportData.count) else {
            throw VTPMError(
                .invalidArgument, "report data for NV index 0x01400002 must be 1 to 64 bytes, not \(reportData.count)")
        }
        let index = AzureVTPM.reportDataIndex
        if let existing = try tpm.nvReadPublic(index: index) {
            if existing.size != reportData.count {
                try tpm.nvUndefineSpace(index: index)
                try tpm.nvDefineSpace(index: index, size: reportData.count, attributes: AzureVTPM.reportDataAttributes)
            }
        } else {
            try tpm.nvDefineSpace(index: index, size: reportData.count, attributes: AzureVTPM.reportDataAttributes)
        }
        try tpm.nvWrite(index: index, data: reportData, offset: 0)
    }

    /// Reads the whole NV index `index` in chunks of the TPM's NV buffer.
    public func readNV(index: UInt32, maxSize: Int = AzureVTPM.maxHCLReportSize) throws(VTPMError) -> [UInt8] {
        let name = "NV index 0x" + String(index, radix: 16, uppercase: false).leftPadded(to: 8)
        guard let (size, _) = try tpm.nvReadPublic(index: index) else {
            throw VTPMError(
                .unavailable,
                "\(name) is not defined: this vTPM holds no HCL report (not an Azure confidential VM, "
                    + "or the paravisor has not written it)")
        }
        guard size > 0, size <= maxSize else {
            throw VTPMError(.badAnswer, "\(name): the TPM says it holds \(size) bytes (expected 1 to \(maxSize))")
        }
        let chunk = try tpm.maxNVBuffer()
        guard chunk >= 64, chunk <= 4096 else {
            throw VTPMError(.badAnswer, "TPM_PT_NV_BUFFER_MAX is \(chunk) (expected 64 to 4096)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while bytes.count < size {
            let want = min(chunk, size - bytes.count)
            let got = try tpm.nvRead(index: index, size: want, offset: bytes.count)
            guard got.count == want else {
                throw VTPMError(
                    .badAnswer, "\(name): NV_Read at offset \(bytes.count) returned \(got.count) bytes, not \(want)")
            }
            bytes += got
        }
        return bytes
    }

    /// The HCL report (NV index 0x01400001) as it is now.
    public func readHCLReport() throws(VTPMError) -> [UInt8] {
        try readNV(index: AzureVTPM.hclReportIndex)
    }

    /// Writes `reportData` and reads the HCL report the paravisor then writes: `isFresh` tells whether a
    /// report carries it (its user data). Azure's paravisor updates the report during the NV write; the
    /// report is re-read (up to `settleSeconds`, upstream sleeps 3 s unconditionally) in case it lags.
    public func freshHCLReport(
        reportData: [UInt8], settleSeconds: Double = 3, isFresh: ([UInt8]) -> Bool
    ) throws(VTPMError) -> [UInt8] {
        try writeReportData(reportData)
        return try awaitHCLReport(settleSeconds: settleSeconds, isFresh: isFresh)
    }

    /// Reads the HCL report until `isFresh` accepts it, for up to `settleSeconds`.
    public func awaitHCLReport(settleSeconds: Double = 3, isFresh: ([UInt8]) -> Bool) throws(VTPMError) -> [UInt8] {
        var waited = 0.0
        var delay = 0.01
        while true {
            let report = try readHCLReport()
            if isFresh(report) { return report }
            guard waited < settleSeconds else {
                throw VTPMError(
                    .badAnswer,
                    "the HCL report at NV index 0x01400001 does not carry the report data written to 0x01400002 "
                        + "after \(Int(settleSeconds * 1000)) ms: the paravisor did not refresh it")
            }
            usleep(UInt32(delay * 1_000_000))
            waited += delay
            delay = min(delay * 2, 0.5)
        }
    }

    /// TPM2_Quote over PCRs 0–23 (SHA-256) with the AK at 0x81000003 and `nonce` as qualifying data, then
    /// the 24 PCR values (read after the quote, as upstream does; the verifier checks them against the
    /// quote's digest).
    public func quote(nonce: [UInt8]) throws(VTPMError) -> VTPMQuote {
        guard nonce.count <= 64 else {
            throw VTPMError(.invalidArgument, "the quote nonce is \(nonce.count) bytes (TPM2B_DATA holds at most 64)")
        }
        let raw = try tpm.quote(
            keyHandle: AzureVTPM.attestationKeyHandle, qualifyingData: nonce, pcrs: AzureVTPM.quotedPCRs)
        guard raw.signatureAlgorithm == 0x0014 else {
            throw VTPMError(
                .badAnswer,
                "TPM2_Quote signed with algorithm 0x\(String(raw.signatureAlgorithm, radix: 16)), not RSASSA (0x14): "
                    + "the key at 0x81000003 is not Azure's attestation key")
        }
        guard raw.hashAlgorithm == 0x000B else {
            throw VTPMError(
                .badAnswer, "TPM2_Quote hashed with 0x\(String(raw.hashAlgorithm, radix: 16)), not SHA-256 (0xb)")
        }
        guard (128...AzureVTPM.maxSignatureSize).contains(raw.signature.count) else {
            throw VTPMError(
                .badAnswer, "TPM2_Quote returned a \(raw.signature.count)-byte signature (expected 128 to 512)")
        }
        guard raw.attest.count >= 64, raw.attest.count <= 1024 else {
            throw VTPMError(
                .badAnswer, "TPM2_Quote returned a \(raw.attest.count)-byte TPMS_ATTEST (expected 64 to 1024)")
        }
        return VTPMQuote(signature: raw.signature, message: raw.attest, pcrs: try readPCRs())
    }

    /// PCRs 0–23 of the SHA-256 bank, in order (TPM2_PCR_Read returns at most 8 per call).
    public func readPCRs() throws(VTPMError) -> [[UInt8]] {
        var values = [[UInt8]?](repeating: nil, count: 24)
        var remaining = AzureVTPM.quotedPCRs
        var rounds = 0
        while !remaining.isEmpty {
            rounds += 1
            guard rounds <= 24 else { throw VTPMError(.badAnswer, "TPM2_PCR_Read makes no progress") }
            let answer = try tpm.pcrRead(pcrs: remaining)
            guard !answer.isEmpty else {
                throw VTPMError(
                    .badAnswer, "TPM2_PCR_Read returned no values for PCRs \(remaining) (no SHA-256 bank?)")
            }
            for (index, value) in answer {
                guard remaining.contains(index) else {
                    throw VTPMError(.badAnswer, "TPM2_PCR_Read returned PCR \(index), which was not asked for")
                }
                guard value.count == 32 else {
                    throw VTPMError(.badAnswer, "TPM2_PCR_Read returned \(value.count) bytes for SHA-256 PCR \(index)")
                }
                values[index] = value
                remaining.removeAll { $0 == index }
            }
        }
        return values.compactMap { $0 }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
