// SPDX-License-Identifier: Apache-2.0
// Which TEE this guest runs on, and which kernel interfaces are present and usable.

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

    /// The TEE that can produce evidence, if any.
    public var usableTEE: TEEKind? {
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

/// Detects the platform from sysfs, procfs and device nodes (no dmesg, no CPUID privileges needed).
public enum Platform {
    /// Looks at the machine; `root` prefixes every path (tests point it at a fake tree).
    public static func detect(root: String = "") -> PlatformReport {
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
        if exists("/dev/tpmrm0") && !snp && !tdx {
            checks.append(
                PlatformReport.Check(
                    name: "vtpm", path: "/dev/tpmrm0", present: true,
                    detail: "a vTPM is present; Azure paravisor CVMs report through it (not supported by this version)")
            )
        }
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return PlatformReport(
            cvm: snp ? "sev-snp" : (tdx ? "tdx" : "none"), vmpl: snpVMPL, kernel: release, checks: checks)
    }

    /// Opens the hardware device for `preferring` (or whatever is present). Never a simulator.
    public static func openDevice(
        preferring kind: TEEKind? = nil, root: String = ""
    ) throws(DeviceError) -> any GuestDevice {
        let report = detect(root: root)
        let wanted = kind ?? report.usableTEE
        switch wanted {
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
                    + "On a development machine use --tee sim-snp or sim-tdx with 'ccagent simulator init'")
        }
    }
}
