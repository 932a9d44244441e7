// SPDX-License-Identifier: Apache-2.0
// The few URLs the agent requests: scheme://host[:port][/path][?query]; nothing else is accepted.

/// A parsed `http://` or `https://` URL. Public so that every module checks a URL option with the parser
/// the requests use (`try HTTPURL(text, allowHTTP: false)`), rather than with a prefix test.
public struct HTTPURL: Sendable, Equatable {
    public internal(set) var isTLS: Bool
    /// A DNS name or an IP literal (IPv6 without its brackets).
    public internal(set) var host: String
    public internal(set) var port: UInt16
    /// The request target: path and query, at least "/".
    public internal(set) var target: String

    /// The connection key: requests to the same scheme, host and port may share a connection.
    public var origin: String { (isTLS ? "https://" : "http://") + hostForHeader + ":\(port)" }

    var isIPv6Literal: Bool { host.utf8.contains(UInt8(ascii: ":")) }

    /// The host as written in a Host header (IPv6 literals in brackets).
    var hostForHeader: String { isIPv6Literal ? "[\(host)]" : host }

    /// Parses `text`; `allowHTTP`: whether plain http is acceptable.
    public init(_ text: String, allowHTTP: Bool) throws(HTTPError) {
        let bytes = Array(text.utf8)
        let rest: ArraySlice<UInt8>
        if bytes.starts(with: Array("https://".utf8)) {
            isTLS = true
            rest = bytes[8...]
        } else if bytes.starts(with: Array("http://".utf8)) {
            guard allowHTTP else {
                throw HTTPError(
                    .insecureURL, "plain http is not allowed for '\(text)' (https only)", url: text)
            }
            isTLS = false
            rest = bytes[7...]
        } else {
            throw HTTPError(.insecureURL, "the URL '\(text)' is not an http(s) URL", url: text)
        }
        // Only printable ASCII without spaces: what the callers build, and nothing a request line could be
        // split with.
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPError(.unreachable, "the URL '\(text)' has spaces, control or non-ASCII characters", url: text)
        }
        let end =
            rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
            ?? rest.endIndex
        let authority = rest[rest.startIndex..<end]
        var path = Array(rest[end...])
        if let hash = path.firstIndex(of: UInt8(ascii: "#")) { path.removeSubrange(hash...) }
        if path.first == UInt8(ascii: "?") { path.insert(UInt8(ascii: "/"), at: 0) }
        target = path.isEmpty ? "/" : String(decoding: path, as: UTF8.self)
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw HTTPError(.unreachable, "the URL '\(text)' carries credentials, which are not supported", url: text)
        }
        var hostPart = authority
        var portPart: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw HTTPError(.unreachable, "the URL '\(text)' has an unterminated IPv6 address", url: text)
            }
            hostPart = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else {
                    throw HTTPError(.unreachable, "the URL '\(text)' has bytes after its IPv6 address", url: text)
                }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
            hostPart = authority[..<colon]
            portPart = authority[(colon + 1)...]
        }
        guard !hostPart.isEmpty,
            hostPart.allSatisfy({
                HTTPResponseParser.isTokenByte($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "%")
            })
        else {
            throw HTTPError(.unreachable, "the URL '\(text)' has no valid host", url: text)
        }
        host = String(decoding: hostPart, as: UTF8.self)
        if let portPart {
            guard (1...5).contains(portPart.count), portPart.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = UInt16(String(decoding: portPart, as: UTF8.self)), value > 0
            else {
                throw HTTPError(.unreachable, "the URL '\(text)' has an invalid port", url: text)
            }
            port = value
        } else {
            port = isTLS ? 443 : 80
        }
    }
}
