// SPDX-License-Identifier: Apache-2.0
// Brokers that fail: a port nobody listens on, a listener that never answers, a relay that cuts or
// forwards the HTTP exchange, and the independent Python KBS in one of its hostile modes.

import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Loopback TCP sockets for the fault servers.
enum LoopbackSocket {
    /// A socket bound to 127.0.0.1:`port` (0: any free port), listening.
    static func listen(port: UInt16 = 0) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError(message: "socket failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let error = errno
            close(fd)
            throw FixtureError(message: "bind/listen on 127.0.0.1:\(port) failed: errno \(error)")
        }
        return fd
    }

    /// A connected socket to 127.0.0.1:`port`.
    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError(message: "socket failed: errno \(errno)") }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw FixtureError(message: "connect to 127.0.0.1:\(port) failed: errno \(error)")
        }
        return fd
    }

    static func port(of fd: Int32) throws -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { throw FixtureError(message: "getsockname failed: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    static func port(ofURL url: String) throws -> UInt16 {
        guard let colon = url.lastIndex(of: ":"), let port = UInt16(url[url.index(after: colon)...]) else {
            throw FixtureError(message: "no port in '\(url)'")
        }
        return port
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// Bounds every blocking read and write of `fd` (so no relay thread can outlive a test by long).
    static func setTimeouts(_ fd: Int32, seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }
}

/// A loopback port with no listener: connections are refused (a broker that is down).
public enum ClosedPort {
    /// A port that was free a moment ago (bound, then closed again).
    public static func reserve() throws -> UInt16 {
        let fd = try LoopbackSocket.listen()
        defer { close(fd) }
        return try LoopbackSocket.port(of: fd)
    }
}

/// A listener that never accepts: the kernel completes the TCP handshake, then nothing is ever sent
/// (a broker that hangs, before or inside TLS).
public final class SilentListener: @unchecked Sendable {
    public let port: UInt16
    private let fd: Int32

    public init() throws {
        fd = try LoopbackSocket.listen()
        port = try LoopbackSocket.port(of: fd)
    }

    public var url: String { "https://127.0.0.1:\(port)" }

    deinit { close(fd) }
}

/// A plain-HTTP relay on 127.0.0.1 in front of a broker (``BrokerProcess/init(plainHTTPIn:extraArguments:)``).
/// It forwards requests and responses whole (both need a Content-Length), except that in `.cutBody` mode
/// every response to a request whose path starts with the prefix is cut halfway through its body: the
/// status line and headers (with the full Content-Length) and half the body are sent, then the connection
/// is closed.
public final class FaultRelay: @unchecked Sendable {
    public enum Mode: Sendable {
        case forward
        case cutBody(pathPrefix: String)
    }

    public let port: UInt16
    public var url: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let upstream: UInt16
    private let mode: Mode
    private let lock = Lock()
    private var cutCount = 0
    private var forwardedCount = 0

    public init(upstreamURL: String, mode: Mode) throws {
        upstream = try LoopbackSocket.port(ofURL: upstreamURL)
        self.mode = mode
        listener = try LoopbackSocket.listen()
        port = try LoopbackSocket.port(of: listener)
        let listener = self.listener
        DispatchQueue.global().async { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return  // stop() shut the listener down
                }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                DispatchQueue.global().async { [self] in relay(client) }
            }
        }
    }

    /// Responses cut so far.
    public var cuts: Int { lock.withLock { cutCount } }
    /// Responses forwarded whole so far.
    public var forwarded: Int { lock.withLock { forwardedCount } }

    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit {
        stop()
        close(listener)
    }

    private func relay(_ client: Int32) {
        defer { close(client) }
        LoopbackSocket.setTimeouts(client, seconds: 30)
        guard let server = try? LoopbackSocket.connect(port: upstream) else { return }
        defer { close(server) }
        LoopbackSocket.setTimeouts(server, seconds: 30)
        let fromClient = Reader(client)
        let fromServer = Reader(server)
        while let request = fromClient.message() {
            let path = request.head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            guard LoopbackSocket.writeAll(server, request.bytes[...]), let response = fromServer.message() else {
                return
            }
            if case .cutBody(let prefix) = mode, path.hasPrefix(prefix) {
                let half = response.headLength + (response.bytes.count - response.headLength) / 2
                _ = LoopbackSocket.writeAll(client, response.bytes[..<half])
                lock.withLock { cutCount += 1 }
                shutdown(client, Int32(SHUT_RDWR))
                return
            }
            guard LoopbackSocket.writeAll(client, response.bytes[...]) else { return }
            lock.withLock { forwardedCount += 1 }
        }
    }

    /// Reads HTTP/1.1 messages framed by Content-Length from one socket.
    private final class Reader {
        let fd: Int32
        var buffer: [UInt8] = []

        init(_ fd: Int32) { self.fd = fd }

        /// The next message: its first line, the length of its head and all its bytes; nil at EOF or error.
        func message() -> (head: String, headLength: Int, bytes: [UInt8])? {
            let terminator: [UInt8] = [13, 10, 13, 10]
            var end: Int?
            while end == nil {
                if buffer.count >= 4 {
                    end = (0...(buffer.count - 4)).first { Array(buffer[$0..<$0 + 4]) == terminator }
                }
                if end == nil && !fill() { return nil }
            }
            let headLength = (end ?? 0) + 4
            let head = String(decoding: buffer[..<headLength], as: UTF8.self)
            var bodyLength = 0
            for line in head.split(separator: "\r\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "content-length" {
                    bodyLength = Int(parts[1].filter { $0 != " " }) ?? 0
                }
            }
            while buffer.count < headLength + bodyLength {
                if !fill() { return nil }
            }
            let bytes = Array(buffer[..<(headLength + bodyLength)])
            buffer.removeFirst(headLength + bodyLength)
            let firstLine = head.split(separator: "\r\n").first.map(String.init) ?? ""
            return (firstLine, headLength, bytes)
        }

        private func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                buffer += chunk[..<n]
                return true
            }
        }
    }
}

/// A tiny mutex for test fixtures and the relay's counters.
public final class Lock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// The independently written KBS (scripts/testing/stub_kbs.py: RCAR 0.4.0, sample and simulated SNP
/// evidence bound by report data) over TLS with `pki`, in one of its modes (`normal`, `bad-gcm-tag`,
/// `policy-deny`, `close-mid-body`, `slow`, ...). Resources are text values.
public final class IndependentKBSProcess: @unchecked Sendable {
    public let process: BackgroundProcess
    public let url: String

    public init(pki: TestPKI, directory: String, mode: String = "normal", resources: [String: String]) throws {
        var arguments = [
            "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/stub_kbs.py", "--cert",
            pki.serverCertificate, "--key", pki.serverKey, "--mode", mode,
        ]
        for (path, value) in resources.sorted(by: { $0.key < $1.key }) {
            arguments += ["--resource", "\(path)=\(value)"]
        }
        process = try BackgroundProcess(arguments, logPath: directory + "/independent-kbs-\(mode).log")
        let log = try process.waitFor("listening on https://")
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("listening on https://") }) else {
            throw FixtureError(message: "no URL in \(log)")
        }
        url = String(line.dropFirst("listening on ".count))
    }

    deinit { process.stop() }
}
