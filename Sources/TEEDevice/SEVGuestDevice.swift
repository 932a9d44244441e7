// SPDX-License-Identifier: Apache-2.0
// /dev/sev-guest: extended reports with their certificate table, and MSG_KEY_REQ derived keys.

import AgentBase
import SecureMemory
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// The SEV-SNP guest device.
///
/// A firmware or host error makes the kernel disable the guest channel until reboot, so nothing here
/// retries except the one documented case: the certificate buffer was too small (grow once).
public final class SEVGuestDevice: GuestDevice, @unchecked Sendable {
    let handle: DeviceHandle
    public var kind: TEEKind { .snp }

    public init(path: String = "/dev/sev-guest") throws(DeviceError) {
        handle = try DeviceHandle(path: path)
    }

    public func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence {
        guard reportData.count <= 64 else {
            throw DeviceError(.invalidRequest, "failed to request a report: report data is \(reportData.count) bytes")
        }
        var (rc, exitinfo2, response, certificates, needed) = GuestSyscalls.snpExtendedReport(
            handle, userData: reportData, vmpl: vmpl, certificateLength: 4 * 4096)
        if rc == -EIO, UInt32(truncatingIfNeeded: exitinfo2 >> 32) == 1, needed > 0, needed <= 16 * 4096 {
            // The host has more certificates than fit: the kernel told us the size; grow once.
            (rc, exitinfo2, response, certificates, needed) = GuestSyscalls.snpExtendedReport(
                handle, userData: reportData, vmpl: vmpl, certificateLength: needed)
        }
        try SEVGuestDevice.check(rc: rc, exitinfo2: exitinfo2, operation: "SNP_GET_EXT_REPORT")
        let report = try SEVGuestDevice.reportBytes(fromResponse: response)
        let table = try? SNPCertificateTable(parsing: certificates)
        return AttestationEvidence(
            kind: .snp, bytes: report, certificateTable: (table?.entries.isEmpty ?? true) ? nil : table)
    }

    public func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes {
        var (rc, exitinfo2, response) = GuestSyscalls.snpDerivedKey(handle, request)
        defer { response.withUnsafeMutableBytes { SecretBytes.zeroize($0) } }
        try SEVGuestDevice.check(rc: rc, exitinfo2: exitinfo2, operation: "SNP_GET_DERIVED_KEY")
        let status =
            UInt32(response[0]) | UInt32(response[1]) << 8 | UInt32(response[2]) << 16 | UInt32(response[3]) << 24
        guard status == 0 else {
            throw DeviceError(
                .firmware, "the firmware refused MSG_KEY_REQ: \(SEVGuestDevice.statusName(status))",
                firmwareError: UInt64(status))
        }
        return SecretBytes(copying: response[0x20..<0x40])
    }

    /// Extracts the 1184-byte report from MSG_REPORT_RSP, checking STATUS and REPORT_SIZE.
    static func reportBytes(fromResponse response: [UInt8]) throws(DeviceError) -> [UInt8] {
        func u32(_ offset: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 | UInt32(response[offset + $1]) << (8 * $1) }
        }
        let status = u32(0)
        guard status == 0 else {
            throw DeviceError(
                .firmware, "the firmware refused MSG_REPORT_REQ: \(statusName(status))", firmwareError: UInt64(status))
        }
        let size = Int(u32(4))
        guard size == SNPReport.size, response.count >= 0x20 + size else {
            throw DeviceError(.malformedResponse, "the firmware returned a report of \(size) bytes, expected 1184")
        }
        return Array(response[0x20..<0x20 + size])
    }

    /// Decodes the ioctl result into a named error; after one, the channel is disabled until reboot.
    static func check(rc: Int32, exitinfo2: UInt64, operation: String) throws(DeviceError) {
        guard rc != 0 else { return }
        let firmware = UInt32(truncatingIfNeeded: exitinfo2)
        let host = UInt32(truncatingIfNeeded: exitinfo2 >> 32)
        let errnoText = String(cString: strerror(-rc))
        if host != 0 {
            let name = host == 1 ? "INVALID_LEN" : host == 2 ? "BUSY" : "0x\(String(host, radix: 16))"
            throw DeviceError(
                .host, "\(operation) failed: the hypervisor returned \(name) (\(errnoText))", errno: -rc,
                hostError: UInt64(host))
        }
        if firmware != 0 && firmware != 0xFF && firmware != 0xFFFF_FFFF {
            throw DeviceError(
                .firmware,
                "\(operation) failed: the firmware returned \(statusName(firmware)) (\(errnoText)); the kernel "
                    + "disables the guest channel until reboot — do not retry",
                errno: -rc, firmwareError: UInt64(firmware))
        }
        throw DeviceError(
            rc == -ENOTTY ? .firmware : .system,
            "\(operation) failed: \(errnoText)"
                + (rc == -ENOTTY ? " (the guest channel was disabled after an earlier error; reboot)" : ""),
            errno: -rc)
    }

    /// `sev_ret_code` names.
    static func statusName(_ status: UInt32) -> String {
        let names: [UInt32: String] = [
            0x01: "INVALID_PLATFORM_STATE", 0x02: "INVALID_GUEST_STATE", 0x03: "INVALID_CONFIG", 0x04: "INVALID_LEN",
            0x16: "INVALID_PARAM", 0x17: "RESOURCE_LIMIT", 0x18: "SECURE_DATA_INVALID", 0x1D: "AEAD_OFLOW",
            0x21: "BAD_SVN", 0x22: "BAD_VERSION", 0x27: "INVALID_KEY",
        ]
        return names[status].map { "\($0) (0x\(String(status, radix: 16)))" } ?? "status 0x\(String(status, radix: 16))"
    }
}
