// SPDX-License-Identifier: Apache-2.0
// Option groups shared by several subcommands, and the one place that maps errors to exit codes.

import AgentBase
import AgentCore
import CommandLineInterface
import KBSClient
import KBSProtocol
import TEEDevice
import TEEEvidence

#if canImport(Glibc)
import Glibc
import TEESimulator
#endif

extension TEEChoice: ExpressibleByArgument {}
extension TEEKeyType: ExpressibleByArgument {}
extension DerivedKeyRequest.RootKey: ExpressibleByArgument {}

/// `--config FILE`: the configuration every command reads (default /etc/ccagent/ccagent.conf).
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: "Configuration file (default: \(AgentConfiguration.defaultPath)); the kernel command line applies on top."
    )
    var path: String = AgentConfiguration.defaultPath

    func load() -> AgentConfiguration { loadConfiguration(path: path) }
}

/// Loads the configuration, printing its warnings to stderr.
func loadConfiguration(path: String = AgentConfiguration.defaultPath) -> AgentConfiguration {
    let configuration = AgentConfiguration.load(path: path)
    for warning in configuration.warnings { printError("ccagent: config: \(warning)") }
    return configuration
}

/// `--tee` and `--simulator-dir`.
struct TEEOptions: ParsableArguments {
    @Option(help: "Evidence source: auto (hardware, Azure's vTPM included), a TEE, a sim-* simulator, or sample.")
    var tee: TEEChoice?

    @Option(
        name: .customLong("simulator-dir"),
        help: "Simulator state directory (default: \(SimulatorState.defaultDirectory)).")
    var simulatorDirectory: String?

    func resolved(_ configuration: AgentConfiguration) -> (TEEChoice, String) {
        (tee ?? configuration.tee, simulatorDirectory ?? configuration.simulatorDirectory)
    }

    func apply(to configuration: inout AgentConfiguration) {
        (configuration.tee, configuration.simulatorDirectory) = resolved(configuration)
    }
}

/// `--broker`, `--ca | --pin`, `--allow-insecure-http`, `--deadline`.
struct BrokerOptions: ParsableArguments {
    @Option(help: "Broker URL (default: 'broker' in \(AgentConfiguration.defaultPath)).")
    var broker: String?

    @Option(help: "PEM CA file that signed the broker's TLS certificate.")
    var ca: String?

    @Option(help: "SHA-256 of the broker's SubjectPublicKeyInfo (64 hex digits), instead of --ca.")
    var pin: String?

    @Flag(name: .customLong("allow-insecure-http"), help: "Allow a plain http:// broker (testing only).")
    var allowInsecureHTTP = false

    @Option(help: "Overall deadline in seconds (retries included).")
    var deadline: Double?

    func validate() throws {
        if ca != nil && pin != nil { throw ValidationError("--ca and --pin are alternatives; give one") }
        if let pin, Hex.decode(pin)?.count != 32 {
            throw ValidationError("--pin must be 64 hex digits (SHA-256 of the SPKI)")
        }
        if let deadline, !(deadline > 0 && deadline <= 3600) {
            throw ValidationError("--deadline must be in (0, 3600] seconds")
        }
        if let broker, !(broker.hasPrefix("https://") || broker.hasPrefix("http://")) {
            throw ValidationError(
                "--broker must be an https:// URL (http:// with --allow-insecure-http), got '\(broker)'")
        }
    }

    /// Applies the flags over the configuration file's values (the boot unlock and `status` read
    /// everything from the configuration).
    func apply(to configuration: inout AgentConfiguration) {
        if let broker { configuration.brokerURL = broker }
        if let deadline { configuration.deadlineSeconds = deadline }
        configuration.allowInsecureHTTP = configuration.allowInsecureHTTP || allowInsecureHTTP
        if let ca { configuration.brokerTrust = .caFile(ca) }
        if let pin, let digest = Hex.decode(pin) { configuration.brokerTrust = .pinnedSPKISHA256(digest) }
    }

    /// The broker endpoint from flags over the config file.
    func endpoint(
        _ configuration: AgentConfiguration
    ) throws -> (url: String, trust: TLSTrust, insecure: Bool, deadline: Double) {
        guard let url = broker ?? configuration.brokerURL else {
            throw ValidationError("no broker: pass --broker URL or set 'broker' in \(AgentConfiguration.defaultPath)")
        }
        var trust = configuration.brokerTrust
        if let ca { trust = .caFile(ca) }
        if let pin, let digest = Hex.decode(pin) { trust = .pinnedSPKISHA256(digest) }
        return (
            url, trust, allowInsecureHTTP || configuration.allowInsecureHTTP, deadline ?? configuration.deadlineSeconds
        )
    }
}

func printError(_ message: String) {
    var line = message + "\n"
    _ = line.withUTF8 { write(2, $0.baseAddress, $0.count) }
}

/// Prints the notice every simulated output carries.
func noteSimulated(_ tee: TEEChoice) {
    if tee == .simSNP || tee == .simTDX || tee == .simAzSNP || tee == .simAzTDX || tee == .sample {
        printError("ccagent: SIMULATED evidence (\(tee.rawValue)): it proves nothing about this machine")
    }
}

/// Maps a failure to a message and the documented exit status. The one place that does so.
func fail(_ error: any Error) -> ExitCode {
    switch error {
    case let error as DeviceError where error.code == .unavailable || error.code == .simulatorState:
        printError("ccagent: \(error)")
        return .noTEE
    case let error as EvidenceError:
        printError("ccagent: \(error)")
        return .unreadableInput
    case let error as FileIOError:
        printError("ccagent: \(error)")
        return .unreadableInput
    default:
        printError("ccagent: \(error)")
        return .failure
    }
}

/// Writes bytes to `path` (0600) or, for "-", to stdout when it is not a terminal.
func writeOutput(_ bytes: UnsafeRawBufferPointer, to path: String, secret: Bool) throws {
    if path == "-" {
        if secret && isatty(1) != 0 {
            throw ValidationError("refusing to print key material to a terminal; use --out FILE")
        }
        _ = write(1, bytes.baseAddress, bytes.count)
        return
    }
    try FileIO.writeAtomically(path: path, mode: 0o600, bytes)
}

func readInput(_ path: String, limit: Int = 1 << 20) throws -> [UInt8] {
    try FileIO.read(path: path, limit: limit)
}
