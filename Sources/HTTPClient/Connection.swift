// SPDX-License-Identifier: Apache-2.0
// One TCP connection, plain or TLS (OpenSSL over memory BIOs), every wait bounded by a deadline: the only
// file that touches sockets or imports CTLS (libssl).

import AgentBase
import CTLS

#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock (the one implementation; the tests' deadline checks use it too).
public func monotonicNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The deadlines of one request and what to say when one passes.
struct Budget {
    /// TCP connect and TLS handshake end by here (never later than `deadline`).
    var connectDeadline: Double
    var deadline: Double
    var connectTimeout: Double
    var totalTimeout: Double
    var url: String

    init(connectTimeout: Double, totalTimeout: Double, url: String) {
        let now = monotonicNow()
        deadline = now + max(0.001, totalTimeout)
        connectDeadline = min(deadline, now + max(0.001, connectTimeout))
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.url = url
    }

    func timeout(_ activity: String, connecting: Bool) -> HTTPError {
        let limit =
            connecting && connectDeadline < deadline
            ? "the connect timeout of \(connectTimeout) s" : "the total timeout of \(totalTimeout) s"
        return HTTPError(.timeout, "timed out \(activity) (\(limit))", url: url)
    }
}

/// The client's TLS configuration for one trust: an `SSL_CTX`.
final class TLSContext {
    let context: OpaquePointer
    /// The pinned SPKI SHA-256 (then the chain and host name are not checked).
    let pin: [UInt8]?

    init(trust: TLSTrust, url: String) throws(HTTPError) {
        guard let method = TLS_client_method(), let context = SSL_CTX_new(method) else {
            throw HTTPError(.tls, "failed to create a TLS context: \(openSSLErrors())", url: url)
        }
        self.context = context
        guard cca_ssl_ctx_set_min_tls12(context) == 1 else {
            throw HTTPError(.tls, "failed to require TLS 1.2 or later: \(openSSLErrors())", url: url)
        }
        switch trust {
        case .systemCAs:
            pin = nil
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw HTTPError(.tls, "failed to load the system CA certificates: \(openSSLErrors())", url: url)
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .caFile(let path):
            pin = nil
            guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                throw HTTPError(
                    .tls,
                    "the CA file '\(path)' could not be loaded (missing, unreadable or not PEM): "
                        + openSSLErrors(), url: url)
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .pinnedSPKISHA256(let digest):
            guard digest.count == 32 else {
                throw HTTPError(.tls, "the pinned key digest is \(digest.count) bytes, not a SHA-256", url: url)
            }
            pin = digest
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// OpenSSL's queued errors for this thread as one line (then cleared).
func openSSLErrors() -> String {
    var lines: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        if lines.count < 4 { lines.append(String(decoding: buffer.prefix { $0 != 0 }.map(UInt8.init), as: UTF8.self)) }
    }
    return lines.isEmpty ? "no OpenSSL detail" : lines.joined(separator: "; ")
}

/// Failures of one exchange on a connection, with what the session needs to decide a retry.
struct ConnectionFailure: Error {
    var error: HTTPError
    /// The connection turned out closed or reset before any byte of a response arrived.
    var closedBeforeResponse: Bool
}

/// A connected socket, with TLS when the URL is https.
final class Connection {
    let origin: String
    private var fd: Int32
    private var ssl: OpaquePointer?
    private var readBIO: OpaquePointer?
    private var writeBIO: OpaquePointer?
    private var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    /// The socket read end of stream.
    private(set) var sawEndOfStream = false
    /// The peer ended TLS with close_notify (or, for plain http, closed the stream).
    private(set) var closedCleanly = false

    var isTLS: Bool { ssl != nil }

    private init(fd: Int32, origin: String) {
        self.fd = fd
        self.origin = origin
    }

    deinit { close() }

    /// Sends close_notify (best effort, never waiting) and closes the socket.
    func close() {
        if let ssl {
            if !sawEndOfStream {
                ERR_clear_error()
                _ = SSL_shutdown(ssl)
                try? flushOutput(until: monotonicNow(), budget: nil)
            }
            SSL_free(ssl)  // frees both BIOs
            ERR_clear_error()  // nothing of this connection's is left for the thread's next OpenSSL caller
            self.ssl = nil
        }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: Opening

    /// Resolves, connects (each address in turn, within the connect deadline) and, for https, handshakes.
    static func open(_ url: HTTPURL, tls: TLSContext?, budget: Budget) throws(HTTPError) -> Connection {
        let fd = try connectSocket(url, budget: budget)
        let connection = Connection(fd: fd, origin: url.origin)
        if let tls { try connection.handshake(url, tls: tls, budget: budget) }
        return connection
    }

    private static func connectSocket(_ url: HTTPURL, budget: Budget) throws(HTTPError) -> Int32 {
        let addresses = try Resolver.resolve(
            host: url.host, port: url.port, deadline: budget.connectDeadline,
            onTimeout: { budget.timeout("resolving \(url.host)", connecting: true) }, url: budget.url)
        // The list is freed with `addresses`: keep it alive until every address has been tried.
        defer { withExtendedLifetime(addresses) {} }
        let list = addresses.list
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(
                address.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                address.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            var error: Int32 = 0
            if connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) != 0 {
                error = errno
                if error == EINPROGRESS {
                    do throws(HTTPError) {
                        try wait(fd, Int16(POLLOUT), until: budget.connectDeadline) {
                            budget.timeout("connecting to \(url.hostForHeader) port \(url.port)", connecting: true)
                        }
                    } catch {
                        Glibc.close(fd)
                        throw error
                    }
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    error = 0
                    if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
                }
            }
            if error == 0 {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = String(cString: strerror(error))
            Glibc.close(fd)
        }
        throw HTTPError(
            .unreachable, "could not connect to \(url.hostForHeader) port \(url.port): \(lastError)", url: budget.url)
    }

    private func handshake(_ url: HTTPURL, tls: TLSContext, budget: Budget) throws(HTTPError) {
        guard let ssl = SSL_new(tls.context), let readBIO = BIO_new(BIO_s_mem()),
            let writeBIO = BIO_new(BIO_s_mem())
        else {
            throw HTTPError(.tls, "failed to set up TLS: \(openSSLErrors())", url: budget.url)
        }
        cca_bio_set_retry_when_empty(readBIO)
        cca_bio_set_retry_when_empty(writeBIO)
        SSL_set_bio(ssl, readBIO, writeBIO)
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        SSL_set_connect_state(ssl)
        var address = in6_addr()
        let isIP =
            inet_pton(AF_INET, url.host, &address) == 1 || inet_pton(AF_INET6, url.host, &address) == 1
        if isIP {
            // No SNI for addresses (RFC 6066 §3); the certificate must name the address (iPAddress SAN).
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host) == 1 else {
                throw HTTPError(.tls, "failed to set the expected address: \(openSSLErrors())", url: budget.url)
            }
        } else {
            guard cca_ssl_set_sni(ssl, url.host) == 1, SSL_set1_host(ssl, url.host) == 1 else {
                throw HTTPError(.tls, "failed to set the expected host name: \(openSSLErrors())", url: budget.url)
            }
        }
        let deadline = budget.connectDeadline
        let timeout = { budget.timeout("during the TLS handshake", connecting: true) }
        while true {
            ERR_clear_error()
            let result = SSL_connect(ssl)
            let failure = result == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, result)
            let detail = failure == SSL_ERROR_SSL ? openSSLErrors() : ""
            do throws(HTTPError) {
                try flushOutput(until: deadline, budget: budget, timeout: timeout)
            } catch {
                throw HTTPError(
                    error.code, error.message, url: budget.url, handshakeIncomplete: error.code == .unreachable)
            }
            if result == 1 { break }
            switch failure {
            case SSL_ERROR_WANT_READ:
                let more: Bool
                do throws(HTTPError) {
                    more = try fillInput(until: deadline, timeout: timeout)
                } catch {
                    throw HTTPError(
                        error.code, error.message, url: budget.url, handshakeIncomplete: error.code == .unreachable)
                }
                guard more else {
                    throw HTTPError(
                        .unreachable, "the server closed the connection during the TLS handshake", url: budget.url,
                        handshakeIncomplete: true)
                }
            case SSL_ERROR_WANT_WRITE:
                continue
            default:
                let verify = SSL_get_verify_result(ssl)
                if tls.pin == nil && verify != Int(X509_V_OK) {
                    throw HTTPError(
                        .tls,
                        "the server's certificate was refused for '\(url.host)': "
                            + String(cString: X509_verify_cert_error_string(verify)), url: budget.url)
                }
                throw HTTPError(
                    .unreachable, "the TLS handshake failed: \(detail.isEmpty ? "error \(failure)" : detail)",
                    url: budget.url, handshakeIncomplete: true)
            }
        }
        guard let certificate = SSL_get0_peer_certificate(ssl) else {
            throw HTTPError(.tls, "the server sent no certificate", url: budget.url)
        }
        if let pin = tls.pin {
            let digest = try Self.spkiSHA256(certificate, url: budget.url)
            guard digest == pin else {
                throw HTTPError(
                    .tls, "the server's public key does not match the pinned SHA-256 (it has \(Hex.encode(digest)))",
                    url: budget.url)
            }
        } else {
            let verify = SSL_get_verify_result(ssl)
            guard verify == Int(X509_V_OK) else {
                throw HTTPError(
                    .tls,
                    "the server's certificate was refused: "
                        + String(cString: X509_verify_cert_error_string(verify)), url: budget.url)
            }
        }
    }

    /// SHA-256 of the certificate's DER SubjectPublicKeyInfo.
    private static func spkiSHA256(_ certificate: OpaquePointer, url: String) throws(HTTPError) -> [UInt8] {
        guard let key = X509_get_X509_PUBKEY(certificate) else {
            throw HTTPError(.tls, "the server's certificate has no public key", url: url)
        }
        let length = i2d_X509_PUBKEY(key, nil)
        guard length > 0 else { throw HTTPError(.tls, "the server's public key does not encode", url: url) }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509_PUBKEY(key, &cursor)
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var digestLength: UInt32 = 0
        guard written == length,
            EVP_Digest(der, der.count, &digest, &digestLength, EVP_sha256(), nil) == 1, digestLength == 32
        else {
            throw HTTPError(.tls, "failed to hash the server's public key: \(openSSLErrors())", url: url)
        }
        return digest
    }

    // MARK: I/O

    /// Sends every byte of `bytes`.
    func send(_ bytes: [UInt8], budget: Budget) throws(HTTPError) {
        let timeout = { budget.timeout("sending the request", connecting: false) }
        if let ssl {
            guard !bytes.isEmpty else { return }
            ERR_clear_error()
            let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard written == Int32(bytes.count) else {
                throw HTTPError(.unreachable, "TLS write failed: \(openSSLErrors())", url: budget.url)
            }
            try flushOutput(until: budget.deadline, budget: budget, timeout: timeout)
        } else {
            try sendRaw(bytes[...], until: budget.deadline, url: budget.url, timeout: timeout)
        }
    }

    /// The next bytes from the server; empty at the end of the stream (see ``closedCleanly``).
    func receive(budget: Budget) throws(HTTPError) -> [UInt8] {
        let timeout = { budget.timeout("waiting for the response", connecting: false) }
        guard let ssl else {
            guard try fillPlain(until: budget.deadline, timeout: timeout) else {
                closedCleanly = true
                return []
            }
            return received
        }
        while true {
            ERR_clear_error()
            let count = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if count > 0 { return Array(buffer[..<Int(count)]) }
            let failure = SSL_get_error(ssl, count)
            let detail = failure == SSL_ERROR_SSL ? openSSLErrors() : ""
            try flushOutput(until: budget.deadline, budget: budget, timeout: timeout)
            switch failure {
            case SSL_ERROR_WANT_READ:
                guard try fillInput(until: budget.deadline, timeout: timeout) else { return [] }
            case SSL_ERROR_WANT_WRITE:
                continue
            case SSL_ERROR_ZERO_RETURN:
                closedCleanly = true
                return []
            default:
                throw HTTPError(
                    .unreachable, "TLS read failed: \(detail.isEmpty ? "error \(failure)" : detail)", url: budget.url)
            }
        }
    }

    /// Whether an idle connection can carry another request: nothing (no EOF, no stray data) arrived since
    /// its last response. TLS records that carry no application data (session tickets) are absorbed.
    func isReusable() -> Bool {
        guard fd >= 0, !sawEndOfStream else { return false }
        if let ssl, SSL_pending(ssl) > 0 { return false }
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 0)
            if ready == 0 { return true }
            if ready < 0 { return errno == EINTR ? true : false }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard count > 0, let ssl, let readBIO else { return false }
            _ = buffer.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32(count)) }
            ERR_clear_error()
            let read = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            guard read <= 0, SSL_get_error(ssl, read) == SSL_ERROR_WANT_READ else { return false }
            ERR_clear_error()
        }
    }

    // MARK: Sockets

    private var received: [UInt8] = []

    /// Plain http: reads into ``received``; false at the end of the stream.
    private func fillPlain(
        until deadline: Double, timeout: () -> HTTPError
    ) throws(HTTPError)
        -> Bool
    {
        let count = try recvSome(until: deadline, timeout: timeout)
        guard count > 0 else { return false }
        received = Array(buffer[..<count])
        return true
    }

    /// TLS: moves socket bytes into the read BIO; false at the end of the stream.
    private func fillInput(
        until deadline: Double, timeout: () -> HTTPError
    ) throws(HTTPError)
        -> Bool
    {
        let count = try recvSome(until: deadline, timeout: timeout)
        guard count > 0, let readBIO else { return false }
        _ = buffer.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32(count)) }
        return true
    }

    private func recvSome(
        until deadline: Double, timeout: () -> HTTPError
    ) throws(HTTPError)
        -> Int
    {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return count }
            if count == 0 {
                sawEndOfStream = true
                return 0
            }
            let error = errno
            if error == EINTR { continue }
            guard error == EAGAIN || error == EWOULDBLOCK else {
                throw HTTPError(
                    .unreachable, "the connection failed while reading: \(String(cString: strerror(error)))",
                    url: "")
            }
            try Self.wait(fd, Int16(POLLIN), until: deadline, timeout: timeout)
        }
    }

    /// TLS: sends what OpenSSL queued in the write BIO. `budget` nil: one non-blocking attempt (close).
    private func flushOutput(
        until deadline: Double, budget: Budget?,
        timeout: () -> HTTPError = { HTTPError(.timeout, "timed out", url: "") }
    ) throws(HTTPError) {
        guard let writeBIO else { return }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while cca_bio_pending(writeBIO) > 0 {
            let count = chunk.withUnsafeMutableBytes { BIO_read(writeBIO, $0.baseAddress, Int32($0.count)) }
            guard count > 0 else { return }
            try sendRaw(chunk[..<Int(count)], until: deadline, url: budget?.url ?? "", timeout: timeout)
        }
    }

    private func sendRaw(
        _ bytes: ArraySlice<UInt8>, until deadline: Double, url: String, timeout: () -> HTTPError
    ) throws(HTTPError) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let count = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                offset += count
                continue
            }
            let error = errno
            if error == EINTR { continue }
            guard error == EAGAIN || error == EWOULDBLOCK else {
                throw HTTPError(
                    .unreachable, "the connection failed while sending: \(String(cString: strerror(error)))", url: url)
            }
            try Self.wait(fd, Int16(POLLOUT), until: deadline, timeout: timeout)
        }
    }

    /// Waits for `events` on `fd` until `deadline`; throws `timeout()` when it passes.
    private static func wait(
        _ fd: Int32, _ events: Int16, until deadline: Double, timeout: () -> HTTPError
    ) throws(HTTPError) {
        while true {
            let remaining = deadline - monotonicNow()
            guard remaining > 0 else { throw timeout() }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining * 1000 + 1, 3_600_000)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw HTTPError(.unreachable, "poll failed: \(String(cString: strerror(errno)))", url: "")
            }
        }
    }
}
