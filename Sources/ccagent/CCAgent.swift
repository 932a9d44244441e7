// SPDX-License-Identifier: Apache-2.0
// The ccagent command line: parsing, dispatch and exit codes only.

import AgentCore
import ArgumentParser

@main
struct CCAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccagent",
        abstract: "In-guest attestation agent for confidential VMs (AMD SEV-SNP, Intel TDX).",
        version: "0.1.0",
        subcommands: [
            StatusCommand.self, EnrollCommand.self, UnlockCommand.self, UnenrollCommand.self, VolumesCommand.self,
            FetchCommand.self, ReportCommand.self, DeriveKeyCommand.self, DaemonCommand.self, SecretCommand.self,
            VerifyCommand.self, SimulatorCommand.self,
        ]
    )

    /// Hardens the process before anything is parsed, then dispatches.
    static func main() async {
        ProcessHardening.apply()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
