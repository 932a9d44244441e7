// SPDX-License-Identifier: Apache-2.0
// Tests for the status report: verdicts, text snapshots and the JSON schema.

import AgentCore
import FoundationEssentials
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Status report")
struct StatusReportTests {
    static let failedBoot = BootState(
        startedAt: "2026-11-24T10:00:00Z", bootPhase: "initrd", tee: "snp", broker: "https://kbs.example:8443",
        outcome: .failed,
        phases: [
            .init(name: "platform", outcome: .ok, durationMilliseconds: 2),
            .init(
                name: "attest", outcome: .failed, durationMilliseconds: 90_000, errorCode: "broker.unreachable",
                message: "failed to connect to 'https://kbs.example:8443': connection refused"),
        ],
        volumes: [
            .init(
                device: "/dev/vda2", name: "root", outcome: .failed, errorCode: "broker.unreachable",
                message: "no key: the broker was not reached")
        ],
        totalMilliseconds: 90_002)

    static func report(lastBoot: StatusSection) -> StatusReport {
        StatusReport(
            platform: StatusSection(facts: [.init("TEE", "snp")]), evidence: StatusSection(),
            broker: StatusSection(), volumes: StatusSection(), lastBoot: lastBoot, secrets: StatusSection())
    }

    @Test("a failed last boot makes the verdict broken and names the problem and the next step")
    func failedLastBoot() {
        let report = Self.report(lastBoot: .lastBoot(Self.failedBoot))
        #expect(report.verdict == .broken)
        let text = report.renderText(colour: false, verbose: false)
        #expect(text.hasPrefix("ccagent status: BROKEN\n"))
        let expected = """
            Last boot: BROKEN
              Started        : 2026-11-24T10:00:00Z (initrd)
              Outcome        : failed
              TEE            : snp
              Broker         : https://kbs.example:8443
              Total          : 90.0 s
              Phase platform : ok, 2 ms
              Phase attest   : failed, 90.0 s [broker.unreachable]
              Volume root    : failed [broker.unreachable] (/dev/vda2)
              error: phase 'attest' failed: failed to connect to 'https://kbs.example:8443': connection refused
                next: check the guest network in the initramfs (ip addr; the network-online.target ordering) \
            and that the broker URL in /etc/ccagent/ccagent.conf is reachable from the VM

            """
        #expect(text.contains(expected))
        #expect(!text.contains("\u{1B}["), "no colour escapes when not on a terminal")
    }

    @Test("no state file is fine and says why it may be expected")
    func noStateFile() {
        let report = Self.report(lastBoot: .lastBoot(nil))
        #expect(report.verdict == .ok)
        #expect(report.renderText(colour: false, verbose: false).contains("no boot unlock has run"))
    }

    @Test("colours appear only when asked for")
    func colours() {
        let text = Self.report(lastBoot: .lastBoot(Self.failedBoot)).renderText(colour: true, verbose: false)
        #expect(text.contains("\u{1B}[31mBROKEN\u{1B}[0m"))
    }

    @Test("unknown error codes get the family hint, then the generic one")
    func hints() {
        #expect(BootFailureHints.hint(for: "broker.teapot").hasPrefix("check the broker's log"))
        #expect(BootFailureHints.hint(for: "weird") == BootFailureHints.hint(for: nil))
    }

    @Test("the state file round-trips atomically through disk")
    func stateFileRoundTrip() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let path = directory + "/run/ccagent/state.json"
        try Self.failedBoot.write(to: path)
        #expect(try BootState.read(from: path) == Self.failedBoot)
        #expect(try BootState.read(from: directory + "/absent.json") == nil)
    }

    @Test("the JSON output validates against docs/status.schema.json")
    func jsonMatchesSchema() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(Self.report(lastBoot: .lastBoot(Self.failedBoot)))
        let jsonPath = directory + "/status.json"
        try FileIO.writeAtomically(path: jsonPath, bytes: Array(json))
        let schema = Fixtures.repositoryRoot + "/docs/status.schema.json"
        let script =
            "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))"
        let status = try Subprocess.run(["/usr/bin/env", "python3", "-c", script, schema, jsonPath])
        #expect(status.exitCode == 0, "\(status.output)")
        let object = try JSONDecoder().decode([String: JSONAny].self, from: json)
        #expect(Set(object.keys) == ["verdict", "platform", "evidence", "broker", "volumes", "last_boot", "secrets"])
    }
}

/// Decodes any JSON value (only to list top-level keys).
private struct JSONAny: Decodable {
    init(from decoder: any Decoder) throws {}
}

@Suite("Status probe")
struct StatusProbeTests {
    @Test("no TEE: the platform section is broken, names what it checked, and suggests the simulator for development")
    func noTEE() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        var configuration = AgentConfiguration()
        configuration.tee = .auto
        let report = StatusProbe.run(
            StatusRequest(
                configuration: configuration, trust: .systemCAs, statePath: directory + "/none.json",
                secretStore: directory + "/store", devices: [directory + "/none.img"]))
        #expect(report.verdict == .broken)
        let finding = try #require(report.platform.findings.first { $0.code == "tee.unavailable" })
        #expect(finding.message.contains("/dev/sev-guest") && finding.message.contains("/dev/tdx_guest"))
        #expect(report.evidence.health == .broken)
        #expect(report.broker.findings.first?.code == "broker.unconfigured")
    }

    @Test("a last boot refused by the broker's policy points at the reference values")
    func refusedByPolicy() {
        let state = BootState(
            startedAt: "2026-11-24T10:00:00Z", bootPhase: "initrd", tee: "snp", broker: "https://kbs:8443",
            outcome: .failed,
            phases: [
                .init(
                    name: "attest", outcome: .failed, durationMilliseconds: 40, errorCode: "broker.policy-deny",
                    message: "the broker's policy denied this resource")
            ], volumes: [], totalMilliseconds: 41)
        let text = StatusSection.lastBoot(state).findings.map { "\($0.message) → \($0.hint)" }.joined()
        #expect(text.contains("policy denied"))
        #expect(text.contains("update the reference values"))
    }
}
