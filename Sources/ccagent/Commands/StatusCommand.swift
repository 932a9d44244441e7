// SPDX-License-Identifier: Apache-2.0
// `ccagent status`: why this boot did (not) unlock, at a glance. Exit 0 ok, 10 degraded, 11 broken.

import AgentCore
import CommandLineInterface

#if canImport(Glibc)
import Glibc
#endif

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Platform, evidence, broker, volumes, last boot and secrets. Exit 0 ok, 10 degraded, 11 broken.")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var teeOptions: TEEOptions
    @Flag(help: "JSON output (schema: docs/status.schema.json).") var json = false
    @Flag(help: "Show every check.") var verbose = false
    @Option(name: .customLong("state-file")) var stateFile: String = BootState.defaultPath
    @Option(name: .customLong("store")) var store: String = SecretStore.defaultDirectory
    @Argument(help: "Devices to describe (default: scan).") var devices: [String] = []

    func run() throws {
        var configuration = config.load()
        brokerOptions.apply(to: &configuration)
        teeOptions.apply(to: &configuration)
        let report = StatusProbe.run(
            StatusRequest(
                configuration: configuration, trust: configuration.brokerTrust, statePath: stateFile,
                secretStore: store, devices: devices))
        if json {
            print(try jsonText(report))
        } else {
            print(report.renderText(colour: isatty(1) != 0, verbose: verbose), terminator: "")
        }
        switch report.verdict {
        case .ok: return
        case .degraded: throw ExitCode.degraded
        case .broken: throw ExitCode.broken
        }
    }
}
