// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 over TCP and OpenSSL: the request, the response, and the connection kept between requests.

import AgentBase

/// One HTTP exchange's result.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// The values of the Set-Cookie headers, in order.
    public var setCookies: [String]
    /// The Content-Type value, in lower case.
    public var contentType: String?

    public init(status: Int, body: [UInt8], setCookies: [String] = [], contentType: String? = nil) {
        self.status = status
        self.body = body
        self.setCookies = setCookies
        self.contentType = contentType
    }
}

/// A blocking HTTP/1.1 client with hard limits: no redirects, no proxies, no compression, https only (unless
/// allowed), connect and total timeouts, caps on the headers and the body.
///
/// ``perform(method:url:headers:body:connectTimeout:totalTimeout:)`` opens a connection for one request;
/// ``HTTPSession`` keeps it for the next. Blocking: callers on Swift concurrency or NIO threads must run it
/// off their executor (see `AMDKDS.KDSClient`).
public struct HTTPTransport: Sendable {
    public var trust: TLSTrust
    public var allowInsecureHTTP: Bool
    public var maximumResponseBytes: Int

    public init(trust: TLSTrust = .systemCAs, allowInsecureHTTP: Bool = false, maximumResponseBytes: Int) {
        self.trust = trust
        self.allowInsecureHTTP = allowInsecureHTTP
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// Performs one request on a connection of its own. Throws ``HTTPError`` for transport failures; HTTP
    /// error statuses are returned.
    ///
    /// A header written `Name:` with nothing after the colon is dropped (it names a header not to send).
    public func perform(
        method: String, url: String, headers: [String] = [], body: [UInt8]? = nil, connectTimeout: Double,
        totalTimeout: Double
    ) throws(HTTPError) -> HTTPResponse {
        let session = HTTPSession(transport: self)
        defer { session.close() }
        return try session.perform(
            method: method, url: url, headers: headers, body: body, connectTimeout: connectTimeout,
            totalTimeout: totalTimeout)
    }
}

/// One kept-alive connection (one TLS handshake) for a sequence of requests to the same scheme, host and
/// port, as HTTP/1.1 allows: reused while the server keeps it open, replaced when it closes or the origin
/// changes. A reused connection found closed before any byte of the response arrived is replaced once,
/// transparently; a failure after that is the caller's.
///
/// Not thread-safe: one flow uses one session.
public final class HTTPSession {
    public let transport: HTTPTransport
    private var connection: Connection?
    private var tls: TLSContext?
    /// Connections opened (TLS handshakes, for https) over the session's life.
    public private(set) var connectionsOpened = 0

    public init(transport: HTTPTransport) {
        self.transport = transport
    }

    deinit { close() }

    /// Closes the kept connection, if any.
    public func close() {
        connection?.close()
        connection = nil
    }

    /// Performs one request, on the kept connection when it is still open. See
    /// ``HTTPTransport/perform(method:url:headers:body:connectTimeout:totalTimeout:)``.
    public func perform(
        method: String, url: String, headers: [String] = [], body: [UInt8]? = nil, connectTimeout: Double,
        totalTimeout: Double
    ) throws(HTTPError) -> HTTPResponse {
        do throws(HTTPError) {
            let target = try HTTPURL(url, allowHTTP: transport.allowInsecureHTTP)
            let budget = Budget(connectTimeout: connectTimeout, totalTimeout: totalTimeout, url: url)
            let request = try Self.request(method: method, url: target, headers: headers, body: body)
            if let kept = connection, kept.origin != target.origin || !kept.isReusable() { close() }
            var reused = connection != nil
            while true {
                let current: Connection
                if let connection {
                    current = connection
                } else {
                    current = try open(target, budget: budget)
                }
                do throws(ConnectionFailure) {
                    let (response, reusable) = try exchange(
                        current, request: request, bodyless: method == "HEAD", budget: budget)
                    if !reusable { close() }
                    return response
                } catch {
                    close()
                    if reused && error.closedBeforeResponse && error.error.code == .unreachable {
                        reused = false
                        continue
                    }
                    throw error.error
                }
            }
        } catch {
            // Every failure names the URL asked for, whatever layer noticed it.
            throw HTTPError(error.code, error.message, url: url, handshakeIncomplete: error.handshakeIncomplete)
        }
    }

    private func open(_ target: HTTPURL, budget: Budget) throws(HTTPError) -> Connection {
        var context: TLSContext?
        if target.isTLS {
            if tls == nil { tls = try TLSContext(trust: transport.trust, url: budget.url) }
            context = tls
        }
        let opened = try Connection.open(target, tls: context, budget: budget)
        connectionsOpened += 1
        connection = opened
        return opened
    }

    /// Sends the request and reads the response; the flag says whether the connection may be kept.
    private func exchange(
        _ connection: Connection, request: [UInt8], bodyless: Bool, budget: Budget
    )
        throws(ConnectionFailure) -> (HTTPResponse, Bool)
    {
        var parser = HTTPResponseParser(
            limits: .init(maximumBodyBytes: transport.maximumResponseBytes), bodyless: bodyless)
        var surplus = false
        do throws(HTTPError) {
            try connection.send(request, budget: budget)
        } catch {
            throw ConnectionFailure(error: error, closedBeforeResponse: true)
        }
        while parser.response == nil {
            let bytes: [UInt8]
            do throws(HTTPError) {
                bytes = try connection.receive(budget: budget)
            } catch {
                throw ConnectionFailure(error: error, closedBeforeResponse: !parser.hasConsumedBytes)
            }
            do throws(HTTPParseError) {
                if bytes.isEmpty {
                    if connection.isTLS && !connection.closedCleanly && parser.readsUntilClose {
                        throw HTTPParseError(
                            .truncated,
                            "the server closed the connection without TLS close_notify, so a body read until the "
                                + "close may be truncated")
                    }
                    try parser.finish()
                } else {
                    surplus = try parser.feed(bytes[...]) < bytes.count
                }
            } catch {
                let code: HTTPError.Code =
                    error.kind == .tooLarge || error.kind == .headersTooLarge ? .tooLarge : .unreachable
                let message =
                    switch error.kind {
                    case .malformed: "the server's response is not valid HTTP/1.1: \(error.message)"
                    case .tooLarge:
                        "the response exceeded \(transport.maximumResponseBytes) bytes and was abandoned "
                            + "(\(error.message))"
                    case .headersTooLarge:
                        "the response headers exceeded their limits and were abandoned: \(error.message)"
                    case .truncated: error.message
                    }
                throw ConnectionFailure(
                    error: HTTPError(code, message, url: budget.url),
                    closedBeforeResponse: bytes.isEmpty && !parser.hasConsumedBytes)
            }
        }
        guard let parsed = parser.response else {
            throw ConnectionFailure(
                error: HTTPError(.unreachable, "no response", url: budget.url), closedBeforeResponse: false)
        }
        // Bytes after the response were never asked for (no pipelining): the connection is not trusted again.
        // Nor after an error status: servers often answer those without reading the request body, whose
        // unread rest would then be taken for the next request.
        let reusable = parsed.keepAlive && !surplus && parsed.status < 400
        let response = HTTPResponse(
            status: parsed.status, body: parsed.body, setCookies: parsed.values(of: "set-cookie"),
            contentType: parsed.values(of: "content-type").first.map { HTTPResponseParser.asciiLowercased($0.utf8) })
        return (response, reusable)
    }

    /// The request head and body. Caller headers are `Name: value`; Host, Content-Length, Connection and
    /// Transfer-Encoding are the transport's own.
    static func request(
        method: String, url: HTTPURL, headers: [String], body: [UInt8]?
    ) throws(HTTPError)
        -> [UInt8]
    {
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPResponseParser.isTokenByte) else {
            throw HTTPError(.unreachable, "the method '\(method)' is not a token", url: "")
        }
        let defaultPort: UInt16 = url.isTLS ? 443 : 80
        var head = "\(method) \(url.target) HTTP/1.1\r\n"
        head += "Host: \(url.hostForHeader)" + (url.port == defaultPort ? "" : ":\(url.port)") + "\r\n"
        var hasAccept = false
        var lines: [String] = []
        for header in headers {
            let bytes = Array(header.utf8)
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                bytes[..<colon].allSatisfy(HTTPResponseParser.isTokenByte),
                bytes[(colon + 1)...].allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
            else {
                throw HTTPError(.unreachable, "refusing a malformed request header (name: value on one line)", url: "")
            }
            let name = HTTPResponseParser.asciiLowercased(bytes[..<colon])
            if ["host", "content-length", "connection", "transfer-encoding"].contains(name) { continue }
            if bytes[(colon + 1)...].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            if name == "accept" { hasAccept = true }
            lines.append(header)
        }
        if !hasAccept { head += "Accept: */*\r\n" }
        for line in lines { head += line + "\r\n" }
        head += "Connection: keep-alive\r\n"
        if let body {
            head += "Content-Length: \(body.count)\r\n"
        } else if method == "POST" || method == "PUT" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }
}
