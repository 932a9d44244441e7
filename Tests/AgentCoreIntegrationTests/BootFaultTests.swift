// SPDX-License-Identifier: Apache-2.0
// The boot unlock (`ccagent unlock --all`, the real binary on a real LUKS2 image) against brokers that
// fail: a policy refusal, a broker that is down, one that accepts TCP and never answers, one that cuts the
// connection mid-body, and one whose JWE has a bad tag. Each run must fail closed within its deadline,
// record why in state.json, and leak no secret byte; positive controls show the same setups unlock.

import AgentBase
import AgentCore
import FoundationEssentials
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A broker fault the boot unlock must survive.
enum BrokerFault: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case policyDeny = "ccbroker's policy refuses the resource"
    case down = "nothing listens on the broker's port"
    case silent = "the broker accepts TCP and never answers"
    case cutMidBody = "the connection is cut halfway through the resource response body"
    case badJWETag = "the independent KBS sends a JWE with a bad GCM tag"

    var testDescription: String { rawValue }

    /// The error code state.json must record for the volume.
    var errorCode: String {
        switch self {
        case .policyDeny: "broker.policy-deny"
        case .down, .cutMidBody: "broker.unreachable"
        case .silent: "broker.timeout"
        case .badJWETag: "broker.decryption-failed"
        }
    }

    /// Whether attestation itself fails (else it succeeds and the resource fetch fails).
    var failsAttestation: Bool { self == .down || self == .silent }

    /// Whether the failure is transient, so the client retries until the deadline and then gives up.
    var retriesUntilDeadline: Bool { self == .down || self == .silent || self == .cutMidBody }
}

/// A broker setup that works, for the positive controls.
enum WorkingBroker: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case ccbroker = "ccbroker over TLS"
    case relay = "ccbroker over http behind the relay, forwarding"
    case independentKBS = "the independent KBS over TLS"

    var testDescription: String { rawValue }
}

/// One enrolled image and the broker it is bound to, inside an ``Environment``.
final class FaultBench: @unchecked Sendable {
    static let deadline = 4.0
    let environment: Environment
    let directory: String
    let name: String
    let resource: String
    let secret: [UInt8]
    var brokerURL = ""
    var brokerArguments: [String] = []
    /// Whatever serves the broker URL; kept alive for the run.
    var keepAlive: [AnyObject] = []

    init(_ label: String, environment: Environment) throws {
        self.environment = environment
        name = "fault-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        directory = environment.directory + "/" + name
        mkdir(directory, 0o700)
        resource = "default/luks/\(name)"
        // A text secret (the independent KBS takes resources as text): 64 random hex digits.
        secret = Array(Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255) }).utf8)
    }

    /// A TLS broker: ccbroker or the independent KBS.
    func use(url: String, ca: String?, serving server: AnyObject? = nil) {
        brokerURL = url
        brokerArguments = ["--broker", url] + (ca.map { ["--ca", $0] } ?? [])
        if let server { keepAlive.append(server) }
    }

    /// The environment's ccbroker over TLS, holding this bench's secret.
    func useCCBroker() throws {
        try environment.broker.put(resource, secret)
        use(url: environment.broker.url, ca: environment.pki.caPEM)
    }

    /// The independent KBS over TLS in `mode`, holding this bench's secret.
    func useIndependentKBS(mode: String = "normal") throws {
        let kbs = try IndependentKBSProcess(
            pki: environment.pki, directory: directory, mode: mode,
            resources: [resource: String(decoding: secret, as: UTF8.self)])
        use(url: kbs.url, ca: environment.pki.caPEM, serving: kbs)
    }

    /// ccbroker over plain http with a relay in front (the relay must read the HTTP exchange to cut a body).
    func useRelay(_ mode: FaultRelay.Mode) throws -> FaultRelay {
        let broker = try BrokerProcess(
            plainHTTPIn: directory, extraArguments: ["--trust-simulator", environment.directory + "/roots.pem"])
        try broker.put(resource, secret)
        let relay = try FaultRelay(upstreamURL: broker.url, mode: mode)
        brokerURL = relay.url
        brokerArguments = ["--broker", relay.url, "--allow-insecure-http"]
        keepAlive += [broker, relay]
        return relay
    }

    /// Formats and enrolls the image against the chosen broker URL with the known secret.
    func enroll() throws -> String {
        let (image, passphrase) = try environment.makeImage(name)
        let secretFile = directory + "/secret"
        try FileIO.writeAtomically(path: secretFile, bytes: secret)
        try environment.ccagent([
            "enroll", image, "--broker", brokerURL, "--resource", resource, "--key-file", passphrase, "--secret-in",
            secretFile,
        ]).check()
        unlink(secretFile)
        return image
    }

    /// `ccagent unlock --all` for the image, timed; the state file it wrote, parsed.
    func unlock(
        _ image: String, verifyOnly: Bool
    ) throws -> (result: Subprocess.Result, seconds: Double, state: BootState, stateBytes: [UInt8]) {
        let statePath = directory + "/state.json"
        let started = FaultBench.now()
        let result = try environment.ccagent(
            [
                "unlock", "--all", "--state-file", statePath, "--only", image, "--tee", "sim-snp", "--simulator-dir",
                environment.simulator, "--deadline", "\(Int(FaultBench.deadline))",
            ] + brokerArguments + (verifyOnly ? ["--verify-only"] : []))
        let seconds = FaultBench.now() - started
        let state = try #require(try BootState.read(from: statePath), "no state file: \(result.output)")
        return (result, seconds, state, try Fixtures.readFile(statePath))
    }

    /// Whether the secret, raw or encoded, occurs in `haystack`.
    func leaks(into haystack: [UInt8]) -> Bool {
        [secret, Array(Hex.encode(secret).utf8), Array(Base64Text(secret).utf8)].contains { contains(haystack, $0) }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

@Suite("Boot unlock against failing brokers", .serialized, .tags(.integration))
struct BootFaultTests {
    @Test(
        "unlock --all fails closed within its deadline, records the error code in state.json and leaks no secret",
        arguments: BrokerFault.allCases)
    func fault(_ fault: BrokerFault) throws {
        let environment =
            try fault == .policyDeny
            ? Environment(policy: #"{"default":{"snp":{"measurements":["00"]},"tdx":{"mr_td":["00"]}}}"#)
            : Environment.shared()
        let bench = try FaultBench("\(fault)", environment: environment)
        var relay: FaultRelay?
        switch fault {
        case .policyDeny:
            try bench.useCCBroker()
        case .down:
            bench.use(url: "https://127.0.0.1:\(try ClosedPort.reserve())", ca: environment.pki.caPEM)
        case .silent:
            let listener = try SilentListener()
            bench.use(url: listener.url, ca: environment.pki.caPEM, serving: listener)
        case .cutMidBody:
            relay = try bench.useRelay(.cutBody(pathPrefix: "/kbs/v0/resource/"))
        case .badJWETag:
            try bench.useIndependentKBS(mode: "bad-gcm-tag")
        }
        let image = try bench.enroll()
        // The real boot path (no --verify-only): had a key been released, activation would be attempted.
        let run = try bench.unlock(image, verifyOnly: false)

        #expect(run.result.exitCode == 1, "\(run.result.output)")
        #expect(run.result.output.contains("boot unlock: failed"), "\(run.result.output)")
        #expect(run.state.outcome == .failed)
        let volume = try #require(run.state.volumes.first)
        #expect(run.state.volumes.count == 1)
        #expect(volume.device == image)
        #expect(volume.outcome == .failed, "the volume was not unlocked")
        #expect(volume.errorCode == fault.errorCode, "\(volume.message ?? "")")
        if fault.retriesUntilDeadline {
            #expect(volume.message?.contains("deadline") == true, "gave up at the deadline: \(volume.message ?? "")")
        }
        #expect(access("/dev/mapper/" + volume.name, F_OK) != 0, "no dm-crypt mapping exists")
        let attest = run.state.phases.first { $0.name == "attest" }
        if fault.failsAttestation {
            #expect(attest?.outcome == .failed)
            #expect(attest?.errorCode == fault.errorCode)
            #expect(!run.state.phases.contains { $0.name == "unlock" }, "no unlock was tried without a session")
        } else {
            #expect(attest?.outcome == .ok, "attestation itself succeeded: \(run.state.phases)")
            #expect(run.state.phases.first { $0.name == "unlock" }?.outcome == .failed)
        }
        if let relay {
            #expect(relay.cuts >= 1, "the relay cut a resource response")
            #expect(relay.forwarded >= 2, "auth and attest went through whole")
        }
        // Gives up at the deadline, not after it (a loose bound: this is about giving up, not speed).
        #expect(run.seconds < FaultBench.deadline + 10, "took \(run.seconds) s")
        #expect(run.state.totalMilliseconds < (FaultBench.deadline + 10) * 1000)
        #expect(!bench.leaks(into: Array(run.result.output.utf8)), "a secret leaked into the output")
        #expect(!bench.leaks(into: run.stateBytes), "a secret leaked into state.json")
    }

    @Test("positive control: the same setups unlock (verify-only)", arguments: WorkingBroker.allCases)
    func control(_ setup: WorkingBroker) throws {
        let environment = try Environment.shared()
        let bench = try FaultBench("control-\(setup)", environment: environment)
        var relay: FaultRelay?
        switch setup {
        case .ccbroker:
            try bench.useCCBroker()
        case .relay:
            relay = try bench.useRelay(.forward)
        case .independentKBS:
            try bench.useIndependentKBS()
        }
        let image = try bench.enroll()
        let run = try bench.unlock(image, verifyOnly: true)

        #expect(run.result.exitCode == 0, "\(run.result.output)")
        #expect(run.state.outcome == .unlocked)
        #expect(run.state.volumes.map(\.outcome) == [.unlocked], "\(run.state.volumes)")
        #expect(run.state.volumes.first?.errorCode == nil)
        if let relay { #expect(relay.forwarded >= 3 && relay.cuts == 0) }
        #expect(run.seconds < FaultBench.deadline + 10, "took \(run.seconds) s")
        #expect(!bench.leaks(into: Array(run.result.output.utf8)), "a secret leaked into the output")
        #expect(!bench.leaks(into: run.stateBytes), "a secret leaked into state.json")
    }

    @Test("a device whose reads block forever: the watchdog ends the run at the deadline plus grace, recorded")
    func blockedDevice() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-blocked")
        defer { Fixtures.removeTree(directory) }
        // A FIFO nobody writes to: opening it for reading blocks, as a disk that never answers would.
        let fifo = directory + "/disk"
        guard mkfifo(fifo, 0o600) == 0 else { throw FixtureError(message: "mkfifo failed: \(errno)") }
        let statePath = directory + "/state.json"
        let started = FaultBench.now()
        let run = try Subprocess.run([
            Binaries.ccagent, "unlock", "--all", "--only", fifo, "--verify-only", "--deadline", "1", "--state-file",
            statePath, "--config", directory + "/none.conf",
        ])
        let elapsed = FaultBench.now() - started
        #expect(run.exitCode == 1, "\(run.output)")
        // 1 s deadline + 10 s grace; the margin is for a loaded machine, the test only proves it ends.
        #expect(elapsed >= 1 + BootUnlock.watchdogGrace - 0.5 && elapsed < 1 + BootUnlock.watchdogGrace + 20)
        let state = try #require(try BootState.read(from: statePath))
        #expect(state.outcome == .failed)
        #expect(state.phases.map(\.errorCode) == ["deadline.reached"])
        #expect(state.fallback == nil, "a manual unlock --all never powers off and records no boot fallback")
    }
}
