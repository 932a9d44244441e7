// SPDX-License-Identifier: Apache-2.0
// `ccagent secret put|get|list|rm`: workload secrets sealed to this TEE.

import AgentBase
import AgentCore
import CommandLineInterface
import SecureMemory

struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Seal, unseal, list and remove workload secrets.",
        subcommands: [Put.self, Get.self, List.self, Remove.self])

    enum Sealing: String, ExpressibleByArgument, CaseIterable {
        case snp, broker

        /// The sealing mode this choice asks for.
        var mode: SealingPolicy.Mode {
            switch self {
            case .snp: .snp
            case .broker: .broker
            }
        }
    }

    struct Common: ParsableArguments {
        @Option(help: "Secret store directory.") var store: String = SecretStore.defaultDirectory
        @OptionGroup var config: ConfigOptions
        @OptionGroup var teeOptions: TEEOptions
        @OptionGroup var brokerOptions: BrokerOptions

        /// The configuration with the command's flags applied.
        func configuration() -> AgentConfiguration {
            var configuration = config.load()
            brokerOptions.apply(to: &configuration)
            teeOptions.apply(to: &configuration)
            return configuration
        }

        /// What sealed secrets must be sealed to: `snp-key-fields`, `snp-vmpl`, `snp-root-key` and
        /// `sealing-kek` from the (measured) configuration, never from a blob.
        func pins() -> SealingPins { configuration().sealingPins }

        func keys() throws -> SealingKeys {
            let configuration = configuration()
            noteSimulated(configuration.tee)
            return try SealingKeys.forPlatform(configuration: configuration, trust: configuration.brokerTrust)
        }
    }

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seal a secret from a file or stdin.")
        @Argument(help: "Secret name (A-Z a-z 0-9 . _ -).") var name: String
        @Option(name: .customLong("in"), help: "Read the value from this file (default: stdin).") var input: String?
        @Option(help: "snp (this chip, measurement and policy bound) or broker (the broker's KEK).")
        var sealing: Sealing?
        @OptionGroup var common: Common

        func run() throws {
            do {
                let keys = try common.keys()
                let secret = try readSecretValue(input)
                let pins = common.pins()
                let policy = pins.policy(requested: sealing?.mode, deviceKind: keys.deviceKind)
                try SecretStore(directory: common.store).put(
                    name: name, secret: secret, policy: policy, keys: keys, pins: pins)
                print("sealed '\(name)' (\(secret.count) bytes) with \(policy.summary)")
            } catch { throw fail(error) }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unseal a secret to a file (0600) or stdout.")
        @Argument() var name: String
        @Option(name: .customLong("out"), help: "File (0600), or '-' for stdout when not a terminal.") var output:
            String = "-"
        @OptionGroup var common: Common

        func run() throws {
            do {
                let secret = try SecretStore(directory: common.store).get(
                    name: name, keys: common.keys(), pins: common.pins())
                try secret.withUnsafeBytes { try writeOutput($0, to: output, secret: true) }
            } catch let error as ValidationError {
                throw error
            } catch { throw fail(error) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sealed secrets (names and sealing only).")
        @Option(help: "Secret store directory.") var store: String = SecretStore.defaultDirectory
        @Flag var json = false

        func run() throws {
            do {
                let store = SecretStore(directory: store)
                let rows = try store.list().map { name in
                    (name, (try? store.read(name: name).policy.summary) ?? "unreadable")
                }
                if json {
                    print(try jsonText(rows.map { ["name": $0.0, "sealing": $0.1] }))
                } else {
                    for (name, sealing) in rows { print("\(name)\t\(sealing)") }
                }
            } catch { throw fail(error) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a sealed secret.")
        @Argument() var name: String
        @Option(help: "Secret store directory.") var store: String = SecretStore.defaultDirectory

        func run() throws {
            do {
                try SecretStore(directory: store).remove(name: name)
                print("removed '\(name)'")
            } catch { throw fail(error) }
        }
    }
}

/// The value to seal, from `path` or standard input, read straight into zeroizing memory (at most
/// the 1 MiB a sealed secret may hold; more is `EFBIG`).
func readSecretValue(_ path: String?) throws -> SecretBytes {
    if let path { return try FileIO.readSecret(path: path, limit: SealedBlob.maximumSecretSize) }
    return try FileIO.readSecret(fileDescriptor: 0, limit: SealedBlob.maximumSecretSize, name: "standard input")
}
