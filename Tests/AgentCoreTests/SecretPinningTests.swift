// SPDX-License-Identifier: Apache-2.0
// "The disk decides nothing" for sealed secrets: a blob cannot choose weaker key parameters than the
// configuration pins. The attacker is the host running its own VM on the same chip, with the same
// policy but another measurement, and writing blobs into the victim's store.

import AgentCore
import FoundationEssentials
import SecureMemory
import TEEDevice
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The host's VM on the victim's chip: the same simulator state (chip secret, VCEK) with another
/// launch measurement. Test-only: a copy of the state directory with `launch.json` rewritten.
enum HostVM {
    static func onSameChip(as victim: SimulatorState) throws -> SimulatorState {
        let directory = try Fixtures.temporaryDirectory("ccagent-host-vm") + "/state"
        try Subprocess.run(["/bin/cp", "-a", victim.directory, directory]).check()
        var launch = victim.launch
        launch.measurement = String(repeating: "ab", count: 48)
        precondition(launch.measurement != victim.launch.measurement)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileIO.writeAtomically(path: directory + "/launch.json", mode: 0o644, bytes: Array(encoder.encode(launch)))
        return try SimulatorState.load(directory: directory)
    }

    /// Seals `value` as the host would: its own key for `policy`, written straight into the store.
    static func plant(
        _ value: String, name: String, policy: SealingPolicy, key: SecretBytes, in store: SecretStore
    ) throws {
        let blob = try SealedBlob.seal(
            SecretBytes(copying: Array(value.utf8)), name: name, policy: policy, sealingKey: key)
        try FileIO.makeDirectory(store.directory)
        try FileIO.writeAtomically(path: store.directory + "/\(name).sealed", bytes: blob.serialized())
    }
}

/// A key source that records every request and answers none: proves a refusal came first.
final class RecordingKeys: SealingKeySource, @unchecked Sendable {
    private let lock = Lock()
    private var requests: [SealingPolicy] = []
    var count: Int { lock.withLock { requests.count } }

    func sealingKey(for policy: SealingPolicy) throws -> SecretBytes {
        lock.withLock { requests.append(policy) }
        throw SecretStoreError(.keyUnavailable, "recording only")
    }
}

@Suite("Sealed secrets: pinned key parameters")
struct SecretPinningTests {
    let victim = Simulators.first

    func victimDevice() -> SimulatedSNPDevice { SimulatedSNPDevice(state: victim) }

    func snpPolicy(_ fields: GuestFieldSelect, vmpl: UInt32 = 0, vmrk: Bool = false) -> SealingPolicy {
        SealingPolicy(mode: .snp, rootKeyVMRK: vmrk, guestFieldSelect: fields.rawValue, vmpl: vmpl)
    }

    func hostKey(_ host: SimulatorState, _ policy: SealingPolicy) throws -> SecretBytes {
        try SimulatedSNPDevice(state: host).derivedKey(
            DerivedKeyRequest(
                rootKey: policy.rootKeyVMRK ? .vmrk : .vcek, fields: GuestFieldSelect(rawValue: policy.guestFieldSelect),
                vmpl: policy.vmpl))
    }

    /// Expects `get` to refuse with `secret.policy-refused`, naming each of `mentions`.
    func expectRefused(
        _ store: SecretStore, _ name: String, keys: any SealingKeySource, mentions: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let value = try store.get(name: name, keys: keys)
            Issue.record(
                "the store returned a planted value: '\(String(decoding: value.unsafeCopyToArray(), as: UTF8.self))'",
                sourceLocation: sourceLocation)
        } catch let error as SecretStoreError {
            #expect(error.code.description == "secret.policy-refused", "\(error)", sourceLocation: sourceLocation)
            for word in mentions {
                #expect(error.message.contains(word), "'\(word)' not in: \(error.message)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("the simulator models the attack: a policy-only key is the same for the host's VM on the same chip")
    func attackIsReal() throws {
        let host = try HostVM.onSameChip(as: victim)
        let policyOnly = snpPolicy([.policy])
        #expect(try hostKey(host, policyOnly).constantTimeEquals(hostKey(victim, policyOnly)))
        let pinned = snpPolicy([.measurement, .policy])
        #expect(try !hostKey(host, pinned).constantTimeEquals(hostKey(victim, pinned)))
    }

    @Test("a blob the host sealed under policy-only fields is refused before any key is derived")
    func policyOnlyRefused() throws {
        let host = try HostVM.onSameChip(as: victim)
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let policy = snpPolicy([.policy])
        try HostVM.plant("host-chosen", name: "db-password", policy: policy, key: hostKey(host, policy), in: store)
        expectRefused(store, "db-password", keys: Simulators.keys(victim), mentions: ["db-password", "measurement"])
        let recording = RecordingKeys()
        expectRefused(store, "db-password", keys: recording, mentions: ["measurement"])
        #expect(recording.count == 0)
    }

    @Test("a blob selecting no fields at all is refused, naming both missing fields")
    func noFieldsRefused() throws {
        let host = try HostVM.onSameChip(as: victim)
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let policy = snpPolicy([])
        try HostVM.plant("host-chosen", name: "token", policy: policy, key: hostKey(host, policy), in: store)
        expectRefused(store, "token", keys: Simulators.keys(victim), mentions: ["measurement", "policy"])
    }

    @Test("another VMPL or root key than the pinned one is refused")
    func vmplAndRootKeyRefused() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let device = victimDevice()
        let vmpl3 = snpPolicy([.measurement, .policy], vmpl: 3)
        try HostVM.plant("vmpl3", name: "a", policy: vmpl3, key: hostKey(victim, vmpl3), in: store)
        expectRefused(store, "a", keys: SealingKeys(device: device, factors: nil, broker: nil), mentions: ["VMPL 3"])
        let vmrk = snpPolicy([.measurement, .policy], vmrk: true)
        try HostVM.plant("vmrk", name: "b", policy: vmrk, key: hostKey(victim, vmrk), in: store)
        expectRefused(store, "b", keys: SealingKeys(device: device, factors: nil, broker: nil), mentions: ["VMRK"])
    }

    @Test("positive control: the pinned fields (or a superset) open; the host's measurement-bound blob does not")
    func pinnedFieldsOpen() throws {
        let host = try HostVM.onSameChip(as: victim)
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let keys = Simulators.keys(victim)
        let pinned = snpPolicy([.measurement, .policy])
        try HostVM.plant("mine", name: "own", policy: pinned, key: hostKey(victim, pinned), in: store)
        #expect(try store.get(name: "own", keys: keys).unsafeCopyToArray() == Array("mine".utf8))
        let superset = snpPolicy([.measurement, .policy, .imageID, .guestSVN])
        try HostVM.plant("more", name: "superset", policy: superset, key: hostKey(victim, superset), in: store)
        #expect(try store.get(name: "superset", keys: keys).unsafeCopyToArray() == Array("more".utf8))
        // The host can seal with the pinned fields too, but only to its own measurement: the tag fails.
        try HostVM.plant("host-chosen", name: "hosts", policy: pinned, key: hostKey(host, pinned), in: store)
        #expect(throws: SecretStoreError(.unsealFailed, "")) { _ = try store.get(name: "hosts", keys: keys) }
    }

    @Test("a broker blob naming another resource than the pinned KEK is refused with no broker request")
    func otherKEKResourceRefused() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let policy = SealingPolicy(mode: .broker, brokerResource: "default/host-known/kek")
        try HostVM.plant("host-chosen", name: "api", policy: policy, key: SecretBytes(zeroedCount: 32), in: store)
        let recording = RecordingKeys()
        expectRefused(store, "api", keys: recording, mentions: ["default/host-known/kek", SealingKeys.defaultKEKResource])
        #expect(recording.count == 0)
    }
}
