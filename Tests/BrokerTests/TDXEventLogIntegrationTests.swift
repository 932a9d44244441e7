// SPDX-License-Identifier: Apache-2.0
// ccbroker and the TDX event log: the simulated TD's CCEL and runtime log replayed against its quote,
// tampered logs refused with the rule named, and the event claims the resource policy constrains.

import AgentBase
import CanonicalJSON
import Cryptography
import Foundation
import KBSProtocol
import Logging
import SecureMemory
import TEEDevice
import TEEEvidence
import TEESimulator
import TestSupport
import Testing

@testable import Broker

#if canImport(Glibc)
import Glibc
#endif

/// One simulated TD (creating it costs two RSA-4096 keys) and a broker per test that trusts it.
final class TDXSimulatorFixture: @unchecked Sendable {
    let directory: String
    let state: SimulatorState

    init() throws {
        directory = try Fixtures.temporaryDirectory("ccagent-ccel")
        state = try SimulatorState.initialize(directory: directory + "/sim")
    }

    deinit { Fixtures.removeTree(directory) }

    static func shared() throws -> TDXSimulatorFixture {
        try lock.withLock {
            if let cached { return cached }
            let fixture = try TDXSimulatorFixture()
            cached = fixture
            // A static is never deinitialized: remove the simulator and its TDs at exit.
            atexit { TDXSimulatorFixture.cached.map { Fixtures.removeTree($0.directory) } }
            return fixture
        }
    }

    nonisolated(unsafe) private static var cached: TDXSimulatorFixture?
    private static let lock = NSLock()

    /// A fresh simulated TD (its own RTMR3 and runtime log) sharing this one's keys.
    func freshTD() throws -> SimulatorState {
        let copy = directory + "/td-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(copy, 0o700) == 0 else { throw FixtureError(message: "cannot create \(copy)") }
        for name in [
            "chip-secret", "vcek.key.pem", "tdx-attestation.key.pem", "pck.key.pem", "ark.pem", "ask.pem", "vcek.pem",
            "tdx-root.pem", "pck.pem", "launch.json",
        ] {
            try FileIO.writeAtomically(path: copy + "/" + name, bytes: Fixtures.readFile(state.directory + "/" + name))
        }
        return try SimulatorState.load(directory: copy)
    }
}

struct TDXBroker {
    let harness: BrokerHarness
    let audit = AuditRecorder()
    let broker: KBSBroker

    init(_ fixture: TDXSimulatorFixture, policy: AppraisalPolicy = AppraisalPolicy()) throws {
        harness = try BrokerHarness(policy: policy)
        var configuration = BrokerConfiguration(
            resources: harness.store, policy: policy, allowSample: false, trustedSimulatorRoots: [fixture.state.tdxRoot]
        )
        configuration.sessionLifetime = 300
        broker = try KBSBroker(configuration: configuration, audit: audit.logger)
        try harness.store.put(
            ResourcePath("default/key/one").unsafelyUnwrapped, value: SecretBytes(copying: Array("v1".utf8)))
    }

    func post(_ path: String, _ body: JSONValue, cookie: String? = nil) -> BrokerResponse {
        broker.handle(
            BrokerRequest(
                method: "POST", path: path, cookie: cookie, bearer: nil, body: body.serializedBytes(), peer: "test"))
    }

    /// Attests with the simulated TD's evidence, its event log passed through `transform`; the cookie
    /// when the broker accepted it, and the audit rule when it did not.
    func attest(
        _ device: SimulatedTDXDevice, transform: ([UInt8]?) throws -> [UInt8]? = { $0 },
        inspect: ([UInt8], [UInt8]?) throws -> Void = { _, _ in }
    ) throws -> (cookie: String?, rule: String?) {
        let auth = post("/kbs/v0/auth", AuthRequest(tee: "tdx").json)
        #expect(auth.status == 200)
        let cookie = try #require(
            auth.setCookie?.split(separator: ";").first.map { String($0.dropFirst("kbs-session-id=".count)) })
        let challenge = try Challenge(json: JSONValue.parse(auth.body))
        let key = try TEEKeyPair(type: .p256)
        let runtime = RuntimeData(nonce: challenge.nonce, teePubKey: key.publicJWK)
        let evidence = try device.evidence(reportData: runtime.reportData(challenge.selectedHash), vmpl: 0)
        let log = try transform(evidence.eventLog)
        try inspect(evidence.bytes, log)
        let body = AttestationRequest(
            runtimeData: runtime, primaryEvidence: EvidenceJSON.tdx(quote: evidence.bytes, eventLog: log))
        let response = post("/kbs/v0/attest", body.json, cookie: cookie)
        if response.status == 200 { return (cookie, nil) }
        return (nil, audit.lines.last { $0.message == "attest deny" }?.metadata["rule"] ?? "?")
    }

    /// The resource with `cookie`: the audit rule when denied, nil when released.
    func resourceRule(cookie: String) -> String? {
        let response = broker.handle(
            BrokerRequest(
                method: "GET", path: "/kbs/v0/resource/default/key/one", cookie: cookie, bearer: nil, body: [],
                peer: "test"))
        if response.status == 200 { return nil }
        return audit.lines.last { $0.message == "resource deny" }?.metadata["rule"] ?? "status \(response.status)"
    }
}

/// The parts of a `cc_eventlog`: header, events (as encoded), and the bytes after them.
struct SplitLog {
    var header: [UInt8]
    var events: [[UInt8]]

    init(_ bytes: [UInt8]) throws {
        let log = try CCELEventLog(parsing: bytes)
        header = CCELEventLog.specIDHeader
        #expect(Array(bytes.prefix(header.count)) == header)
        events = log.events.map(\.encoded)
        #expect(header.count + events.map(\.count).reduce(0, +) == log.usedByteCount)
    }

    var joined: [UInt8] { header + events.flatMap { $0 } + CCELEventLog.endMarker }
}

@Suite("ccbroker replays the TDX event log", .serialized, .tags(.integration))
struct TDXEventLogIntegrationTests {
    @Test("the simulated TD's event log replays; an independent Python replay agrees with the quote's RTMRs")
    func replays() throws {
        let fixture = try TDXSimulatorFixture.shared()
        let broker = try TDXBroker(fixture)
        let device = SimulatedTDXDevice(state: try fixture.freshTD())
        let result = try broker.attest(
            device,
            inspect: { quote, log in
                let log = try #require(log)
                try FileIO.writeAtomically(path: fixture.directory + "/quote.bin", bytes: quote)
                try FileIO.writeAtomically(path: fixture.directory + "/log.bin", bytes: log)
                let replay = try PythonTCGReplay.run(
                    quote: fixture.directory + "/quote.bin", log: fixture.directory + "/log.bin")
                #expect(replay.contains("replay matches RTMR0-3"), "\(replay)")
            })
        #expect(result.rule == nil, "\(result.rule ?? "")")
        #expect(broker.resourceRule(cookie: try #require(result.cookie)) == nil)
    }

    @Test(
        "a tampered event log is refused with the replay rule named",
        arguments: ["flip a digest", "drop an event", "reorder events", "drop the log tail"])
    func tampered(attack: String) throws {
        let fixture = try TDXSimulatorFixture.shared()
        let broker = try TDXBroker(fixture)
        let device = SimulatedTDXDevice(state: try fixture.freshTD())
        let result = try broker.attest(device) { log in
            var split = try SplitLog(try #require(log))
            switch attack {
            case "flip a digest":
                // The kernel event (MR index 2): its SHA-384 digest starts 14 bytes in.
                let kernel = try #require(split.events.firstIndex { $0[0] == 2 })
                split.events[kernel][14 + 5] ^= 0x01
            case "drop an event":
                split.events.remove(at: 3)
            case "reorder events":
                split.events.swapAt(0, 1)
            default:
                split.events.removeLast()
            }
            return split.joined
        }
        #expect(result.cookie == nil, "the broker accepted a log with '\(attack)'")
        #expect(result.rule?.contains("tdx.event_log.replay") == true, "\(result.rule ?? "")")
    }

    @Test("a log that does not parse is refused with the rule named")
    func unreadable() throws {
        let fixture = try TDXSimulatorFixture.shared()
        let broker = try TDXBroker(fixture)
        let device = SimulatedTDXDevice(state: try fixture.freshTD())
        let result = try broker.attest(device) { _ in Array("not a log".utf8) }
        #expect(result.cookie == nil)
        #expect(result.rule?.contains("tdx.event_log.unreadable") == true, "\(result.rule ?? "")")
    }

    @Test("after RTMR3 is extended with a runtime event the next attestation still replays; a forged entry is refused")
    func runtimeLog() throws {
        let fixture = try TDXSimulatorFixture.shared()
        let broker = try TDXBroker(fixture)
        let td = try fixture.freshTD()
        let device = SimulatedTDXDevice(state: td)
        let before = try device.evidence(reportData: [], vmpl: 0)
        let event = try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:uuid-1:abcd")
        try RuntimeEventLog.record(event, measurer: device)
        let after = try device.evidence(reportData: [], vmpl: 0)
        #expect(try TDXQuote(parsing: after.bytes).body.rtmr[3] != TDXQuote(parsing: before.bytes).body.rtmr[3])
        let accepted = try broker.attest(device)
        #expect(accepted.rule == nil, "\(accepted.rule ?? "")")

        // The runtime entry's text changed, its digest kept: the replay still matches, the text does not.
        let forgedText = try broker.attest(device) { log in
            var bytes = try #require(log)
            let needle = Array("uuid-1".utf8)
            let at = try #require(
                (0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle })
            bytes[at + 5] = UInt8(ascii: "2")
            return bytes
        }
        #expect(forgedText.cookie == nil)
        #expect(forgedText.rule?.contains("tdx.event_log.runtime") == true, "\(forgedText.rule ?? "")")

        // An extra runtime entry that RTMR3 never saw, well-formed and self-consistent.
        let forgedEntry = try broker.attest(device) { log in
            var split = try SplitLog(try #require(log))
            let extra = try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:uuid-2:ffff")
            split.events.append(extra.event(digest: DigestAlgorithm.sha384.hash(extra.eventData)).encoded)
            return split.joined
        }
        #expect(forgedEntry.cookie == nil)
        #expect(forgedEntry.rule?.contains("tdx.event_log.replay") == true, "\(forgedEntry.rule ?? "")")

        // The runtime log withheld: RTMR3 is unexplained.
        let withheld = try broker.attest(device) { log in
            let split = try SplitLog(try #require(log))
            return split.header + split.events.filter { $0[0] != 4 }.flatMap { $0 } + CCELEventLog.endMarker
        }
        #expect(withheld.rule?.contains("tdx.event_log.replay") == true, "\(withheld.rule ?? "")")
    }

    @Test("a policy on the kernel digest allows the simulator's kernel, denies another and denies without a log")
    func kernelPolicy() throws {
        let fixture = try TDXSimulatorFixture.shared()
        let kernel = try #require(TDXBootDigests(try CCELEventLog(parsing: fixture.state.firmwareLog.bytes)).kernel)
        let device = SimulatedTDXDevice(state: try fixture.freshTD())
        func policy(_ kernels: [String]) throws -> AppraisalPolicy {
            let path = fixture.directory + "/policy-\(kernels.count).json"
            let list = kernels.map { "\"\($0)\"" }.joined(separator: ",")
            try FileIO.writeAtomically(path: path, bytes: Array(#"{"default":{"tdx":{"kernel":[\#(list)]}}}"#.utf8))
            return try AppraisalPolicy(contentsOf: path)
        }
        let allowing = try TDXBroker(fixture, policy: policy([Hex.encode(kernel)]))
        let allowed = try allowing.attest(device)
        #expect(allowing.resourceRule(cookie: try #require(allowed.cookie)) == nil)

        let other = Hex.encode([UInt8](repeating: 0xAB, count: 48))
        let denying = try TDXBroker(fixture, policy: policy([other]))
        let denied = try denying.attest(device)
        let rule = denying.resourceRule(cookie: try #require(denied.cookie))
        #expect(rule?.hasPrefix("tdx.kernel: \(Hex.encode(kernel)) is not in the allowlist") == true, "\(rule ?? "")")

        let noLog = try allowing.attest(device) { _ in nil }
        let absent = allowing.resourceRule(cookie: try #require(noLog.cookie))
        #expect(absent?.hasPrefix("tdx.kernel: the evidence has no event log") == true, "\(absent ?? "")")
    }
}

@Suite("TDX event-log policy keys")
struct TDXEventLogPolicyTests {
    func load(_ text: String) throws -> AppraisalPolicy {
        let directory = try Fixtures.temporaryDirectory("ccagent-ccel-policy")
        defer { Fixtures.removeTree(directory) }
        try FileIO.writeAtomically(path: directory + "/policy.json", bytes: Array(text.utf8))
        return try AppraisalPolicy(contentsOf: directory + "/policy.json")
    }

    @Test("unknown keys, digests that are not SHA-384 and a non-boolean require_event_log are errors")
    func parsing() throws {
        #expect(throws: BrokerError.self) { try load(#"{"default":{"tdx":{"kernels":[]}}}"#) }
        #expect(throws: BrokerError.self) { try load(#"{"default":{"tdx":{"initrd":["abcd"]}}}"#) }
        #expect(throws: BrokerError.self) { try load(#"{"default":{"tdx":{"require_event_log":"yes"}}}"#) }
        let digest = String(repeating: "AB", count: 48)
        let policy = try load(#"{"default":{"tdx":{"cmdline":["\#(digest)"],"require_event_log":true}}}"#)
        #expect(policy.global.tdx.cmdline == [digest.lowercased()] && policy.global.tdx.requireEventLog)
    }

    @Test("require_event_log denies evidence without a log, and a log without the constrained event is named")
    func appraisal() throws {
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/gcp-cos113-v4-quote.dat"))
        var rules = AppraisalPolicy.Rules()
        rules.allowDebug = true
        rules.tdx.requireEventLog = true
        #expect(
            rules.appraise(tdx: quote, claims: nil).first?.hasPrefix("tdx.require_event_log: the evidence has no")
                == true)
        #expect(rules.appraise(tdx: quote, claims: .object([("ccel", .object([]))])).isEmpty)
        rules.tdx.initrd = [String(repeating: "00", count: 48)]
        #expect(
            rules.appraise(tdx: quote, claims: .object([("ccel", .object([]))]))
                == ["tdx.initrd: the event log records no initrd event"])
    }
}
