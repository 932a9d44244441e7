// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 transport against real TLS servers on 127.0.0.1: connection reuse, chunked bodies, servers that
// close kept-alive connections, dribble their headers or flood them, and certificates for another name.

import AgentBase
import Cryptography
import Dispatch
import HTTPClient
import KBSClient
import KBSProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A Python HTTP/1.1 server over TLS (or plain) whose replies are written byte for byte, one mode per instance.
/// Every body names the connection (1, 2, ... in accept order) and the request's number on it.
final class ScriptedHTTPServer: @unchecked Sendable {
    let directory: String
    let pki: TestPKI
    let process: BackgroundProcess
    let port: UInt16

    init(mode: String, tls: Bool = true) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-httpserver")
        pki = try TestPKI(directory: directory)
        let script = directory + "/server.py"
        try FileIO.writeAtomically(path: script, mode: 0o600, bytes: Array(Self.source.utf8))
        process = try BackgroundProcess(
            [
                "/usr/bin/env", "python3", script, pki.serverCertificate, pki.serverKey, mode, tls ? "tls" : "plain",
            ], logPath: directory + "/server.log")
        let log = try process.waitFor("listening on ")
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
            let port = UInt16(line.dropFirst("listening on ".count))
        else { throw FixtureError(message: log) }
        self.port = port
    }

    func url(host: String = "127.0.0.1", _ path: String = "/x", scheme: String = "https") -> String {
        "\(scheme)://\(host):\(port)\(path)"
    }

    deinit {
        process.stop()
        Fixtures.removeTree(directory)
    }

    static let source = #"""
        import socket, ssl, sys, threading, time, os
        cert, key, mode, transport = sys.argv[1:5]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        threading.Timer(60, lambda: os._exit(0)).start()
        print("listening on %d" % listener.getsockname()[1], flush=True)

        def read_request(conn, pending):
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return None, b""
                pending += data
            head, _, rest = pending.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                rest += conn.recv(65536)
            return lines[0].decode(), rest[length:]

        def serve(raw, number):
            try:
                conn = context.wrap_socket(raw, server_side=True) if transport == "tls" else raw
            except Exception:
                raw.close()
                return
            pending, served = b"", 0
            while True:
                line, pending = read_request(conn, pending)
                if line is None:
                    break
                served += 1
                body = ("connection=%d request=%d path=%s" % (number, served, line.split(" ")[1])).encode()
                if mode == "slowloris":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(600):
                        conn.sendall(b"a")
                        time.sleep(0.05)
                    break
                if mode == "header-flood":
                    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Flood: yes\r\n" * 5000 + b"Content-Length: 0\r\n\r\n")
                    continue
                if mode == "drop-second" and served == 2:
                    break  # read the request, then close without a byte of response
                if mode == "cut-second" and served == 2:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Len")
                    break  # a response begun, then the close
                if mode == "chunked":
                    half = len(body) // 2
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                 (b"%x;ext=1\r\n" % half) + body[:half] + b"\r\n")
                    time.sleep(0.05)
                    conn.sendall((b"%X\r\n" % (len(body) - half)) + body[half:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
                    continue
                if mode == "until-close":
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
                    conn = conn.unwrap() if transport == "tls" else conn  # close_notify, then the TCP close
                    break
                status = b"404 Not Found" if "/missing" in line else b"200 OK"
                conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (status, len(body)) + body)
                if mode == "close-idle":
                    time.sleep(0.2)
                    break  # closes the kept-alive connection while the client is idle
            conn.close()

        number = 0
        while True:
            raw, _ = listener.accept()
            number += 1
            threading.Thread(target=serve, args=(raw, number), daemon=True).start()
        """#
}

/// A TCP relay on 127.0.0.1 that counts the connections it accepts and pumps bytes both ways unchanged (so TLS
/// runs end to end between the client and the server behind it).
final class CountingRelay: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let upstream: UInt16
    private let lock = Lock()
    private var count = 0

    init(upstreamPort: UInt16) throws {
        upstream = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else {
            close(listener)
            throw FixtureError(message: "relay listen failed: errno \(errno)")
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        DispatchQueue.global().async { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                lock.withLock { count += 1 }
                DispatchQueue.global().async { [self] in relay(client) }
            }
        }
    }

    /// Connections accepted so far.
    var accepted: Int { lock.withLock { count } }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private func relay(_ client: Int32) {
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = Self.loopback(port: upstream)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(client)
            close(server)
            return
        }
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            Self.pump(from: client, to: server)
            done.signal()
        }
        Self.pump(from: server, to: client)
        done.wait()
        close(client)
        close(server)
    }

    /// Copies until the end of stream, then half-closes the other side.
    private static func pump(from source: Int32, to sink: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var offset = 0
            while offset < count {
                let sent = buffer[offset..<count].withUnsafeBytes {
                    send(sink, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard sent > 0 else { break }
                offset += sent
            }
        }
        shutdown(sink, Int32(SHUT_WR))
    }
}

@Suite("HTTP transport against real servers", .serialized, .tags(.integration))
struct HTTPTransportTests {
    func session(_ server: ScriptedHTTPServer, cap: Int = 1 << 20, insecure: Bool = false) -> HTTPSession {
        HTTPSession(
            transport: HTTPTransport(
                trust: .caFile(server.pki.caPEM), allowInsecureHTTP: insecure, maximumResponseBytes: cap))
    }

    func get(_ session: HTTPSession, _ url: String, total: Double = 3) throws(HTTPError) -> String {
        let response = try session.perform(method: "GET", url: url, connectTimeout: 1, totalTimeout: total)
        return String(decoding: response.body, as: UTF8.self)
    }

    @Test("a session carries several requests, GET and POST, over one TLS connection")
    func reuse() throws {
        let server = try ScriptedHTTPServer(mode: "normal")
        let session = session(server)
        #expect(try get(session, server.url("/a")) == "connection=1 request=1 path=/a")
        let posted = try session.perform(
            method: "POST", url: server.url("/b"), headers: ["Content-Type: application/json"], body: Array("{}".utf8),
            connectTimeout: 1, totalTimeout: 3)
        #expect(String(decoding: posted.body, as: UTF8.self) == "connection=1 request=2 path=/b")
        #expect(posted.contentType == "text/plain")
        #expect(try get(session, server.url("/c?q=1")) == "connection=1 request=3 path=/c?q=1")
        #expect(session.connectionsOpened == 1)
        // A one-shot transport opens a connection per request.
        let transport = HTTPTransport(trust: .caFile(server.pki.caPEM), maximumResponseBytes: 1 << 20)
        let single = try transport.perform(method: "GET", url: server.url(), connectTimeout: 1, totalTimeout: 3)
        #expect(String(decoding: single.body, as: UTF8.self) == "connection=2 request=1 path=/x")
    }

    @Test("an error status is returned, and the connection is not reused after it")
    func errorStatus() throws {
        let server = try ScriptedHTTPServer(mode: "normal")
        let session = session(server)
        let missing = try session.perform(
            method: "GET", url: server.url("/missing"), connectTimeout: 1, totalTimeout: 3)
        #expect(missing.status == 404)
        #expect(try get(session, server.url("/x")) == "connection=2 request=1 path=/x")
        #expect(try get(session, server.url("/y")) == "connection=2 request=2 path=/y")
    }

    @Test("a chunked body (with extensions and a trailer, in two writes) is decoded; the connection is kept")
    func chunked() throws {
        let server = try ScriptedHTTPServer(mode: "chunked")
        let session = session(server)
        #expect(try get(session, server.url("/one")) == "connection=1 request=1 path=/one")
        #expect(try get(session, server.url("/two")) == "connection=1 request=2 path=/two")
    }

    @Test("a body read until the close (HTTP/1.0, TLS close_notify) is whole; the next request reconnects")
    func untilClose() throws {
        let server = try ScriptedHTTPServer(mode: "until-close")
        let session = session(server)
        #expect(try get(session, server.url("/one")) == "connection=1 request=1 path=/one")
        #expect(try get(session, server.url("/two")) == "connection=2 request=1 path=/two")
    }

    @Test("a server that closes a kept-alive connection while it is idle: the next request opens another")
    func closedWhileIdle() throws {
        let server = try ScriptedHTTPServer(mode: "close-idle")
        let session = session(server)
        #expect(try get(session, server.url("/one")) == "connection=1 request=1 path=/one")
        usleep(500_000)
        #expect(try get(session, server.url("/two")) == "connection=2 request=1 path=/two")
        #expect(session.connectionsOpened == 2)
    }

    @Test("a reused connection closed after the request, before any response byte: retried once, transparently")
    func droppedRequest() throws {
        let server = try ScriptedHTTPServer(mode: "drop-second")
        let session = session(server)
        #expect(try get(session, server.url("/one")) == "connection=1 request=1 path=/one")
        #expect(try get(session, server.url("/two")) == "connection=2 request=1 path=/two")
        #expect(session.connectionsOpened == 2)
    }

    @Test("a reused connection closed after part of the response is a failure, never retried")
    func cutResponse() throws {
        let server = try ScriptedHTTPServer(mode: "cut-second")
        let session = session(server)
        #expect(try get(session, server.url("/one")) == "connection=1 request=1 path=/one")
        #expect(throws: HTTPError(.unreachable, "", url: "")) { _ = try get(session, server.url("/two")) }
        #expect(session.connectionsOpened == 1, "no second connection")
    }

    @Test("a slowloris server (headers dribbled a byte at a time) is cut off at the total timeout")
    func slowloris() throws {
        let server = try ScriptedHTTPServer(mode: "slowloris")
        let start = monotonicNow()
        do {
            _ = try get(session(server), server.url(), total: 1)
            Issue.record("the dribbled response was accepted")
        } catch {
            #expect(error.code == .timeout, "\(error)")
            #expect(error.message.contains("total timeout"), "\(error)")
        }
        let elapsed = monotonicNow() - start
        #expect(elapsed >= 0.9 && elapsed < 2.5, "gave up after \(elapsed) s")
    }

    @Test("a header flood is refused as too large")
    func headerFlood() throws {
        let server = try ScriptedHTTPServer(mode: "header-flood")
        do {
            _ = try get(session(server), server.url())
            Issue.record("5000 headers were accepted")
        } catch {
            #expect(error.code == .tooLarge, "\(error)")
            #expect(error.message.contains("100 headers"), "\(error)")
        }
    }

    @Test("a body over the cap is refused as too large")
    func bodyCap() throws {
        let server = try ScriptedHTTPServer(mode: "normal")
        #expect(throws: HTTPError(.tooLarge, "", url: "")) { _ = try get(session(server, cap: 10), server.url()) }
    }

    @Test("a valid chain for another name (127.0.0.1 asked as localhost) is a TLS error; a pin skips the name")
    func wrongHostName() throws {
        let server = try ScriptedHTTPServer(mode: "normal")
        do {
            _ = try get(session(server), server.url(host: "localhost"))
            Issue.record("a certificate for 127.0.0.1 was accepted for localhost")
        } catch {
            #expect(error.code == .tls, "\(error)")
            #expect(error.message.contains("hostname mismatch"), "\(error)")
        }
        let certificate = try Certificate.parse(pemOrDER: Fixtures.readFile(server.pki.serverCertificate))[0]
        let pinned = HTTPSession(
            transport: HTTPTransport(trust: .pinnedSPKISHA256(certificate.spkiSHA256), maximumResponseBytes: 1024))
        #expect(try get(pinned, server.url(host: "localhost")) == "connection=2 request=1 path=/x")
        var wrong = certificate.spkiSHA256
        wrong[31] ^= 0x80
        let refused = HTTPSession(
            transport: HTTPTransport(trust: .pinnedSPKISHA256(wrong), maximumResponseBytes: 1024))
        #expect(throws: HTTPError(.tls, "", url: "")) { _ = try get(refused, server.url()) }
    }

    @Test("a CA file that does not exist is a TLS error naming it")
    func missingCAFile() throws {
        let server = try ScriptedHTTPServer(mode: "normal")
        let session = HTTPSession(
            transport: HTTPTransport(trust: .caFile(server.directory + "/absent.pem"), maximumResponseBytes: 1024))
        do {
            _ = try get(session, server.url())
            Issue.record("a missing CA file was accepted")
        } catch {
            #expect(error.code == .tls && error.message.contains("absent.pem"), "\(error)")
        }
    }

    @Test("plain http only when allowed, and then kept alive too")
    func plainHTTP() throws {
        let server = try ScriptedHTTPServer(mode: "normal", tls: false)
        #expect(throws: HTTPError(.insecureURL, "", url: "")) {
            _ = try get(session(server), server.url(scheme: "http"))
        }
        let allowed = session(server, insecure: true)
        #expect(try get(allowed, server.url(scheme: "http")) == "connection=1 request=1 path=/x")
        #expect(try get(allowed, server.url("/y", scheme: "http")) == "connection=1 request=2 path=/y")
    }

    @Test("connection refused is unreachable; a listener that never answers is a timeout at the connect timeout")
    func unreachable() throws {
        let transport = HTTPTransport(maximumResponseBytes: 1024)
        #expect(throws: HTTPError(.unreachable, "", url: "")) {
            _ = try transport.perform(
                method: "GET", url: "https://127.0.0.1:\(try ClosedPort.reserve())/", connectTimeout: 1,
                totalTimeout: 2)
        }
        let silent = try SilentListener()
        let start = monotonicNow()
        #expect(throws: HTTPError(.timeout, "", url: "")) {
            _ = try transport.perform(method: "GET", url: silent.url + "/", connectTimeout: 0.5, totalTimeout: 5)
        }
        #expect(monotonicNow() - start < 2)
    }

    @Test("the RCAR exchange (auth, attest, two resources) runs over one TLS connection")
    func kbsOneConnection() throws {
        let kbs = try StubKBS()
        let relay = try CountingRelay(upstreamPort: try #require(UInt16(kbs.url.split(separator: ":").last ?? "")))
        let client = try KBSClient(
            configuration: KBSClientConfiguration(
                brokerURL: "https://127.0.0.1:\(relay.port)", trust: .caFile(kbs.pki.caPEM), deadlineSeconds: 10),
            attester: SampleAttester())
        let resource = try #require(ResourcePath("default/test/key"))
        #expect(try client.fetch(resource).unsafeCopyToArray() == Array("stub-secret-value".utf8))
        #expect(try client.fetch(resource).unsafeCopyToArray() == Array("stub-secret-value".utf8))
        #expect(client.attestationCount == 1)
        #expect(relay.accepted == 1, "one TCP connection, so one TLS handshake, for the whole exchange")
    }
}
