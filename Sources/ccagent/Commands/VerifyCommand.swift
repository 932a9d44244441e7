// SPDX-License-Identifier: Apache-2.0
// `ccagent verify snp|tdx`: offline verification of attestation evidence; exit 0 only when trusted.

import AgentBase
import AgentCore
import CommandLineInterface
import EvidenceVerification
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify SNP or TDX evidence offline against the pinned AMD/Intel roots.",
        discussion: """
            Exit status: 0 trusted, 2 not trusted (every failed check is listed), 3 unreadable input.
            Certificate validity is checked at --at (RFC 3339; default: now).
            """,
        subcommands: [VerifySNPCommand.self, VerifyTDXCommand.self, VerifyAzureCommand.self])
}

/// Options shared by `verify snp` and `verify tdx`.
struct VerificationOptions: ParsableArguments {
    @Option(
        name: .customLong("trust-root"),
        help: "A root certificate (PEM or DER) to trust besides the pinned vendor roots, e.g. the simulator's.")
    var trustRoots: [String] = []

    @Option(help: "Check certificate validity at this time (RFC 3339, e.g. 2025-01-01T00:00:00Z); default: now.")
    var at: String?

    @Flag(help: "Print {trusted, failures, evidence} as JSON.")
    var json = false

    func validate() throws { _ = try time() }

    /// The verification time.
    func time() throws -> Timestamp {
        guard let at else { return .now }
        guard let date = Timestamp(iso8601: at) else {
            throw ValidationError("--at must be an RFC 3339 time such as 2025-01-01T00:00:00Z, got '\(at)'")
        }
        return date
    }
}

struct VerifySNPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snp", abstract: "Verify an SNP attestation report (or an extended report with its certificates).")

    @Option(help: "The report: 1184 bytes, or followed by the GHCB certificate table.")
    var report: String

    @Option(
        name: .customLong("cert"),
        help: "VCEK/VLEK, ASK/ASVK or ARK certificates: a PEM bundle, a DER file, or a directory of them.")
    var certificates: [String] = []

    @Option(name: .customLong("crl"), help: "AMD KDS CRLs (DER or PEM, e.g. /vcek/v1/Milan/crl), repeatable.")
    var revocationLists: [String] = []

    @OptionGroup var options: VerificationOptions
    @OptionGroup var kds: KDSOptions

    func run() throws {
        let time = try options.time()
        let result: VerificationResult
        do {
            let (bytes, given) = (try readInput(report), try certificates.flatMap(readCertificateFiles))
            let roots = try options.trustRoots.flatMap(readCertificateFiles)
            result = try kds.verify(
                report: bytes, certificates: EvidenceVerifier.loadCertificates(given, what: "certificate"),
                trustRoots: EvidenceVerifier.loadCertificates(roots, what: "trust root")
            ) { fetched, crls in
                try EvidenceVerifier.verifySNP(
                    report: bytes, certificates: given, trustRoots: roots,
                    revocationLists: revocationLists.flatMap(readCertificateFiles)
                        + crls.map { (name: "AMD KDS CRL", bytes: $0.der) }, shippedCertificates: true,
                    fetched: fetched, at: time)
            }
        } catch {
            printError("ccagent: \(error)")
            throw ExitCode.unreadableInput
        }
        try finish(result, json: options.json)
    }
}

struct VerifyTDXCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tdx", abstract: "Verify a TDX quote (v4/v5) and, with collateral, its TCB status.")

    @Option(help: "The quote (trailing padding is ignored).")
    var quote: String

    @Option(
        help: "A directory with Intel PCS collateral: *tcbinfo*.json, *qeidentity*.json, *tcb-signing*.pem, *crl*.der.")
    var collateral: String?

    @Option(
        name: .customLong("event-log"),
        help: "The CCEL event log data (or a cc_eventlog as an agent sends it), replayed against RTMR0-3.")
    var eventLog: String?

    @Option(
        name: .customLong("runtime-log"),
        help: "ccagent's runtime event log (/run/ccagent/eventlog), replayed after --event-log into RTMR3.")
    var runtimeLog: String?

    @OptionGroup var options: VerificationOptions

    func run() throws {
        let time = try options.time()
        let result: VerificationResult
        do {
            var log = try eventLog.map { try readInput($0, limit: 16 << 20) }
            if let runtimeLog {
                guard let firmware = log else { throw ValidationError("--runtime-log needs --event-log (the CCEL)") }
                log = try CCELEventLog.joining(firmwareArea: firmware, runtime: readInput(runtimeLog, limit: 1 << 20))
            }
            result = try EvidenceVerifier.verifyTDX(
                quote: readInput(quote), collateralDirectory: collateral, eventLog: log,
                trustRoots: options.trustRoots.flatMap(readCertificateFiles), at: time)
        } catch {
            printError("ccagent: \(error)")
            throw ExitCode.unreadableInput
        }
        try finish(result, json: options.json)
    }
}

/// Reads a certificate file, or every regular file of a directory, for `--cert` and `--trust-root`.
func readCertificateFiles(_ path: String) throws -> [EvidenceVerifier.NamedBytes] {
    if let names = directoryEntries(path) {
        return try names.sorted().filter { !$0.hasPrefix(".") }.map { name in
            (name: path + "/" + name, bytes: try readInput(path + "/" + name))
        }
    }
    return [(name: path, bytes: try readInput(path))]
}

/// The names in directory `path` (without `.` and `..`), or nil when it is not a directory that can be read.
func directoryEntries(_ path: String) -> [String]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// The JSON document of `verify --json`.
private struct VerifyOutput: Encodable {
    var trusted: Bool
    var failures: [String]
    var evidence: EvidenceSummary
}

/// Prints the result and ends with the documented exit status (0 trusted, 2 not trusted).
func finish(_ result: VerificationResult, json: Bool) throws {
    if json {
        print(try jsonText(VerifyOutput(trusted: result.trusted, failures: result.failures, evidence: result.summary)))
    } else {
        switch result.outcome {
        case .trusted(let details):
            print("trusted")
            for check in details.passed { print("  ok      \(check)") }
        case .rejected(let failures):
            print("NOT trusted: \(failures.count) check\(failures.count == 1 ? "" : "s") failed")
            for failure in failures { print("  FAILED  \(failure)") }
            for check in result.passed { print("  ok      \(check)") }
        }
    }
    guard result.trusted else { throw ExitCode.notTrusted }
}
