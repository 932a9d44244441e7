// SPDX-License-Identifier: Apache-2.0
// `ccagent verify azure`: offline verification of Azure vTPM evidence (az-snp-vtpm, az-tdx-vtpm).

import AgentBase
import CommandLineInterface
import EvidenceVerification

struct VerifyAzureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "azure",
        abstract: "Verify Azure confidential-VM evidence (az-snp-vtpm / az-tdx-vtpm): vTPM quote, HCL report, "
            + "hardware report.",
        discussion: """
            The evidence is the JSON an attestation agent sends (versions 0, 1 and 2); the TEE is read from its HCL
            report. --report-data is the TPM quote's expected nonce: for Trustee's KBS the runtime-data digest itself
            (48 bytes for SHA-384), not zero-padded. SNP: the VCEK comes with the evidence; pass AMD's ASK/ARK with
            --cert. TDX: the TD quote carries its PCK chain; --collateral adds the TCB status.
            """)

    @Option(help: "The evidence JSON file.")
    var evidence: String

    @Option(
        name: .customLong("report-data"), help: "The expected report data (TPM quote nonce), hex, at most 64 bytes.")
    var reportData: String

    @Option(
        name: .customLong("cert"),
        help: "More certificates for the SNP chain (AMD ASK/ARK): a PEM bundle, a DER file, or a directory of them.")
    var certificates: [String] = []

    @Option(help: "TDX: a directory with Intel PCS collateral (as for `verify tdx`).")
    var collateral: String?

    @OptionGroup var options: VerificationOptions

    func validate() throws {
        guard let bytes = Hex.decode(reportData), bytes.count <= 64 else {
            throw ValidationError("--report-data must be hex of at most 64 bytes, got '\(reportData)'")
        }
    }

    func run() throws {
        let time = try options.time()
        let result: VerificationResult
        do {
            result = try EvidenceVerifier.verifyAzure(
                evidence: readInput(evidence), reportData: Hex.decode(reportData) ?? [],
                certificates: certificates.flatMap(readCertificateFiles),
                trustRoots: options.trustRoots.flatMap(readCertificateFiles), collateralDirectory: collateral, at: time)
        } catch {
            printError("ccagent: \(error)")
            throw ExitCode.unreadableInput
        }
        try finish(result, json: options.json)
    }
}
