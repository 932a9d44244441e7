// SPDX-License-Identifier: Apache-2.0
// The ccbroker command line: a reference Trustee-KBS-compatible key broker.

import ArgumentParser

@main
struct CCBroker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccbroker",
        abstract: "Reference key broker speaking the Trustee KBS protocol (RCAR 0.4.0).",
        version: "0.1.0",
        subcommands: []
    )
}
