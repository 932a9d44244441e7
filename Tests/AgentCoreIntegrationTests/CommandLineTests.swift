// SPDX-License-Identifier: Apache-2.0
// The command line as a new user meets it: what was typed is checked first, with an error that says
// what is wrong, before any platform or broker work (exit 64 for usage errors).

import TestSupport
import Testing

@Suite("Command-line argument parsing", .tags(.integration))
struct CommandLineTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(
        "usage errors exit 64 and name the problem, not the platform",
        arguments: [
            Case(arguments: ["unlock", "/nonexistent/disk.img"], message: "no such device or image file"),
            Case(arguments: ["unlock"], message: "give a DEVICE, or --all"),
            Case(arguments: ["unlock", "--all", "--only", "/nonexistent"], message: "no such device or image file"),
            Case(arguments: ["unlock", "/dev/null", "--boot"], message: "--boot applies to --all only"),
            Case(
                arguments: ["fetch", "--broker", "ftp://x", "--resource", "a/b/c", "--out", "-"],
                message: "--broker must be an https:// URL"),
            Case(arguments: ["enroll", "/nonexistent"], message: "no such device or image file"),
            Case(arguments: ["volumes", "/nonexistent"], message: "no such device or image file"),
            Case(arguments: ["unlock", "--all", "--deadline", "0"], message: "--deadline must be in (0, 3600]"),
            Case(arguments: ["status", "--pin", "abc"], message: "--pin must be 64 hex digits"),
        ])
    func usageErrors(testCase: Case) throws {
        let result = try Subprocess.run([Binaries.ccagent] + testCase.arguments)
        #expect(result.exitCode == 64, "\(result.output)")
        #expect(result.output.contains(testCase.message), "\(result.output)")
        #expect(!result.output.contains("TEE"), "the platform was consulted before the input: \(result.output)")
    }

    @Test("every command that reads the configuration takes --config FILE, and its warnings name the file")
    func configOption() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-cli")
        defer { Fixtures.removeTree(directory) }
        let config = directory + "/ccagent.conf"
        try Subprocess.run(["/bin/sh", "-c", "printf 'fallback = sometimes\\n' > \(config)"]).check()
        let state = directory + "/state.json"
        let commands: [[String]] = [
            ["volumes"], ["status", "--json", "--state-file", state],
            ["unlock", "--all", "--only", config, "--verify-only", "--state-file", state],
        ]
        for command in commands {
            let result = try Subprocess.run([Binaries.ccagent] + command + ["--config", config])
            #expect(result.output.contains("\(config):1: fallback 'sometimes'"), "\(command): \(result.output)")
        }
    }
}
