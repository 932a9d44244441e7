// SPDX-License-Identifier: Apache-2.0
// FileIO.readSecret: a secret file (or standard input) read straight into zeroizing memory.

import AgentBase
import AgentCore
import SecureMemory
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Sealed secrets: reading secret files")
struct SecretFileIOTests {
    /// Expects `body` to throw a FileIOError with exactly these fields.
    func expectFileError(
        _ operation: String, _ path: String, _ errno: Int32, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("no error", sourceLocation: sourceLocation)
        } catch let error as FileIOError {
            #expect(
                error.operation == operation && error.path == path && error.errno == errno, "\(error)",
                sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    @Test("reads the exact bytes of a file, at the limit too", arguments: [0, 1, 32, 4095, 4096, 4097, 70_000])
    func exactBytes(count: Int) throws {
        let path = try Fixtures.temporaryDirectory() + "/key"
        try FileIO.writeAtomically(path: path, bytes: pattern(count))
        #expect(try FileIO.readSecret(path: path, limit: 1 << 20).unsafeCopyToArray() == pattern(count))
        #expect(try FileIO.readSecret(path: path, limit: count).unsafeCopyToArray() == pattern(count))
    }

    @Test("a file over the limit is refused with EFBIG; a missing one with ENOENT")
    func refusals() throws {
        let directory = try Fixtures.temporaryDirectory()
        try FileIO.writeAtomically(path: directory + "/big", bytes: pattern(4097))
        expectFileError("read", directory + "/big", EFBIG) {
            _ = try FileIO.readSecret(path: directory + "/big", limit: 4096)
        }
        expectFileError("read", directory + "/big", EFBIG) {
            _ = try FileIO.readSecret(path: directory + "/big", limit: 0)
        }
        expectFileError("open", directory + "/absent", ENOENT) {
            _ = try FileIO.readSecret(path: directory + "/absent", limit: 4096)
        }
    }

    @Test("reads a pipe (no size known ahead) to its end, growing its buffer; over the limit is refused")
    func pipeInput() throws {
        for (count, limit) in [(50_000, 60_000), (50_000, 50_000), (50_001, 50_000), (0, 10)] {
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            let bytes = pattern(count)
            let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
            #expect(written == count)
            close(ends[1])
            defer { close(ends[0]) }
            if count <= limit {
                let secret = try FileIO.readSecret(fileDescriptor: ends[0], limit: limit, name: "standard input")
                #expect(secret.unsafeCopyToArray() == bytes)
            } else {
                expectFileError("read", "standard input", EFBIG) {
                    _ = try FileIO.readSecret(fileDescriptor: ends[0], limit: limit, name: "standard input")
                }
            }
        }
    }

    @Test("error messages name the path, never the content")
    func messages() throws {
        let path = try Fixtures.temporaryDirectory() + "/key"
        try FileIO.writeAtomically(path: path, bytes: Array("hunter2-hunter2".utf8))
        do {
            _ = try FileIO.readSecret(path: path, limit: 4)
            Issue.record("read over the limit")
        } catch {
            #expect("\(error)".contains(path))
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}
