// SPDX-License-Identifier: Apache-2.0
// A LUKS2 device through libcryptsetup: the only module that imports CCryptsetup. libcryptsetup is
// loaded on first use (CryptsetupLibrary), not at process start.

import AgentBase
import CCryptsetup
import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

/// A libcryptsetup failure with its return code kept as data.
public struct CryptsetupError: CodedError, Equatable {
    public var operation: String
    public var device: String
    /// The negative errno libcryptsetup returned.
    public var code: Int32
    /// Why, when it is not one of libcryptsetup's return codes (the library itself could not be loaded).
    public var reason: String?

    public init(operation: String, device: String, code: Int32, reason: String? = nil) {
        self.operation = operation
        self.device = device
        self.code = code
        self.reason = reason
    }

    public var description: String {
        if let reason {
            return device.isEmpty
                ? "failed to \(operation): \(reason)" : "failed to \(operation) for '\(device)': \(reason)"
        }
        let reason: String
        switch -code {
        case 1: reason = "wrong key or the keyslot does not open (EPERM)"
        case 2: reason = "no such device or object (ENOENT)"
        case 22: reason = "invalid argument or header (EINVAL)"
        case 95: reason = "device-mapper is not available here (EOPNOTSUPP); use --verify-only"
        case 16: reason = "the device is busy or already active (EBUSY)"
        case 17: reason = "already exists (EEXIST)"
        default: reason = "error \(code)"
        }
        return "failed to \(operation) on '\(device)': \(reason)"
    }

    public var isWrongKey: Bool { code == -1 && reason == nil }
    /// libcryptsetup is not installed (or not the expected ABI): no volume can be opened.
    public var isLibraryUnavailable: Bool { reason != nil }
    public var errorCode: ErrorCode {
        ErrorCode(
            isWrongKey ? "keyslot.wrong-key" : isLibraryUnavailable ? "cryptsetup.unavailable" : "cryptsetup.error")
    }
}

/// Keyslot priority (crypt_keyslot_priority).
public enum KeyslotPriority: Int32, Sendable {
    case ignore = 0
    case normal = 1
    case prefer = 2
}

/// An owned `struct crypt_device *` for one LUKS2 header; freed on deinit.
public final class CryptDevice {
    private let pointer: OpaquePointer
    private let library: CryptsetupLibrary
    public let path: String

    /// Opens and loads a LUKS2 header. Loads libcryptsetup on first use (a missing library is an error
    /// naming it); calls `crypt_init` and `crypt_load`.
    public init(path: String) throws(CryptsetupError) {
        let library = try CryptsetupLibrary.get(device: path)
        var device: OpaquePointer?
        let rc = library.initialize(&device, path)
        guard rc == 0, let device else {
            throw CryptsetupError(operation: "open", device: path, code: rc == 0 ? -22 : rc)
        }
        let loaded = library.load(device, CRYPT_LUKS2, nil)
        guard loaded == 0 else {
            library.free(device)
            throw CryptsetupError(operation: "load a LUKS2 header", device: path, code: loaded)
        }
        pointer = device
        self.library = library
        self.path = path
    }

    deinit { library.free(pointer) }

    /// The header UUID. Calls `crypt_get_uuid`.
    public var uuid: String {
        library.getUUID(pointer).map { String(cString: $0) } ?? ""
    }

    /// The whole header metadata as JSON text. Calls `crypt_dump_json`.
    public func headerJSON() throws(CryptsetupError) -> String {
        var json: UnsafePointer<CChar>?
        let rc = library.dumpJSON(pointer, &json, 0)
        guard rc == 0, let json else {
            throw CryptsetupError(operation: "read the header JSON", device: path, code: rc == 0 ? -22 : rc)
        }
        return String(cString: json)
    }

    /// Whether a keyslot holds a key. Calls `crypt_keyslot_status`.
    public func isKeyslotActive(_ slot: Int32) -> Bool {
        let status = library.keyslotStatus(pointer, slot)
        return status == CRYPT_SLOT_ACTIVE || status == CRYPT_SLOT_ACTIVE_LAST
    }

    /// Active keyslot numbers (0–31).
    public var activeKeyslots: [Int32] { (0..<32).filter { isKeyslotActive($0) } }

    /// Adds a keyslot for `newPassphrase`, unlocking the volume key with `existingPassphrase`, using
    /// PBKDF2 (`hash`, `iterations`, no benchmark). Returns the new slot. Calls `crypt_set_pbkdf_type`
    /// and `crypt_keyslot_add_by_passphrase`.
    public func addKeyslot(
        existingPassphrase: SecretBytes, newPassphrase: SecretBytes, slot: Int32 = -1, hash: String = "sha512",
        iterations: UInt32 = 1000
    ) throws(CryptsetupError) -> Int32 {
        let rc = hash.withCString { hashName -> Int32 in
            "pbkdf2".withCString { type -> Int32 in
                var pbkdf = crypt_pbkdf_type(
                    type: type, hash: hashName, time_ms: 0, iterations: iterations, max_memory_kb: 0,
                    parallel_threads: 0,
                    flags: cca_pbkdf_no_benchmark)
                let set = library.setPBKDFType(pointer, &pbkdf)
                guard set == 0 else { return set }
                return existingPassphrase.withUnsafeBytes { old in
                    newPassphrase.withUnsafeBytes { new in
                        library.keyslotAddByPassphrase(
                            pointer, slot, old.baseAddress?.assumingMemoryBound(to: CChar.self), old.count,
                            new.baseAddress?.assumingMemoryBound(to: CChar.self), new.count)
                    }
                }
            }
        }
        guard rc >= 0 else { throw CryptsetupError(operation: "add a keyslot", device: path, code: rc) }
        return rc
    }

    /// Calls `crypt_keyslot_set_priority`.
    public func setPriority(_ priority: KeyslotPriority, slot: Int32) throws(CryptsetupError) {
        let rc = library.keyslotSetPriority(pointer, slot, crypt_keyslot_priority(rawValue: priority.rawValue))
        guard rc == 0 else { throw CryptsetupError(operation: "set keyslot \(slot) priority", device: path, code: rc) }
    }

    /// Calls `crypt_keyslot_get_priority`.
    public func priority(slot: Int32) -> KeyslotPriority? {
        KeyslotPriority(rawValue: library.keyslotGetPriority(pointer, slot).rawValue)
    }

    /// Removes a keyslot. Calls `crypt_keyslot_destroy`.
    public func destroyKeyslot(_ slot: Int32) throws(CryptsetupError) {
        let rc = library.keyslotDestroy(pointer, slot)
        guard rc == 0 else { throw CryptsetupError(operation: "destroy keyslot \(slot)", device: path, code: rc) }
    }

    /// Token JSON by id, or nil for an empty id. Calls `crypt_token_json_get`.
    public func tokenJSON(_ token: Int32) -> String? {
        var json: UnsafePointer<CChar>?
        guard library.tokenJSONGet(pointer, token, &json) >= 0, let json else { return nil }
        return String(cString: json)
    }

    /// Every token id with its JSON.
    public var tokens: [(id: Int32, json: String)] {
        (0..<32).compactMap { id in tokenJSON(id).map { (id, $0) } }
    }

    /// Writes a token (`id` -1 allocates one) and returns its id. Calls `crypt_token_json_set`.
    @discardableResult
    public func setToken(_ id: Int32, json: String) throws(CryptsetupError) -> Int32 {
        let rc = library.tokenJSONSet(pointer, id, json)
        guard rc >= 0 else { throw CryptsetupError(operation: "write a token", device: path, code: rc) }
        return rc
    }

    /// Removes a token. Calls `crypt_token_json_set` with NULL.
    public func removeToken(_ id: Int32) throws(CryptsetupError) {
        let rc = library.tokenJSONSet(pointer, id, nil)
        guard rc >= 0 else { throw CryptsetupError(operation: "remove token \(id)", device: path, code: rc) }
    }

    /// Opens exactly `slot` with `passphrase` and activates the mapping `name`, or only verifies the
    /// key when `name` is nil (no device-mapper needed). The header's persistent activation flags are
    /// ignored (`CRYPT_ACTIVATE_IGNORE_PERSISTENT`): the disk does not choose them; only what the caller
    /// allows is set. Calls `crypt_activate_by_passphrase`.
    public func activate(
        name: String?, slot: Int32, passphrase: SecretBytes, allowDiscards: Bool = false
    ) throws(CryptsetupError) {
        let flags = cca_activate_ignore_persistent | (allowDiscards ? cca_activate_allow_discards : 0)
        let rc = passphrase.withUnsafeBytes { key in
            library.activateByPassphrase(
                pointer, name, slot, key.baseAddress?.assumingMemoryBound(to: CChar.self), key.count, flags)
        }
        guard rc >= 0 else {
            throw CryptsetupError(
                operation: name == nil ? "verify keyslot \(slot)" : "activate '\(name ?? "")'", device: path, code: rc)
        }
    }

    /// Removes the mapping `name`. Calls `crypt_deactivate`.
    public func deactivate(name: String) throws(CryptsetupError) {
        let rc = library.deactivate(pointer, name)
        guard rc == 0 else { throw CryptsetupError(operation: "deactivate '\(name)'", device: path, code: rc) }
    }

    /// The size of the underlying device (or image file) in 512-byte sectors.
    public var deviceSizeSectors: UInt64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        return end < 0 ? nil : UInt64(end) / 512
    }

    /// Whether a mapping `name` is active. Calls `crypt_status` (false when libcryptsetup is missing:
    /// nothing could have been activated by this agent then).
    public static func isActive(name: String) -> Bool {
        // Without device-mapper there is no mapping, and asking libcryptsetup would print a warning.
        guard access("/dev/mapper/control", F_OK) == 0,
            case .success(let library) = CryptsetupLibrary.shared
        else { return false }
        let status = library.status(nil, name)
        return status == CRYPT_ACTIVE || status == CRYPT_BUSY
    }
}
