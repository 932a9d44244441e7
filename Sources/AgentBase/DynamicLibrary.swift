// SPDX-License-Identifier: Apache-2.0
// A C library loaded with dlopen on first use (as systemd loads its optional libraries): libcryptsetup,
// libsystemd and tpm2-tss are not linked, so a command that needs none of them maps none of them.

#if canImport(Glibc)
import Glibc
#endif

/// A shared library opened by SONAME (`RTLD_NOW | RTLD_LOCAL`), whose functions are looked up by name.
/// Its users keep it for the life of the process; ``close()`` is for a load that turned out incomplete.
public struct DynamicLibrary: @unchecked Sendable {
    /// Why a library could not be opened: the dynamic linker's own words.
    public struct OpenError: Error, Sendable {
        public var soname: String
        public var reason: String
    }

    public let soname: String
    private let handle: UnsafeMutableRawPointer

    /// Opens `soname`, or throws the dynamic linker's reason (not found, wrong ELF class, missing dependency).
    public init(_ soname: String) throws(OpenError) {
        guard let handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL) else {
            throw OpenError(soname: soname, reason: dlerror().map { String(cString: $0) } ?? "unknown reason")
        }
        self.soname = soname
        self.handle = handle
    }

    /// The function `name` as the C function type `F` (a `@convention(c)` type matching the header), or
    /// nil when the library does not export it.
    public func function<F>(_ name: String, as type: F.Type = F.self) -> F? {
        dlsym(handle, name).map { unsafeBitCast($0, to: F.self) }
    }

    /// Closes the library; only for a load abandoned before any of its functions was used.
    public func close() { dlclose(handle) }
}
