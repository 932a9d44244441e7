// SPDX-License-Identifier: Apache-2.0
// Serves sealed secrets to systemd's LoadCredential= over an AF_UNIX stream socket.

import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

/// Which units may receive which secrets: `/etc/ccagent/credentials.conf`.
///
/// One line per unit: `UNIT SECRET [SECRET...]` (`#` comments). A unit receives a secret only when it
/// is listed for it; there is no wildcard.
public struct CredentialAccessRules: Sendable, Equatable {
    public static let defaultPath = "/etc/ccagent/credentials.conf"
    public var allowed: [String: Set<String>] = [:]
    public var warnings: [String] = []

    public init(allowed: [String: Set<String>] = [:]) {
        self.allowed = allowed
    }

    public init(parsing text: String, source: String) {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let unit = words.first, !unit.hasPrefix("#") else { continue }
            guard words.count >= 2 else {
                warnings.append("\(source):\(index + 1): '\(unit)' lists no secret, ignoring the line")
                continue
            }
            allowed[unit, default: []].formUnion(words.dropFirst())
        }
    }

    public func permits(unit: String, secret: String) -> Bool {
        allowed[unit]?.contains(secret) ?? false
    }
}

/// The requester systemd names in its socket address: `\0<random>/unit/<unit>/<credential>`.
public struct CredentialRequest: Sendable, Equatable {
    public var unit: String
    public var credential: String

    /// Parses the abstract address systemd binds before connecting (nil for any other address).
    public init?(abstractAddress: String) {
        let parts = abstractAddress.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[1] == "unit", !parts[0].isEmpty, !parts[2].isEmpty, !parts[3].isEmpty else {
            return nil
        }
        unit = String(parts[2])
        credential = String(parts[3])
    }
}

/// An AF_UNIX stream server: for each connection it checks the peer (root, i.e. systemd), reads the
/// unit and credential from the peer's abstract address, checks the access rules, and writes the
/// unsealed secret — or closes the connection with nothing written.
public final class CredentialServer: @unchecked Sendable {
    public let path: String
    private let listener: Int32
    private let store: SecretStore
    private let keys: any SealingKeySource
    private let rules: CredentialAccessRules
    private let pins: SealingPins
    private let decisionLog: @Sendable (CredentialDecision) -> Void

    /// Binds and listens on `path` (replacing a stale socket), mode 0600. Every blob served is first
    /// checked against `pins` (the configuration's sealing parameters).
    public init(
        path: String, store: SecretStore, keys: any SealingKeySource, rules: CredentialAccessRules,
        pins: SealingPins = SealingPins(), log: @escaping @Sendable (CredentialDecision) -> Void
    ) throws {
        self.path = path
        self.store = store
        self.keys = keys
        self.rules = rules
        self.pins = pins
        self.decisionLog = log
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SecretStoreError(.io, "failed to create the credential socket: errno \(errno)") }
        unlink(path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SecretStoreError(.io, "failed to bind '\(path)': path too long for AF_UNIX")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previous)
        guard bound == 0, listen(fd, 64) == 0 else {
            let error = errno
            close(fd)
            throw SecretStoreError(.io, "failed to listen on '\(path)': \(String(cString: strerror(error)))")
        }
        listener = fd
    }

    deinit {
        close(listener)
        unlink(path)
    }

    /// Accepts and answers connections until `shutdown()` is called.
    public func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            answer(client)
            close(client)
        }
    }

    /// Stops `serve()` (it returns once the listening socket is shut down).
    public func shutdown() {
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
    }

    private func answer(_ client: Int32) {
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } — needs _GNU_SOURCE, so read it as three words.
        var words: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: words))
        guard getsockopt(client, SOL_SOCKET, SO_PEERCRED, &words, &length) == 0 else { return }
        let credentials = (pid: words.0, uid: words.1)
        let address = peerAbstractAddress(client)
        guard credentials.uid == 0 else {
            decisionLog(
                .denied("credential denied: peer pid \(credentials.pid) uid \(credentials.uid) is not root (systemd)"))
            return
        }
        guard let address, let request = CredentialRequest(abstractAddress: address) else {
            decisionLog(
                .denied("credential denied: peer pid \(credentials.pid) did not connect the way LoadCredential= does"))
            return
        }
        guard rules.permits(unit: request.unit, secret: request.credential) else {
            decisionLog(.denied("credential denied: unit '\(request.unit)' may not read '\(request.credential)'"))
            return
        }
        do {
            let secret = try store.get(name: request.credential, keys: keys, pins: pins)
            let complete = secret.withUnsafeBytes { writeAll(client, $0) }
            decisionLog(
                .served(
                    "credential served: '\(request.credential)' to unit '\(request.unit)'"
                        + (complete ? "" : " (peer closed early)")))
        } catch {
            decisionLog(
                .denied("credential not served: '\(request.credential)' to unit '\(request.unit)': \(error)"))
        }
    }

    private func peerAbstractAddress(_ client: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(client, $0, &length) }
        }
        let pathOffset = MemoryLayout<sa_family_t>.size
        guard rc == 0, Int(length) > pathOffset + 1 else { return nil }
        return withUnsafeBytes(of: address.sun_path) { raw in
            guard raw.first == 0 else { return nil }  // not abstract
            return String(decoding: raw[1..<(Int(length) - pathOffset)], as: UTF8.self)
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

/// One answer of the credential socket, for the journal.
public enum CredentialDecision: Sendable, Equatable, CustomStringConvertible {
    case served(String)
    case denied(String)

    public var description: String {
        switch self {
        case .served(let line), .denied(let line): line
        }
    }
}
