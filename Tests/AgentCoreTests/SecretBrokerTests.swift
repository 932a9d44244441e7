// SPDX-License-Identifier: Apache-2.0
// Broker-sealed secrets in a long-running daemon, against a real ccbroker on 127.0.0.1 over TLS:
// every broker request gets its own client, deadline and attestation.

import AgentBase
import AgentCore
import SecureMemory
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A ccbroker that trusts the shared simulator (``Simulators/first``).
final class SealingBroker: @unchecked Sendable {
    let directory: String
    let pki: TestPKI
    let broker: BrokerProcess

    init() throws {
        directory = try Fixtures.temporaryDirectory("ccagent-secret-broker")
        pki = try TestPKI(directory: directory)
        try FileIO.writeAtomically(path: directory + "/roots.pem", bytes: Array(Simulators.first.rootsPEM.utf8))
        broker = try BrokerProcess(
            pki: pki, directory: directory, extraArguments: ["--trust-simulator", directory + "/roots.pem"])
    }

    func configuration(deadlineSeconds: Double) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        configuration.tee = .simSNP
        configuration.simulatorDirectory = Simulators.first.directory
        configuration.brokerURL = broker.url
        configuration.deadlineSeconds = deadlineSeconds
        return configuration
    }

    /// Sealing keys as the daemon builds them (``SealingKeys/forPlatform(configuration:trust:)``).
    func keys(deadlineSeconds: Double) throws -> SealingKeys {
        try SealingKeys.forPlatform(
            configuration: configuration(deadlineSeconds: deadlineSeconds), trust: .caFile(pki.caPEM))
    }

    deinit {
        broker.process.stop()
        Fixtures.removeTree(directory)
    }
}

@Suite("Sealed secrets: the broker's KEK in a long-running daemon", .serialized)
struct SecretBrokerTests {
    let policy = SealingPolicy(mode: .broker, brokerResource: SealingKeys.defaultKEKResource)

    @Test("a broker request after the first request's deadline has passed still gets a fresh deadline")
    func freshDeadlinePerRequest() throws {
        let environment = try SealingBroker()
        let deadline = 5.0
        let keys = try environment.keys(deadlineSeconds: deadline)
        let store = SecretStore(directory: environment.directory + "/store")
        // The daemon serves a request before the administrator has provisioned the KEK: it fails
        // (after attesting successfully).
        #expect(throws: (any Error).self) {
            try store.put(name: "early", secret: SecretBytes(copying: [1]), policy: policy, keys: keys)
        }
        try environment.broker.put(SealingKeys.defaultKEKResource, Array(repeating: 0x5A, count: 32))
        // Days later, as far as the first client's deadline is concerned.
        usleep(UInt32((deadline + 1) * 1_000_000))
        try store.put(name: "late", secret: SecretBytes(copying: Array("v".utf8)), policy: policy, keys: keys)
        #expect(try store.get(name: "late", keys: keys).unsafeCopyToArray() == Array("v".utf8))
    }

    @Test("a planted broker blob naming a resource whose value the host knows is refused")
    func otherResourceRefused() throws {
        let environment = try SealingBroker()
        let known = [UInt8](repeating: 0x77, count: 32)
        try environment.broker.put("default/host-known/kek", known)
        let keys = try environment.keys(deadlineSeconds: 30)
        let store = SecretStore(directory: environment.directory + "/store")
        try HostVM.plant(
            "host-chosen", name: "api", policy: SealingPolicy(mode: .broker, brokerResource: "default/host-known/kek"),
            key: SecretBytes(copying: known), in: store)
        do {
            let value = try store.get(name: "api", keys: keys)
            Issue.record("returned the planted value '\(String(decoding: value.unsafeCopyToArray(), as: UTF8.self))'")
        } catch let error as SecretStoreError {
            #expect(error.code.description == "secret.policy-refused", "\(error)")
        }
        #expect(keys.brokerSessionCount == 0)
    }

    @Test("a fetched KEK is reused within its lifetime and fetched in a new session after it")
    func kekLifetime() throws {
        let environment = try SealingBroker()
        try environment.broker.put(SealingKeys.defaultKEKResource, Array(repeating: 0x3C, count: 32))
        let keys = try SealingKeys.forPlatform(
            configuration: environment.configuration(deadlineSeconds: 30), trust: .caFile(environment.pki.caPEM),
            kekLifetimeSeconds: 2)
        let store = SecretStore(directory: environment.directory + "/store")
        try store.put(name: "a", secret: SecretBytes(copying: [1]), policy: policy, keys: keys)
        #expect(try store.get(name: "a", keys: keys).unsafeCopyToArray() == [1])
        #expect(keys.brokerSessionCount == 1)
        usleep(2_500_000)
        #expect(try store.get(name: "a", keys: keys).unsafeCopyToArray() == [1])
        #expect(keys.brokerSessionCount == 2)
    }
}
