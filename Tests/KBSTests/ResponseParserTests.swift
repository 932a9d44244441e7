// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 response parser on well-formed and hostile bytes (no network).

import HTTPClient
import Testing

@Suite("HTTP response parser")
struct ResponseParserTests {
    let limits = HTTPResponseParser.Limits(maximumBodyBytes: 1024)

    func parse(
        _ text: String, atEOF: Bool = false, bodyless: Bool = false
    ) throws(HTTPParseError)
        -> ParsedHTTPResponse?
    {
        try HTTPResponseParser.parse(Array(text.utf8), limits: limits, bodyless: bodyless, atEOF: atEOF)
    }

    func kind(_ text: String, atEOF: Bool = false) -> HTTPParseError.Kind? {
        do {
            _ = try parse(text, atEOF: atEOF)
            return nil
        } catch {
            return error.kind
        }
    }

    /// Feeds `bytes` in pieces of `size` and returns the response and the bytes consumed.
    func feedInPieces(_ bytes: [UInt8], size: Int) throws(HTTPParseError) -> (ParsedHTTPResponse?, Int) {
        var parser = HTTPResponseParser(limits: limits)
        var consumed = 0
        var offset = 0
        while offset < bytes.count && parser.response == nil {
            let end = min(offset + size, bytes.count)
            consumed += try parser.feed(bytes[offset..<end])
            offset = end
        }
        return (parser.response, consumed)
    }

    @Test("a Content-Length response: status, headers in lower case, body, keep-alive")
    func contentLength() throws {
        let response = try #require(
            try parse(
                "HTTP/1.1 200 OK\r\nContent-Type: Application/JSON\r\nSet-Cookie: a=1\r\nSet-Cookie:  b=2 \r\n"
                    + "Content-Length: 5\r\n\r\nhello"))
        #expect(response.status == 200)
        #expect(response.body == Array("hello".utf8))
        #expect(response.values(of: "set-cookie") == ["a=1", "b=2"])
        #expect(response.values(of: "content-type") == ["Application/JSON"])
        #expect(response.keepAlive)
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel") == nil, "incomplete: more bytes needed")
    }

    @Test("a chunked body with extensions and trailers, fed whole or a byte at a time")
    func chunked() throws {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1\r\n \r\n"
            + "A \r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nSURPLUS"
        let bytes = Array(text.utf8)
        for size in [1, 2, 7, bytes.count] {
            let (response, consumed) = try feedInPieces(bytes, size: size)
            let parsed = try #require(response, "piece size \(size)")
            #expect(parsed.body == Array("hello 0123456789".utf8))
            #expect(parsed.keepAlive)
            #expect(consumed == bytes.count - "SURPLUS".utf8.count, "the bytes after the response are left")
        }
    }

    @Test("a body without length runs until the close and ends the connection")
    func untilClose() throws {
        #expect(try parse("HTTP/1.0 200 OK\r\n\r\npartial") == nil)
        let response = try #require(try parse("HTTP/1.0 200 OK\r\n\r\nall of it", atEOF: true))
        #expect(response.body == Array("all of it".utf8))
        #expect(!response.keepAlive)
    }

    @Test("no body for 204, 304 and HEAD; 1xx interim responses are skipped; 101 is refused")
    func bodyless() throws {
        #expect(try parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")?.body == [])
        #expect(try parse("HTTP/1.1 304 Not Modified\r\n\r\n")?.status == 304)
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", bodyless: true)?.body == [])
        let response = try parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 201 Created\r\n"
                + "Content-Length: 2\r\n\r\nok")
        #expect(response?.status == 201 && response?.body == Array("ok".utf8) && response?.headers.count == 1)
        #expect(kind("HTTP/1.1 101 Switching Protocols\r\n\r\n") == .malformed)
        #expect(
            kind(String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 9) + "HTTP/1.1 200 OK\r\n\r\n") == .malformed
        )
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the response")
    func connectionClose() throws {
        #expect(
            try parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n")?.keepAlive
                == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")?.keepAlive == false)
    }

    @Test(
        "ambiguous framing is refused",
        arguments: [
            "Content-Length: 3\r\nTransfer-Encoding: chunked",  // both: the smuggling classic
            "Transfer-Encoding: chunked\r\nContent-Length: 3",
            "Content-Length: 3\r\nContent-Length: 4",  // duplicate, differing
            "Content-Length: 3, 4",
            "Content-Length: -1",  // negative
            "Content-Length: +3",
            "Content-Length: 0x10",
            "Content-Length: 3 3",
            "Content-Length: 1234567890123456789",  // 19 digits: would overflow arithmetic on the way
            "Content-Length:",
            "Transfer-Encoding: gzip, chunked",  // a coding we never asked for
            "Transfer-Encoding: chunked, chunked",
            "Transfer-Encoding: identity",
        ])
    func ambiguousFraming(headers: String) {
        #expect(kind("HTTP/1.1 200 OK\r\n\(headers)\r\n\r\nabcd") == .malformed, "\(headers)")
    }

    @Test("identical repeated Content-Length values are one length")
    func repeatedLength() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc")?.body.count == 3)
    }

    @Test(
        "line endings must be CRLF: a bare LF or CR anywhere in the head or a chunk line is refused",
        arguments: [
            "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
            "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
        ])
    func lineEndings(text: String) {
        #expect(kind(text) == .malformed)
    }

    @Test(
        "malformed heads are refused",
        arguments: [
            "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n",
            "HTTP/1.1 600 X\r\n\r\n", "HTTP/1.1 200 O\u{0}K\r\n\r\n", "ICY 200 OK\r\n\r\n", "<html>\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",  // obsolete line folding
            "HTTP/1.1 200 OK\r\nX : a\r\n\r\n",  // whitespace before the colon
            "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n", "HTTP/1.1 200 OK\r\nX: a\u{7F}\r\n\r\n",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",  // 17 hex digits
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\n",
        ])
    func malformed(text: String) {
        #expect(kind(text) == .malformed)
    }

    @Test("the header block, the header count and the body are capped")
    func caps() {
        let many = String(repeating: "X-Flood: y\r\n", count: 101)
        #expect(kind("HTTP/1.1 200 OK\r\n\(many)\r\n") == .headersTooLarge, "more than 100 headers")
        let long = "X-Long: " + String(repeating: "a", count: 70_000)
        #expect(kind("HTTP/1.1 200 OK\r\n\(long)") == .headersTooLarge, "refused before the line even ends")
        #expect(kind("HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n") == .tooLarge, "refused from the header")
        #expect(kind("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n") == nil, "the cap itself is allowed")
        let chunk = "200\r\n" + String(repeating: "a", count: 512) + "\r\n"
        #expect(kind("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\(chunk)0\r\n\r\n") == nil)
        #expect(kind("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\(chunk)1\r\n") == .tooLarge)
        #expect(kind("HTTP/1.0 200 OK\r\n\r\n" + String(repeating: "a", count: 1025)) == .tooLarge)
        let extensions = "1;" + String(repeating: "e", count: 2000) + "\r\n"
        #expect(kind("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(extensions)") == .malformed)
    }

    @Test("a close before the response is complete is truncation, and says where")
    func truncation() throws {
        #expect(kind("", atEOF: true) == .truncated)
        #expect(kind("HTTP/1.1 200 OK\r\nContent-", atEOF: true) == .truncated)
        #expect(kind("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", atEOF: true) == .truncated)
        do {
            _ = try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", atEOF: true)
            Issue.record("a short body was accepted")
        } catch {
            #expect(error.kind == .truncated && error.message.contains("3 of 10"), "\(error)")
        }
    }
}
