// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the HTTP/1.1 response parser (HTTPClient/ResponseParser.swift, compiled into this target).
//
// The first input byte chooses how the rest is fed (piece size, end of stream, a HEAD request); the rest is the
// response. Properties: no crash or overread; the outcome (response or kind of error) does not depend on how
// the bytes are split into reads; a response respects every limit, consumed no more than it was given, and
// has a final status; re-encoded with a Content-Length it parses back to the same status, headers and body.
//
// `CCAGENT_FUZZ_SEEDS=DIR ./fuzz-http` writes seed responses into DIR and exits.

#if canImport(Glibc)
import Glibc
#endif

let limits = HTTPResponseParser.Limits(
    maximumHeaderBytes: 4096, maximumHeaderCount: 20, maximumBodyBytes: 2048, maximumChunkLineBytes: 64,
    maximumInterimResponses: 3)

enum Outcome: Equatable {
    case incomplete
    case response(ParsedHTTPResponse, consumed: Int)
    case failure(HTTPParseError.Kind)
}

/// Feeds `bytes` in pieces of `piece` bytes, then (if `atEOF`) finishes.
func run(
    _ bytes: [UInt8], piece: Int, atEOF: Bool, bodyless: Bool, limits: HTTPResponseParser.Limits = limits
) -> Outcome {
    var parser = HTTPResponseParser(limits: limits, bodyless: bodyless)
    var consumed = 0
    var offset = 0
    do {
        while offset < bytes.count && parser.response == nil {
            let end = min(offset + piece, bytes.count)
            let used = try parser.feed(bytes[offset..<end])
            precondition(used <= end - offset, "consumed more than given")
            precondition(used == end - offset || parser.response != nil, "stopped early without a response")
            consumed += used
            offset = end
        }
        if atEOF && parser.response == nil { try parser.finish() }
    } catch {
        return .failure(error.kind)
    }
    guard let response = parser.response else { return .incomplete }
    return .response(response, consumed: consumed)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let control = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let atEOF = control & 0x80 != 0
    let bodyless = control & 0x40 == 0x40 && control & 0x20 == 0x20
    let piece = Int(control & 0x1F) + 1
    let whole = run(bytes, piece: bytes.count + 1, atEOF: atEOF, bodyless: bodyless)
    let split = run(bytes, piece: piece, atEOF: atEOF, bodyless: bodyless)
    precondition(whole == split, "the outcome depends on how the bytes were split")
    guard case .response(let response, let consumed) = whole else { return 0 }
    precondition(consumed <= bytes.count)
    precondition((200...599).contains(response.status), "an interim or invalid status was returned")
    precondition(response.body.count <= limits.maximumBodyBytes && response.headers.count <= limits.maximumHeaderCount)
    precondition(!bodyless || response.body.isEmpty)
    precondition(
        response.headers.allSatisfy { field in !field.name.isEmpty && !field.name.utf8.contains { $0 < 0x21 } })
    // Re-encoded with explicit framing, the response parses back the same (under wider header limits: the
    // re-encoding adds a Content-Length, a reason phrase and a space after each colon).
    let kept = response.headers.filter { $0.name != "content-length" && $0.name != "transfer-encoding" }
    let bodyAllowed = !bodyless && response.status != 204 && response.status != 304
    guard bodyAllowed || response.body.isEmpty else { preconditionFailure("a body where none is allowed") }
    var text = "HTTP/1.\(response.minorVersion) \(response.status) R\r\n"
    for field in kept { text += "\(field.name): \(field.value)\r\n" }
    text += "Content-Length: \(response.body.count)\r\n\r\n"
    let encoded = Array(text.utf8) + response.body
    var wider = limits
    wider.maximumHeaderBytes = 1 << 20
    wider.maximumHeaderCount = limits.maximumHeaderCount + 1
    guard
        case .response(let again, let used) = run(
            encoded, piece: encoded.count, atEOF: false, bodyless: bodyless, limits: wider)
    else { preconditionFailure("a parsed response did not re-encode") }
    precondition(used == encoded.count)
    precondition(
        again.status == response.status && again.body == response.body && again.headers.dropLast() == kept[...])
    return 0
}

/// Seeds: well-formed responses of every framing, written when CCAGENT_FUZZ_SEEDS names a directory.
let seeds: [(String, String)] = [
    ("length", "\u{0}HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"),
    ("cookie", "\u{3}HTTP/1.1 200 OK\r\nSet-Cookie: kbs-session-id=abc; Expires=x\r\nContent-Length: 0\r\n\r\n"),
    ("chunked", "\u{5}HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
    ("close", "\u{81}HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html></html>"),
    ("interim", "\u{2}HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"),
    ("head", "\u{60}HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
]

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    guard let directory = getenv("CCAGENT_FUZZ_SEEDS").map({ String(cString: $0) }) else { return 0 }
    for (name, text) in seeds {
        let bytes = Array(text.utf8)
        let fd = open(directory + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0, write(fd, bytes, bytes.count) == bytes.count else { exit(1) }
        close(fd)
    }
    exit(0)
}
