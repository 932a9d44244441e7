// SPDX-License-Identifier: Apache-2.0
// HTTPS through libcurl (OpenSSL): the only file that imports CCurl.

import AgentBase
import CCurl

/// One HTTP exchange's result.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var setCookies: [String]
    public var contentType: String?

    public init(status: Int, body: [UInt8], setCookies: [String] = [], contentType: String? = nil) {
        self.status = status
        self.body = body
        self.setCookies = setCookies
        self.contentType = contentType
    }
}

/// A blocking HTTPS client with hard limits: no redirects, https only (unless allowed), connect and
/// total timeouts, a response size cap.
///
/// Blocking: callers on Swift concurrency or NIO threads must run it off their executor (see
/// `AMDKDS.KDSClient`).
public struct CurlTransport: Sendable {
    public var trust: TLSTrust
    public var allowInsecureHTTP: Bool
    public var maximumResponseBytes: Int

    public init(trust: TLSTrust = .systemCAs, allowInsecureHTTP: Bool = false, maximumResponseBytes: Int) {
        self.trust = trust
        self.allowInsecureHTTP = allowInsecureHTTP
        self.maximumResponseBytes = maximumResponseBytes
    }

    private static let initialised: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    /// The bounded response buffer filled by libcurl's callbacks.
    private final class Sink {
        var body: [UInt8] = []
        var headers: [String] = []
        let limit: Int
        var overflowed = false
        init(limit: Int) { self.limit = limit }
    }

    /// Performs one request. Throws ``HTTPError`` for transport failures; HTTP error statuses are returned.
    public func perform(
        method: String, url: String, headers: [String] = [], body: [UInt8]? = nil, connectTimeout: Double,
        totalTimeout: Double
    ) throws(HTTPError) -> HTTPResponse {
        guard CurlTransport.initialised, let handle = curl_easy_init() else {
            throw HTTPError(.unreachable, "failed to initialise libcurl", url: url)
        }
        defer { curl_easy_cleanup(handle) }
        let sink = Sink(limit: maximumResponseBytes)
        let sinkPointer = Unmanaged.passRetained(sink)
        defer { sinkPointer.release() }

        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }

        let protocols = allowInsecureHTTP ? "http,https" : "https"
        var ok = true
        func set(_ option: CURLoption, _ value: Int) {
            ok = ok && cca_curl_setopt_long(handle, option, value) == CURLE_OK
        }
        func set(_ option: CURLoption, string: String) {
            ok = ok && string.withCString { cca_curl_setopt_pointer(handle, option, $0) } == CURLE_OK
        }
        set(CURLOPT_URL, string: url)
        set(CURLOPT_PROTOCOLS_STR, string: protocols)
        set(CURLOPT_REDIR_PROTOCOLS_STR, string: "https")
        set(CURLOPT_FOLLOWLOCATION, 0)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(connectTimeout * 1000)))
        set(CURLOPT_TIMEOUT_MS, max(1, Int(totalTimeout * 1000)))
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        set(CURLOPT_MAXFILESIZE_LARGE, maximumResponseBytes)
        switch trust {
        case .systemCAs:
            break
        case .caFile(let path):
            set(CURLOPT_CAINFO, string: path)
        case .pinnedSPKISHA256(let digest):
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
            set(CURLOPT_PINNEDPUBLICKEY, string: "sha256//" + base64(digest))
        }
        ok = ok && cca_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, list) == CURLE_OK
        ok = ok && cca_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer.toOpaque()) == CURLE_OK
        ok = ok && cca_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer.toOpaque()) == CURLE_OK
        ok =
            ok
            && cca_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                guard let data, let context else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
                let length = size * count
                guard sink.body.count + length <= sink.limit else {
                    sink.overflowed = true
                    return 0  // aborts the transfer
                }
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
                return length
            } == CURLE_OK
        ok =
            ok
            && cca_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                guard let data, let context else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
                let length = size * count
                guard sink.headers.count < 100 else { return 0 }
                let line = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: min(length, 8192)), as: UTF8.self)
                }
                sink.headers.append(line.trimmingCharacters(in: "\r\n"))
                return length
            } == CURLE_OK
        if method == "POST" {
            let payload = body ?? []
            ok =
                ok && cca_curl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.count)) == CURLE_OK
            ok =
                ok
                && payload.withUnsafeBytes { bytes in
                    // COPYPOSTFIELDS copies, so the buffer need not outlive this call.
                    cca_curl_setopt_pointer(
                        handle, CURLOPT_COPYPOSTFIELDS, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                } == CURLE_OK
        }
        guard ok else { throw HTTPError(.unreachable, "failed to configure libcurl for '\(url)'", url: url) }

        let result = curl_easy_perform(handle)
        if sink.overflowed || result == CURLE_FILESIZE_EXCEEDED {
            throw HTTPError(
                .tooLarge, "the response exceeded \(maximumResponseBytes) bytes and was abandoned", url: url)
        }
        guard result == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(result))
            let code: HTTPError.Code
            switch result {
            case CURLE_OPERATION_TIMEDOUT: code = .timeout
            case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CACERT_BADFILE,
                CURLE_SSL_CERTPROBLEM:
                code = .tls
            case CURLE_UNSUPPORTED_PROTOCOL: code = .insecureURL
            // A handshake cut short (a proxy or port forward whose backend is down) is transient,
            // not a trust failure: it is retried within the deadline like a refused connection.
            default: code = .unreachable
            }
            throw HTTPError(code, reason, url: url, handshakeIncomplete: result == CURLE_SSL_CONNECT_ERROR)
        }
        var status = 0
        _ = cca_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let lower = sink.headers.map { ($0, $0.lowercased()) }
        let cookies = lower.filter { $0.1.hasPrefix("set-cookie:") }.map { String($0.0.dropFirst("set-cookie:".count)) }
        let contentType = lower.first { $0.1.hasPrefix("content-type:") }.map {
            String($0.1.dropFirst("content-type:".count)).trimmingCharacters(in: " ")
        }
        return HTTPResponse(status: status, body: sink.body, setCookies: cookies, contentType: contentType)
    }
}

/// Standard base64 with padding (libcurl's pinned-key syntax); the digest is public.
func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
        let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
        for position in 0..<4 {
            out.append(position <= chunk.count ? alphabet[(value >> (18 - 6 * position)) & 63] : UInt8(ascii: "="))
        }
        index += 3
    }
    return String(decoding: out, as: UTF8.self)
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
