// SPDX-License-Identifier: Apache-2.0
// The CCEL reader and writer against real logs: Google Cloud's (corpus) and, where a fetched Trustee
// copy is on this machine, Trustee's OVMF direct-boot log with its published event digests.

import AgentBase
import TEEEvidence
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("CCEL event log")
struct CCELTests {
    @Test("GCP COS 113: 43 events in 18101 used bytes; re-encoding each event gives the firmware's bytes exactly")
    func gcpRoundTrip() throws {
        let area = try Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat")
        let log = try CCELEventLog(parsing: area)
        #expect(log.events.count == 43)
        #expect(log.usedByteCount == 18101)
        #expect(area[log.usedByteCount..<log.usedByteCount + 8].allSatisfy { $0 == 0xFF }, "fill follows")
        let headerSize = 32 + Int(area[28]) + Int(area[29]) << 8
        #expect(Array(area[headerSize..<log.usedByteCount]) == log.events.flatMap(\.encoded))
    }

    @Test("the wire form (used part, runtime events, 0xFF×8) parses to the same events plus the runtime ones")
    func wireForm() throws {
        let area = try Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat")
        let firmware = try CCELEventLog(parsing: area)
        let runtime = try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:u:m")
        let entry = runtime.event(digest: [UInt8](repeating: 7, count: 48))
        let wire = try CCELEventLog.joining(firmwareArea: area, runtime: entry.encoded)
        #expect(wire.count == 18101 + entry.encoded.count + 8)
        #expect(Array(wire.suffix(8)) == CCELEventLog.endMarker)
        let parsed = try CCELEventLog(parsing: wire)
        #expect(parsed.events == firmware.events + [entry])
        #expect(RuntimeEvent(parsed.events.last!) == runtime)
        #expect(parsed.events.dropLast().allSatisfy { RuntimeEvent($0) == nil })
    }

    @Test("without a firmware log the wire form starts with the SHA-384-only spec-ID header")
    func headerOnly() throws {
        let wire = CCELEventLog.evidenceBytes(firmware: nil, runtime: [])
        let log = try CCELEventLog(parsing: wire)
        #expect(log.events.isEmpty)
        #expect(log.usedByteCount == CCELEventLog.specIDHeader.count)
        #expect(Array(wire.prefix(16)) == [0, 0, 0, 0, 3, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
    }

    @Test("a grub boot (GCP COS) records no TDVF direct-boot kernel, initrd or command-line event")
    func grubHasNoDirectBootEvents() throws {
        let log = try CCELEventLog(parsing: Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat"))
        #expect(TDXBootDigests(log) == TDXBootDigests())
    }

    @Test("runtime events: no spaces in domain or operation, no newline anywhere")
    func runtimeEventFormat() throws {
        #expect(throws: EvidenceError.self) { try RuntimeEvent(domain: "a b", operation: "op", content: "c") }
        #expect(throws: EvidenceError.self) { try RuntimeEvent(domain: "a", operation: "o p", content: "c") }
        #expect(throws: EvidenceError.self) { try RuntimeEvent(domain: "a", operation: "op", content: "c\nd") }
        let event = try RuntimeEvent(domain: "coco.com", operation: "some-operation", content: "some content")
        // Upstream's AAEL tagged event: "AAEL" tag id (little-endian "LEAA"), the length, the text.
        #expect(Array(event.eventData.prefix(8)) == Array("LEAA".utf8) + [36, 0, 0, 0])
        #expect(event.text == "coco.com some-operation some content")
    }

    @Test(
        "Trustee's OVMF log: kernel, command line and initrd digests are the ones Trustee's parser reports",
        .enabled(if: trusteeOVMFPath != nil, "needs a fetched copy of confidential-containers/trustee"))
    func trusteeOVMFDigests() throws {
        let log = try CCELEventLog(parsing: Fixtures.readFile(try #require(Self.trusteeOVMFPath)))
        #expect(log.events.count == 20)
        let boot = TDXBootDigests(log)
        #expect(
            boot.kernel.map { Hex.encode($0) }
                == "a2ccae1e7d6c668ca325bb09c882d8ce44d26d714ba6f58d2e8083fe291a704646afe24a2368bca3341728d78ec80a80")
        #expect(
            boot.cmdline.map { Hex.encode($0) }
                == "4230f84885a6f3f305e91a1955045398bd9edd8ffd2aaf2aab8ad3ac53476c4ac82a3675ef559c4ae949a06e84119fc2")
        #expect(
            boot.initrd.map { Hex.encode($0) }
                == "b15af9286108d3d8c9f794a51409e55bad6334f5d96a1e4469f8df2d75fd69aac648d939e13daf6800e82e6c1f6628c4")
    }

    /// Trustee's `deps/eventlog/test_data/CCEL_data_ovmf` (OVMF direct boot), extracted to a temporary
    /// file from a fetched mirror of the repository when this machine has one; never copied into this one.
    static let trusteeOVMFPath: String? = {
        let gitDirectory = "/work/.mirror/confidential-containers+trustee/repo"
        guard access(gitDirectory, F_OK) == 0, let directory = try? Fixtures.temporaryDirectory("ccagent-trustee")
        else { return nil }
        let path = directory + "/CCEL_data_ovmf"
        guard
            let result = try? Subprocess.run([
                "/bin/sh", "-c",
                "/usr/bin/git --git-dir='\(gitDirectory)' show HEAD:deps/eventlog/test_data/CCEL_data_ovmf > '\(path)'",
            ]), result.exitCode == 0
        else { return nil }
        return path
    }()
}
