// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 response parser: bytes in, a response out. No I/O; the transport feeds it what it reads.
//
// Strict by design (the other end is untrusted): every line ends in CRLF (a bare LF or CR is refused, not
// tolerated as RFC 9112 §2.2 would allow, because lenient line endings are what response splitting and
// smuggling feed on); no obsolete line folding; no whitespace before a header's colon; Content-Length is
// 1 to 18 decimal digits, and repeated Content-Length values must agree; Content-Length together with
// Transfer-Encoding is refused (RFC 9112 §6.3 lets the coding win, we treat it as the attack it usually
// is); the only transfer coding is `chunked` (no compression is ever requested). The header block, the
// header count and the body have hard caps.

/// A response header as received: the name in lower case, the value with surrounding whitespace removed.
public struct HTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A complete response as framed on the wire.
public struct ParsedHTTPResponse: Sendable, Equatable {
    public var status: Int
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]
    /// Whether the connection may carry another request: HTTP/1.1, a length-delimited body (not one read until
    /// the close), and no `Connection: close`.
    public var keepAlive: Bool

    /// The values of every header called `name` (lower case), in order.
    public func values(of name: String) -> [String] {
        headers.filter { $0.name == name }.map(\.value)
    }
}

/// Why a response was refused.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not HTTP/1.x as this parser accepts it (see the file's comment).
        case malformed
        /// The body is over its cap.
        case tooLarge
        /// Over a header limit: the header block's bytes or the header count (trailers alike).
        case headersTooLarge
        /// The connection closed before the response was complete.
        case truncated
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// A push parser for one HTTP/1.x response: ``feed(_:)`` it bytes as they arrive, ``finish()`` it when the
/// peer closes. It consumes exactly the response's bytes (interim 1xx responses are skipped); anything after
/// them is left to the caller.
public struct HTTPResponseParser: Sendable {
    public struct Limits: Sendable, Equatable {
        /// The status line and headers together, CRLFs included (trailers of a chunked body count alike).
        public var maximumHeaderBytes: Int
        public var maximumHeaderCount: Int
        /// The decoded body.
        public var maximumBodyBytes: Int
        /// A chunk-size line, extensions included.
        public var maximumChunkLineBytes: Int
        /// 1xx responses skipped before the final one.
        public var maximumInterimResponses: Int

        public init(
            maximumHeaderBytes: Int = 64 * 1024, maximumHeaderCount: Int = 100, maximumBodyBytes: Int,
            maximumChunkLineBytes: Int = 1024, maximumInterimResponses: Int = 8
        ) {
            self.maximumHeaderBytes = maximumHeaderBytes
            self.maximumHeaderCount = maximumHeaderCount
            self.maximumBodyBytes = maximumBodyBytes
            self.maximumChunkLineBytes = maximumChunkLineBytes
            self.maximumInterimResponses = maximumInterimResponses
        }
    }

    private enum State: Sendable, Equatable {
        case statusLine
        case headers
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailers
        case untilClose
        case done
    }

    public let limits: Limits
    /// The request was HEAD: the response has no body whatever its headers say.
    public let bodyless: Bool
    private var state = State.statusLine
    private var line: [UInt8] = []
    private var sawCR = false
    private var headBytes = 0
    private var trailerCount = 0
    private var interimResponses = 0
    private var status = 0
    private var minorVersion = 1
    private var headers: [HTTPHeaderField] = []
    private var body: [UInt8] = []
    private var keepAlive = false
    /// Bytes consumed over the parser's life (for messages).
    private var consumedTotal = 0
    private var announcedLength = 0

    public init(limits: Limits, bodyless: Bool = false) {
        self.limits = limits
        self.bodyless = bodyless
    }

    /// The response, once complete.
    public var response: ParsedHTTPResponse? {
        guard state == .done else { return nil }
        return ParsedHTTPResponse(
            status: status, minorVersion: minorVersion, headers: headers, body: body, keepAlive: keepAlive)
    }

    /// Whether the body runs until the server closes (no length, not chunked).
    public var readsUntilClose: Bool { state == .untilClose }

    /// Whether any byte was consumed (a reused connection that closes before this is safe to retry).
    public var hasConsumedBytes: Bool { consumedTotal > 0 }

    /// Parses one whole response from `bytes`; `atEOF`: the peer closed after them. nil: more bytes needed.
    /// Bytes after the response are ignored.
    public static func parse(
        _ bytes: [UInt8], limits: Limits, bodyless: Bool = false, atEOF: Bool
    ) throws(HTTPParseError) -> ParsedHTTPResponse? {
        var parser = HTTPResponseParser(limits: limits, bodyless: bodyless)
        _ = try parser.feed(bytes[...])
        if atEOF && parser.response == nil { try parser.finish() }
        return parser.response
    }

    /// Consumes bytes until the response is complete; returns how many it consumed (fewer than given only
    /// when the response completed).
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch state {
            case .done:
                return index - bytes.startIndex
            case .fixedBody(let remaining):
                let take = min(remaining, bytes.endIndex - index)
                body.append(contentsOf: bytes[index..<index + take])
                index += take
                consumedTotal += take
                state = remaining == take ? .done : .fixedBody(remaining: remaining - take)
            case .chunkData(let remaining):
                let take = min(remaining, bytes.endIndex - index)
                body.append(contentsOf: bytes[index..<index + take])
                index += take
                consumedTotal += take
                state = remaining == take ? .chunkDataCR : .chunkData(remaining: remaining - take)
            case .untilClose:
                let take = bytes.endIndex - index
                guard body.count + take <= limits.maximumBodyBytes else {
                    throw HTTPParseError(.tooLarge, "the body exceeded \(limits.maximumBodyBytes) bytes")
                }
                body.append(contentsOf: bytes[index...])
                consumedTotal += take
                index = bytes.endIndex
            case .chunkDataCR, .chunkDataLF:
                let byte = bytes[index]
                index += 1
                consumedTotal += 1
                if state == .chunkDataCR {
                    guard byte == 0x0D else {
                        throw HTTPParseError(.malformed, "a chunk's data is not followed by CRLF (chunk too long?)")
                    }
                    state = .chunkDataLF
                } else {
                    guard byte == 0x0A else { throw HTTPParseError(.malformed, "a chunk's data ends in a bare CR") }
                    state = .chunkSize
                }
            case .statusLine, .headers, .chunkSize, .trailers:
                let byte = bytes[index]
                index += 1
                consumedTotal += 1
                if sawCR {
                    guard byte == 0x0A else {
                        throw HTTPParseError(.malformed, "a bare CR (not followed by LF) in the \(lineKind)")
                    }
                    sawCR = false
                    try endOfLine()
                } else if byte == 0x0D {
                    sawCR = true
                    try countLineByte()
                } else if byte == 0x0A {
                    throw HTTPParseError(.malformed, "a bare LF (without CR) ends a line of the \(lineKind)")
                } else {
                    line.append(byte)
                    try countLineByte()
                }
            }
        }
        return index - bytes.startIndex
    }

    /// The peer closed the connection: completes a body read until the close, or throws ``HTTPParseError/Kind/truncated``.
    public mutating func finish() throws(HTTPParseError) {
        switch state {
        case .done:
            return
        case .untilClose:
            state = .done
        case .statusLine where consumedTotal == 0:
            throw HTTPParseError(.truncated, "the server closed the connection without sending a response")
        case .statusLine, .headers:
            throw HTTPParseError(.truncated, "the server closed the connection inside the response headers")
        case .fixedBody(let remaining):
            throw HTTPParseError(
                .truncated,
                "the server closed the connection after \(announcedLength - remaining) of \(announcedLength) body bytes"
            )
        case .chunkSize, .chunkData, .chunkDataCR, .chunkDataLF, .trailers:
            throw HTTPParseError(
                .truncated, "the server closed the connection inside a chunked body (after \(body.count) bytes)")
        }
    }

    // MARK: Lines

    private var lineKind: String {
        switch state {
        case .statusLine: "status line"
        case .headers: "headers"
        case .trailers: "chunked body's trailers"
        default: "chunked body"
        }
    }

    private mutating func countLineByte() throws(HTTPParseError) {
        if state == .chunkSize {
            guard line.count + (sawCR ? 1 : 0) <= limits.maximumChunkLineBytes else {
                throw HTTPParseError(
                    .malformed, "a chunk-size line is longer than \(limits.maximumChunkLineBytes) bytes")
            }
            return
        }
        headBytes += 1
        guard headBytes + 1 <= limits.maximumHeaderBytes else {
            throw HTTPParseError(
                .headersTooLarge, "the response \(lineKind) exceed \(limits.maximumHeaderBytes) bytes")
        }
    }

    private mutating func endOfLine() throws(HTTPParseError) {
        defer { line.removeAll(keepingCapacity: true) }
        switch state {
        case .statusLine:
            headBytes += 1
            try parseStatusLine()
            state = .headers
        case .headers:
            headBytes += 1
            if line.isEmpty {
                try endOfHead()
            } else {
                guard headers.count < limits.maximumHeaderCount else {
                    throw HTTPParseError(
                        .headersTooLarge, "the response has more than \(limits.maximumHeaderCount) headers")
                }
                headers.append(try Self.headerField(line))
            }
        case .chunkSize:
            let size = try Self.chunkSize(line)
            if size == 0 {
                state = .trailers
                headBytes = 0
                trailerCount = 0
            } else {
                guard size <= limits.maximumBodyBytes - body.count else {
                    throw HTTPParseError(.tooLarge, "the chunked body exceeded \(limits.maximumBodyBytes) bytes")
                }
                state = .chunkData(remaining: size)
            }
        case .trailers:
            headBytes += 1
            if line.isEmpty {
                state = .done
            } else {
                guard trailerCount < limits.maximumHeaderCount else {
                    throw HTTPParseError(
                        .headersTooLarge, "the response has more than \(limits.maximumHeaderCount) trailers")
                }
                _ = try Self.headerField(line)  // validated, then dropped: no caller needs trailers
                trailerCount += 1
            }
        default:
            break
        }
    }

    private mutating func parseStatusLine() throws(HTTPParseError) {
        // HTTP/1.x SP 3DIGIT [SP reason-phrase]
        let prefix = Array("HTTP/1.".utf8)
        guard line.count >= 12, Array(line[0..<7]) == prefix, line[7] == 0x30 || line[7] == 0x31, line[8] == 0x20
        else {
            throw HTTPParseError(.malformed, "the status line is not 'HTTP/1.0' or 'HTTP/1.1' and a status code")
        }
        let digits = line[9..<12]
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), line.count == 12 || line[12] == 0x20 else {
            throw HTTPParseError(.malformed, "the status code is not three digits")
        }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard (100...599).contains(code) else {
            throw HTTPParseError(.malformed, "the status code \(code) is out of range")
        }
        guard line.dropFirst(12).allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw HTTPParseError(.malformed, "the reason phrase has control characters")
        }
        status = code
        minorVersion = Int(line[7] - 0x30)
    }

    private mutating func endOfHead() throws(HTTPParseError) {
        if (100...199).contains(status) {
            guard status != 101 else {
                throw HTTPParseError(.malformed, "the server switched protocols (101), which was not asked for")
            }
            interimResponses += 1
            guard interimResponses <= limits.maximumInterimResponses else {
                throw HTTPParseError(.malformed, "more than \(limits.maximumInterimResponses) interim 1xx responses")
            }
            headers.removeAll()
            headBytes = 0
            state = .statusLine
            return
        }
        var lengths: [String] = []
        var codings: [String] = []
        var close = minorVersion == 0
        for field in headers {
            switch field.name {
            case "content-length": lengths += Self.list(field.value)
            case "transfer-encoding": codings += Self.list(field.value).map { $0.lowercased() }
            case "connection":
                if Self.list(field.value).contains(where: { $0.lowercased() == "close" }) { close = true }
            default: break
            }
        }
        if bodyless || status == 204 || status == 304 {
            keepAlive = !close
            state = .done
            return
        }
        let hasLength = headers.contains { $0.name == "content-length" }
        let hasCoding = headers.contains { $0.name == "transfer-encoding" }
        if hasLength && hasCoding {
            throw HTTPParseError(.malformed, "the response has both Content-Length and Transfer-Encoding")
        }
        if hasCoding {
            guard minorVersion == 1 else {
                throw HTTPParseError(.malformed, "an HTTP/1.0 response with Transfer-Encoding")
            }
            guard codings == ["chunked"] else {
                throw HTTPParseError(
                    .malformed,
                    "the transfer coding '\(codings.joined(separator: ", "))' is not supported (only chunked)")
            }
            keepAlive = !close
            state = .chunkSize
            return
        }
        if hasLength {
            var length: Int?
            for text in lengths {
                let bytes = Array(text.utf8)
                guard (1...18).contains(bytes.count), bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw HTTPParseError(.malformed, "the Content-Length '\(text.prefix(40))' is not a decimal length")
                }
                let value = bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                guard length == nil || length == value else {
                    throw HTTPParseError(.malformed, "the response has differing Content-Length values")
                }
                length = value
            }
            guard let length else { throw HTTPParseError(.malformed, "an empty Content-Length") }
            guard length <= limits.maximumBodyBytes else {
                throw HTTPParseError(
                    .tooLarge, "the response announces \(length) bytes, more than \(limits.maximumBodyBytes)")
            }
            keepAlive = !close
            announcedLength = length
            state = length == 0 ? .done : .fixedBody(remaining: length)
            return
        }
        // No framing: the body runs until the server closes (HTTP/1.0 style); the connection ends with it.
        keepAlive = false
        state = .untilClose
    }

    // MARK: Pure helpers

    /// `name: value` with a token name, no whitespace before the colon, and no control characters in the value.
    static func headerField(_ line: [UInt8]) throws(HTTPParseError) -> HTTPHeaderField {
        guard let first = line.first, first != 0x20, first != 0x09 else {
            throw HTTPParseError(.malformed, "a header line starts with whitespace (obsolete line folding)")
        }
        guard let colon = line.firstIndex(of: 0x3A) else {
            throw HTTPParseError(.malformed, "a header line has no colon")
        }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw HTTPParseError(.malformed, "a header name is empty or not a token (whitespace before the colon?)")
        }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value.removeFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value.removeLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw HTTPParseError(.malformed, "the header '\(asciiLowercased(name))' has control characters")
        }
        return HTTPHeaderField(name: asciiLowercased(name), value: String(decoding: value, as: UTF8.self))
    }

    /// A chunk-size line: 1 to 15 hex digits, optionally whitespace and `;` extensions (ignored).
    static func chunkSize(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        var digits = 0
        var size = 0
        for byte in line {
            let value: Int
            switch byte {
            case 0x30...0x39: value = Int(byte - 0x30)
            case 0x41...0x46: value = Int(byte - 0x41 + 10)
            case 0x61...0x66: value = Int(byte - 0x61 + 10)
            default: value = -1
            }
            if value < 0 { break }
            digits += 1
            guard digits <= 15 else { throw HTTPParseError(.malformed, "a chunk size has more than 15 hex digits") }
            size = size << 4 | value
        }
        guard digits > 0 else { throw HTTPParseError(.malformed, "a chunk-size line does not start with hex digits") }
        var rest = line[digits...]
        while let byte = rest.first, byte == 0x20 || byte == 0x09 { rest.removeFirst() }
        guard rest.isEmpty || rest.first == 0x3B else {
            throw HTTPParseError(.malformed, "a chunk-size line has bytes after the size that are not an extension")
        }
        guard rest.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw HTTPParseError(.malformed, "a chunk extension has control characters")
        }
        return size
    }

    /// The elements of a comma-separated header value, trimmed, empty ones dropped.
    static func list(_ value: String) -> [String] {
        value.split(separator: ",").map { element in
            var slice = Substring(element)
            while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
            while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
            return String(slice)
        }.filter { !$0.isEmpty }
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func asciiLowercased(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
