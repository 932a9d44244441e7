// SPDX-License-Identifier: Apache-2.0
// sd_notify for Type=notify units: READY, STATUS, STOPPING; results checked.

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd about readiness and progress.
public struct ServiceNotifier: Sendable {
    public enum Result: Equatable, Sendable {
        case sent
        /// Not running under systemd (no NOTIFY_SOCKET): fine, nothing to tell.
        case notUnderSystemd
        case failed(errno: Int32)
    }

    public init() {}

    /// Calls `sd_notify(0, state)`. libsystemd is loaded on first use, and only under systemd (with
    /// NOTIFY_SOCKET set); a missing libsystemd there is a failure (ELIBACC), since systemd waits.
    @discardableResult
    public func notify(_ state: String) -> Result {
        guard getenv("NOTIFY_SOCKET") != nil else { return .notUnderSystemd }
        guard let library = SystemdLibrary.shared else { return .failed(errno: ELIBACC) }
        let rc = library.notify(0, state)
        if rc > 0 { return .sent }
        if rc == 0 { return .notUnderSystemd }
        return .failed(errno: -rc)
    }

    @discardableResult public func ready(status: String) -> Result { notify("READY=1\nSTATUS=\(status)") }
    @discardableResult public func status(_ text: String) -> Result { notify("STATUS=\(text)") }
    @discardableResult public func stopping() -> Result { notify("STOPPING=1") }
}

/// Whether this process runs in an initramfs (systemd's test: /etc/initrd-release exists).
public enum BootPhase {
    public static var isInitrd: Bool { access("/etc/initrd-release", F_OK) == 0 }
}
