// SPDX-License-Identifier: Apache-2.0
// Azure CVM detection: fake CPUID values, a fake root, a fake vTPM probe.

import AgentBase
import TEEDevice
import TestSupport
import Testing
import VTPM

#if canImport(Glibc)
import Glibc
#endif

/// CPUID answers of a Hyper-V guest with `isolation` (EBX[3:0] of 0x4000000C), or of no hypervisor.
func fakeCPUID(
    hyperV: Bool = true, isolated: Bool = true, rootPartition: Bool = false, isolation: UInt32 = 2
)
    -> CPUIDReader
{
    CPUIDReader { leaf in
        func word(_ text: String) -> UInt32 {
            Array(text.utf8).enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        }
        switch leaf {
        case 1: return [0, 0, hyperV ? 1 << 31 : 0, 0]
        case 0x4000_0000 where hyperV: return [0x4000_000C, word("Micr"), word("osof"), word("t Hv")]
        case 0x4000_0003 where hyperV: return [0, (isolated ? 1 << 22 : 0) | (rootPartition ? 1 << 12 : 0), 0, 0]
        case 0x4000_000C where hyperV: return [0, isolation, 0, 0]
        default: return [0, 0, 0, 0]
        }
    }
}

/// Counts calls (the probe must not run, and so not load libtss2, off Azure).
final class ProbeLog: @unchecked Sendable {
    private let lock = Lock()
    private var paths: [String] = []
    var calls: [String] { lock.withLock { paths } }
    func probe(_ answer: Result<UInt32, VTPMError>) -> HCLReportProbe {
        { path in
            self.lock.withLock { self.paths.append(path) }
            return answer
        }
    }
}

@Suite("Azure CVM detection")
struct AzureDetectionTests {
    /// A fake root with /dev/tpmrm0 (a plain file) when `tpm`.
    func root(tpm: Bool) throws -> String {
        let root = try Fixtures.temporaryDirectory("ccagent-azroot")
        mkdir(root + "/dev", 0o755)
        if tpm { try FileIO.writeAtomically(path: root + "/dev/tpmrm0", bytes: []) }
        return root
    }

    @Test(
        "isolation type and HCL report type agree: an Azure CVM",
        arguments: [
            (UInt32(2), UInt32(2), TEEKind.azSNP, "Azure CVM, SNP via paravisor vTPM"),
            (3, 4, .azTDX, "Azure CVM, TDX via paravisor vTPM"),
        ])
    func azure(isolation: UInt32, reportType: UInt32, kind: TEEKind, name: String) throws {
        let root = try root(tpm: true)
        defer { Fixtures.removeTree(root) }
        let log = ProbeLog()
        let report = Platform.detect(
            root: root, cpuid: fakeCPUID(isolation: isolation), hclProbe: log.probe(.success(reportType)))
        #expect(report.azure == kind)
        #expect(report.usableTEE == kind)
        #expect(report.platformName == name)
        #expect(report.cvm == (kind == .azSNP ? "sev-snp" : "tdx"))
        #expect(log.calls == [root + "/dev/tpmrm0"])
        #expect(report.checks.contains { $0.name == "vtpm-hcl-report" && $0.present })
    }

    @Test("an HCL report of the other type is not trusted as Azure, and status says why")
    func mismatch() throws {
        let root = try root(tpm: true)
        defer { Fixtures.removeTree(root) }
        let report = Platform.detect(
            root: root, cpuid: fakeCPUID(isolation: 2), hclProbe: ProbeLog().probe(.success(4)))
        #expect(report.azure == nil)
        let check = try #require(report.checks.first { $0.name == "vtpm-hcl-report" })
        #expect(!check.present)
        #expect(check.detail.contains("does not match the CPUID isolation type 2"))
    }

    @Test("a vTPM without an HCL report: not Azure, the probe's reason shown")
    func noReport() throws {
        let root = try root(tpm: true)
        defer { Fixtures.removeTree(root) }
        let report = Platform.detect(
            root: root, cpuid: fakeCPUID(isolation: 3),
            hclProbe: ProbeLog().probe(.failure(VTPMError(.unavailable, "NV index 0x01400001 is not defined"))))
        #expect(report.azure == nil)
        #expect(report.checkedSummary.contains("NV index 0x01400001 is not defined"))
    }

    @Test(
        "no hypervisor, no isolation, a root partition, VBS isolation, or no TPM: the vTPM is never opened",
        arguments: [
            fakeCPUID(hyperV: false), fakeCPUID(isolated: false), fakeCPUID(rootPartition: true),
            fakeCPUID(isolation: 1),
        ])
    func notAzure(cpuid: CPUIDReader) throws {
        let root = try root(tpm: true)
        defer { Fixtures.removeTree(root) }
        let log = ProbeLog()
        let report = Platform.detect(root: root, cpuid: cpuid, hclProbe: log.probe(.success(2)))
        #expect(report.azure == nil)
        #expect(log.calls.isEmpty)
        let isolation = try #require(report.checks.first { $0.name == "hyperv-isolation" })
        #expect(!isolation.present)
        #expect(report.checks.contains { $0.name == "vtpm" && $0.detail.contains("not an Azure confidential VM") })
    }

    @Test("isolated but no /dev/tpmrm0: says the TPM driver is missing, probe not run")
    func noTPM() throws {
        let root = try root(tpm: false)
        defer { Fixtures.removeTree(root) }
        let log = ProbeLog()
        let report = Platform.detect(root: root, cpuid: fakeCPUID(isolation: 2), hclProbe: log.probe(.success(2)))
        #expect(report.azure == nil)
        #expect(log.calls.isEmpty)
        #expect(report.checks.contains { $0.name == "vtpm" && !$0.present && $0.detail.contains("tpm_crb") })
    }

    @Test("this machine's real CPUID: answers without crashing and, off Azure, is not Azure")
    func realCPUID() {
        let type = CPUIDReader.hardware.hyperVIsolationType()
        #expect(type.map { $0 <= 15 } ?? true)
    }

    @Test("the Azure device derives no key and says to use broker sealing")
    func noDerivedKey() {
        let device = AzureVTPMDevice(kind: .azSNP)
        let error = #expect(throws: DeviceError.self) {
            _ = try device.derivedKey(DerivedKeyRequest())
        }
        #expect(error?.message.contains("Seal with the broker") == true, "\(String(describing: error))")
    }
}
