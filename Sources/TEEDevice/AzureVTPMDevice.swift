// SPDX-License-Identifier: Apache-2.0
// Azure confidential VMs: evidence from the paravisor's vTPM (HCL report + TPM quote) and IMDS, version 2.

import AgentBase
import AzureIMDS
import CanonicalJSON
import Cryptography
import SecureMemory
import TEEEvidence
import VTPM

/// Where the VCEK (SNP) and the TD quote (TDX) come from: Azure's IMDS, or the simulator's stand-in.
public protocol AzureCollateralSource: Sendable {
    func certificates() throws(IMDSError) -> IMDSCertificates
    func tdQuote(for tdReport: [UInt8]) throws(IMDSError) -> [UInt8]
}

extension IMDSClient: AzureCollateralSource {}

/// An Azure CVM's evidence source (`az-snp-vtpm` / `az-tdx-vtpm`), as upstream's attesters produce it
/// (guest-components `az_snp_vtpm` / `az_tdx_vtpm`, evidence version 2):
///
/// 1. the report data (the runtime-data digest, unpadded) is written to NV index 0x01400002, after which the
///    paravisor writes a fresh HCL report whose variable data carries it as `user-data`;
/// 2. the HCL report is read from NV index 0x01400001;
/// 3. TPM2_Quote over PCRs 0–23 (SHA-256) with the AK at 0x81000003, the report data as qualifying data,
///    and the 24 PCR values;
/// 4. SNP: the VCEK from IMDS; TDX: the TD quote IMDS makes for the HCL report's TDREPORT.
///
/// ``AttestationEvidence/bytes`` is the evidence JSON:
/// `{"version":2,"tpm_quote":{"signature","message","pcrs"},"hcl_report":…,"vcek"|"td_quote":…}`.
public struct AzureVTPMDevice: GuestDevice {
    public let kind: TEEKind
    /// Opens the TPM for one evidence request.
    let openTPM: @Sendable () throws(VTPMError) -> any TPMCommands
    let collateral: @Sendable () throws(IMDSError) -> any AzureCollateralSource
    /// Runs after the report data is written: the simulated paravisor refreshes the HCL report here.
    let afterReportDataWrite: (@Sendable (any TPMCommands) throws(VTPMError) -> Void)?
    /// How long a stale HCL report is re-read before giving up.
    public var settleSeconds: Double

    /// - Parameters:
    ///   - kind: one of the four Azure kinds.
    ///   - openTPM: the TPM (default: tpm2-tss on `CCAGENT_TCTI` or `device:/dev/tpmrm0`).
    ///   - collateral: IMDS (default: `CCAGENT_IMDS_URL` or 169.254.169.254).
    public init(
        kind: TEEKind,
        openTPM: @escaping @Sendable () throws(VTPMError) -> any TPMCommands = { () throws(VTPMError) in try TPM() },
        collateral: @escaping @Sendable () throws(IMDSError) -> any AzureCollateralSource = {
            () throws(IMDSError) in try IMDSClient()
        },
        afterReportDataWrite: (@Sendable (any TPMCommands) throws(VTPMError) -> Void)? = nil,
        settleSeconds: Double = 3
    ) {
        self.kind = kind
        self.openTPM = openTPM
        self.collateral = collateral
        self.afterReportDataWrite = afterReportDataWrite
        self.settleSeconds = settleSeconds
    }

    private var isSNP: Bool { kind == .azSNP || kind == .simAzSNP }

    /// Evidence whose TPM quote nonce and HCL user data are `reportData` (the runtime-data digest as it is,
    /// 1–64 bytes; upstream does not pad it). `vmpl` is ignored: the paravisor reports at VMPL 0.
    public func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence {
        let json = try evidenceJSON(reportData: reportData)
        return AttestationEvidence(kind: kind, bytes: json.serializedBytes())
    }

    /// The evidence document (`primary_evidence` of the /attest request).
    public func evidenceJSON(reportData: [UInt8]) throws(DeviceError) -> JSONValue {
        func fail(_ error: VTPMError) -> DeviceError {
            switch error.code {
            case .badAnswer: DeviceError(.malformedResponse, "Azure vTPM: \(error.message)")
            case .invalidArgument: DeviceError(.invalidRequest, "Azure vTPM: \(error.message)")
            default: DeviceError(.unavailable, "Azure vTPM: \(error.message)")
            }
        }
        let hclBytes: [UInt8]
        let quote: VTPMQuote
        do throws(VTPMError) {
            let tpm = try openTPM()
            let vtpm = AzureVTPM(tpm: tpm)
            try vtpm.writeReportData(reportData)
            try afterReportDataWrite?(tpm)
            hclBytes = try vtpm.awaitHCLReport(settleSeconds: settleSeconds) { bytes in
                guard let report = try? HCLReport(parsing: bytes), let userData = report.runtimeData.userData else {
                    return false
                }
                return userData.starts(with: reportData)
            }
            quote = try vtpm.quote(nonce: reportData)
        } catch {
            throw fail(error)
        }
        let hcl: HCLReport
        do {
            hcl = try HCLReport(parsing: hclBytes)
        } catch {
            throw DeviceError(.malformedResponse, "Azure vTPM: the HCL report at NV index 0x01400001: \(error)")
        }
        let expected: HCLReport.ReportType = isSNP ? .snp : .tdx
        guard hcl.reportType == expected else {
            throw DeviceError(
                .unavailable,
                "Azure vTPM: the HCL report holds a \(hcl.reportType == .snp ? "SNP" : "TDX") report, "
                    + "not the \(isSNP ? "SNP" : "TDX") one '\(kind.rawValue)' asks for: use --tee "
                    + (hcl.reportType == .snp ? "az-snp" : "az-tdx"))
        }
        var members: [(String, JSONValue)] = [
            ("version", .integer(2)),
            (
                "tpm_quote",
                .object([
                    ("signature", .string(Hex.encode(quote.signature))),
                    ("message", .string(Hex.encode(quote.message))),
                    ("pcrs", .array(quote.pcrs.map { .string(Hex.encode($0)) })),
                ])
            ),
            ("hcl_report", .string(Base64URL.encode(hclBytes))),
        ]
        let source: any AzureCollateralSource
        do {
            source = try collateral()
        } catch {
            throw DeviceError(.host, "Azure IMDS: \(error.message)")
        }
        switch hcl.hardwareReport {
        case .snp:
            members.append(("vcek", .string(Base64URL.encode(try vcekDER(source)))))
        case .tdx(let tdReport):
            members.append(("td_quote", .string(Base64URL.encode(try tdQuote(source, for: tdReport)))))
        }
        return .object(members)
    }

    /// The VCEK, DER, from IMDS's PEM: exactly one readable certificate.
    private func vcekDER(_ source: any AzureCollateralSource) throws(DeviceError) -> [UInt8] {
        let certificates: IMDSCertificates
        do {
            certificates = try source.certificates()
        } catch {
            throw DeviceError(.host, "Azure IMDS: \(error.message)")
        }
        guard let parsed = try? Certificate.parse(pemOrDER: Array(certificates.vcek.utf8)), parsed.count == 1 else {
            throw DeviceError(
                .malformedResponse, "Azure IMDS: 'vcekCert' is not exactly one readable X.509 certificate")
        }
        return parsed[0].der
    }

    /// The TD quote for `tdReport`, which must repeat its REPORTDATA (a quote for another TD is refused here
    /// already; the verifier compares every field).
    private func tdQuote(_ source: any AzureCollateralSource, for tdReport: TDReport) throws(DeviceError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try source.tdQuote(for: tdReport.rawBytes)
        } catch {
            throw DeviceError(.host, "Azure IMDS: \(error.message)")
        }
        let quote: TDXQuote
        do {
            quote = try TDXQuote(parsing: bytes)
        } catch {
            throw DeviceError(.malformedResponse, "Azure IMDS: the TD quote it returned is unreadable: \(error)")
        }
        guard quote.body.reportData == tdReport.reportData else {
            throw DeviceError(
                .malformedResponse,
                "Azure IMDS: the TD quote's REPORTDATA is not the HCL report's TDREPORT's: IMDS quoted another report")
        }
        return bytes
    }

    /// The paravisor gives the guest no SNP derived key (MSG_KEY_REQ belongs to VMPL 0).
    public func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes {
        throw DeviceError(
            .unavailable,
            "Azure confidential VMs have no TEE-derived key: the paravisor owns the SNP/TDX guest interface. "
                + "Seal with the broker instead (sealing pin 'broker', see docs/secrets.md)")
    }
}
