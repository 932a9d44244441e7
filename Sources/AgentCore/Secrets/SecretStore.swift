// SPDX-License-Identifier: Apache-2.0
// The directory of sealed workload secrets: put, get, list, remove — atomic, 0600, names checked.

import AgentBase
import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

/// An error of the secret store, with a stable code.
public struct SecretStoreError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        public static let invalidName = Code(name: "secret.invalid-name")
        public static let notFound = Code(name: "secret.not-found")
        public static let malformed = Code(name: "secret.malformed")
        public static let unsealFailed = Code(name: "secret.unseal-failed")
        public static let tooLarge = Code(name: "secret.too-large")
        public static let io = Code(name: "secret.io")
        public static let keyUnavailable = Code(name: "secret.key-unavailable")
        public static let denied = Code(name: "secret.denied")
        /// The blob is sealed to weaker or other key parameters than the configuration pins.
        public static let policyRefused = Code(name: "secret.policy-refused")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}

/// Produces the key a policy seals under (an SNP derived key, or the broker's key-encryption key).
public protocol SealingKeySource: Sendable {
    func sealingKey(for policy: SealingPolicy) throws -> SecretBytes
}

/// A directory of `<name>.sealed` files.
///
/// Writes are atomic (temporary file, fsync, rename), so concurrent writers and readers never see a
/// partial blob; the last complete `put` of a name wins. Files are 0600, the directory 0700.
public struct SecretStore: Sendable {
    /// The documented default location.
    public static let defaultDirectory = "/var/lib/ccagent/secrets"
    static let suffix = ".sealed"

    public let directory: String

    public init(directory: String = SecretStore.defaultDirectory) {
        self.directory = directory
    }

    /// Names: 1–128 of `A–Z a–z 0–9 . _ -`, not starting with a dot (systemd credential names fit).
    public static func validate(name: String) throws {
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                || c == 0x5F || c == 0x2D
        }
        guard !name.isEmpty, name.utf8.count <= 128, allowed, !name.hasPrefix(".") else {
            throw SecretStoreError(
                .invalidName,
                "invalid secret name '\(name.prefix(140))': use 1-128 characters of A-Z a-z 0-9 . _ - "
                    + "(not starting with a dot)")
        }
    }

    func path(of name: String) -> String { directory + "/" + name + SecretStore.suffix }

    /// Seals and stores `secret` as `name`, replacing any earlier value. `policy` must meet `pins`
    /// (a secret sealed weaker than the pins would not open again).
    public func put(
        name: String, secret: SecretBytes, policy: SealingPolicy, keys: any SealingKeySource,
        pins: SealingPins = SealingPins()
    ) throws {
        try SecretStore.validate(name: name)
        try pins.check(policy, name: name)
        let key = try keys.sealingKey(for: policy)
        let blob = try SealedBlob.seal(secret, name: name, policy: policy, sealingKey: key)
        do {
            try FileIO.makeDirectory(directory, mode: 0o700)
            try FileIO.writeAtomically(path: path(of: name), mode: 0o600, bytes: blob.serialized())
        } catch {
            throw SecretStoreError(.io, "failed to store secret '\(name)': \(error)")
        }
    }

    /// Reads and unseals `name`. The blob's key parameters are checked against `pins` before any
    /// key is derived or any broker contacted: the disk decides nothing.
    public func get(name: String, keys: any SealingKeySource, pins: SealingPins = SealingPins()) throws -> SecretBytes {
        let blob = try read(name: name)
        try pins.check(blob.policy, name: name)
        let key: SecretBytes
        do {
            key = try keys.sealingKey(for: blob.policy)
        } catch {
            throw SecretStoreError(
                .keyUnavailable,
                "failed to get the sealing key for '\(name)' (\(blob.policy.summary)): \(error) — if this blob was "
                    + "not sealed with these parameters, it was modified")
        }
        return try blob.open(name: name, sealingKey: key)
    }

    /// Reads a blob without unsealing it (for `list`).
    public func read(name: String) throws -> SealedBlob {
        try SecretStore.validate(name: name)
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: path(of: name), limit: SealedBlob.maximumSecretSize + 4096)
        } catch let error as FileIOError where error.errno == ENOENT {
            throw SecretStoreError(
                .notFound, "no secret named '\(name)' in \(directory); list them with 'ccagent secret list'")
        } catch {
            throw SecretStoreError(.io, "failed to read secret '\(name)': \(error)")
        }
        return try SealedBlob(parsing: bytes)
    }

    /// The stored names, sorted.
    public func list() throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw SecretStoreError(.io, "failed to list '\(directory)': \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard file.hasSuffix(SecretStore.suffix) else { continue }
            let name = String(file.dropLast(SecretStore.suffix.count))
            if (try? SecretStore.validate(name: name)) != nil { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes `name`.
    public func remove(name: String) throws {
        try SecretStore.validate(name: name)
        guard unlink(path(of: name)) == 0 else {
            if errno == ENOENT { throw SecretStoreError(.notFound, "no secret named '\(name)' in \(directory)") }
            throw SecretStoreError(.io, "failed to remove secret '\(name)': \(String(cString: strerror(errno)))")
        }
    }
}
