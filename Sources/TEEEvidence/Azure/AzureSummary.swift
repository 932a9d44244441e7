// SPDX-License-Identifier: Apache-2.0
// The stable summary of Azure vTPM evidence for `verify azure --json`: TEE, report data, PCRs, hardware report.

import AgentBase

extension EvidenceSummary {
    /// Azure vTPM evidence: `{"type","tee","evidence_version","report_data","pcrs":[24 hex],"hardware":{…}}`,
    /// where `report_data` is the TPM quote's qualifying data (the nonce) and `hardware` is the SNP report's
    /// or the TD quote's summary (the same keys as `verify snp|tdx`).
    public struct Azure: Sendable, Equatable, Encodable {
        /// The hardware report's summary.
        public enum Hardware: Sendable, Equatable, Encodable {
            case snp(SNP)
            case tdx(TDX)

            public func encode(to encoder: any Encoder) throws {
                switch self {
                case .snp(let snp): try snp.encode(to: encoder)
                case .tdx(let tdx): try tdx.encode(to: encoder)
                }
            }
        }

        public var type: String
        /// `az-snp-vtpm` or `az-tdx-vtpm`.
        public var tee: String
        public var evidenceVersion: Int
        /// Hex of the TPM quote's extraData.
        public var reportData: String
        /// The SHA-256 PCR values as sent, PCR 0 first.
        public var pcrs: [String]
        public var hardware: Hardware

        public init(tee: String, evidenceVersion: Int, reportData: String, pcrs: [String], hardware: Hardware) {
            self.type = tee
            self.tee = tee
            self.evidenceVersion = evidenceVersion
            self.reportData = reportData
            self.pcrs = pcrs
            self.hardware = hardware
        }

        enum CodingKeys: String, CodingKey {
            case type, tee, pcrs, hardware
            case evidenceVersion = "evidence_version"
            case reportData = "report_data"
        }
    }
}

extension AzureEvidence {
    /// The summary: the TD quote's fields for TDX (it is what Intel signs), the SNP report's for SNP.
    public func summary() -> EvidenceSummary.Azure {
        let hardware: EvidenceSummary.Azure.Hardware
        switch (hclReport.hardwareReport, tdQuote) {
        case (.snp(let report), _): hardware = .snp(report.summary())
        case (.tdx(_), let quote?): hardware = .tdx(quote.summary())
        case (.tdx(let report), nil): hardware = .tdx(report.summary())
        }
        return EvidenceSummary.Azure(
            tee: tee.rawValue, evidenceVersion: version, reportData: Hex.encode(tpmQuote.message.extraData),
            pcrs: tpmQuote.pcrs.map { Hex.encode($0) }, hardware: hardware)
    }
}
