// SPDX-License-Identifier: Apache-2.0
// Tests for the config file and kernel command-line overrides.

import AgentBase
import AgentCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Agent configuration")
struct ConfigurationTests {
    @Test("reads every documented setting from the config file")
    func readsFile() {
        let text = """
            # defaults for the boot unlock
            broker = https://kbs.example:8080
            ca = "/etc/ccagent/broker-ca.pem"
            tee = sim-snp
            deadline = 45
            allow-insecure-http = false
            simulator-dir = /tmp/sim
            """
        let configuration = AgentConfiguration.load(path: "/etc/x.conf", kernelCommandLine: "") { path in
            path == "/etc/x.conf" ? text : nil
        }
        #expect(configuration.brokerURL == "https://kbs.example:8080")
        #expect(configuration.brokerTrust == .caFile("/etc/ccagent/broker-ca.pem"))
        #expect(configuration.tee == .simSNP)
        #expect(configuration.deadlineSeconds == 45)
        #expect(configuration.simulatorDirectory == "/tmp/sim")
        #expect(configuration.warnings.isEmpty)
    }

    @Test("the volumes the boot needs come from rd.luks.*, luks.* and cryptopts=; malformed ones are ignored")
    func bootVolumes() {
        let a = "0f0e0d0c-1111-2222-3333-444455556666"
        let b = "AABBCCDD-1111-2222-3333-444455556666"
        let c = "12345678-aaaa-bbbb-cccc-ddddeeeeffff"
        let d = "87654321-aaaa-bbbb-cccc-ddddeeeeffff"
        let cmdline = [
            "root=/dev/mapper/root", "rd.luks.uuid=luks-\(a)", "rd.luks.name=\(b)=root", "luks.uuid=\(c)",
            "cryptopts=target=data,source=UUID=\(d),luks", "rd.luks.uuid=not-a-uuid", "rd.luks.name==x",
            "cryptopts=target=x,source=/dev/vdb",
        ].joined(separator: " ")
        let configuration = AgentConfiguration.load(path: "/c", kernelCommandLine: cmdline) { _ in nil }
        #expect(configuration.bootVolumeUUIDs == [a, b.lowercased(), c, d])
        #expect(configuration.warnings.isEmpty)
    }

    @Test("the boot waits for crypttab's UUID volumes, not for noauto/nofail ones or other kinds of source")
    func crypttabVolumes() throws {
        let path = "/tmp/ccagent-crypttab-\(getpid())"
        defer { unlink(path) }
        try FileIO.writeAtomically(
            path: path,
            bytes: Array(
                """
                # name   source                                              key   options
                root     UUID=0F0E0D0C-1111-2222-3333-444455556666                none  luks
                data     /dev/disk/by-uuid/12345678-aaaa-bbbb-cccc-ddddeeeeffff   none  luks,discard
                usb      UUID=87654321-aaaa-bbbb-cccc-ddddeeeeffff                none  luks,noauto
                backup   UUID=11111111-aaaa-bbbb-cccc-ddddeeeeffff                none  nofail
                swap     /dev/vdb                                            /dev/urandom  swap
                home     PARTUUID=22222222-aaaa-bbbb-cccc-ddddeeeeffff            none  luks
                """.utf8))
        #expect(
            VolumeInventory.crypttabUUIDs(crypttab: path) == [
                "0f0e0d0c-1111-2222-3333-444455556666", "12345678-aaaa-bbbb-cccc-ddddeeeeffff",
            ])
    }

    @Test("kernel command line overrides the file; other parameters are ignored")
    func kernelCommandLineOverrides() {
        let configuration = AgentConfiguration.load(
            path: "/c", kernelCommandLine: "root=/dev/vda1 quiet ccagent.timeout=12 ccagent.tee=tdx ccagent.disable"
        ) { _ in "deadline = 90\ntee = snp\n" }
        #expect(configuration.deadlineSeconds == 12)
        #expect(configuration.tee == .tdx)
        #expect(configuration.disabled)
    }

    @Test("a bad value is named with its line, ignored, and the default kept")
    func badValuesFallBack() {
        let configuration = AgentConfiguration.load(path: "/c", kernelCommandLine: "ccagent.timeout=soon") { _ in
            "deadline = -3\ntee = sgx\nbroker = ftp://x\nnonsense line\ncolour = blue\npin = abc\n"
        }
        #expect(configuration.deadlineSeconds == 90)
        #expect(configuration.tee == .auto)
        #expect(configuration.brokerURL == nil)
        #expect(configuration.brokerTrust == .systemCAs)
        #expect(configuration.warnings.count == 7)
        #expect(configuration.warnings[0].hasPrefix("/c:1: deadline '-3'"))
        #expect(configuration.warnings.contains { $0.contains("unknown setting 'colour'") })
        #expect(configuration.warnings.contains { $0.contains("kernel command line 'ccagent.timeout'") })
    }

    @Test("a missing file means built-in defaults without warnings")
    func missingFile() {
        let configuration = AgentConfiguration.load(path: "/nonexistent", kernelCommandLine: "") { _ in nil }
        #expect(configuration == AgentConfiguration())
    }

    @Test("a pin is 32 bytes of hex")
    func pin() {
        let pin = String(repeating: "ab", count: 32)
        let configuration = AgentConfiguration.load(path: "/c", kernelCommandLine: "") { _ in "pin = \(pin)" }
        #expect(configuration.brokerTrust == .pinnedSPKISHA256([UInt8](repeating: 0xAB, count: 32)))
    }
}
