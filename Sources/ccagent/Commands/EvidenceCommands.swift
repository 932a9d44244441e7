// SPDX-License-Identifier: Apache-2.0
// `ccagent report`, `report decode` and `derive-key` (`verify` is in VerifyCommand.swift).

import AgentBase
import AgentCore
import CommandLineInterface
import Cryptography
import EvidenceVerification
import TEEDevice
import TEEEvidence

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Get evidence from the TEE, or decode evidence from a file.",
        subcommands: [ReportGenerate.self, ReportDecode.self], defaultSubcommand: ReportGenerate.self)
}

struct ReportGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Write an SNP report or TDX quote binding --user-data.")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var teeOptions: TEEOptions
    @Option(name: .customLong("user-data"), help: "Up to 64 bytes of hex for REPORT_DATA (zero-padded).")
    var userData: String = ""
    @Option(help: "VMPL to request (SNP).") var vmpl: UInt32 = 0
    @Option(name: .customLong("out"), help: "File for the report or quote.") var output: String
    @Option(name: .customLong("certs-out"), help: "File for the certificates (SNP: PEM of the table's VCEK/ASK/ARK).")
    var certificatesOutput: String?
    @Option(name: .customLong("event-log-out"), help: "File for the TDX event log (cc_eventlog: CCEL and runtime log).")
    var eventLogOutput: String?

    func validate() throws {
        guard let bytes = Hex.decode(userData), bytes.count <= 64 else {
            throw ValidationError("--user-data must be at most 64 bytes of hex")
        }
        guard vmpl <= 3 else { throw ValidationError("--vmpl must be 0-3") }
    }

    func run() throws {
        let configuration = config.load()
        let (tee, directory) = teeOptions.resolved(configuration)
        do {
            noteSimulated(tee)
            let device = try DeviceSelection.device(for: tee, simulatorDirectory: directory)
            let evidence = try device.evidence(reportData: Hex.decode(userData) ?? [], vmpl: vmpl)
            try evidence.bytes.withUnsafeBytes { try writeOutput($0, to: output, secret: false) }
            var written = "wrote \(evidence.bytes.count) bytes of \(device.kind.rawValue) evidence to '\(output)'"
            if let certificatesOutput, let table = evidence.certificateTable {
                let pem = table.entries.compactMap { try? Certificate(der: $0.der).pem }.joined()
                try Array(pem.utf8).withUnsafeBytes { try writeOutput($0, to: certificatesOutput, secret: false) }
                written += " and \(table.entries.count) certificates to '\(certificatesOutput)'"
            } else if let certificatesOutput, device.kind.protocolName == "tdx" {
                written += "; the quote carries its PCK chain (no separate file written to '\(certificatesOutput)')"
            }
            if let eventLogOutput {
                guard let log = evidence.eventLog else {
                    throw ValidationError("this TD publishes no event log (no CCEL, no runtime log); nothing to write")
                }
                try log.withUnsafeBytes { try writeOutput($0, to: eventLogOutput, secret: false) }
                written += " and its \(log.count)-byte event log to '\(eventLogOutput)'"
            }
            print(written + (device.kind.isSimulated ? " (SIMULATED)" : ""))
        } catch { throw fail(error) }
    }
}

struct ReportDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode an SNP report, TDX quote, TDREPORT or Azure HCL report (auto-detected).")

    @Argument(help: "Evidence file.") var file: String
    @Flag(help: "JSON output (stable keys).") var json = false

    func run() throws {
        do {
            let bytes = try readInput(file)
            if HCLReport.matches(bytes) {  // an Azure HCL report (vTPM NV index 0x01400001)
                let report = try HCLReport(parsing: bytes)
                print(json ? try jsonText(report.summary()) : report.describe())
                return
            }
            let kind = try EvidenceKind.detect(bytes)
            if json {
                let summary: EvidenceSummary
                switch kind {
                case .snpReport(let report): summary = .snp(report.summary())
                case .tdxQuote(let quote): summary = .tdx(quote.summary())
                case .tdReport(let report): summary = .tdx(report.summary())
                }
                print(try jsonText(summary))
            } else {
                switch kind {
                case .snpReport(let report): print(report.describe())
                case .tdxQuote(let quote): print(quote.describe())
                case .tdReport(let report):
                    print(
                        "TDREPORT\n  MRTD          : \(Hex.encode(report.mrTD))\n  report data   : \(Hex.encode(report.reportData))"
                    )
                }
            }
        } catch { throw fail(error) }
    }
}

struct DeriveKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "derive-key", abstract: "Get an SNP derived key (MSG_KEY_REQ), written 0600.")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var teeOptions: TEEOptions
    @Option(name: .customLong("root-key"), help: "vcek or vmrk.") var rootKey: DerivedKeyRequest.RootKey = .vcek
    @Option(help: "Launch fields to mix in: policy,image-id,family-id,measurement,guest-svn,tcb-version.")
    var fields: String = ""
    @Option(name: .customLong("guest-svn")) var guestSVN: UInt32 = 0
    @Option(name: .customLong("tcb-version")) var tcbVersion: UInt64 = 0
    @Option var vmpl: UInt32 = 0
    @Option(name: .customLong("out"), help: "Key file (0600); never printed to a terminal.") var output: String

    func validate() throws {
        if case .failure(let error) = GuestFieldSelect.parse(fields) { throw ValidationError("\(error)") }
    }

    func run() throws {
        let configuration = config.load()
        let (tee, directory) = teeOptions.resolved(configuration)
        do {
            noteSimulated(tee)
            let device = try DeviceSelection.device(for: tee, simulatorDirectory: directory)
            let key = try device.derivedKey(
                DerivedKeyRequest(
                    rootKey: rootKey, fields: GuestFieldSelect.parse(fields).get(), vmpl: vmpl, guestSVN: guestSVN,
                    tcbVersion: tcbVersion))
            try key.withUnsafeBytes { try writeOutput($0, to: output, secret: true) }
            printError("ccagent: wrote a 32-byte derived key to '\(output)'")
        } catch { throw fail(error) }
    }
}

/// Pretty JSON without escaped slashes, keys sorted.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    try JSONOutput.text(value)
}
