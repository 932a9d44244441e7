// SPDX-License-Identifier: Apache-2.0
// Which TEE this guest runs on, and which kernel interfaces are present and usable.

import CHyperV
import TEEEvidence
import VTPM

#if canImport(Glibc)
import Glibc
#endif

/// What the agent found when it looked for a TEE: one value that `status` shows.
public struct PlatformReport: Sendable, Equatable {
    /// One interface or signal that was checked.
    public struct Check: Sendable, Equatable {
        public var name: String
        public var path: String
        public var present: Bool
        /// Why it is (not) usable, in plain words.
        public var detail: String
    }

    /// `sev-snp`, `tdx` or `none` (like `systemd-detect-virt --cvm`).
    public var cvm: String
    /// The running VMPL on SNP when the kernel says (sysfs), else nil.
    public var vmpl: Int?
    public var kernel: String
    public var checks: [Check]
    /// `.azSNP` / `.azTDX` when this is an Azure confidential VM (Hyper-V isolation + the vTPM's HCL report).
    public var azure: TEEKind?

    /// How `status` names the platform: "Azure CVM, SNP via paravisor vTPM", or the CVM type.
    public var platformName: String {
        switch azure {
        case .azSNP?: "Azure CVM, SNP via paravisor vTPM"
        case .azTDX?: "Azure CVM, TDX via paravisor vTPM"
        default: cvm
        }
    }

    /// The TEE that can produce evidence, if any.
    public var usableTEE: TEEKind? {
        if let azure { return azure }
        if cvm == "sev-snp",
            checks.contains(where: { ($0.name == "sev-guest" || $0.name == "configfs-tsm") && $0.present })
        {
            return .snp
        }
        if cvm == "tdx", checks.contains(where: { $0.name == "configfs-tsm" && $0.present }) { return .tdx }
        return nil
    }

    /// "what was checked", for error messages.
    public var checkedSummary: String {
        checks.map { "\($0.path) (\($0.detail))" }.joined(separator: ", ")
    }
}

/// The CPUID instruction, replaceable in tests: the four registers of a leaf.
public struct CPUIDReader: Sendable {
    public let query: @Sendable (UInt32) -> [UInt32]

    public init(query: @escaping @Sendable (UInt32) -> [UInt32]) { self.query = query }

    /// The real instruction (all zeros on a CPU without CPUID).
    public static let hardware = CPUIDReader { leaf in
        var regs: [UInt32] = [0, 0, 0, 0]
        _ = regs.withUnsafeMutableBufferPointer { cca_cpuid(leaf, $0.baseAddress) }
        return regs
    }

    /// Hyper-V's isolation type (CPUID 0x4000000C EBX[3:0]: 1 = VBS, 2 = SNP, 3 = TDX) when the hypervisor
    /// is Hyper-V ("Microsoft Hv" at 0x40000000), says the partition is isolated (0x40000003 EBX bit 22)
    /// and not the root partition (bit 12), as systemd's detect-virt reads it; nil otherwise.
    public func hyperVIsolationType() -> UInt32? {
        let hypervisorBit = query(1)[2] >> 31 & 1 == 1
        guard hypervisorBit else { return nil }
        let vendor = query(0x4000_0000)
        let signature = [vendor[1], vendor[2], vendor[3]].flatMap { word in
            (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }
        }
        guard signature == Array("Microsoft Hv".utf8), vendor[0] >= 0x4000_000C else { return nil }
        let features = query(0x4000_0003)[1]
        guard features >> 22 & 1 == 1, features >> 12 & 1 == 0 else { return nil }
        return query(0x4000_000C)[1] & 0xF
    }
}

/// Reads the HCL report type (2 = SNP, 4 = TDX) from the vTPM at a device path, or says why not.
public typealias HCLReportProbe = @Sendable (_ devicePath: String) -> Result<UInt32, VTPMError>

/// Detects the platform from sysfs, procfs, device nodes and CPUID (no dmesg, no privileges needed; the
/// vTPM is opened only when CPUID says Hyper-V isolates this VM, so other machines never load libtss2).
public enum Platform {
    /// The default HCL probe: tpm2-tss on the device, NV index 0x01400001, its report type.
    public static let vtpmProbe: HCLReportProbe = { path in
        do throws(VTPMError) {
            let bytes = try AzureVTPM(tpm: try TPM(tcti: "device:" + path)).readHCLReport()
            do {
                return .success(try HCLReport(parsing: bytes).reportType.rawValue)
            } catch {
                return .failure(VTPMError(.badAnswer, "the HCL report is unreadable: \(error)"))
            }
        } catch {
            return .failure(error)
        }
    }

    /// Looks at the machine; `root` prefixes every path (tests point it at a fake tree), `cpuid` and
    /// `hclProbe` replace the instruction and the vTPM (tests fake them).
    public static func detect(
        root: String = "", cpuid: CPUIDReader = .hardware, hclProbe: HCLReportProbe = Platform.vtpmProbe
    ) -> PlatformReport {
        func exists(_ path: String) -> Bool { access(root + path, F_OK) == 0 }
        func read(_ path: String) -> String? {
            guard let file = fopen(root + path, "r") else { return nil }
            defer { fclose(file) }
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = fread(&buffer, 1, buffer.count - 1, file)
            return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let cpuinfo = read("/proc/cpuinfo") ?? ""
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map(String.init) ?? ""
        let tdxFlag = flags.split(separator: " ").contains("tdx_guest")
        let snpVMPL = read("/sys/devices/system/cpu/sev/vmpl").flatMap { Int($0.filter(\.isNumber)) }
        let provider = read("/sys/kernel/config/tsm/report/provider")
        var checks = [
            PlatformReport.Check(
                name: "sev-guest", path: "/dev/sev-guest", present: exists("/dev/sev-guest"),
                detail: exists("/dev/sev-guest") ? "SNP guest device (module sev-guest)" : "no SNP guest device"),
            PlatformReport.Check(
                name: "tdx-guest", path: "/dev/tdx_guest", present: exists("/dev/tdx_guest"),
                detail: exists("/dev/tdx_guest") ? "TDX guest device (module tdx-guest)" : "no TDX guest device"),
            PlatformReport.Check(
                name: "configfs-tsm", path: "/sys/kernel/config/tsm/report",
                present: exists("/sys/kernel/config/tsm/report"),
                detail: exists("/sys/kernel/config/tsm/report")
                    ? "configfs-tsm reports" + (provider.map { " (provider \($0.filter { !$0.isNewline }))" } ?? "")
                    : "no configfs-tsm (kernel < 6.7, or configfs not mounted)"),
            PlatformReport.Check(
                name: "sev-vmpl", path: "/sys/devices/system/cpu/sev/vmpl", present: snpVMPL != nil,
                detail: snpVMPL.map { "running at VMPL \($0)" } ?? "no SNP VMPL in sysfs"),
            PlatformReport.Check(
                name: "cpu-flag-tdx", path: "/proc/cpuinfo", present: tdxFlag,
                detail: tdxFlag ? "the kernel runs as a TD (tdx_guest flag)" : "no tdx_guest CPU flag"),
        ]
        let snp = exists("/dev/sev-guest") || snpVMPL != nil || provider?.hasPrefix("sev_guest") == true
        let tdx = tdxFlag || exists("/dev/tdx_guest") || provider?.hasPrefix("tdx_guest") == true
        // Azure: Hyper-V isolation (SNP or TDX behind a paravisor) and the vTPM's HCL report.
        let isolation = cpuid.hyperVIsolationType()
        let isolationName: String
        switch isolation {
        case nil: isolationName = "not an isolated Hyper-V guest (no Microsoft Hv isolation in CPUID)"
        case 2?: isolationName = "Hyper-V isolation type 2 (SNP)"
        case 3?: isolationName = "Hyper-V isolation type 3 (TDX)"
        case let other?: isolationName = "Hyper-V isolation type \(other) (neither SNP nor TDX)"
        }
        checks.append(
            PlatformReport.Check(
                name: "hyperv-isolation", path: "cpuid 0x4000000C", present: isolation == 2 || isolation == 3,
                detail: isolationName))
        var azure: TEEKind?
        let tpm = exists("/dev/tpmrm0")
        if isolation == 2 || isolation == 3 {
            guard tpm else {
                checks.append(
                    PlatformReport.Check(
                        name: "vtpm", path: "/dev/tpmrm0", present: false,
                        detail: "no vTPM device (module tpm_crb or tpm_tis not loaded?)"))
                return finish()
            }
            switch hclProbe(root + "/dev/tpmrm0") {
            case .success(let type):
                let matches = (type == 2 && isolation == 2) || (type == 4 && isolation == 3)
                if matches { azure = type == 2 ? .azSNP : .azTDX }
                checks.append(
                    PlatformReport.Check(
                        name: "vtpm-hcl-report", path: "/dev/tpmrm0 NV 0x01400001", present: matches,
                        detail: matches
                            ? "HCL report type \(type) (\(type == 2 ? "SNP" : "TDX")): an Azure paravisor vTPM"
                            : "HCL report type \(type) does not match the CPUID isolation type \(isolation ?? 0)"))
            case .failure(let error):
                checks.append(
                    PlatformReport.Check(
                        name: "vtpm-hcl-report", path: "/dev/tpmrm0 NV 0x01400001", present: false,
                        detail: "no HCL report: \(error.message)"))
            }
        } else if tpm && !snp && !tdx {
            checks.append(
                PlatformReport.Check(
                    name: "vtpm", path: "/dev/tpmrm0", present: true,
                    detail: "a TPM is present, but CPUID shows no Hyper-V isolation: not an Azure confidential VM"))
        }
        return finish()

        func finish() -> PlatformReport {
            var uts = utsname()
            uname(&uts)
            let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let cvm: String
            switch azure {
            case .azSNP?: cvm = "sev-snp"
            case .azTDX?: cvm = "tdx"
            default: cvm = snp ? "sev-snp" : (tdx ? "tdx" : "none")
            }
            return PlatformReport(cvm: cvm, vmpl: snpVMPL, kernel: release, checks: checks, azure: azure)
        }
    }

    /// Opens the hardware device for `preferring` (or whatever is present). Never a simulator.
    public static func openDevice(
        preferring kind: TEEKind? = nil, root: String = ""
    ) throws(DeviceError) -> any GuestDevice {
        if kind == .azSNP || kind == .azTDX, let kind { return AzureVTPMDevice(kind: kind) }
        let report = detect(root: root)
        let wanted = kind ?? report.usableTEE
        switch wanted {
        case .azSNP?, .azTDX?:
            return AzureVTPMDevice(kind: wanted ?? .azSNP)
        case .snp where report.checks.contains { $0.name == "sev-guest" && $0.present }:
            return try SEVGuestDevice(path: root + "/dev/sev-guest")
        case .snp, .tdx:
            if report.checks.contains(where: { $0.name == "configfs-tsm" && $0.present }), let wanted {
                return TSMReportDevice(
                    kind: wanted, root: root + "/sys/kernel/config/tsm/report",
                    eventLog: TDXEventLogSource(root: root))
            }
            fallthrough
        default:
            throw DeviceError(
                .unavailable,
                "no usable TEE interface\(kind.map { " for \($0.rawValue)" } ?? ""): checked \(report.checkedSummary) "
                    + "(this is not a confidential VM, or the sev-guest/tdx-guest module is not loaded). "
                    + "On a development machine use --tee sim-snp, sim-tdx, sim-az-snp or sim-az-tdx with 'ccagent simulator init'"
            )
        }
    }
}
