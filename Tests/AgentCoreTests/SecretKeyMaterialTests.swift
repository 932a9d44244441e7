// SPDX-License-Identifier: Apache-2.0
// Key material kept in zeroizing memory must give the same bytes as before: the volume keys (LUKS
// keyslot passphrase, header MAC) and the JWE Concat KDF, against independent recomputations.

import Cryptography
import KBSProtocol
import LUKSBinding
import SecureMemory
import Testing

@Suite("Sealed secrets: key material derivations are unchanged")
struct SecretKeyMaterialTests {
    static let uuid = "0E1D3C2B-4A59-4687-9584-A3B2C1D0E9F8"

    /// The HKDF input as the original implementation built it in an array.
    static func material(broker: [UInt8]?, snp: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        for (label, secret) in [("broker", broker), ("snp", snp)] {
            guard let secret else { continue }
            out += Array(label.utf8) + [0]
            out += withUnsafeBytes(of: UInt32(secret.count).bigEndian) { Array($0) }
            out += secret
        }
        return out
    }

    @Test("VolumeKeys derives the same passphrase for every binding", arguments: BindingMode.allCases)
    func volumeKeys(binding: BindingMode) throws {
        let broker = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let snp = (0..<32).map { UInt8(0xA0 ^ $0) }
        let keys = try VolumeKeys(
            binding: binding, brokerSecret: SecretBytes(copying: broker), snpKey: SecretBytes(copying: snp),
            uuid: Self.uuid)
        let ikm = Self.material(broker: binding.usesBroker ? broker : nil, snp: binding.usesSNP ? snp : nil)
        let expected = try HKDF.derive(
            .sha256, inputKeyMaterial: SecretBytes(copying: ikm), salt: Array(Self.uuid.lowercased().utf8),
            info: Array("ccagent luks2 keyslot v1 \(binding.rawValue)".utf8), outputByteCount: 32)
        #expect(keys.passphrase.constantTimeEquals(expected))
    }

    @Test("VolumeKeys: the known answer for broker+snp")
    func volumeKeysKnownAnswer() throws {
        let keys = try VolumeKeys(
            binding: .brokerAndSNP, brokerSecret: SecretBytes(copying: [UInt8](repeating: 0x11, count: 32)),
            snpKey: SecretBytes(copying: [UInt8](repeating: 0x22, count: 32)), uuid: Self.uuid)
        #expect(hex(keys.passphrase.unsafeCopyToArray()) == Self.knownPassphrase)
    }

    /// Recorded from the array-based implementation before the key material moved to SecretBytes.
    static let knownPassphrase = "16eaccc0b919c9a922cfe9208b561f15fce575a810f944eac7d7bfdfed1debd6"

    @Test("VolumeKeys still refuses missing or short factors")
    func volumeKeysRefusals() {
        #expect(throws: BindingError.self) {
            _ = try VolumeKeys(
                binding: .broker, brokerSecret: SecretBytes(copying: [1, 2, 3]), snpKey: nil, uuid: Self.uuid)
        }
        #expect(throws: BindingError.self) {
            _ = try VolumeKeys(
                binding: .snp, brokerSecret: nil, snpKey: SecretBytes(copying: [UInt8](repeating: 1, count: 16)),
                uuid: Self.uuid)
        }
    }

    @Test("ConcatKDF equals SHA-256(counter ‖ Z ‖ OtherInfo), one and several rounds", arguments: [128, 256, 512])
    func concatKDF(keyBits: Int) {
        let z = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        func be32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        let algorithm = Array("ECDH-ES+A256KW".utf8)
        let otherInfo = be32(algorithm.count) + algorithm + be32(0) + be32(0) + be32(keyBits)
        var expected: [UInt8] = []
        var counter = 1
        while expected.count < keyBits / 8 {
            expected += DigestAlgorithm.sha256.hash(be32(counter) + z + otherInfo)
            counter += 1
        }
        let derived = ConcatKDF.derive(
            sharedSecret: SecretBytes(copying: z), algorithm: "ECDH-ES+A256KW", keyBits: keyBits)
        #expect(derived.unsafeCopyToArray() == Array(expected.prefix(keyBits / 8)))
    }

    func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}
