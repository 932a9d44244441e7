// SPDX-License-Identifier: Apache-2.0
// A stand-in for Azure's IMDS on 127.0.0.1 (plain HTTP/1.1), answering from the simulator, or with hostile answers.

import AgentBase
import AzureIMDS
import TEEDevice

#if canImport(Glibc)
import Glibc
#endif

/// Serves the two IMDS endpoints the Azure evidence path uses, on 127.0.0.1 and an ephemeral port, from a
/// thread of its own: `GET /metadata/THIM/amd/certification` and `POST /acc/tdquote`, both only with
/// `Metadata: true` (as IMDS requires). `mode` makes it hostile, for the tests that prove the agent and the
/// broker refuse such answers.
public final class StandInIMDS: @unchecked Sendable {
    public enum Mode: Sendable, Equatable {
        /// Answers as IMDS would.
        case normal
        /// A 256 KiB answer.
        case oversized
        /// Text that is not JSON.
        case malformed
        /// A VCEK of another key (the simulated ASK in its place).
        case wrongVCEK
        /// A TD quote for another TDREPORT (REPORTDATA differs).
        case quoteForAnotherReport
        /// HTTP 500.
        case serverError
    }

    public let port: UInt16
    public var url: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let source: any AzureCollateralSource
    private let mode: Mode
    private var thread: pthread_t?
    private let lock = NSLockLite()
    private var requestCount = 0

    /// Requests served so far.
    public var requests: Int { lock.locked { requestCount } }

    public init(source: any AzureCollateralSource, mode: Mode = .normal) throws(DeviceError) {
        self.source = source
        self.mode = mode
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DeviceError(.system, "stand-in IMDS: socket failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw DeviceError(.system, "stand-in IMDS: cannot listen on 127.0.0.1")
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        guard
            pthread_create(
                &handle, nil,
                { raw in
                    guard let raw else { return nil }
                    let server = Unmanaged<StandInIMDS>.fromOpaque(raw).takeRetainedValue()
                    server.serve()
                    return nil
                }, context) == 0
        else {
            Unmanaged<StandInIMDS>.fromOpaque(context).release()
            close(fd)
            throw DeviceError(.system, "stand-in IMDS: cannot start its thread")
        }
        thread = handle
    }

    /// Stops accepting and joins the thread.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                close(listener)
                return
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        var headerEnd: Int?
        var contentLength = 0
        while data.count < 1 << 20 {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { break }
            data += buffer.prefix(count)
            if headerEnd == nil, let end = StandInIMDS.find([13, 10, 13, 10], in: data) {
                headerEnd = end + 4
                let head = String(decoding: data.prefix(end), as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    contentLength = Int(line.dropFirst(15).trimmingCharacters(in: " ")) ?? 0
                }
            }
            if let headerEnd, data.count >= headerEnd + contentLength { break }
        }
        guard let headerEnd else { return }
        lock.locked { requestCount += 1 }
        let head = String(decoding: data.prefix(headerEnd), as: UTF8.self)
        let body = Array(data[headerEnd..<min(data.count, headerEnd + contentLength)])
        let (status, answer) = respond(head: head, body: body)
        let response =
            Array(
                "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nContent-Type: application/json\r\n"
                    .utf8) + Array("Content-Length: \(answer.count)\r\nConnection: close\r\n\r\n".utf8) + answer
        var sent = 0
        while sent < response.count {
            let count = response[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            sent += count
        }
    }

    private func respond(head: String, body: [UInt8]) -> (Int, [UInt8]) {
        let requestLine = head.prefix { $0 != "\r" }
        guard head.lowercased().containsText("\r\nmetadata: true\r\n") else {
            return (400, Array("{\"error\":\"Bad request. Required metadata header not specified\"}".utf8))
        }
        switch mode {
        case .oversized: return (200, [UInt8](repeating: UInt8(ascii: " "), count: 256 * 1024))
        case .malformed: return (200, Array("<html>not json</html>".utf8))
        case .serverError: return (500, Array("{\"error\":\"internal\"}".utf8))
        default: break
        }
        if requestLine.hasPrefix("GET /metadata/THIM/amd/certification ") {
            guard var certificates = try? source.certificates() else { return (500, []) }
            if mode == .wrongVCEK, let ask = certificates.chain.components("-----END CERTIFICATE-----").first {
                certificates.vcek = ask + "-----END CERTIFICATE-----\n"
            }
            return (
                200,
                Array(
                    "{\"vcekCert\":\(StandInIMDS.quoted(certificates.vcek)),\"tcbm\":\"0000000000000000\",\"certificateChain\":\(StandInIMDS.quoted(certificates.chain))}"
                        .utf8)
            )
        }
        if requestLine.hasPrefix("POST /acc/tdquote ") {
            let text = String(decoding: body, as: UTF8.self)
            guard let start = text.range("\"report\":\""),
                let report = Base64URL.decode(String(text[start...].prefix { $0 != "\"" }))
            else { return (400, []) }
            var request = report
            if mode == .quoteForAnotherReport, request.count > 200 { request[130] ^= 0xFF }
            guard let quote = try? source.tdQuote(for: request) else { return (500, []) }
            return (200, Array("{\"quote\":\"\(Base64URL.encode(quote))\"}".utf8))
        }
        return (404, Array("{\"error\":\"not found\"}".utf8))
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count)
        where haystack[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
    }
}

/// A pthread mutex (no Foundation).
final class NSLockLite: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }

    /// The index just after the first occurrence of `needle`.
    fileprivate func range(_ needle: String) -> String.Index? {
        let text = String(self)
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix(needle) { return text.index(index, offsetBy: needle.count) }
            index = text.index(after: index)
        }
        return nil
    }

    fileprivate func components(_ separator: String) -> [String] {
        var parts: [String] = []
        var rest = String(self)
        while let end = rest.range(separator) {
            let start = rest.index(end, offsetBy: -separator.count)
            parts.append(String(rest[..<start]))
            rest = String(rest[end...])
        }
        parts.append(rest)
        return parts
    }
}
