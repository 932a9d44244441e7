// SPDX-License-Identifier: Apache-2.0
// `ccagent fetch`: one attested RCAR exchange and one resource, for troubleshooting and scripts.

import AgentCore
import CommandLineInterface
import KBSClient
import KBSProtocol

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch", abstract: "Attest to a broker and fetch one resource (written 0600).")

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var config: ConfigOptions
    @OptionGroup var teeOptions: TEEOptions

    @Option(help: "The resource, REPO/TYPE/TAG.")
    var resource: String

    @Option(name: .customLong("key-type"), help: "Ephemeral TEE key: p256, p521 or rsa.")
    var keyType: TEEKeyType = .p256

    @Option(name: .customLong("out"), help: "File to write the secret to (0600); '-' for stdout when not a terminal.")
    var output: String

    func validate() throws {
        guard ResourcePath(resource) != nil else {
            throw ValidationError("--resource must be REPO/TYPE/TAG, got '\(resource)'")
        }
    }

    func run() throws {
        let configuration = config.load()
        do {
            let endpoint = try brokerOptions.endpoint(configuration)
            let (tee, simulatorDirectory) = teeOptions.resolved(configuration)
            noteSimulated(tee)
            let attester = try DeviceSelection.attester(for: tee, simulatorDirectory: simulatorDirectory)
            let client = try KBSClient(
                configuration: KBSClientConfiguration(
                    brokerURL: endpoint.url, trust: endpoint.trust, allowInsecureHTTP: endpoint.insecure,
                    keyType: keyType,
                    deadlineSeconds: endpoint.deadline),
                attester: attester)
            guard let path = ResourcePath(resource) else { throw ValidationError("bad --resource") }
            let secret = try client.fetch(path)
            try secret.withUnsafeBytes { try writeOutput($0, to: output, secret: true) }
            if output != "-" { printError("ccagent: wrote \(secret.count) bytes of \(path) to '\(output)'") }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw fail(error)
        }
    }
}
