// SPDX-License-Identifier: Apache-2.0
// The disk decides nothing: what a host that owns the disk can make a volume claim, and why the
// agent refuses each claim before it derives a key or contacts the broker (issue #16).

import AgentBase
import AgentCore
import CanonicalJSON
import Cryptsetup
import FoundationEssentials
import KBSProtocol
import LUKSBinding
import SecureMemory
import TEEDevice
import TEESimulator
import TestSupport
import Testing

/// The factors of a real simulated SNP device, with the broker boundary recorded (as RecordingFactors).
final class SimulatedFactors: VolumeFactorSource {
    let device: SimulatedSNPDevice
    let broker = RecordingFactors()

    init(directory: String) throws {
        device = SimulatedSNPDevice(state: try SimulatorState.load(directory: directory))
    }

    func brokerSecret(broker url: String, resource: ResourcePath) throws -> SecretBytes {
        try broker.brokerSecret(broker: url, resource: resource)
    }

    func snpKey(_ request: DerivedKeyRequest) throws -> SecretBytes { try device.derivedKey(request) }
}

/// A victim's simulator state, and the host's: a copy with the same chip secret (the same physical
/// chip) but another launch measurement (the host's own VM on that chip).
struct SameChipStates {
    let victim: String
    let host: String

    init() throws {
        let root = try Fixtures.temporaryDirectory("ccagent-samechip")
        victim = root + "/victim"
        host = root + "/host"
        _ = try SimulatorState.initialize(directory: victim)
        try Subprocess.run(["/bin/cp", "-a", victim, host]).check()
        let launchPath = host + "/launch.json"
        let text = String(decoding: try FileIO.read(path: launchPath, limit: 1 << 16), as: UTF8.self)
        let victimMeasurement = try SimulatorState.load(directory: victim).launch.measurement
        let other = String(repeating: "ab", count: 48)
        try FileIO.writeAtomically(
            path: launchPath, mode: 0o644, bytes: Array(text.replacing(victimMeasurement, with: other).utf8))
        let hostState = try SimulatorState.load(directory: host)
        guard hostState.launch.measurement == other else { throw FixtureError(message: "host state not rewritten") }
    }

    func remove() {
        var parent = victim
        parent.removeLast("/victim".count)
        Fixtures.removeTree(parent)
    }
}

/// A configuration as the host writes it for its own tools: anything goes.
func permissivePolicy(broker: String? = TestImage.broker) -> UnlockPolicy {
    var volumes = VolumePolicy()
    volumes.bindings = Set(BindingMode.allCases)
    volumes.snpFields = []
    volumes.resourcePatterns = ["*/*/*"]
    return UnlockPolicy(broker: broker, volumes: volumes)
}

func enroll(
    _ image: TestImage, binding: BindingMode, fields: GuestFieldSelect, resource: String? = nil,
    policy: UnlockPolicy, factors: VolumeFactorSource, secret: [UInt8] = Array(repeating: 0x5A, count: 32)
) throws {
    _ = try Enrollment.enroll(
        EnrollmentRequest(
            device: image.path, binding: binding, broker: binding.usesBroker ? TestImage.broker : nil,
            resource: binding.usesBroker ? ResourcePath(resource ?? "default/luks/\(image.uuid)") : nil,
            trustRecord: [], snp: binding.usesSNP ? DerivedKeyRequest(fields: fields) : nil,
            existingPassphrase: image.passphrase, brokerSecret: binding.usesBroker ? SecretBytes(copying: secret) : nil),
        policy: policy, factors: factors)
}

@Suite("The disk decides nothing: volume identity and pinned token claims", .serialized, .tags(.integration))
struct VolumeIdentityTests {
    let victimPolicy = UnlockPolicy(broker: TestImage.broker)

    @Test(
        "a disk the host made on its own VM on the same chip, with an SNP key that leaves out the measurement, is refused before any key or request",
        arguments: [
            (BindingMode.snp, GuestFieldSelect.policy), (.snp, []), (.brokerAndSNP, .policy),
            (.brokerAndSNP, []),
        ] as [(BindingMode, GuestFieldSelect)])
    func hostVMForgery(binding: BindingMode, fields: GuestFieldSelect) throws {
        let states = try SameChipStates()
        defer { states.remove() }
        let image = try TestImage()
        defer { image.remove() }
        let host = try SimulatedFactors(directory: states.host)
        try enroll(image, binding: binding, fields: fields, policy: permissivePolicy(), factors: host)

        // The attack works without the pins: the victim's chip derives the same policy-only key.
        let victim = try SimulatedFactors(directory: states.victim)
        _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: permissivePolicy(), factors: victim)

        // With the victim's configuration (even one that allows the snp binding) it is refused.
        let fresh = try SimulatedFactors(directory: states.victim)
        var allowsSNP = victimPolicy
        allowsSNP.volumes.bindings.insert(.snp)
        for policy in [victimPolicy, allowsSNP] {
            do {
                _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: policy, factors: fresh)
                Issue.record("the host's volume was opened")
            } catch let error as BindingError {
                #expect(error.code == .policyRefused, "\(error)")
            }
        }
        #expect(fresh.broker.brokerRequests.isEmpty, "nothing was sent to the broker")
    }

    @Test(
        "positive control: the default fields under the victim's own state unlock; the host's copy of that volume does not"
    )
    func defaultFieldsUnlock() throws {
        let states = try SameChipStates()
        defer { states.remove() }
        let image = try TestImage()
        defer { image.remove() }
        let victim = try SimulatedFactors(directory: states.victim)
        try enroll(
            image, binding: .brokerAndSNP, fields: [.measurement, .policy], policy: victimPolicy, factors: victim)
        let outcome = try VolumeUnlock.unlock(
            device: image.path, name: nil, policy: victimPolicy, factors: SimulatedFactors(directory: states.victim))
        #expect(outcome.keyslot == 1)
        #expect(outcome.measurement?.count == 64)
        #expect(throws: BindingError(.macMismatch, "")) {
            _ = try VolumeUnlock.unlock(
                device: image.path, name: nil, policy: victimPolicy, factors: SimulatedFactors(directory: states.host))
        }
    }

    @Test("a token naming a resource outside 'resources' is refused before any connection; one inside unlocks")
    func resourceOutsidePattern() throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        try enroll(
            image, binding: .broker, fields: [], resource: "public/config/motd", policy: permissivePolicy(),
            factors: factors)
        let victim = RecordingFactors()
        do {
            _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: victimPolicy, factors: victim)
            Issue.record("a token naming a public resource was opened")
        } catch let error as BindingError {
            #expect(error.code == .policyRefused)
            #expect(error.message.contains("public/config/motd") && error.message.contains("default/luks/*"))
        }
        #expect(victim.brokerRequests.isEmpty)
        // The same volume, pinned by an exact 'volume = UUID RESOURCE' line, is the admin's choice.
        var pinned = victimPolicy
        pinned.volumes.volumes = [image.uuid.lowercased(): "public/config/motd"]
        _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: pinned, factors: factors)
        #expect(factors.brokerRequests.last?.1.description == "public/config/motd")
    }

    @Test("'volume = UUID RESOURCE' lines: only those volumes, only those resources")
    func exactVolumes() throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        try enroll(image, binding: .broker, fields: [], policy: victimPolicy, factors: factors)
        var other = victimPolicy
        other.volumes.volumes = ["00000000-0000-0000-0000-000000000000": "default/luks/x"]
        var wrongResource = victimPolicy
        wrongResource.volumes.volumes = [image.uuid.lowercased(): "default/luks/other"]
        for policy in [other, wrongResource] {
            let recorder = RecordingFactors()
            #expect(throws: BindingError(.policyRefused, "")) {
                _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: policy, factors: recorder)
            }
            #expect(recorder.brokerRequests.isEmpty)
        }
    }

    @Test("enroll refuses what unlock would refuse, with the same error, and writes nothing")
    func enrollRefusesEarly() throws {
        let image = try TestImage()
        defer { image.remove() }
        let before = image.bytes
        #expect(throws: BindingError(.policyRefused, "")) {
            try enroll(
                image, binding: .brokerAndSNP, fields: [.policy], policy: victimPolicy, factors: RecordingFactors())
        }
        #expect(throws: BindingError(.policyRefused, "")) {
            try enroll(
                image, binding: .broker, fields: [], resource: "public/config/motd", policy: victimPolicy,
                factors: RecordingFactors())
        }
        #expect(image.bytes == before, "nothing written")
    }

    @Test(
        "a header that passes the MAC but not the allowlist is refused at enroll and at unlock",
        arguments: ["aes-cbc-plain", "aes-ecb"])
    func disallowedCipher(cipher: String) throws {
        // A volume formatted by the host's own tools with a cipher the allowlist refuses: the MAC would
        // be valid (the host enrolls it itself), so only the allowlist stands in the way.
        let image = try TestImage(cipher: cipher)
        defer { image.remove() }
        let before = image.bytes
        do {
            try enroll(image, binding: .broker, fields: [], policy: victimPolicy, factors: RecordingFactors())
            Issue.record("enrolled a volume formatted with \(cipher)")
        } catch let error as BindingError {
            #expect(error.code == .headerRejected && error.message.contains(cipher), "\(error)")
        }
        #expect(image.bytes == before, "nothing written")
        // The host enrolls it anyway with an allowlist-free enrollment of its own (the token and MAC are
        // genuine); the unlock must refuse it, independently of the MAC.
        try HostEnrollment.enrollBypassingChecks(image, secret: Array(repeating: 0x5A, count: 32))
        let factors = RecordingFactors()
        do {
            _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: victimPolicy, factors: factors)
            Issue.record("unlocked a volume formatted with \(cipher)")
        } catch let error as BindingError {
            #expect(error.code == .headerRejected, "\(error)")
        }
        #expect(factors.brokerRequests.isEmpty)
    }

    @Test(
        "persistent flags and requirements in the header are refused before any key",
        arguments: [
            ["config-flag", "allow-discards"], ["config-flag", "no-read-workqueue"],
            ["config-requirement", "offline-reencrypt"], ["segment-flag", "host-chosen"],
        ])
    func headerFlags(edit: [String]) throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        _ = try image.enroll(factors: factors)
        try image.tamper(edit)
        let recorder = RecordingFactors()
        do {
            _ = try VolumeUnlock.unlock(device: image.path, name: nil, policy: victimPolicy, factors: recorder)
            Issue.record("\(edit) was accepted")
        } catch let error as BindingError {
            #expect(error.code == .headerRejected && error.message.contains(edit[1]), "\(error)")
        }
        #expect(recorder.brokerRequests.isEmpty)
        // allow-discards is the one flag the configuration can allow.
        if edit[1] == "allow-discards" {
            var allowing = victimPolicy
            allowing.volumes.allowDiscards = true
            _ = try VolumeUnlock.check(device: image.path, expectedUUID: nil, policy: allowing)
        }
    }

    @Test("a device that is not the volume the boot names is refused (a swapped disk), by UUID")
    func swappedDisk() throws {
        let named = try TestImage()
        let swapped = try TestImage()
        defer {
            named.remove()
            swapped.remove()
        }
        _ = try swapped.enroll(factors: RecordingFactors())
        let factors = RecordingFactors()
        do {
            _ = try VolumeUnlock.unlock(
                device: swapped.path, expectedUUID: named.uuid, name: nil, policy: victimPolicy, factors: factors)
            Issue.record("opened a disk other than the one named")
        } catch let error as BindingError {
            #expect(error.code == .identityMismatch)
        }
        #expect(factors.brokerRequests.isEmpty)
    }

    @Test("a disk swapped after the check is not opened under the checked volume's name: one header, used once")
    func swappedBetweenCheckAndUnlock() throws {
        let genuine = try TestImage()
        let host = try TestImage()
        defer {
            genuine.remove()
            host.remove()
        }
        let factors = RecordingFactors()
        _ = try genuine.enroll(factors: factors)
        _ = try host.enroll(factors: RecordingFactors(secret: Array(repeating: 0x33, count: 32)))
        let checked = try VolumeUnlock.check(device: genuine.path, expectedUUID: genuine.uuid, policy: victimPolicy)
        // The host replaces the file behind the path between the check and the unlock.
        try Subprocess.run(["/bin/cp", host.path, genuine.path]).check()
        // The key derived for the checked header does not open the swapped disk: nothing is opened, and
        // nothing is recorded under the checked volume's name.
        #expect(throws: BindingError(.wrongKey, "")) {
            _ = try VolumeUnlock.unlock(checked, name: nil, policy: victimPolicy, factors: factors)
        }
        #expect(factors.brokerRequests.map(\.1.description) == ["default/luks/\(checked.uuid)"])
    }

    @Test("the boot unlock opens only the volumes the boot names; a token-carrying disk it does not name stays shut")
    func onlyNamedVolumes() throws {
        let named = try TestImage()
        let unnamed = try TestImage()
        defer {
            named.remove()
            unnamed.remove()
        }
        _ = try named.enroll(factors: RecordingFactors())
        _ = try unnamed.enroll(factors: RecordingFactors())
        let crypttab = named.directory + "/crypttab"
        try FileIO.writeAtomically(
            path: crypttab, mode: 0o644, bytes: Array("root \(named.path) none luks\n".utf8))
        var configuration = AgentConfiguration()
        configuration.brokerURL = TestImage.broker
        configuration.deadlineSeconds = 5
        let state = BootUnlock.run(
            BootUnlockRequest(
                configuration: configuration, trust: .systemCAs, crypttab: crypttab,
                statePath: named.directory + "/state.json", verifyOnly: true),
            logger: .init(label: "test"))
        // No TEE here: the named volume fails at the platform, but it is the only one the run touched.
        #expect(state.volumes.map(\.device) == [named.path], "\(state.volumes)")
        #expect(state.volumes.map(\.name) == ["root"])
    }
}

/// What a host does with its own tools: a token and a genuine MAC on a header the allowlist refuses.
enum HostEnrollment {
    static func enrollBypassingChecks(_ image: TestImage, secret: [UInt8]) throws {
        let device = try CryptDevice(path: image.path)
        let brokerSecret = SecretBytes(copying: secret)
        let keys = try VolumeKeys(binding: .broker, brokerSecret: brokerSecret, snpKey: nil, uuid: device.uuid)
        let slot = try device.addKeyslot(existingPassphrase: image.passphrase, newPassphrase: keys.passphrase, slot: 1)
        var token = CCAgentToken(
            keyslot: slot, binding: .broker, broker: TestImage.broker, resource: "default/luks/\(device.uuid)")
        let header = try LUKSHeader(json: device.headerJSON(), uuid: device.uuid)
        token.mac = keys.headerMAC(header: header, token: token)
        try device.setToken(-1, json: token.json().canonicalString)
    }
}
