// SPDX-License-Identifier: Apache-2.0
// ccagent.conf(5) is written by hand: it must describe exactly the settings docs/configuration.md lists, and
// each of them must be one the parser knows.

import AgentCore
import FoundationEssentials
import TestSupport
import Testing

@Suite("ccagent.conf(5)")
struct ManualPageTests {
    /// The checkout: #filePath is <repo>/Tests/AgentCoreTests/ManualPageTests.swift.
    static let repository = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")

    /// The keys of the settings table in docs/configuration.md (`| \`key\` | … |` rows).
    static func documentedKeys() throws -> Set<String> {
        let text = try String(contentsOfFile: repository + "/docs/configuration.md", encoding: .utf8)
        let section = text.components(separatedBy: "## Kernel command line")[0]
        return Set(
            section.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `") else { return nil }
                return line.dropFirst(3).split(separator: "`").first.map(String.init)
            })
    }

    /// The keys of the KEYS section of the manual page (`.BI key " ARG"` or `.BI key`).
    static func manualKeys() throws -> Set<String> {
        let text = try String(contentsOfFile: repository + "/docs/man/ccagent.conf.5", encoding: .utf8)
        let keys = text.components(separatedBy: ".SH KEYS")[1].components(separatedBy: ".SH ")[0]
        return Set(
            keys.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix(".BI ") else { return nil }
                return line.dropFirst(4).split(separator: " ").first.map { String($0.filter { $0 != "\\" }) }
            })
    }

    @Test("describes exactly the settings docs/configuration.md lists")
    func sameKeys() throws {
        let documented = try Self.documentedKeys()
        let manual = try Self.manualKeys()
        #expect(documented.count >= 18)
        #expect(
            manual == documented,
            "only in the manual: \(manual.subtracting(documented)); only in the docs: \(documented.subtracting(manual))"
        )
    }

    @Test("every described setting is one the parser knows")
    func keysAreKnown() throws {
        for key in try Self.manualKeys() {
            let configuration = AgentConfiguration.load(path: "/x.conf", kernelCommandLine: "") { _ in "\(key) = x\n" }
            #expect(!configuration.warnings.contains { $0.contains("unknown setting") }, "\(key)")
        }
        let typo = AgentConfiguration.load(path: "/x.conf", kernelCommandLine: "") { _ in "brokr = x\n" }
        #expect(typo.warnings.contains { $0.contains("unknown setting 'brokr'") })
    }
}
