// SPDX-License-Identifier: Apache-2.0
// From key factors to the keyslot passphrase and the header MAC key (HKDF-SHA256, salted by the UUID).

import AgentBase
import CanonicalJSON
import Cryptography
import SecureMemory

/// The two keys a volume's factors give: the keyslot passphrase and the header MAC key.
public struct VolumeKeys: Sendable {
    public let passphrase: SecretBytes
    let macKey: SecretBytes

    /// Derives both keys from `brokerSecret` and/or `snpKey` (as the binding requires), salted with the
    /// volume UUID so a token copied to another volume yields other keys.
    public init(binding: BindingMode, brokerSecret: SecretBytes?, snpKey: SecretBytes?, uuid: String) throws {
        // The HKDF input: for each factor used, label ‖ 0x00 ‖ big-endian UInt32 length ‖ the factor,
        // broker first. Built in zeroizing memory: no array ever holds a factor.
        var factors: [(label: [UInt8], secret: SecretBytes)] = []
        if binding.usesBroker {
            guard let brokerSecret, brokerSecret.count >= 16 else {
                throw BindingError(.wrongKey, "the broker secret is missing or shorter than 16 bytes")
            }
            factors.append((Array("broker".utf8) + [0], brokerSecret))
        }
        if binding.usesSNP {
            guard let snpKey, snpKey.count == 32 else {
                throw BindingError(.wrongKey, "the SNP derived key is missing")
            }
            factors.append((Array("snp".utf8) + [0], snpKey))
        }
        let ikm = SecretBytes(count: factors.reduce(0) { $0 + $1.label.count + 4 + $1.secret.count }) { out in
            var offset = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(rebasing: out[offset..<offset + bytes.count]).copyMemory(from: bytes)
                offset += bytes.count
            }
            for factor in factors {
                factor.label.withUnsafeBytes { put($0) }
                withUnsafeBytes(of: UInt32(factor.secret.count).bigEndian) { put($0) }
                factor.secret.withUnsafeBytes { put($0) }
            }
        }
        let salt = Array(uuid.lowercased().utf8)
        passphrase = try HKDF.derive(
            .sha256, inputKeyMaterial: ikm, salt: salt,
            info: Array("ccagent luks2 keyslot v1 \(binding.rawValue)".utf8),
            outputByteCount: 32)
        macKey = try HKDF.derive(
            .sha256, inputKeyMaterial: ikm, salt: salt, info: Array("ccagent luks2 header mac v1".utf8),
            outputByteCount: 32)
    }

    /// HMAC-SHA256 over the security-relevant header: the UUID, every segment, our keyslot, the digests
    /// of our keyslot (without their keyslot lists, so adding an unrelated keyslot stays benign), and
    /// our token without its MAC — all in RFC 8785 canonical form.
    public func headerMAC(header: LUKSHeader, token: CCAgentToken) -> String {
        Hex.encode(HMAC.authenticationCode(.sha256, key: macKey, data: VolumeKeys.covered(header, token)))
    }

    /// Checks the token's MAC in constant time.
    public func verifyHeaderMAC(header: LUKSHeader, token: CCAgentToken) -> Bool {
        guard let mac = token.mac, let expected = Hex.decode(mac) else { return false }
        return HMAC.isValid(.sha256, key: macKey, data: VolumeKeys.covered(header, token), code: expected)
    }

    static func covered(_ header: LUKSHeader, _ token: CCAgentToken) -> [UInt8] {
        let digests: [(String, JSONValue)] = header.digests(for: token.keyslot).map { id, digest in
            guard case .object(let members) = digest else { return (id, digest) }
            return (id, .object(members.filter { $0.0 != "keyslots" }))
        }
        return JSONValue.object([
            ("uuid", .string(header.uuid.lowercased())), ("segments", header.json["segments"] ?? .null),
            ("keyslot", header.keyslot(token.keyslot) ?? .null), ("digests", .object(digests)),
            ("token", token.json(includeMAC: false)),
        ]).canonicalBytes()
    }
}
