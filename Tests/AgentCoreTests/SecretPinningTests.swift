// SPDX-License-Identifier: Apache-2.0
// "The disk decides nothing" for sealed secrets: a blob cannot choose weaker key parameters than the
// configuration pins. The attacker is the host running its own VM on the same chip, with the same
// policy but another measurement, and writing blobs into the victim's store.

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
                rootKey: policy.rootKeyVMRK ? .vmrk : .vcek,
                fields: GuestFieldSelect(rawValue: policy.guestFieldSelect),
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
                #expect(
                    error.message.contains(word), "'\(word)' not in: \(error.message)", sourceLocation: sourceLocation)
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
        expectRefused(
            store, "api", keys: recording, mentions: ["default/host-known/kek", SealingKeys.defaultKEKResource])
        #expect(recording.count == 0)
    }
}

@Suite("Sealed secrets: the pins and the sealing mode")
struct SecretPinsTests {
    @Test("put refuses to seal below the pins, before asking for a key, and writes nothing")
    func putRefusesWeakPolicy() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let recording = RecordingKeys()
        #expect(throws: SecretStoreError(.policyRefused, "")) {
            try store.put(
                name: "x", secret: SecretBytes(copying: [1]),
                policy: SealingPolicy(mode: .snp, guestFieldSelect: GuestFieldSelect.policy.rawValue), keys: recording)
        }
        #expect(throws: SecretStoreError(.policyRefused, "")) {
            try store.put(
                name: "y", secret: SecretBytes(copying: [1]),
                policy: SealingPolicy(mode: .broker, brokerResource: "default/other/kek"), keys: recording)
        }
        #expect(recording.count == 0)
        #expect(try store.list().isEmpty)
    }

    @Test("configured pins decide: stricter fields refuse a default blob; another KEK resource is accepted")
    func configuredPins() throws {
        let store = SecretStore(directory: try Fixtures.temporaryDirectory() + "/store")
        let keys = Simulators.keys(Simulators.first)
        try store.put(
            name: "a", secret: SecretBytes(copying: [7]), policy: SealingPins().policy(for: .snp), keys: keys)
        let stricter = SealingPins(requiredFields: [.measurement, .policy, .imageID])
        do {
            _ = try store.get(name: "a", keys: keys, pins: stricter)
            Issue.record("opened below the configured pins")
        } catch let error as SecretStoreError {
            #expect(error.code == .policyRefused)
            #expect(error.message.contains("image-id"))
            #expect(!error.message.contains("measurement,"))
        }
        // Sealing under the stricter pins binds the extra field, and opens under them.
        try store.put(name: "b", secret: SecretBytes(copying: [8]), policy: stricter.policy(for: .snp), keys: keys)
        #expect(try store.get(name: "b", keys: keys, pins: stricter).unsafeCopyToArray() == [8])
        // A configured KEK resource is the one accepted (the key source is then asked).
        let kek = SealingPins(kekResource: "default/site/kek")
        try HostVM.plant(
            "v", name: "c", policy: kek.policy(for: .broker), key: SecretBytes(zeroedCount: 32), in: store)
        let recording = RecordingKeys()
        #expect(throws: SecretStoreError(.keyUnavailable, "")) {
            _ = try store.get(name: "c", keys: recording, pins: kek)
        }
        #expect(recording.count == 1)
        #expect(throws: SecretStoreError(.policyRefused, "")) { _ = try store.get(name: "c", keys: recording) }
        #expect(recording.count == 1)
    }

    @Test("the sealing mode is an explicit choice: the requested mode, else SNP only on an SNP device")
    func modeChoice() {
        let pins = SealingPins(requiredFields: [.measurement, .policy, .familyID], vmpl: 1, kekResource: "a/b/c")
        let snp = SealingPolicy(
            mode: .snp, guestFieldSelect: GuestFieldSelect([.measurement, .policy, .familyID]).rawValue, vmpl: 1)
        let broker = SealingPolicy(mode: .broker, brokerResource: "a/b/c")
        #expect(pins.policy(requested: nil, deviceKind: .snp) == snp)
        #expect(pins.policy(requested: nil, deviceKind: .simSNP) == snp)
        #expect(pins.policy(requested: nil, deviceKind: .tdx) == broker)
        #expect(pins.policy(requested: nil, deviceKind: .simTDX) == broker)
        #expect(pins.policy(requested: nil, deviceKind: nil) == broker)
        #expect(pins.policy(requested: .broker, deviceKind: .snp) == broker)
        #expect(pins.policy(requested: .snp, deviceKind: .tdx) == snp)
        #expect(SealingKeys.defaultPolicy(for: .simSNP) == SealingPins().policy(for: .snp))
        #expect(SealingPins().policy(for: .snp).guestFieldSelect == GuestFieldSelect([.measurement, .policy]).rawValue)
    }

    @Test("SNP sealing on a TDX device is refused as unavailable, not attempted")
    func snpOnTDX() throws {
        let keys = SealingKeys(device: SimulatedTDXDevice(state: Simulators.first), factors: nil, broker: nil)
        #expect(throws: SecretStoreError(.keyUnavailable, "")) {
            _ = try keys.sealingKey(for: SealingPins().policy(for: .snp))
        }
    }

    @Test("the credential socket refuses a planted policy-only blob")
    func credentialSocketRefuses() throws {
        let directory = try Fixtures.temporaryDirectory()
        let store = SecretStore(directory: directory + "/store")
        let host = try HostVM.onSameChip(as: Simulators.first)
        let policy = SealingPolicy(mode: .snp, guestFieldSelect: GuestFieldSelect.policy.rawValue)
        let key = try SimulatedSNPDevice(state: host).derivedKey(DerivedKeyRequest(fields: .policy))
        try HostVM.plant("host-chosen", name: "api-token", policy: policy, key: key, in: store)
        let lines = Lines()
        let server = try CredentialServer(
            path: directory + "/credentials.sock", store: store, keys: Simulators.keys(Simulators.first),
            rules: CredentialAccessRules(parsing: "app.service api-token\n", source: "test"),
            log: { lines.append($0.description) })
        DispatchQueue.global().async { server.serve() }
        defer { server.shutdown() }
        let client = Fixtures.repositoryRoot + "/scripts/testing/loadcredential_client.py"
        let result = try Subprocess.run([
            "/usr/bin/env", "python3", client, server.path, "app.service", "api-token", "abstract",
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.output == "")
        #expect(lines.all.contains { $0.contains("not served") && $0.contains("measurement") })
    }
}

final class Lines: @unchecked Sendable {
    private let lock = Lock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite("Sealed secrets: the CLI")
struct SecretCommandTests {
    @Test("secret put (stdin and --in) and get round-trip; a planted policy-only blob is refused by name")
    func roundTripAndRefusal() throws {
        let directory = try Fixtures.temporaryDirectory()
        let store = directory + "/store"
        let common = ["--store", store, "--tee", "sim-snp", "--simulator-dir", Simulators.first.directory]
        let put = try Subprocess.run(
            [Binaries.ccagent, "secret", "put", "from-stdin"] + common, input: Array("piped value".utf8))
        #expect(put.exitCode == 0, "\(put.output)")
        #expect(put.output.contains("snp (vcek, fields 0x9, vmpl 0)"), "\(put.output)")
        try FileIO.writeAtomically(path: directory + "/value", bytes: Array("file value".utf8))
        try Subprocess.run(
            [Binaries.ccagent, "secret", "put", "from-file", "--in", directory + "/value"] + common
        ).check()
        for (name, value) in [("from-stdin", "piped value"), ("from-file", "file value")] {
            try Subprocess.run(
                [Binaries.ccagent, "secret", "get", name, "--out", directory + "/out-" + name] + common
            ).check()
            #expect(try FileIO.read(path: directory + "/out-" + name, limit: 100) == Array(value.utf8))
        }
        let host = try HostVM.onSameChip(as: Simulators.first)
        let policy = SealingPolicy(mode: .snp, guestFieldSelect: GuestFieldSelect.policy.rawValue)
        let key = try SimulatedSNPDevice(state: host).derivedKey(DerivedKeyRequest(fields: .policy))
        try HostVM.plant("host-chosen", name: "planted", policy: policy, key: key, in: SecretStore(directory: store))
        let get = try Subprocess.run(
            [Binaries.ccagent, "secret", "get", "planted", "--out", directory + "/out-planted"] + common)
        #expect(get.exitCode != 0)
        #expect(get.output.contains("refusing secret 'planted'") && get.output.contains("measurement"), "\(get.output)")
        #expect(access(directory + "/out-planted", F_OK) != 0)
        let big = try Subprocess.run(
            [Binaries.ccagent, "secret", "put", "big"] + common,
            input: [UInt8](repeating: 1, count: SealedBlob.maximumSecretSize + 1))
        #expect(big.exitCode != 0)
        #expect(big.output.contains("standard input"), "\(big.output)")
    }
}
