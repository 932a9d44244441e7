// SPDX-License-Identifier: Apache-2.0
// Enrollment: add our keyslot and token with rollback; crash-safe and re-runnable.

import AgentBase
import Cryptography
import Cryptsetup
import KBSProtocol
import LUKSBinding
import SecureMemory

/// Everything `ccagent enroll` needs.
public struct EnrollmentRequest {
    public var device: String
    public var binding: BindingMode
    public var broker: String?
    public var resource: ResourcePath?
    /// What to record about the broker's TLS trust (informational: unlock takes trust from the config).
    public var trustRecord: [(String, String)]
    public var snp: DerivedKeyRequest?
    public var existingPassphrase: SecretBytes
    /// The broker secret to bind (from `--secret-in`); nil generates 32 random bytes.
    public var brokerSecret: SecretBytes?

    public init(
        device: String, binding: BindingMode, broker: String?, resource: ResourcePath?, trustRecord: [(String, String)],
        snp: DerivedKeyRequest?, existingPassphrase: SecretBytes, brokerSecret: SecretBytes?
    ) {
        self.device = device
        self.binding = binding
        self.broker = broker
        self.resource = resource
        self.trustRecord = trustRecord
        self.snp = snp
        self.existingPassphrase = existingPassphrase
        self.brokerSecret = brokerSecret
    }
}

public struct EnrollmentResult {
    public var keyslot: Int32
    public var token: Int32
    /// The broker secret, when the binding uses one (to hand to the broker admin).
    public var brokerSecret: SecretBytes?
    /// Leftovers of an interrupted earlier run that were cleaned up.
    public var recovered: [String]
}

public enum Enrollment {
    /// Enrolls under `policy` — a volume unlock would refuse (a binding, SNP key fields, resource or
    /// header the configuration does not allow) is refused here first, with the same error, before
    /// anything is written. `persistSecret` receives the broker secret and must store it durably; it
    /// runs before the header is touched, so no crash can leave an enrolled token whose secret exists
    /// nowhere.
    ///
    /// Steps (each a fault-injection point): `secret-stored`, `pending-token`, `keyslot-added`,
    /// `priority-set`, `token-final`.
    public static func enroll(
        _ request: EnrollmentRequest, policy: UnlockPolicy, factors: VolumeFactorSource,
        persistSecret: (SecretBytes) throws -> Void = { _ in }
    ) throws -> EnrollmentResult {
        let device = try CryptDevice(path: request.device)
        let recovered = try recoverInterrupted(device)
        if let existing = try enrolledToken(device) {
            let token = existing.1
            throw BindingError(
                .alreadyEnrolled,
                "'\(request.device)' is already enrolled (keyslot \(token.keyslot)); run 'ccagent unenroll \(request.device)' first"
            )
        }
        // The user's passphrase must open the volume before anything is written.
        do {
            try device.activate(name: nil, slot: -1, passphrase: request.existingPassphrase)
        } catch {
            guard error.isWrongKey else { throw error }
            throw BindingError(
                .wrongKey, "the existing passphrase does not open '\(request.device)'; nothing was changed")
        }
        guard let slot = (Int32(0)..<32).first(where: { !device.isKeyslotActive($0) }) else {
            throw BindingError(.keyslotMissing, "'\(request.device)' has no free keyslot")
        }
        var token = CCAgentToken(
            keyslot: slot, binding: request.binding, broker: request.broker, resource: request.resource?.description,
            trust: request.trustRecord, snp: request.snp, pending: true)
        let uuid = device.uuid.lowercased()
        try refuseEarly(token, uuid: uuid, device: device, path: request.device, policy: policy)
        var brokerSecret: SecretBytes?
        if request.binding.usesBroker {
            let secret = request.brokerSecret ?? SecureRandom.secret(32)
            try persistSecret(secret)
            FaultInjection.point("secret-stored")
            brokerSecret = secret
        }
        let snpKey = try request.snp.map { try factors.snpKey($0) }
        let keys = try VolumeKeys(
            binding: request.binding, brokerSecret: brokerSecret, snpKey: snpKey, uuid: device.uuid)

        let tokenID = try device.setToken(-1, json: token.json().canonicalString)
        FaultInjection.point("pending-token")
        do {
            _ = try device.addKeyslot(
                existingPassphrase: request.existingPassphrase, newPassphrase: keys.passphrase, slot: slot)
            FaultInjection.point("keyslot-added")
            try device.setPriority(.prefer, slot: slot)
            FaultInjection.point("priority-set")
            token.pending = false
            let header = try LUKSHeader(json: device.headerJSON(), uuid: device.uuid)
            try VolumeUnlock.checkHeader(
                header, token: token, path: request.device, allowDiscards: policy.volumes.allowDiscards)
            token.mac = keys.headerMAC(header: header, token: token)
            try device.setToken(tokenID, json: token.json().canonicalString)
            FaultInjection.point("token-final")
            try device.activate(name: nil, slot: slot, passphrase: keys.passphrase)
        } catch {
            if device.isKeyslotActive(slot) { try? device.destroyKeyslot(slot) }
            try? device.removeToken(tokenID)
            throw error
        }
        return EnrollmentResult(keyslot: slot, token: tokenID, brokerSecret: brokerSecret, recovered: recovered)
    }

    /// What unlock would refuse about this volume and token, refused before anything is written.
    static func refuseEarly(
        _ token: CCAgentToken, uuid: String, device: CryptDevice, path: String, policy: UnlockPolicy
    ) throws {
        var enrolled = token
        enrolled.pending = false
        try policy.volumes.check(enrolled, uuid: uuid)
        if token.binding.usesBroker { try VolumeUnlock.checkBroker(token, path: path, configured: policy.broker) }
        let problems = HeaderPolicy.checkVolume(
            try LUKSHeader(json: device.headerJSON(), uuid: uuid), allowDiscards: policy.volumes.allowDiscards)
        guard problems.isEmpty else {
            throw BindingError(
                .headerRejected,
                "refusing to enroll '\(path)': the boot unlock would refuse this LUKS2 header — "
                    + problems.joined(separator: "; ")
                    + ". Re-format it with an allowed cipher (e.g. 'cryptsetup luksFormat --type luks2', aes-xts-plain64)"
            )
        }
    }

    /// Removes our keyslot, then our token (a token left by a crash in between is cleaned on rerun).
    public static func unenroll(device path: String) throws -> (keyslot: Int32, recovered: [String]) {
        let device = try CryptDevice(path: path)
        let recovered = try recoverInterrupted(device)
        guard let enrolled = try enrolledToken(device) else {
            if !recovered.isEmpty { return (-1, recovered) }
            throw BindingError(.notEnrolled, "'\(path)' has no ccagent token; nothing to remove")
        }
        let (id, token) = enrolled
        guard device.activeKeyslots.count > 1 || !device.isKeyslotActive(token.keyslot) else {
            throw BindingError(
                .keyslotMissing,
                "keyslot \(token.keyslot) is the last one of '\(path)'; removing it would lose the data")
        }
        if device.isKeyslotActive(token.keyslot) { try device.destroyKeyslot(token.keyslot) }
        FaultInjection.point("unenroll-keyslot-destroyed")
        try device.removeToken(id)
        return (token.keyslot, recovered)
    }

    /// The enrolled ccagent token, if any (pending ones are handled by ``recoverInterrupted(_:)``).
    static func enrolledToken(_ device: CryptDevice) throws -> (Int32, CCAgentToken)? {
        for (id, json) in device.tokens where CCAgentToken.isCCAgentToken(json) {
            let token = try CCAgentToken(json: json)
            if !token.pending { return (id, token) }
        }
        return nil
    }

    /// Undoes an interrupted enrollment or unenrollment: a pending token and its keyslot, or an
    /// enrolled token whose keyslot is gone. Never touches a keyslot without our pending token naming it.
    static func recoverInterrupted(_ device: CryptDevice) throws -> [String] {
        var notes: [String] = []
        for (id, json) in device.tokens where CCAgentToken.isCCAgentToken(json) {
            guard let token = try? CCAgentToken(json: json) else { continue }
            if token.pending {
                if device.isKeyslotActive(token.keyslot) && device.activeKeyslots.count > 1 {
                    try device.destroyKeyslot(token.keyslot)
                    notes.append("removed keyslot \(token.keyslot) of an interrupted enrollment")
                }
                try device.removeToken(id)
                notes.append("removed the pending token \(id) of an interrupted enrollment")
            } else if !device.isKeyslotActive(token.keyslot) {
                try device.removeToken(id)
                notes.append("removed token \(id), whose keyslot \(token.keyslot) no longer exists")
            }
        }
        return notes
    }
}
