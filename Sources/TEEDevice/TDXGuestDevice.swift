// SPDX-License-Identifier: Apache-2.0
// /dev/tdx_guest: TDREPORT through TDX_CMD_GET_REPORT0, and RTMR extension through sysfs (Linux 6.16+).

import CTEEGuest
import Cryptography
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// The TDX guest device. Quotes come from configfs-tsm (``TSMReportDevice``); this gives the local
/// TDREPORT and extends RTMRs.
public final class TDXGuestDevice: @unchecked Sendable {
    let handle: DeviceHandle

    public init(path: String = "/dev/tdx_guest") throws(DeviceError) {
        handle = try DeviceHandle(path: path)
    }

    /// A TDREPORT whose REPORTDATA is `reportData` (zero-padded to 64 bytes).
    public func report(reportData: [UInt8]) throws(DeviceError) -> TDReport {
        guard reportData.count <= 64 else {
            throw DeviceError(.invalidRequest, "failed to request a TDREPORT: report data is \(reportData.count) bytes")
        }
        var request = cca_tdx_report_req()
        withUnsafeMutableBytes(of: &request.reportdata) { $0.copyBytes(from: reportData) }
        let rc = cca_tdx_get_report0(handle.fd, &request)
        guard rc == 0 else {
            throw DeviceError(
                rc == -EIO ? .firmware : .system,
                "TDX_CMD_GET_REPORT0 failed: \(String(cString: strerror(-rc)))", errno: -rc)
        }
        let bytes = withUnsafeBytes(of: &request.tdreport) { Array($0) }
        do {
            return try TDReport(parsing: bytes)
        } catch {
            throw DeviceError(.malformedResponse, "the TDX module returned an unreadable TDREPORT: \(error)")
        }
    }
}

/// RTMR extension through the kernel's measurement sysfs (`rtmrN:sha384`, Linux 6.16+):
/// writing exactly 48 bytes extends RTMR[N] = SHA-384(RTMR[N] ‖ data).
public enum RTMR {
    public static let defaultDirectory = "/sys/devices/virtual/misc/tdx_guest/measurements"

    /// Whether the kernel offers RTMR extension here.
    public static func isAvailable(directory: String = defaultDirectory) -> Bool {
        access(directory + "/rtmr2:sha384", W_OK) == 0
    }

    /// Extends RTMR `index` (0–3) with SHA-384 of `event` (e.g. "ccagent unlocked <uuid>").
    public static func extend(index: Int, event: [UInt8], directory: String = defaultDirectory) throws(DeviceError) {
        try extend(index: index, digest: DigestAlgorithm.sha384.hash(event), directory: directory)
    }

    /// Extends RTMR `index` (0–3) with `digest` (exactly 48 bytes) as it is.
    public static func extend(index: Int, digest: [UInt8], directory: String = defaultDirectory) throws(DeviceError) {
        guard (0...3).contains(index) else { throw DeviceError(.invalidRequest, "RTMR index \(index) is not 0-3") }
        guard digest.count == 48 else {
            throw DeviceError(.invalidRequest, "an RTMR extension is 48 bytes, not \(digest.count)")
        }
        let path = directory + "/rtmr\(index):sha384"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DeviceError(
                .unavailable,
                "failed to open '\(path)': \(String(cString: strerror(errno))) (kernel < 6.16 has no RTMR extend)",
                errno: errno)
        }
        defer { close(fd) }
        let written = digest.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == digest.count else {
            throw DeviceError(
                .system, "failed to extend RTMR\(index): \(String(cString: strerror(errno)))", errno: errno)
        }
    }
}
