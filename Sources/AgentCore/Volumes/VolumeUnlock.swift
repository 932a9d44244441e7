// SPDX-License-Identifier: Apache-2.0
// Unlock one volume: open its header once, check every claim against the measured configuration,
// then fetch the factors, verify the MAC, activate that same header, and read the mapping back.

import AgentBase
import Cryptography
import Cryptsetup
import KBSProtocol
import LUKSBinding
import SecureMemory

/// What the measured side of the boot pins for every volume: the broker and the volume policy.
public struct UnlockPolicy: Sendable {
    /// The broker from the configuration or the command line. A token naming another is refused.
    public var broker: String?
    public var volumes: VolumePolicy

    public init(broker: String?, volumes: VolumePolicy = VolumePolicy()) {
        self.broker = broker
        self.volumes = volumes
    }
}

/// A volume whose header was loaded once and whose claims passed every check. Its `CryptDevice` is
/// the one that is later activated, so what was checked is what is opened.
public final class CheckedVolume {
    public let path: String
    /// The UUID of the header that was checked (lower case).
    public let uuid: String
    public let token: CCAgentToken
    let device: CryptDevice
    let header: LUKSHeader

    init(path: String, uuid: String, token: CCAgentToken, device: CryptDevice, header: LUKSHeader) {
        self.path = path
        self.uuid = uuid
        self.token = token
        self.device = device
        self.header = header
    }
}

/// The outcome of one volume's unlock.
public struct UnlockOutcome: Sendable {
    public var device: String
    public var uuid: String
    public var keyslot: Int32
    /// The mapping name, or nil for a verify-only unlock.
    public var name: String?
    public var alreadyActive: Bool
    /// HMAC-SHA256 under the keyslot key over the UUID (hex): what RTMR3 is extended with. The broker
    /// that released the secret can compute it; a volume the host made cannot produce it.
    public var measurement: String?
}

public enum VolumeUnlock {
    /// Opens `path` once and checks everything its header and token claim, before any key is derived
    /// or any broker contacted: the UUID (when the boot named one), the token, the keyslot, the
    /// configured bindings, SNP key fields and resources, the header allowlist, and the broker.
    public static func check(device path: String, expectedUUID: String?, policy: UnlockPolicy) throws -> CheckedVolume {
        try check(CryptDevice(path: path), expectedUUID: expectedUUID, policy: policy)
    }

    /// ``check(device:expectedUUID:policy:)`` on a header already loaded (no second read of the disk).
    public static func check(_ device: CryptDevice, expectedUUID: String?, policy: UnlockPolicy) throws -> CheckedVolume
    {
        let path = device.path
        let uuid = device.uuid.lowercased()
        if let expectedUUID, expectedUUID.lowercased() != uuid {
            throw BindingError(
                .identityMismatch,
                "refusing '\(path)': the boot names volume \(expectedUUID.lowercased()), but this header is \(uuid). "
                    + "The disk changed under the agent; nothing was derived or sent")
        }
        let token = try token(of: device)
        guard device.isKeyslotActive(token.keyslot) else {
            throw BindingError(
                .keyslotMissing,
                "keyslot \(token.keyslot) named by the ccagent token of '\(path)' is gone; re-enroll the volume")
        }
        try policy.volumes.check(token, uuid: uuid)
        let header = try LUKSHeader(json: device.headerJSON(), uuid: uuid)
        try checkHeader(header, token: token, path: path, allowDiscards: policy.volumes.allowDiscards)
        if token.binding.usesBroker {
            try checkBroker(token, path: path, configured: policy.broker)
        }
        return CheckedVolume(path: path, uuid: uuid, token: token, device: device, header: header)
    }

    /// Fetches the factors of a checked volume, verifies its header MAC, opens only its keyslot on the
    /// same header, and compares the active mapping with the verified segment (removing it on any
    /// difference). `name` nil verifies the key only (no device-mapper needed).
    public static func unlock(
        _ volume: CheckedVolume, name: String?, policy: UnlockPolicy, factors: VolumeFactorSource
    ) throws -> UnlockOutcome {
        let token = volume.token
        var outcome = UnlockOutcome(
            device: volume.path, uuid: volume.uuid, keyslot: token.keyslot, name: name, alreadyActive: false)
        if let name, CryptDevice.isActive(name: name) {
            outcome.alreadyActive = true
            return outcome
        }
        var brokerSecret: SecretBytes?
        if token.binding.usesBroker, let broker = policy.broker,
            let resource = token.resource.flatMap(ResourcePath.init)
        {
            brokerSecret = try factors.brokerSecret(broker: broker, resource: resource)
        }
        let snpKey = try token.snp.map { try factors.snpKey($0) }
        let keys = try VolumeKeys(binding: token.binding, brokerSecret: brokerSecret, snpKey: snpKey, uuid: volume.uuid)
        guard keys.verifyHeaderMAC(header: volume.header, token: token) else {
            throw BindingError(
                .macMismatch,
                "refusing to unlock '\(volume.path)': the header MAC does not verify — the header, the token or the "
                    + "UUID changed since enrollment, or the broker released another secret. Nothing was activated")
        }
        do {
            try volume.device.activate(
                name: name, slot: token.keyslot, passphrase: keys.passphrase,
                allowDiscards: policy.volumes.allowDiscards)
        } catch {
            if error.isWrongKey {
                throw BindingError(
                    .wrongKey, "the derived key does not open keyslot \(token.keyslot) of '\(volume.path)'")
            }
            throw error
        }
        if let name {
            try verifyMapping(volume, name: name, allowDiscards: policy.volumes.allowDiscards)
        }
        outcome.measurement = Hex.encode(keys.measurement(uuid: volume.uuid))
        return outcome
    }

    /// Checks and unlocks one device (the single-volume `ccagent unlock`).
    public static func unlock(
        device path: String, expectedUUID: String? = nil, name: String?, policy: UnlockPolicy,
        factors: VolumeFactorSource
    ) throws -> UnlockOutcome {
        try unlock(
            check(device: path, expectedUUID: expectedUUID, policy: policy), name: name, policy: policy,
            factors: factors)
    }

    /// The enrolled ccagent token of a device.
    public static func token(of device: CryptDevice) throws -> CCAgentToken {
        var found: CCAgentToken?
        for (_, json) in device.tokens where CCAgentToken.isCCAgentToken(json) {
            guard found == nil else {
                throw BindingError(.malformedToken, "'\(device.path)' carries more than one ccagent token; refusing")
            }
            found = try CCAgentToken(json: json)
        }
        guard let token = found else {
            throw BindingError(.notEnrolled, "'\(device.path)' has no ccagent token; enroll it with 'ccagent enroll'")
        }
        guard !token.pending else {
            throw BindingError(
                .notEnrolled, "the enrollment of '\(device.path)' was interrupted; run 'ccagent enroll' again to finish"
            )
        }
        return token
    }

    /// The header allowlist as a thrown error (the same one enroll and unlock give).
    static func checkHeader(_ header: LUKSHeader, token: CCAgentToken, path: String, allowDiscards: Bool) throws {
        let problems = HeaderPolicy.check(header, keyslot: token.keyslot, allowDiscards: allowDiscards)
        guard problems.isEmpty else {
            throw BindingError(
                .headerRejected,
                "refusing '\(path)': the LUKS2 header is not acceptable — " + problems.joined(separator: "; ")
                    + ". The host may have tampered with it; compare 'cryptsetup luksDump' with the enrolled image")
        }
    }

    static func checkBroker(_ token: CCAgentToken, path: String, configured: String?) throws {
        let tokenBroker = normalize(token.broker ?? "")
        guard let configured else {
            throw BindingError(
                .brokerMismatch,
                "no broker is configured; the token of '\(path)' names '\(tokenBroker)'. The broker must come "
                    + "from the configuration or --broker (the disk is not trusted to choose it)")
        }
        guard normalize(configured) == tokenBroker else {
            throw BindingError(
                .brokerMismatch,
                "refusing to unlock '\(path)': its token names broker '\(tokenBroker)', but the configured "
                    + "broker is '\(normalize(configured))'; nothing was sent. A host may have swapped the disk")
        }
        guard token.resource.flatMap(ResourcePath.init) != nil else {
            throw BindingError(.malformedToken, "the token's resource is not REPO/TYPE/TAG")
        }
    }

    /// Reads the active table back from device-mapper (what the kernel runs, not what a header says) and
    /// compares it with the verified header: cipher, key size, offsets, length, sector size, discards.
    static func verifyMapping(_ volume: CheckedVolume, name: String, allowDiscards: Bool) throws {
        var problems: [String] = []
        do {
            let table = try ActiveCryptTable.read(name: name)
            guard let segment = volume.header.dataSegment else {
                throw BindingError(.headerRejected, "no data segment")
            }
            let cipher = segment.cipher
            // The kernel prints an AEAD/adiantum spec in crypto API form ("capi:adiantum(xchacha20,aes)-plain64").
            let sameCipher =
                table.cipher == cipher
                || (cipher.containsText("adiantum") && table.cipher.hasPrefix("capi:")
                    && table.cipher.containsText("adiantum"))
            if !sameCipher { problems.append("cipher '\(table.cipher)', header '\(cipher)'") }
            if let keyBytes = volume.header.keyslot(volume.token.keyslot)?["key_size"]?.uint64Value,
                table.keyBytes != Int(keyBytes)
            {
                problems.append("key size \(table.keyBytes) bytes, header \(keyBytes)")
            }
            if table.deviceOffsetSectors != segment.offsetBytes / 512 {
                problems.append("offset \(table.deviceOffsetSectors) sectors, header \(segment.offsetBytes / 512)")
            }
            if table.ivOffsetSectors != segment.ivTweak {
                problems.append("IV offset \(table.ivOffsetSectors), header \(segment.ivTweak)")
            }
            if table.sectorSize != segment.sectorSize {
                problems.append("sector size \(table.sectorSize), header \(segment.sectorSize)")
            }
            if let deviceSectors = volume.device.deviceSizeSectors {
                let available = deviceSectors - min(deviceSectors, segment.offsetBytes / 512)
                let expected = segment.sizeBytes.map { $0 / 512 } ?? available
                let slack = max(segment.sectorSize / 512, 1)
                if table.lengthSectors > expected || expected - table.lengthSectors >= slack {
                    problems.append("length \(table.lengthSectors) sectors, header \(expected)")
                }
            }
            if table.allowsDiscards && !allowDiscards {
                problems.append("discards are passed to the disk, which the configuration does not allow")
            }
        } catch {
            problems.append("\(error)")
        }
        guard problems.isEmpty else {
            try? volume.device.deactivate(name: name)
            throw BindingError(
                .mappingMismatch,
                "the active mapping '\(name)' does not match the verified header of '\(volume.path)' ("
                    + problems.joined(separator: "; ") + "); it was removed")
        }
    }

    static func normalize(_ url: String) -> String {
        var text = url.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
