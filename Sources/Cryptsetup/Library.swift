// SPDX-License-Identifier: Apache-2.0
// libcryptsetup, loaded with dlopen the first time a volume is opened (as systemd does), so that a
// process that never opens a volume (`--version`, `fetch`, `status` without a device) does not map
// libcryptsetup and its dependency tree (libdevmapper, libargon2, libjson-c, libblkid, libuuid, libudev,
// libselinux, libpcre2) at start. CCryptsetup gives the types only (its module map links nothing); every
// crypt_* function this module calls is resolved here into a typed C function pointer.

import AgentBase
import CCryptsetup

#if canImport(Glibc)
import Glibc
#endif

/// The crypt_* functions ccagent calls, resolved from one dlopened libcryptsetup.
struct CryptsetupLibrary: @unchecked Sendable {
    /// The library's SONAME (libcryptsetup 2.x): the ABI the header in CCryptsetup describes. The
    /// Debian package must depend on the package that ships it (dlopen is invisible to shlibs).
    static let soname = "libcryptsetup.so.12"

    typealias Device = OpaquePointer
    typealias LogCallback = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void

    typealias Initialize = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UnsafePointer<CChar>?) -> Int32
    typealias Load = @convention(c) (Device?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Int32
    typealias Free = @convention(c) (Device?) -> Void
    typealias GetUUID = @convention(c) (Device?) -> UnsafePointer<CChar>?
    typealias DumpJSON = @convention(c) (Device?, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UInt32) -> Int32
    typealias KeyslotStatus = @convention(c) (Device?, Int32) -> crypt_keyslot_info
    typealias SetPBKDFType = @convention(c) (Device?, UnsafePointer<crypt_pbkdf_type>?) -> Int32
    typealias KeyslotAddByPassphrase =
        @convention(c) (Device?, Int32, UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?, Int) -> Int32
    typealias KeyslotSetPriority = @convention(c) (Device?, Int32, crypt_keyslot_priority) -> Int32
    typealias KeyslotGetPriority = @convention(c) (Device?, Int32) -> crypt_keyslot_priority
    typealias KeyslotDestroy = @convention(c) (Device?, Int32) -> Int32
    typealias TokenJSONGet = @convention(c) (Device?, Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32
    typealias TokenJSONSet = @convention(c) (Device?, Int32, UnsafePointer<CChar>?) -> Int32
    typealias ActivateByPassphrase =
        @convention(c) (Device?, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, Int, UInt32) -> Int32
    typealias Deactivate = @convention(c) (Device?, UnsafePointer<CChar>?) -> Int32
    typealias Status = @convention(c) (Device?, UnsafePointer<CChar>?) -> crypt_status_info
    typealias SetLogCallback = @convention(c) (Device?, LogCallback?, UnsafeMutableRawPointer?) -> Void

    let initialize: Initialize
    let load: Load
    let free: Free
    let getUUID: GetUUID
    let dumpJSON: DumpJSON
    let keyslotStatus: KeyslotStatus
    let setPBKDFType: SetPBKDFType
    let keyslotAddByPassphrase: KeyslotAddByPassphrase
    let keyslotSetPriority: KeyslotSetPriority
    let keyslotGetPriority: KeyslotGetPriority
    let keyslotDestroy: KeyslotDestroy
    let tokenJSONGet: TokenJSONGet
    let tokenJSONSet: TokenJSONSet
    let activateByPassphrase: ActivateByPassphrase
    let deactivate: Deactivate
    let status: Status
    let setLogCallback: SetLogCallback

    /// The process-wide library, loaded on first use (thread-safe: a Swift global is initialised once).
    /// libcryptsetup's own log lines go to stderr only when CCAGENT_CRYPTSETUP_DEBUG is set; our errors
    /// carry the return codes instead.
    static let shared: Result<CryptsetupLibrary, CryptsetupError> = {
        let result = load(soname: soname)
        if case .success(let library) = result, getenv("CCAGENT_CRYPTSETUP_DEBUG") == nil {
            library.setLogCallback(nil, { _, _, _ in }, nil)
        }
        return result
    }()

    /// The loaded library, or the error that says which library is missing and why.
    static func get(device: String) throws(CryptsetupError) -> CryptsetupLibrary {
        switch shared {
        case .success(let library): return library
        case .failure(var error):
            error.device = device
            throw error
        }
    }

    /// Loads `soname` and resolves every function; any missing one fails the whole load (a partial
    /// library is never used). Never unloaded.
    static func load(soname: String) -> Result<CryptsetupLibrary, CryptsetupError> {
        let library: DynamicLibrary
        do {
            library = try DynamicLibrary(soname)
        } catch {
            return .failure(unavailable(soname, detail: error.reason))
        }
        var missing: [String] = []
        func symbol<F>(_ name: String, _ type: F.Type = F.self) -> F? {
            guard let function = library.function(name, as: type) else {
                missing.append(name)
                return nil
            }
            return function
        }
        let initialize = symbol("crypt_init", Initialize.self)
        let load = symbol("crypt_load", Load.self)
        let free = symbol("crypt_free", Free.self)
        let getUUID = symbol("crypt_get_uuid", GetUUID.self)
        let dumpJSON = symbol("crypt_dump_json", DumpJSON.self)
        let keyslotStatus = symbol("crypt_keyslot_status", KeyslotStatus.self)
        let setPBKDFType = symbol("crypt_set_pbkdf_type", SetPBKDFType.self)
        let keyslotAddByPassphrase = symbol(
            "crypt_keyslot_add_by_passphrase", KeyslotAddByPassphrase.self)
        let keyslotSetPriority = symbol("crypt_keyslot_set_priority", KeyslotSetPriority.self)
        let keyslotGetPriority = symbol("crypt_keyslot_get_priority", KeyslotGetPriority.self)
        let keyslotDestroy = symbol("crypt_keyslot_destroy", KeyslotDestroy.self)
        let tokenJSONGet = symbol("crypt_token_json_get", TokenJSONGet.self)
        let tokenJSONSet = symbol("crypt_token_json_set", TokenJSONSet.self)
        let activateByPassphrase = symbol(
            "crypt_activate_by_passphrase", ActivateByPassphrase.self)
        let deactivate = symbol("crypt_deactivate", Deactivate.self)
        let status = symbol("crypt_status", Status.self)
        let setLogCallback = symbol("crypt_set_log_callback", SetLogCallback.self)
        guard missing.isEmpty, let initialize, let load, let free, let getUUID, let dumpJSON, let keyslotStatus,
            let setPBKDFType, let keyslotAddByPassphrase, let keyslotSetPriority, let keyslotGetPriority,
            let keyslotDestroy, let tokenJSONGet, let tokenJSONSet, let activateByPassphrase, let deactivate,
            let status, let setLogCallback
        else {
            library.close()
            return .failure(unavailable(soname, detail: "missing " + missing.joined(separator: ", ")))
        }
        return .success(
            CryptsetupLibrary(
                initialize: initialize, load: load, free: free, getUUID: getUUID, dumpJSON: dumpJSON,
                keyslotStatus: keyslotStatus, setPBKDFType: setPBKDFType,
                keyslotAddByPassphrase: keyslotAddByPassphrase, keyslotSetPriority: keyslotSetPriority,
                keyslotGetPriority: keyslotGetPriority, keyslotDestroy: keyslotDestroy, tokenJSONGet: tokenJSONGet,
                tokenJSONSet: tokenJSONSet, activateByPassphrase: activateByPassphrase, deactivate: deactivate,
                status: status, setLogCallback: setLogCallback))
    }

    private static func unavailable(_ soname: String, detail: String) -> CryptsetupError {
        CryptsetupError(
            operation: "load libcryptsetup", device: "", code: -79,
            reason: "\(soname) could not be loaded (\(detail)); install libcryptsetup12 (cryptsetup-bin needs it too) "
                + "and, in an initramfs, include it")
    }
}
