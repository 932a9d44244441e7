// SPDX-License-Identifier: Apache-2.0
// The kernel ABI at the byte level, platform detection and configfs-tsm on trees that imitate sysfs.

import AgentBase
import TEEDevice
import TEEEvidence
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Guest kernel ABI")
struct GuestABITests {
    @Test("request numbers are _IOWR('S', nr, 32 B) and _IOWR('T', 1, 1088 B)")
    func requestNumbers() {
        let numbers = GuestABI.requestNumbers
        #expect(numbers["SNP_GET_REPORT"] == 0xC020_5300)  // dir 3<<30 | size 0x20<<16 | 'S'<<8 | 0
        #expect(numbers["SNP_GET_DERIVED_KEY"] == 0xC020_5301)
        #expect(numbers["SNP_GET_EXT_REPORT"] == 0xC020_5302)
        #expect(numbers["TDX_CMD_GET_REPORT0"] == 0xC440_5401)  // size 0x440 = 1088
    }

    @Test("MSG_KEY_REQ v1 is 32 bytes with every field where the kernel reads it")
    func derivedKeyRequest() {
        let bytes = GuestABI.derivedKeyRequest(
            DerivedKeyRequest(
                rootKey: .vmrk, fields: [.measurement, .policy], vmpl: 2, guestSVN: 0x0102_0304,
                tcbVersion: 0x1122_3344_5566_7788))
        let expected =
            "01000000"  // 0x00 root_key_select = 1 (VMRK)
            + "00000000"  // 0x04 reserved
            + "0900000000000000"  // 0x08 guest_field_select = policy (bit 0) | measurement (bit 3)
            + "02000000"  // 0x10 vmpl
            + "04030201"  // 0x14 guest_svn (little-endian)
            + "8877665544332211"  // 0x18 tcb_version (little-endian)
        #expect(HexString.encode(bytes) == expected)
    }

    @Test("MSG_REPORT_REQ is 96 bytes: user data @0, VMPL @0x40, 28 reserved zero bytes @0x44")
    func reportRequest() {
        let bytes = GuestABI.reportRequest(userData: [0xAA, 0xBB], vmpl: 1)
        #expect(bytes.count == 96)
        #expect(Array(bytes[0..<2]) == [0xAA, 0xBB] && bytes[2..<64].allSatisfy { $0 == 0 })
        #expect(Array(bytes[0x40..<0x44]) == [1, 0, 0, 0])
        #expect(bytes[0x44...].allSatisfy { $0 == 0 })
    }

    @Test("--fields names map to GUEST_FIELD_SELECT bits; unknown names are refused")
    func fieldNames() throws {
        #expect(
            try GuestFieldSelect.parse("policy,image-id,family-id,measurement,guest-svn,tcb-version").get().rawValue
                == 0x3F)
        guard case .failure = GuestFieldSelect.parse("policy,launch-mit") else {
            Issue.record("accepted an unknown field")
            return
        }
    }
}

@Suite("Platform detection and configfs-tsm")
struct PlatformTests {
    func makeTree(_ files: [String: String], directories: [String] = []) throws -> String {
        let root = try Fixtures.temporaryDirectory("ccagent-sysfs")
        for directory in directories { _ = try Subprocess.run(["/bin/mkdir", "-p", root + directory]) }
        for (path, content) in files {
            _ = try Subprocess.run([
                "/bin/mkdir", "-p", root + String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]),
            ])
            try writeText(root + path, content)
        }
        return root
    }

    @Test("no TEE: nothing usable, and the error lists what was checked")
    func noTEE() throws {
        let root = try makeTree(["/proc/cpuinfo": "flags\t: fpu vme sse2\n"])
        defer { Fixtures.removeTree(root) }
        let report = Platform.detect(root: root)
        #expect(report.cvm == "none" && report.usableTEE == nil)
        do {
            _ = try Platform.openDevice(root: root)
            Issue.record("opened a device on a machine without a TEE")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("/dev/sev-guest") && error.message.contains("/sys/kernel/config/tsm/report"))
            #expect(error.message.contains("sim-snp"))
        }
    }

    @Test("an SNP guest is recognised by its VMPL file and its configfs-tsm provider; TDX by its CPU flag")
    func detection() throws {
        let snp = try makeTree([
            "/sys/devices/system/cpu/sev/vmpl": "0\n", "/sys/kernel/config/tsm/report/provider": "sev_guest\n",
        ])
        defer { Fixtures.removeTree(snp) }
        let report = Platform.detect(root: snp)
        #expect(report.cvm == "sev-snp" && report.vmpl == 0 && report.usableTEE == .snp)
        let tdx = try makeTree([
            "/proc/cpuinfo": "flags\t: fpu tdx_guest\n", "/sys/kernel/config/tsm/report/provider": "tdx_guest\n",
        ])
        defer { Fixtures.removeTree(tdx) }
        #expect(Platform.detect(root: tdx).cvm == "tdx")
    }

    @Test("configfs-tsm: a report directory is created, written, read, checked for races and removed")
    func configfsTSM() throws {
        // A plain directory cannot invent outblob on mkdir like configfs does, so the fake provider is
        // pre-populated under a fixed name the device will not pick; this exercises the refusal paths
        // and the cleanup against a tree that is not configfs.
        let root = try makeTree([:], directories: ["/report"])
        defer { Fixtures.removeTree(root) }
        let device = TSMReportDevice(kind: .snp, root: root + "/report")
        do {
            _ = try device.evidence(reportData: [1, 2, 3], vmpl: 0)
            Issue.record("a tree without a provider produced evidence")
        } catch {
            #expect(error.code == .system || error.code == .unavailable)
        }
        let leftovers = try Subprocess.run(["/bin/ls", "-A", root + "/report"]).output
        #expect(leftovers.isEmpty, "the report directory was removed: \(leftovers)")
        #expect(throws: DeviceError.self) { _ = try device.derivedKey(DerivedKeyRequest()) }
    }
}

/// Writes a small text file for the fake trees.
func writeText(_ path: String, _ content: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FixtureError(message: "cannot create \(path)") }
    defer { close(fd) }
    _ = content.withCString { write(fd, $0, strlen($0)) }
}

@Suite("RTMR extension")
struct RTMRTests {
    @Test("extending writes exactly the 48-byte SHA-384 of the event at offset 0; bad indexes are refused")
    func extend() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        try writeText(directory + "/rtmr2:sha384", "")
        try writeText(directory + "/rtmr3:sha384", "")
        #expect(RTMR.isAvailable(directory: directory))
        try RTMR.extend(index: 3, event: Array("ccagent:unlocked:abc".utf8), directory: directory)
        let written = try Fixtures.readFile(directory + "/rtmr3:sha384")
        let expected = try Subprocess.run(["/bin/sh", "-c", "printf '%s' 'ccagent:unlocked:abc' | sha384sum"]).output
        #expect(HexString.encode(written) == String(expected.prefix(96)))
        #expect(throws: DeviceError.self) { try RTMR.extend(index: 4, event: [], directory: directory) }
        #expect(throws: DeviceError.self) { try RTMR.extend(index: 0, event: [], directory: directory) }
    }
}
