// SPDX-License-Identifier: Apache-2.0
// Unlock one volume: token, header check, broker from the measured side, factors, MAC, our keyslot only.

import Cryptsetup
import KBSProtocol
import LUKSBinding
import SecureMemory

/// The outcome of one volume's unlock.
public struct UnlockOutcome: Sendable {
    public var device: String
    public var uuid: String
    public var keyslot: Int32
    /// The mapping name, or nil for a verify-only unlock.
    public var name: String?
    public var alreadyActive: Bool
}

public enum VolumeUnlock {
    /// Unlocks `devicePath` with the factors its token names.
    ///
    /// - Parameters:
    ///   - configuredBroker: the broker from the configuration or the command line. A token naming any
    ///     other broker is refused before anything is sent.
    ///   - name: the dm-crypt mapping to create; nil verifies the key only (no device-mapper needed).
    public static func unlock(
        device devicePath: String, name: String?, configuredBroker: String?, factors: VolumeFactorSource
    ) throws -> UnlockOutcome {
        if let name, CryptDevice.isActive(name: name) {
            return UnlockOutcome(device: devicePath, uuid: "", keyslot: -1, name: name, alreadyActive: true)
        }
        let device = try CryptDevice(path: devicePath)
        let token = try token(of: device)
        guard device.isKeyslotActive(token.keyslot) else {
            throw BindingError(
                .keyslotMissing,
                "keyslot \(token.keyslot) named by the ccagent token of '\(devicePath)' is gone; re-enroll the volume")
        }
        let header = try LUKSHeader(json: device.headerJSON(), uuid: device.uuid)
        let problems = HeaderPolicy.check(header, keyslot: token.keyslot)
        guard problems.isEmpty else {
            throw BindingError(
                .headerRejected,
                "refusing to unlock '\(devicePath)': the LUKS2 header is not acceptable — "
                    + problems.joined(separator: "; ")
                    + ". The host may have tampered with it; compare 'cryptsetup luksDump' with the enrolled image")
        }
        var brokerSecret: SecretBytes?
        if token.binding.usesBroker {
            let tokenBroker = normalize(token.broker ?? "")
            guard let configuredBroker else {
                throw BindingError(
                    .brokerMismatch,
                    "no broker is configured; the token of '\(devicePath)' names '\(tokenBroker)'. The broker must come "
                        + "from the configuration or --broker (the disk is not trusted to choose it)")
            }
            guard normalize(configuredBroker) == tokenBroker else {
                throw BindingError(
                    .brokerMismatch,
                    "refusing to unlock '\(devicePath)': its token names broker '\(tokenBroker)', but the configured "
                        + "broker is '\(normalize(configuredBroker))'; nothing was sent. A host may have swapped the disk"
                )
            }
            guard let resourceText = token.resource, let resource = ResourcePath(resourceText) else {
                throw BindingError(.malformedToken, "the token's resource is not REPO/TYPE/TAG")
            }
            brokerSecret = try factors.brokerSecret(broker: configuredBroker, resource: resource)
        }
        let snpKey = try token.snp.map { try factors.snpKey($0) }
        let keys = try VolumeKeys(binding: token.binding, brokerSecret: brokerSecret, snpKey: snpKey, uuid: device.uuid)
        guard keys.verifyHeaderMAC(header: header, token: token) else {
            throw BindingError(
                .macMismatch,
                "refusing to unlock '\(devicePath)': the header MAC does not verify — the header, the token or the "
                    + "UUID changed since enrollment, or the broker released another secret. Nothing was activated")
        }
        do {
            try device.activate(name: name, slot: token.keyslot, passphrase: keys.passphrase)
        } catch {
            if error.isWrongKey {
                throw BindingError(
                    .wrongKey, "the derived key does not open keyslot \(token.keyslot) of '\(devicePath)'")
            }
            throw error
        }
        return UnlockOutcome(
            device: devicePath, uuid: device.uuid, keyslot: token.keyslot, name: name, alreadyActive: false)
    }

    /// The enrolled ccagent token of a device.
    public static func token(of device: CryptDevice) throws -> CCAgentToken {
        var found: CCAgentToken?
        for (_, json) in device.tokens {
            guard let value = try? JSONValue.parse(json), value["type"]?.stringValue == CCAgentToken.type else {
                continue
            }
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

    static func normalize(_ url: String) -> String {
        var text = url.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
