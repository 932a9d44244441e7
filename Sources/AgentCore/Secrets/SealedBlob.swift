// SPDX-License-Identifier: Apache-2.0
// The on-disk format of a sealed workload secret (version 1) and its AES-256-GCM sealing.

import Cryptography
import SecureMemory

/// What a blob is sealed to. Serialized into the blob's header and bound by the AAD, so a blob cannot
/// be re-labelled to another policy or name without the tag failing.
public struct SealingPolicy: Sendable, Equatable {
    public enum Mode: UInt8, Sendable {
        /// A key from SNP MSG_KEY_REQ: only this chip (VCEK root) with the bound launch fields.
        case snp = 1
        /// A key-encryption key the broker releases after attestation (TDX, or by choice).
        case broker = 2
    }

    public var mode: Mode
    /// For `.snp`: the MSG_KEY_REQ parameters. For `.broker`: unused (zero).
    public var rootKeyVMRK: Bool
    public var guestFieldSelect: UInt64
    public var vmpl: UInt32
    public var guestSVN: UInt32
    public var tcbVersion: UInt64
    /// For `.broker`: the resource path of the key-encryption key (`repo/type/tag`). Empty for `.snp`.
    public var brokerResource: String

    public init(
        mode: Mode, rootKeyVMRK: Bool = false, guestFieldSelect: UInt64 = 0, vmpl: UInt32 = 0, guestSVN: UInt32 = 0,
        tcbVersion: UInt64 = 0, brokerResource: String = ""
    ) {
        self.mode = mode
        self.rootKeyVMRK = rootKeyVMRK
        self.guestFieldSelect = guestFieldSelect
        self.vmpl = vmpl
        self.guestSVN = guestSVN
        self.tcbVersion = tcbVersion
        self.brokerResource = brokerResource
    }
}

/// A sealed secret on disk.
///
/// ```
/// offset size  field
/// 0x00   4     magic "CCAS"
/// 0x04   1     format version (1)
/// 0x05   1     mode (1 snp, 2 broker)
/// 0x06   1     flags (bit 0: root key VMRK)
/// 0x07   1     reserved, zero
/// 0x08   8     guest field select (LE)
/// 0x10   4     VMPL (LE)
/// 0x14   4     guest SVN (LE)
/// 0x18   8     TCB version (LE)
/// 0x20   2     broker resource length R (LE), at most 512
/// 0x22   R     broker resource (UTF-8)
/// ...    32    salt (random per blob)
/// ...    12    GCM nonce (random per blob)
/// ...    N     ciphertext
/// ...    16    GCM tag
/// ```
/// Key = HKDF-SHA256(sealing key, salt, "ccagent sealed secret v1"). AAD = header (magic through the
/// nonce) ‖ 0x00 ‖ the secret's name, so version, policy and name are all authenticated.
public struct SealedBlob: Sendable, Equatable {
    public static let magic: [UInt8] = Array("CCAS".utf8)
    public static let version: UInt8 = 1
    static let saltCount = 32
    static let nonceCount = 12
    static let tagCount = 16
    static let maximumResourceLength = 512
    /// Secrets larger than this are refused (they are credentials, not files).
    public static let maximumSecretSize = 1 << 20

    public var policy: SealingPolicy
    var salt: [UInt8]
    var nonce: [UInt8]
    var ciphertext: [UInt8]
    var tag: [UInt8]

    /// Seals `secret` under `sealingKey` for `name`.
    public static func seal(
        _ secret: SecretBytes, name: String, policy: SealingPolicy, sealingKey: SecretBytes
    ) throws -> SealedBlob {
        guard secret.count <= maximumSecretSize else {
            throw SecretStoreError(.tooLarge, "failed to seal '\(name)': \(secret.count) bytes is over the 1 MiB limit")
        }
        var blob = SealedBlob(
            policy: policy, salt: SecureRandom.bytes(saltCount), nonce: SecureRandom.bytes(nonceCount),
            ciphertext: [], tag: [])
        let key = try blob.contentKey(sealingKey)
        let sealed = try AESGCM.seal(key: key, nonce: blob.nonce, plaintext: secret, aad: blob.aad(name: name))
        blob.ciphertext = sealed.ciphertext
        blob.tag = sealed.tag
        return blob
    }

    /// Opens the blob; a wrong key, a changed name, policy or any flipped byte fails the tag check.
    public func open(name: String, sealingKey: SecretBytes) throws -> SecretBytes {
        let key = try contentKey(sealingKey)
        do {
            return try AESGCM.open(key: key, nonce: nonce, ciphertext: ciphertext, tag: tag, aad: aad(name: name))
        } catch {
            throw SecretStoreError(
                .unsealFailed,
                "failed to unseal '\(name)': authentication failed — the blob was modified, renamed, or sealed "
                    + "on another machine or under other launch fields (\(policy.summary))")
        }
    }

    private func contentKey(_ sealingKey: SecretBytes) throws -> SecretBytes {
        try HKDF.derive(
            .sha256, inputKeyMaterial: sealingKey, salt: salt, info: Array("ccagent sealed secret v1".utf8),
            outputByteCount: 32)
    }

    private func aad(name: String) -> [UInt8] {
        header() + [0] + Array(name.utf8)
    }

    private func header() -> [UInt8] {
        var out = SealedBlob.magic
        out.append(SealedBlob.version)
        out.append(policy.mode.rawValue)
        out.append(policy.rootKeyVMRK ? 1 : 0)
        out.append(0)
        out.appendLittleEndian(policy.guestFieldSelect)
        out.appendLittleEndian(policy.vmpl)
        out.appendLittleEndian(policy.guestSVN)
        out.appendLittleEndian(policy.tcbVersion)
        let resource = Array(policy.brokerResource.utf8)
        out.appendLittleEndian(UInt16(resource.count))
        out += resource
        out += salt
        out += nonce
        return out
    }

    /// The bytes written to disk.
    public func serialized() -> [UInt8] {
        header() + ciphertext + tag
    }

    /// Parses a blob strictly: magic, version, mode, flags, reserved, lengths.
    public init(parsing bytes: [UInt8]) throws {
        func fail(_ why: String) -> SecretStoreError {
            SecretStoreError(.malformed, "failed to read sealed secret: \(why)")
        }
        var cursor = 0
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - cursor >= count else { throw fail("truncated at offset \(cursor)") }
            defer { cursor += count }
            return bytes[cursor..<cursor + count]
        }
        guard Array(try take(4)) == SealedBlob.magic else { throw fail("not a ccagent sealed secret (bad magic)") }
        let version = try take(1).first ?? 0
        guard version == SealedBlob.version else {
            throw fail("format version \(version) is not supported (this ccagent reads version 1)")
        }
        guard let mode = SealingPolicy.Mode(rawValue: try take(1).first ?? 0) else { throw fail("unknown mode") }
        let flags = try take(1).first ?? 0
        guard flags & ~1 == 0, try take(1).first == 0 else { throw fail("reserved bits set") }
        let select = UInt64(littleEndian: try take(8))
        let vmpl = UInt32(littleEndian: try take(4))
        let svn = UInt32(littleEndian: try take(4))
        let tcb = UInt64(littleEndian: try take(8))
        let resourceLength = Int(UInt16(littleEndian: try take(2)))
        guard resourceLength <= SealedBlob.maximumResourceLength else { throw fail("resource name too long") }
        guard let resource = String(validating: try take(resourceLength), as: UTF8.self) else {
            throw fail("resource name is not UTF-8")
        }
        policy = SealingPolicy(
            mode: mode, rootKeyVMRK: flags & 1 == 1, guestFieldSelect: select, vmpl: vmpl, guestSVN: svn,
            tcbVersion: tcb, brokerResource: resource)
        salt = Array(try take(SealedBlob.saltCount))
        nonce = Array(try take(SealedBlob.nonceCount))
        let rest = bytes.count - cursor
        guard rest >= SealedBlob.tagCount, rest - SealedBlob.tagCount <= SealedBlob.maximumSecretSize else {
            throw fail("ciphertext length \(rest) out of range")
        }
        ciphertext = Array(try take(rest - SealedBlob.tagCount))
        tag = Array(try take(SealedBlob.tagCount))
    }

    init(policy: SealingPolicy, salt: [UInt8], nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.policy = policy
        self.salt = salt
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }
}

extension SealingPolicy {
    /// One line for messages and `secret list`.
    public var summary: String {
        switch mode {
        case .snp:
            "snp (\(rootKeyVMRK ? "vmrk" : "vcek"), fields 0x\(String(guestFieldSelect, radix: 16)), vmpl \(vmpl))"
        case .broker:
            "broker (key-encryption key '\(brokerResource)')"
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension FixedWidthInteger {
    fileprivate init(littleEndian bytes: ArraySlice<UInt8>) {
        var value = Self.zero
        for (index, byte) in bytes.enumerated() { value |= Self(byte) << (8 * index) }
        self = value
    }
}
