// SPDX-License-Identifier: Apache-2.0
// The one resolver for the shared hardware evidence corpus (../shared/testvectors) and scratch dirs.

import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Locates the evidence corpus. It is never copied into the repository: tests read it from
/// `../shared/testvectors` beside the checkout, or from `$CCAGENT_TESTVECTORS`.
public enum Fixtures {
    /// The corpus directory. Fails loudly (fatalError) when it is missing: a missing corpus must never
    /// turn into skipped tests that look like passes.
    public static let testVectors: String = {
        if let override = getenv("CCAGENT_TESTVECTORS").map({ String(cString: $0) }), !override.isEmpty {
            return override
        }
        // #filePath = <repo>/Tests/TestSupport/Fixtures.swift → <repo>/../shared/testvectors
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)
        let repo = components.joined(separator: "/")
        let candidate = repo + "/../shared/testvectors"
        guard access(candidate + "/PROVENANCE.md", R_OK) == 0 else {
            fatalError("evidence corpus not found at '\(candidate)'; set CCAGENT_TESTVECTORS")
        }
        return candidate
    }()

    /// The repository root (for committed test data and scripts).
    public static let repositoryRoot: String = {
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)
        return components.joined(separator: "/")
    }()

    /// Reads a corpus file, e.g. `path("snp/turin-v5-report.bin")`.
    public static func bytes(_ relativePath: String) throws -> [UInt8] {
        try readFile(testVectors + "/" + relativePath)
    }

    /// Reads any file into bytes.
    public static func readFile(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes `bytes` to `path` (created or replaced).
    public static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Creates a fresh private temporary directory and returns its path.
    public static func temporaryDirectory(_ prefix: String = "ccagent-test") throws -> String {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard let result = mkdtemp(&template) else {
            throw FixtureError(message: "failed to create a temporary directory: errno \(errno)")
        }
        return String(cString: result)
    }

    /// Removes a directory tree (best effort; for test cleanup).
    public static func removeTree(_ path: String) {
        _ = try? FileManager.default.removeItem(atPath: path)
    }
}

/// An error in the test support itself.
public struct FixtureError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
