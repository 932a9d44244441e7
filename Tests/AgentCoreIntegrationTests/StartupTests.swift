// SPDX-License-Identifier: Apache-2.0
// What a process maps at start: libcryptsetup and libsystemd are loaded on first use (dlopen), so a
// command that opens no volume and logs nothing to the journal never maps them or their dependencies;
// a missing libcryptsetup is an error that names it, not a failure of the dynamic loader at start.

import AgentBase
import TestSupport
import Testing

@testable import Cryptsetup

@Suite("Start-up: lazily loaded libraries", .tags(.integration))
struct StartupTests {
    /// The shared objects the dynamic loader reports opening (LD_DEBUG=files) while running `arguments`.
    static func loadedObjects(_ arguments: [String]) throws -> (output: String, objects: [String]) {
        let result = try Subprocess.run([Binaries.ccagent] + arguments, environment: ["LD_DEBUG": "files"])
        // Lines such as "  1234:\tfile=libcrypto.so.3 [0];  needed by ./ccagent [0]".
        let objects = result.output.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            .filter { $0.hasPrefix("file=") }.map { String($0.dropFirst(5)) }
        return (result.output, objects)
    }

    @Test("`ccagent --version` maps neither libcryptsetup nor libsystemd nor their dependencies")
    func versionMapsNoVolumeLibraries() throws {
        let (output, objects) = try Self.loadedObjects(["--version"])
        #expect(objects.contains { $0.hasPrefix("libcrypto.so") }, "LD_DEBUG gave no file list: \(output)")
        for library in ["libcryptsetup", "libsystemd", "libdevmapper", "libargon2", "libjson-c", "libgcrypt"] {
            #expect(!objects.contains { $0.hasPrefix(library) }, "\(library) mapped at start: \(objects)")
        }
    }

    @Test("a command that opens a volume loads libcryptsetup then")
    func volumeCommandLoadsCryptsetup() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-startup")
        defer { Fixtures.removeTree(directory) }
        let image = directory + "/not-luks.img"
        try Subprocess.run(["/usr/bin/truncate", "-s", "1M", image]).check()
        let (output, objects) = try Self.loadedObjects(["volumes", image])
        #expect(objects.contains(CryptsetupLibrary.soname), "\(output)")
    }

    @Test("a missing libcryptsetup is an error naming the library, and nothing is half-loaded")
    func missingLibrary() throws {
        guard case .failure(let error) = CryptsetupLibrary.load(soname: "libcryptsetup-absent.so.99") else {
            Issue.record("an absent library loaded")
            return
        }
        #expect(error.isLibraryUnavailable)
        #expect(!error.isWrongKey)
        #expect(error.errorCode.description == "cryptsetup.unavailable")
        #expect(error.description.contains("libcryptsetup-absent.so.99 could not be loaded"), "\(error)")
        #expect(error.description.contains("install libcryptsetup12"), "\(error)")
    }

    @Test("a library without the crypt_* functions is refused, naming what is missing")
    func libraryWithoutSymbols() throws {
        guard case .failure(let error) = CryptsetupLibrary.load(soname: "libc.so.6") else {
            Issue.record("libc was accepted as libcryptsetup")
            return
        }
        #expect(error.description.contains("missing crypt_init"), "\(error)")
        #expect(error.description.contains("crypt_activate_by_passphrase"), "\(error)")
    }

    /// Modules kept out of the agent for their size (issue #19): the regex engine (~0.9 MB of a static
    /// release binary, pulled in by a single `String.contains(String)`) and Foundation.
    @Test("ccagent refers to nothing from the regex module or Foundation")
    func noRegexNoFoundation() throws {
        let result = try Subprocess.run(["/usr/bin/nm", "-u", Binaries.ccagent])
        try result.check()
        let symbols = result.output.split(separator: "\n")
        #expect(symbols.count > 100, "nm listed no undefined symbols: \(result.output.prefix(500))")
        for module in ["17_StringProcessing", "12_RegexParser", "10Foundation", "20FoundationEssentials"] {
            let uses = symbols.filter { $0.containsText(module) }
            #expect(uses.isEmpty, "ccagent uses \(module): \(uses.prefix(5)) (find the call with swift demangle)")
        }
    }

    @Test("the installed libcryptsetup loads with every function ccagent calls")
    func installedLibraryLoads() throws {
        guard case .success = CryptsetupLibrary.shared else {
            Issue.record("libcryptsetup did not load: \(CryptsetupLibrary.shared)")
            return
        }
    }
}
