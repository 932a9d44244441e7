// SPDX-License-Identifier: Apache-2.0
// The ccagent command line: parsing, dispatch and exit codes only.

import AgentCore
import CommandLineInterface

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
        ],
        manualSections: [
            (title: "Exit status", text: ExitCode.manual),
            (
                title: "Files",
                text: """
                /etc/ccagent/ccagent.conf: the configuration (see ccagent.conf(5)); the kernel command line \
                applies on top.
                /run/ccagent/state.json: the outcome of the boot unlock.
                /var/lib/ccagent/secrets: sealed workload secrets.
                /var/lib/ccagent/simulator: the SNP/TDX simulator's state (only when asked for).
                """
            ),
            (title: "See also", text: "ccagent.conf(5), ccbroker(8), cryptsetup(8), systemd-cryptenroll(1)"),
        ]
    )

    /// Hardens the process before anything is parsed, then parses, runs and exits.
    static func main() async {
        ProcessHardening.apply()
        await execute()
    }
}
