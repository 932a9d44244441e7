// SPDX-License-Identifier: Apache-2.0
// The TDX event logs the agent sends: the CCEL read from ACPI (a fake tree holding the GCP corpus log),
// ccagent's runtime log of RTMR3 extensions, and the simulated TD's CCEL and RTMRs.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import TEEDevice
import TEEEvidence
import TEESimulator
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fake root with the CCEL table and log area at their sysfs paths.
private func ccelTree(table: [UInt8]? = nil, data: [UInt8]? = nil) throws -> String {
    let root = try Fixtures.temporaryDirectory("ccagent-ccel-tree")
    var prefix = root
    for component in ["sys", "firmware", "acpi", "tables", "data"] {
        prefix += "/" + component
        mkdir(prefix, 0o755)
    }
    mkdir(root + "/run", 0o755)
    try FileIO.writeAtomically(
        path: root + "/sys/firmware/acpi/tables/CCEL", bytes: table ?? Fixtures.bytes("tdx/gcp-cos113-ccel-table.dat"))
    try FileIO.writeAtomically(
        path: root + "/sys/firmware/acpi/tables/data/CCEL",
        bytes: data ?? Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat"))
    return root
}

/// RTMR3 as a file: what the kernel's `rtmr3:sha384` does, for the runtime log's writer.
private struct FileMeasurer: RuntimeMeasurer {
    let directory: String
    var runtimeLogPath: String { directory + "/run/ccagent/eventlog" }
    var fails = false

    func extendRTMR3(digest: [UInt8]) throws(DeviceError) {
        if fails { throw DeviceError(.system, "simulated sysfs failure") }
        let path = directory + "/rtmr3"
        let old = (try? FileIO.read(path: path, limit: 48)) ?? [UInt8](repeating: 0, count: 48)
        do {
            try FileIO.writeAtomically(path: path, bytes: DigestAlgorithm.sha384.hash(old + digest))
        } catch {
            throw DeviceError(.system, "\(error)")
        }
    }
}

@Suite("TDX event logs (agent side)")
struct TDXEventLogTests {
    @Test("the CCEL is sent as upstream's attester sends it: its used part, then 0xFF×8")
    func firmwareLog() throws {
        let root = try ccelTree()
        defer { Fixtures.removeTree(root) }
        let source = TDXEventLogSource(root: root)
        let log = try #require(try source.evidenceLog())
        #expect(log.count == 18101 + 8)
        #expect(Array(log.prefix(18101)) == Array(try Fixtures.bytes("tdx/gcp-cos113-ccel-data.dat").prefix(18101)))
        #expect(Array(log.suffix(8)) == CCELEventLog.endMarker)
        // And it still replays to the GCP quote's RTMRs.
        let quote = try TDXQuote(parsing: Fixtures.bytes("tdx/gcp-cos113-v4-quote.dat"))
        #expect(TDXEventLogCheck(log: try CCELEventLog(parsing: log)).evaluate(quote).failures.isEmpty)
    }

    @Test("the kernel device for TDX (configfs-tsm) reads the event logs under the same platform root")
    func platformDevice() throws {
        let root = try ccelTree()
        defer { Fixtures.removeTree(root) }
        _ = try Subprocess.run(["/bin/mkdir", "-p", root + "/proc", root + "/sys/kernel/config/tsm/report"])
        try FileIO.writeAtomically(path: root + "/proc/cpuinfo", bytes: Array("flags\t: fpu tdx_guest\n".utf8))
        let device = try #require(try Platform.openDevice(preferring: .tdx, root: root) as? TSMReportDevice)
        #expect(device.eventLog.data == root + "/sys/firmware/acpi/tables/data/CCEL")
        #expect(device.eventLog.runtimeLog == root + RuntimeEventLog.defaultPath)
        #expect(try device.eventLog.evidenceLog()?.count == 18101 + 8)
    }

    @Test("no CCEL and no runtime log: no event log (cc_eventlog null); a log area without its table is still sent")
    func absent() throws {
        let root = try Fixtures.temporaryDirectory("ccagent-ccel-none")
        defer { Fixtures.removeTree(root) }
        #expect(try TDXEventLogSource(root: root).evidenceLog() == nil)
        let dataOnly = try ccelTree()
        defer { Fixtures.removeTree(dataOnly) }
        unlink(dataOnly + "/sys/firmware/acpi/tables/CCEL")
        #expect(try TDXEventLogSource(root: dataOnly).evidenceLog()?.count == 18101 + 8)
    }

    @Test("a table that is not a TDX CCEL, or a log area larger than its LAML, is a clear error")
    func hostileTable() throws {
        var table = try Fixtures.bytes("tdx/gcp-cos113-ccel-table.dat")
        table[36] = 1
        let wrongType = try ccelTree(table: table)
        defer { Fixtures.removeTree(wrongType) }
        let error1 = #expect(throws: DeviceError.self) {
            _ = try TDXEventLogSource(root: wrongType).evidenceLog()
        }
        #expect(error1?.message.contains("not a TDX CCEL") == true, "\(String(describing: error1))")

        var small = try Fixtures.bytes("tdx/gcp-cos113-ccel-table.dat")
        small.replaceSubrange(40..<48, with: [0x00, 0x10, 0, 0, 0, 0, 0, 0])  // LAML 4 KiB, the area is 256 KiB
        let tooLarge = try ccelTree(table: small)
        defer { Fixtures.removeTree(tooLarge) }
        let error2 = #expect(throws: DeviceError.self) {
            _ = try TDXEventLogSource(root: tooLarge).evidenceLog()
        }
        #expect(error2?.message.contains("LAML") == true, "\(String(describing: error2))")

        let garbage = try ccelTree(data: Array("garbage".utf8))
        defer { Fixtures.removeTree(garbage) }
        let error3 = #expect(throws: DeviceError.self) {
            _ = try TDXEventLogSource(root: garbage).evidenceLog()
        }
        #expect(error3?.message.contains("does not parse") == true, "\(String(describing: error3))")
    }

    @Test("a runtime event extends RTMR3 by SHA-384 of its AAEL data and is logged; the replay explains RTMR3")
    func runtimeRecord() throws {
        let root = try ccelTree()
        defer { Fixtures.removeTree(root) }
        let measurer = FileMeasurer(directory: root)
        let source = TDXEventLogSource(root: root)
        let events = [
            try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:one:aa"),
            try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:two:bb"),
        ]
        for event in events { try RuntimeEventLog.record(event, measurer: measurer) }
        let rtmr3 = try FileIO.read(path: root + "/rtmr3", limit: 48)
        let log = try CCELEventLog(parsing: try #require(try source.evidenceLog()))
        #expect(log.events.count == 43 + 2)
        #expect(log.events.suffix(2).compactMap(RuntimeEvent.init) == events)
        let replayed = TDXVerifier.replay(log)
        let gcp = try TDXQuote(parsing: Fixtures.bytes("tdx/gcp-cos113-v4-quote.dat"))
        #expect(Array(replayed[0..<3]) == Array(gcp.body.rtmr[0..<3]))
        #expect(replayed[3] == rtmr3)
        #expect(TDXRuntimeEventCheck().evaluate(log).failures.isEmpty)
        var info = stat()
        #expect(stat(root + "/run/ccagent/eventlog", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o644)
    }

    @Test("when the extension fails the runtime log is restored: log and RTMR3 stay in step")
    func runtimeRollback() throws {
        let root = try Fixtures.temporaryDirectory("ccagent-rtmr")
        defer { Fixtures.removeTree(root) }
        mkdir(root + "/run", 0o755)
        try RuntimeEventLog.record(
            try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:a:1"),
            measurer: FileMeasurer(directory: root))
        let before = try FileIO.read(path: root + "/run/ccagent/eventlog", limit: 4096)
        #expect(throws: DeviceError.self) {
            try RuntimeEventLog.record(
                try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:b:2"),
                measurer: FileMeasurer(directory: root, fails: true))
        }
        #expect(try FileIO.read(path: root + "/run/ccagent/eventlog", limit: 4096) == before)
    }

    @Test("upstream's AAEL vector: 'coco.com some-operation some-content' has Trustee's published digest")
    func aaelVector() throws {
        let event = try RuntimeEvent(domain: "coco.com", operation: "some-operation", content: "some-content")
        #expect(
            Hex.encode(DigestAlgorithm.sha384.hash(event.eventData))
                == "2330183d89750c6a374ac9827d33a33636e7876733544584c8ccc88df0df87eada37e5d71d0773502234c2b5fbc7448e")
    }

    @Test("a corrupt runtime log is refused with what to do, not sent")
    func corruptRuntimeLog() throws {
        let root = try Fixtures.temporaryDirectory("ccagent-rtlog")
        defer { Fixtures.removeTree(root) }
        mkdir(root + "/run", 0o755)
        mkdir(root + "/run/ccagent", 0o755)
        try FileIO.writeAtomically(path: root + "/run/ccagent/eventlog", bytes: [4, 0, 0, 0, 6, 0, 0, 0, 1, 0])
        let error4 = #expect(throws: DeviceError.self) {
            _ = try TDXEventLogSource(root: root).evidenceLog()
        }
        #expect(error4?.message.contains("does not parse") == true, "\(String(describing: error4))")
    }
}

@Suite("TDX simulator event log")
struct SimulatedCCELTests {
    /// A fresh TD sharing the shared simulator's keys (RTMR3 and runtime log are per directory).
    static func freshTD() throws -> SimulatorState {
        let source = SharedSimulators.first.directory
        let copy = try Fixtures.temporaryDirectory("ccagent-sim-td")
        for name in [
            "chip-secret", "vcek.key.pem", "tdx-attestation.key.pem", "pck.key.pem", "ark.pem", "ask.pem", "vcek.pem",
            "tdx-root.pem", "pck.pem", "launch.json",
        ] {
            try FileIO.writeAtomically(path: copy + "/" + name, bytes: Fixtures.readFile(source + "/" + name))
        }
        return try SimulatorState.load(directory: copy)
    }

    @Test("its quote's RTMR0-2 are the replay of its CCEL (TDVF's direct-boot events), RTMR3 zero")
    func replays() throws {
        let state = try Self.freshTD()
        defer { Fixtures.removeTree(state.directory) }
        let evidence = try SimulatedTDXDevice(state: state).evidence(reportData: [1, 2, 3], vmpl: 0)
        let quote = try TDXQuote(parsing: evidence.bytes)
        let log = try CCELEventLog(parsing: try #require(evidence.eventLog))
        #expect(TDXEventLogCheck(log: log).evaluate(quote).failures.isEmpty)
        #expect(quote.body.rtmr[0..<3].allSatisfy { $0 != [UInt8](repeating: 0, count: 48) })
        #expect(quote.body.rtmr[3] == [UInt8](repeating: 0, count: 48))
        let boot = TDXBootDigests(log)
        #expect(boot.kernel != nil && boot.initrd != nil && boot.cmdline != nil)
        let kernel = try #require(log.events.first { $0.eventType == CCELEventType.efiBootServicesApplication })
        #expect(kernel.mrIndex == 2)
        #expect(log.events.filter { $0.eventType == CCELEventType.eventTag }.allSatisfy { $0.mrIndex == 3 })
        // The whole quote still verifies with the simulator's root.
        let result = TDXVerifier.verify(quote: quote, extraRoots: [state.tdxRoot], at: .now)
        #expect(result.trusted, "\(result.failures)")
    }

    @Test("after RTMR3 extensions the CCEL plus the runtime log replays to all four RTMRs")
    func extended() throws {
        let state = try Self.freshTD()
        defer { Fixtures.removeTree(state.directory) }
        let device = SimulatedTDXDevice(state: state)
        for index in 0..<3 {
            try RuntimeEventLog.record(
                try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:\(index):x"), measurer: device)
        }
        let evidence = try device.evidence(reportData: [], vmpl: 0)
        let quote = try TDXQuote(parsing: evidence.bytes)
        let log = try CCELEventLog(parsing: try #require(evidence.eventLog))
        #expect(quote.body.rtmr[3] != [UInt8](repeating: 0, count: 48))
        #expect(log.events.compactMap(RuntimeEvent.init).count == 3)
        #expect(TDXEventLogCheck(log: log).evaluate(quote).failures.isEmpty)
    }

    @Test("the offline verifier: the agent's log verifies; a runtime event's text changed after measuring is named")
    func offlineVerifier() throws {
        let state = try Self.freshTD()
        defer { Fixtures.removeTree(state.directory) }
        let device = SimulatedTDXDevice(state: state)
        try RuntimeEventLog.record(
            try RuntimeEvent(domain: "ccagent", operation: "unlocked", content: "v1:disk:01"), measurer: device)
        let evidence = try device.evidence(reportData: [], vmpl: 0)
        let log = try #require(evidence.eventLog)
        let good = try EvidenceVerifier.verifyTDX(
            quote: evidence.bytes, eventLog: log, trustRoots: [(name: "sim", bytes: Array(state.tdxRoot.pem.utf8))],
            at: .now)
        #expect(good.trusted, "\(good.failures)")
        var forged = log
        let at = try #require(
            (0...(forged.count - 4)).first { Array(forged[$0..<$0 + 4]) == Array("disk".utf8) })
        forged[at] = UInt8(ascii: "D")
        let bad = try EvidenceVerifier.verifyTDX(
            quote: evidence.bytes, eventLog: forged, trustRoots: [(name: "sim", bytes: Array(state.tdxRoot.pem.utf8))],
            at: .now)
        #expect(bad.codes == [.runtimeEventMismatch], "\(bad.failures)")
    }

    @Test("a state directory from before RTMR3 existed loads (RTMR3 zero); a corrupt RTMR3 is a clear error")
    func stateCompatibility() throws {
        let state = try Self.freshTD()
        defer { Fixtures.removeTree(state.directory) }
        #expect(access(state.directory + "/rtmr3", F_OK) != 0)
        #expect(try state.rtmr3() == [UInt8](repeating: 0, count: 48))
        try FileIO.writeAtomically(path: state.directory + "/rtmr3", bytes: [1, 2, 3])
        let error5 = #expect(throws: DeviceError.self) {
            _ = try SimulatedTDXDevice(state: state).evidence(reportData: [], vmpl: 0)
        }
        #expect(error5?.message.contains("not 48") == true, "\(String(describing: error5))")
    }
}

/// Trustee's `deps/eventlog/test_data/CCEL_AAEL_alibabacloud` (a CCEL followed by guest-components' AAEL
/// entries), extracted from a fetched mirror of the repository when this machine has one; never copied here.
private let trusteeAAELPath: String? = {
    let gitDirectory = "/work/.mirror/confidential-containers+trustee/repo"
    guard access(gitDirectory, F_OK) == 0, let directory = try? Fixtures.temporaryDirectory("ccagent-trustee-aael")
    else { return nil }
    let path = directory + "/CCEL_AAEL_alibabacloud"
    guard
        let result = try? Subprocess.run([
            "/bin/sh", "-c",
            "/usr/bin/git --git-dir='\(gitDirectory)' show HEAD:deps/eventlog/test_data/CCEL_AAEL_alibabacloud > '\(path)'",
        ]), result.exitCode == 0
    else { return nil }
    return path
}()

@Suite("Upstream runtime log format")
struct UpstreamAAELTests {
    @Test(
        "Trustee's CCEL+AAEL log: the AAEL entries read as runtime events and match their digests",
        .enabled(if: trusteeAAELPath != nil, "needs a fetched copy of confidential-containers/trustee"))
    func trusteeAAEL() throws {
        let log = try CCELEventLog(parsing: Fixtures.readFile(try #require(trusteeAAELPath)))
        let runtime = log.events.compactMap(RuntimeEvent.init)
        #expect(runtime.count == 2)
        #expect(
            runtime.first
                == (try RuntimeEvent(domain: "coco.com", operation: "some-operation", content: "some-content")))
        #expect(log.events.filter { RuntimeEvent($0) != nil }.allSatisfy { $0.mrIndex == RuntimeEvent.mrIndex })
        #expect(TDXRuntimeEventCheck().evaluate(log).failures.isEmpty)
        // Our encoding of the same event is byte-for-byte upstream's entry.
        let ours = try #require(runtime.first)
        let upstream = try #require(log.events.first { RuntimeEvent($0) != nil })
        #expect(ours.event(digest: DigestAlgorithm.sha384.hash(ours.eventData)) == upstream)
    }
}
