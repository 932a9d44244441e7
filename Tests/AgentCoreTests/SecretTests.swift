// SPDX-License-Identifier: Apache-2.0
// Sealed secrets on the simulator: round trip, other chip, changed fields, tampering, concurrency,
// and the LoadCredential= socket.

import AgentBase
import AgentCore
import Dispatch
import FoundationEssentials
import SecureMemory
import TEEDevice
import TEESimulator
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum Simulators {
    static let first = make()
    static let second = make()

    static func make() -> SimulatorState {
        do {
            return try SimulatorState.initialize(directory: Fixtures.temporaryDirectory("ccagent-sim") + "/state")
        } catch {
            fatalError("simulator initialisation failed: \(error)")
        }
    }

    static func keys(_ state: SimulatorState) -> SealingKeys {
        SealingKeys(device: SimulatedSNPDevice(state: state), factors: nil, broker: nil)
    }
}

@Suite("Sealed secrets")
struct SecretTests {
    let policy = SealingKeys.defaultPolicy(for: .simSNP)

    @Test("put then get round-trips; files are 0600 in a 0700 directory")
    func roundTrip() throws {
        let directory = try Fixtures.temporaryDirectory() + "/store"
        let store = SecretStore(directory: directory)
        try store.put(
            name: "db-password", secret: SecretBytes(copying: Array("s3cret".utf8)), policy: policy,
            keys: Simulators.keys(Simulators.first))
        #expect(
            try store.get(name: "db-password", keys: Simulators.keys(Simulators.first)).unsafeCopyToArray()
                == Array("s3cret".utf8))
        #expect(try store.list() == ["db-password"])
        var info = stat()
        stat(directory + "/db-password.sealed", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        stat(directory, &info)
        #expect(info.st_mode & 0o777 == 0o700)
    }

    @Test("another simulator chip cannot unseal; neither can other bound fields; the error says why")
    func otherChip() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        try store.put(
            name: "token", secret: SecretBytes(copying: [1, 2, 3]), policy: policy,
            keys: Simulators.keys(Simulators.first))
        do {
            _ = try store.get(name: "token", keys: Simulators.keys(Simulators.second))
            Issue.record("unsealed on another chip")
        } catch let error as SecretStoreError {
            #expect(error.code == .unsealFailed)
            #expect(error.message.contains("sealed on another machine or under other launch fields"))
        }
        // Rewriting the bound fields in the blob to select fewer fields is refused by the pins before
        // any key is derived; to select more, it breaks the AAD.
        let path = store.directory + "/token.sealed"
        let original = try FileIO.read(path: path, limit: 1 << 20)
        var bytes = original
        bytes[8] = 0x08  // guest field select: measurement only
        try FileIO.writeAtomically(path: path, bytes: bytes)
        #expect(throws: SecretStoreError(.policyRefused, "")) {
            _ = try store.get(name: "token", keys: Simulators.keys(Simulators.first))
        }
        bytes = original
        bytes[8] = 0x0B  // guest field select: measurement, image id, policy
        try FileIO.writeAtomically(path: path, bytes: bytes)
        #expect(throws: SecretStoreError(.unsealFailed, "")) {
            _ = try store.get(name: "token", keys: Simulators.keys(Simulators.first))
        }
    }

    @Test("a flipped byte anywhere is detected; a renamed blob does not open")
    func tampering() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let keys = Simulators.keys(Simulators.first)
        try store.put(
            name: "a", secret: SecretBytes(copying: Array(repeating: 7, count: 40)), policy: policy, keys: keys)
        let original = try FileIO.read(path: store.directory + "/a.sealed", limit: 1 << 20)
        for offset in stride(from: 0, to: original.count, by: 3) {
            var bytes = original
            bytes[offset] ^= 0x01
            try FileIO.writeAtomically(path: store.directory + "/a.sealed", bytes: bytes)
            #expect(throws: SecretStoreError.self, "flip at \(offset)") { _ = try store.get(name: "a", keys: keys) }
        }
        try FileIO.writeAtomically(path: store.directory + "/b.sealed", bytes: original)
        #expect(throws: SecretStoreError(.unsealFailed, "")) { _ = try store.get(name: "b", keys: keys) }
        #expect(throws: SecretStoreError(.invalidName, "")) { _ = try store.get(name: "../etc/passwd", keys: keys) }
    }

    @Test("50 concurrent writers and readers lose nothing and corrupt nothing")
    func concurrency() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let keys = Simulators.keys(Simulators.first)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 50) { index in
            do {
                let name = "secret-\(index % 10)"
                let value = Array("value-\(index % 10)".utf8)
                try store.put(name: name, secret: SecretBytes(copying: value), policy: policy, keys: keys)
                let read = try store.get(name: name, keys: keys).unsafeCopyToArray()
                if read != value { failures.increment() }
            } catch {
                failures.increment()
            }
        }
        #expect(failures.value == 0)
        #expect(try store.list().count == 10)
        for index in 0..<10 {
            #expect(
                try store.get(name: "secret-\(index)", keys: keys).unsafeCopyToArray() == Array("value-\(index)".utf8))
        }
    }

    @Test("a LoadCredential= client receives the secret; unauthorised peers get nothing")
    func credentialSocket() throws {
        let directory = try Fixtures.temporaryDirectory()
        let store = SecretStore(directory: directory + "/store")
        let keys = Simulators.keys(Simulators.first)
        try store.put(
            name: "api-token", secret: SecretBytes(copying: Array("tok-123".utf8)), policy: policy, keys: keys)
        try store.put(name: "other", secret: SecretBytes(copying: Array("nope".utf8)), policy: policy, keys: keys)
        let decisions = Counter()
        let server = try CredentialServer(
            path: directory + "/credentials.sock", store: store, keys: keys,
            rules: CredentialAccessRules(parsing: "app.service api-token\n", source: "test"),
            log: { _ in decisions.increment() })
        // Open the socket to everyone so the server's own peer check (root only) is what refuses.
        chmod(server.path, 0o666)
        chmod(directory, 0o755)
        DispatchQueue.global().async { server.serve() }
        defer { server.shutdown() }
        let client = Fixtures.repositoryRoot + "/scripts/testing/loadcredential_client.py"
        func ask(_ unit: String, _ credential: String, abstract: Bool = true, asNobody: Bool = false) throws -> String {
            var command = [
                "/usr/bin/env", "python3", client, server.path, unit, credential, abstract ? "abstract" : "plain",
            ]
            if asNobody {
                command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command
            }
            let result = try Subprocess.run(command)
            #expect(result.exitCode == 0, "\(result.output)")
            return result.output
        }
        #expect(try ask("app.service", "api-token") == "tok-123")
        #expect(try ask("app.service", "other") == "")
        #expect(try ask("evil.service", "api-token") == "")
        #expect(try ask("app.service", "api-token", abstract: false) == "")
        #expect(try ask("app.service", "api-token", asNobody: true) == "")
        #expect(decisions.value == 5)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = Lock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
