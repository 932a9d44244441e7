// SPDX-License-Identifier: Apache-2.0
// libsystemd, loaded with dlopen the first time a journal entry or a notification is sent, so that a
// process that does neither (`--version`, the commands run from a shell) does not map libsystemd and
// its dependency tree (libgcrypt, libgpg-error, liblz4, liblzma, libzstd, libcap) at start. CSystemd gives
// the types only (its module map links nothing).

import AgentBase
import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// `sd_journal_sendv` and `sd_notify`, resolved from one dlopened libsystemd.
struct SystemdLibrary: @unchecked Sendable {
    /// libsystemd's SONAME; the Debian package depends on libsystemd0 explicitly (dlopen is invisible to
    /// shlibs).
    static let soname = "libsystemd.so.0"

    typealias JournalSendV = @convention(c) (UnsafePointer<iovec>?, Int32) -> Int32
    typealias Notify = @convention(c) (Int32, UnsafePointer<CChar>?) -> Int32

    let journalSendV: JournalSendV
    let notify: Notify

    /// The process-wide library, loaded on first use; nil when it cannot be loaded (the callers fall
    /// back: log lines to /dev/kmsg or stderr, notifications reported as failed).
    static let shared: SystemdLibrary? = load(soname: soname)

    /// Loads `soname` and resolves both functions, or nil. Never unloaded.
    static func load(soname: String) -> SystemdLibrary? {
        guard let library = try? DynamicLibrary(soname) else { return nil }
        guard let send = library.function("sd_journal_sendv", as: JournalSendV.self),
            let notify = library.function("sd_notify", as: Notify.self)
        else {
            library.close()
            return nil
        }
        return SystemdLibrary(journalSendV: send, notify: notify)
    }
}
