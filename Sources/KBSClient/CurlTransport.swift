// SPDX-License-Identifier: Apache-2.0
// HTTPS through libcurl (OpenSSL): the only file that imports CCurl.

import AgentBase
import CCurl
import KBSProtocol

/// One HTTP exchange's result.
struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var setCookies: [String]
    var contentType: String?
}

/// A blocking HTTPS client with hard limits: no redirects, https only (unless allowed), connect and
/// total timeouts, a response size cap.
struct CurlTransport: Sendable {
    var trust: TLSTrust
    var allowInsecureHTTP: Bool
    var maximumResponseBytes: Int

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

    /// Performs one request. Throws ``KBSError`` with a transport code; HTTP errors are returned.
    func perform(
        method: String, url: String, headers: [String], body: [UInt8]?, connectTimeout: Double, totalTimeout: Double
    ) throws -> HTTPResponse {
        guard CurlTransport.initialised, let handle = curl_easy_init() else {
            throw KBSError(.unreachable, "failed to initialise libcurl")
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
            set(CURLOPT_PINNEDPUBLICKEY, string: "sha256//" + Base64.encode(digest))
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
        guard ok else { throw KBSError(.unreachable, "failed to configure libcurl for '\(url)'") }

        let result = curl_easy_perform(handle)
        if sink.overflowed || result == CURLE_FILESIZE_EXCEEDED {
            throw KBSError(
                .responseTooLarge, "the response exceeded \(maximumResponseBytes) bytes and was abandoned", url: url)
        }
        guard result == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(result))
            let code: KBSError.Code
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
            let hint =
                switch (code, result) {
                case (.tls, _): "; the broker's certificate does not match the configured trust — check --ca or --pin"
                case (.unreachable, CURLE_SSL_CONNECT_ERROR):
                    "; the TLS handshake did not complete — check that the broker (not only a proxy in front of it) is running"
                case (.unreachable, _): "; check the URL, the network, and that the broker is running"
                case (.timeout, _): "; the broker did not answer in time"
                default: ""
                }
            throw KBSError(code, reason + hint, url: url)
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

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
