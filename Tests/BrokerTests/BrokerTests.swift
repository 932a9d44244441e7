// SPDX-License-Identifier: Apache-2.0
// The broker's protocol logic, in process: Trustee's statuses and error bodies, cookies, policy, tokens.

import CanonicalJSON
import Cryptography
import Foundation
import KBSProtocol
import Logging
import SecureMemory
import TestSupport
import Testing

@testable import Broker

/// Records the audit lines a broker writes: message and metadata.
final class AuditRecorder: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [(message: String, metadata: [String: String])] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        // As a real handler prints them: the logger's metadata, then the line's own.
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
        lock.withLock { recorded.append((event.message.description, fields)) }
    }

    var lines: [(message: String, metadata: [String: String])] { lock.withLock { recorded } }
    var logger: Logger { Logger(label: "ccbroker.audit") { _ in self } }
}

struct BrokerHarness {
    let directory: String
    let broker: KBSBroker
    let store: ResourceStore

    init(
        policy: AppraisalPolicy = AppraisalPolicy(), sessionLifetime: TimeInterval = 300,
        audit: Logger = Logger(label: "ccbroker.audit")
    ) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-broker")
        store = ResourceStore(directory: directory + "/resources")
        var configuration = BrokerConfiguration(resources: store, policy: policy, allowSample: true)
        configuration.sessionLifetime = sessionLifetime
        broker = try KBSBroker(configuration: configuration, audit: audit)
    }

    func post(_ path: String, _ body: JSONValue, cookie: String? = nil) -> BrokerResponse {
        broker.handle(
            BrokerRequest(
                method: "POST", path: path, cookie: cookie, bearer: nil, body: body.serializedBytes(), peer: "test"))
    }

    func get(_ path: String, cookie: String? = nil, bearer: String? = nil) -> BrokerResponse {
        broker.handle(BrokerRequest(method: "GET", path: path, cookie: cookie, bearer: bearer, body: [], peer: "test"))
    }

    /// A full sample attestation; returns the cookie, the token and the key.
    func attest() throws -> (cookie: String, token: String, key: TEEKeyPair) {
        let auth = post("/kbs/v0/auth", AuthRequest(tee: "sample").json)
        #expect(auth.status == 200)
        let cookie = try #require(
            auth.setCookie?.split(separator: ";").first.map { String($0.dropFirst("kbs-session-id=".count)) })
        let challenge = try Challenge(json: JSONValue.parse(auth.body))
        let key = try TEEKeyPair(type: .p256)
        let runtime = RuntimeData(nonce: challenge.nonce, teePubKey: key.publicJWK)
        let body = AttestationRequest(
            runtimeData: runtime, primaryEvidence: EvidenceJSON.sample(digest: runtime.digest(.sha384)))
        let attest = post("/kbs/v0/attest", body.json, cookie: cookie)
        #expect(attest.status == 200, "\(String(decoding: attest.body, as: UTF8.self))")
        let token = try #require(try JSONValue.parse(attest.body)["token"]?.stringValue)
        return (cookie, token, key)
    }

    func errorVariant(_ response: BrokerResponse) -> String? { ErrorInformation(body: response.body)?.variant }
}

@Suite("ccbroker protocol logic")
struct BrokerTests {
    @Test("auth answers a 32-byte base64 nonce, empty extra-params and a session cookie with an expiry")
    func auth() throws {
        let harness = try BrokerHarness()
        let response = harness.post("/kbs/v0/auth", AuthRequest(tee: "sample").json)
        #expect(response.status == 200)
        let json = try JSONValue.parse(response.body)
        #expect(Base64.decode(json["nonce"]?.stringValue ?? "")?.count == 32)
        #expect(json["extra-params"] == .string(""))
        let cookie = try #require(response.setCookie)
        #expect(cookie.hasPrefix("kbs-session-id=") && cookie.contains("; Expires="))
        #expect(cookie.split(separator: ";")[0].dropFirst("kbs-session-id=".count).count == 32)
    }

    @Test("a wrong version is 401 AttestationError naming both versions; unknown plugins are 404")
    func statuses() throws {
        let harness = try BrokerHarness()
        let old = harness.post("/kbs/v0/auth", AuthRequest(version: "0.3.0", tee: "sample").json)
        #expect(old.status == 401 && harness.errorVariant(old) == "AttestationError")
        #expect(String(decoding: old.body, as: UTF8.self).contains("expect =0.4.0 while the request is 0.3.0"))
        let unknown = harness.get("/kbs/v0/nebula/ca")
        #expect(unknown.status == 404 && harness.errorVariant(unknown) == "PluginNotFound")
        let noCookie = harness.post("/kbs/v0/attest", .object([]))
        #expect(noCookie.status == 401 && harness.errorVariant(noCookie) == "AttestationError")
        let noToken = harness.get("/kbs/v0/resource/a/b/c")
        #expect(noToken.status == 401 && harness.errorVariant(noToken) == "TokenNotFound")
    }

    @Test("the resource is encrypted to the attested key, by cookie or by Bearer token; a forged token is refused")
    func resource() throws {
        let harness = try BrokerHarness()
        try harness.store.put(
            ResourcePath("default/key/one").unsafelyUnwrapped, value: SecretBytes(copying: Array("v1".utf8)))
        let (cookie, token, key) = try harness.attest()
        for response in [
            harness.get("/kbs/v0/resource/default/key/one", cookie: cookie),
            harness.get("/kbs/v0/resource/default/key/one", bearer: token),
        ] {
            #expect(response.status == 200)
            let jwe = try JWE(json: JSONValue.parse(response.body))
            #expect(try key.decrypt(jwe).unsafeCopyToArray() == Array("v1".utf8))
        }
        var forged = Array(token.utf8)
        forged[forged.count / 2] ^= 0x01
        let refused = harness.get("/kbs/v0/resource/default/key/one", bearer: String(decoding: forged, as: UTF8.self))
        #expect(refused.status == 401 && harness.errorVariant(refused) == "TokenVerifierError")
        let missing = harness.get("/kbs/v0/resource/default/key/absent", cookie: cookie)
        #expect(missing.status == 401 && harness.errorVariant(missing) == "PluginInternalError")
    }

    @Test("sample evidence that does not bind the runtime data, or a nonce from another session, is refused")
    func badEvidence() throws {
        let harness = try BrokerHarness()
        let auth = harness.post("/kbs/v0/auth", AuthRequest(tee: "sample").json)
        let cookie = String(auth.setCookie?.split(separator: ";")[0].dropFirst("kbs-session-id=".count) ?? "")
        let challenge = try Challenge(json: JSONValue.parse(auth.body))
        let key = try TEEKeyPair(type: .p256)
        let runtime = RuntimeData(nonce: challenge.nonce, teePubKey: key.publicJWK)
        let wrong = AttestationRequest(
            runtimeData: runtime, primaryEvidence: EvidenceJSON.sample(digest: [UInt8](repeating: 1, count: 48)))
        #expect(harness.post("/kbs/v0/attest", wrong.json, cookie: cookie).status == 401)
        let otherNonce = RuntimeData(nonce: Base64.encode([UInt8](repeating: 2, count: 32)), teePubKey: key.publicJWK)
        let stale = AttestationRequest(
            runtimeData: otherNonce, primaryEvidence: EvidenceJSON.sample(digest: otherNonce.digest(.sha384)))
        #expect(harness.post("/kbs/v0/attest", stale.json, cookie: cookie).status == 401)
    }

    @Test(
        "a token whose annotated evidence cannot be read (unparsable or missing report, unknown TEE) is denied",
        arguments: [
            ("snp", JSONValue.object([("snp", .object([("raw_report", .string(Base64.encode([1, 2, 3])))]))])),
            ("snp", .object([("snp", .object([("measurement", .string("00"))]))])),
            ("snp", .object([("snp", .object([("raw_report", .string("not base64!"))]))])),
            (
                "tdx",
                .object([("tdx", .object([("raw_quote", .string(Base64.encode([UInt8](repeating: 4, count: 700))))]))])
            ),
            ("tdx", .object([])),
            ("sgx", .object([])),
        ])
    func unreadableEvidence(tee: String, claims: JSONValue) throws {
        let recorder = AuditRecorder()
        let harness = try BrokerHarness(audit: recorder.logger)
        let path = try #require(ResourcePath("default/key/one"))
        try harness.store.put(path, value: SecretBytes(copying: Array("secret".utf8)))
        // A token this broker signed (as after a successful /attest) whose evidence does not re-parse.
        let key = try TEEKeyPair(type: .p256)
        let token = try harness.broker.issueToken(
            tee: tee, claims: claims, runtime: RuntimeData(nonce: "n", teePubKey: key.publicJWK))
        let response = harness.get("/kbs/v0/resource/default/key/one", bearer: token)
        #expect(response.status == 401 && harness.errorVariant(response) == "PolicyDeny")
        let line = try #require(recorder.lines.last)
        #expect(line.message == "resource deny")
        #expect(line.metadata["rule"]?.hasPrefix("unreadable evidence: ") == true, "\(line.metadata)")
        #expect(line.metadata["tee"] == tee)
    }

    @Test("sample evidence is served only by a broker that accepts sample evidence")
    func sampleNeedsAllowSample() throws {
        let recorder = AuditRecorder()
        let directory = try Fixtures.temporaryDirectory("ccagent-broker")
        defer { Fixtures.removeTree(directory) }
        let store = ResourceStore(directory: directory + "/resources")
        try store.put(try #require(ResourcePath("default/key/one")), value: SecretBytes(copying: [1]))
        let broker = try KBSBroker(configuration: BrokerConfiguration(resources: store), audit: recorder.logger)
        let key = try TEEKeyPair(type: .p256)
        let token = try broker.issueToken(
            tee: "sample", claims: .object([]), runtime: RuntimeData(nonce: "n", teePubKey: key.publicJWK))
        let response = broker.handle(
            BrokerRequest(
                method: "GET", path: "/kbs/v0/resource/default/key/one", cookie: nil, bearer: token, body: [],
                peer: "test"))
        #expect(response.status == 401 && ErrorInformation(body: response.body)?.variant == "PolicyDeny")
        #expect(recorder.lines.last?.metadata["rule"]?.hasPrefix("sample evidence: ") == true)
    }

    @Test("an expired session no longer attests or serves resources")
    func expiry() throws {
        let harness = try BrokerHarness(sessionLifetime: 0.2)
        try harness.store.put(ResourcePath("default/key/one").unsafelyUnwrapped, value: SecretBytes(copying: [1]))
        let (cookie, _, _) = try harness.attest()
        usleep(300_000)
        let response = harness.get("/kbs/v0/resource/default/key/one", cookie: cookie)
        #expect(response.status == 401 && harness.errorVariant(response) == "TokenNotFound")
    }

    @Test("the policy file is strict: unknown keys and non-hex values are refused")
    func policyFile() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        for bad in [
            #"{"defualt":{}}"#, #"{"default":{"snp":{"measurements":["zz"]}}}"#, #"{"default":{"max_vmpl":9}}"#,
        ] {
            try Data(bad.utf8).write(to: URL(fileURLWithPath: directory + "/p.json"))
            #expect(throws: BrokerError.self) { _ = try AppraisalPolicy(contentsOf: directory + "/p.json") }
        }
        try Data(#"{"default":{"max_vmpl":1},"repositories":{"prod":{"snp":{"min_tcb":{"snp":20}}}}}"#.utf8)
            .write(to: URL(fileURLWithPath: directory + "/p.json"))
        let policy = try AppraisalPolicy(contentsOf: directory + "/p.json")
        #expect(policy.rules(for: ResourcePath("prod/a/b")).snp.minimumTCB["snp"] == 20)
        #expect(policy.rules(for: ResourcePath("prod/a/b")).maxVMPL == 1)
        #expect(policy.rules(for: ResourcePath("dev/a/b")).snp.minimumTCB.isEmpty)
    }

    @Test("resources are stored 0600 and listed; path components cannot escape the directory")
    func resourceStore() throws {
        let harness = try BrokerHarness()
        let path = try #require(ResourcePath("default/luks/root"))
        try harness.store.put(path, value: SecretBytes(copying: [9, 9]))
        let attributes = try FileManager.default.attributesOfItem(
            atPath: harness.directory + "/resources/default/luks/root")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(harness.store.list() == [path])
        #expect(ResourcePath("../etc/passwd") == nil && ResourcePath("a/../b") == nil)
    }
}
