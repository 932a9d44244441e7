// SPDX-License-Identifier: Apache-2.0
// The choke point: the only file that opens guest devices and calls the C shim's ioctls.

import AgentBase
import CTEEGuest
import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

/// An open guest device file descriptor, closed on deinit.
final class DeviceHandle: @unchecked Sendable {
    let fd: Int32
    let path: String

    init(path: String) throws(DeviceError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            throw DeviceError(
                error == EACCES ? .system : .unavailable,
                "failed to open '\(path)': \(String(cString: strerror(error)))"
                    + (error == EACCES ? " (run as root)" : ""), errno: error)
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }
}

enum GuestSyscalls {
    /// SNP_GET_REPORT: returns the MSG_REPORT_RSP bytes.
    static func snpReport(_ handle: DeviceHandle, userData: [UInt8], vmpl: UInt32) -> (Int32, UInt64, [UInt8]) {
        var request = cca_snp_report_req()
        withUnsafeMutableBytes(of: &request.user_data) { $0.copyBytes(from: userData.prefix(64)) }
        request.vmpl = vmpl
        var response = cca_snp_report_resp()
        var exitinfo2: UInt64 = 0
        let rc = cca_snp_get_report(handle.fd, &request, &response, &exitinfo2)
        return (rc, exitinfo2, withUnsafeBytes(of: &response.data) { Array($0) })
    }

    /// SNP_GET_EXT_REPORT with a page-aligned certificate buffer of `certificateLength` bytes.
    /// Returns the rc, exitinfo2, the response, the certificate buffer and the length the kernel asked for.
    static func snpExtendedReport(
        _ handle: DeviceHandle, userData: [UInt8], vmpl: UInt32, certificateLength: Int
    ) -> (Int32, UInt64, [UInt8], [UInt8], Int) {
        let pageSize = 4096
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(certificateLength, pageSize), alignment: pageSize)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: max(certificateLength, pageSize))
        var request = cca_snp_ext_report_req()
        withUnsafeMutableBytes(of: &request.data.user_data) { $0.copyBytes(from: userData.prefix(64)) }
        request.data.vmpl = vmpl
        request.certs_address = UInt64(UInt(bitPattern: buffer))
        request.certs_len = UInt32(certificateLength)
        var response = cca_snp_report_resp()
        var exitinfo2: UInt64 = 0
        let rc = cca_snp_get_ext_report(handle.fd, &request, &response, &exitinfo2)
        let certificates = Array(UnsafeRawBufferPointer(start: buffer, count: certificateLength))
        return (rc, exitinfo2, withUnsafeBytes(of: &response.data) { Array($0) }, certificates, Int(request.certs_len))
    }

    /// SNP_GET_DERIVED_KEY: returns the MSG_KEY_RSP bytes.
    static func snpDerivedKey(_ handle: DeviceHandle, _ request: DerivedKeyRequest) -> (Int32, UInt64, [UInt8]) {
        var raw = cca_snp_derived_key_req()
        raw.root_key_select = request.rootKey == .vmrk ? 1 : 0
        raw.guest_field_select = request.fields.rawValue
        raw.vmpl = request.vmpl
        raw.guest_svn = request.guestSVN
        raw.tcb_version = request.tcbVersion
        var response = cca_snp_derived_key_resp()
        var exitinfo2: UInt64 = 0
        let rc = cca_snp_get_derived_key(handle.fd, &raw, &response, &exitinfo2)
        let bytes = withUnsafeBytes(of: &response.data) { Array($0) }
        withUnsafeMutableBytes(of: &response.data) { SecretBytes.zeroize($0) }
        return (rc, exitinfo2, bytes)
    }

    /// The request bytes as the kernel receives them (for byte-level tests of the ABI).
    static func derivedKeyRequestBytes(_ request: DerivedKeyRequest) -> [UInt8] {
        var raw = cca_snp_derived_key_req()
        raw.root_key_select = request.rootKey == .vmrk ? 1 : 0
        raw.guest_field_select = request.fields.rawValue
        raw.vmpl = request.vmpl
        raw.guest_svn = request.guestSVN
        raw.tcb_version = request.tcbVersion
        return withUnsafeBytes(of: &raw) { Array($0) }
    }

    static func reportRequestBytes(userData: [UInt8], vmpl: UInt32) -> [UInt8] {
        var request = cca_snp_report_req()
        withUnsafeMutableBytes(of: &request.user_data) { $0.copyBytes(from: userData.prefix(64)) }
        request.vmpl = vmpl
        return withUnsafeBytes(of: &request) { Array($0) }
    }

    static var requestNumbers: [String: UInt] {
        [
            "SNP_GET_REPORT": CCA_SNP_GET_REPORT, "SNP_GET_DERIVED_KEY": CCA_SNP_GET_DERIVED_KEY,
            "SNP_GET_EXT_REPORT": CCA_SNP_GET_EXT_REPORT, "TDX_CMD_GET_REPORT0": CCA_TDX_CMD_GET_REPORT0,
        ]
    }
}

/// Byte-level views of the kernel ABI for tests (the structs as the kernel reads them).
public enum GuestABI {
    public static func derivedKeyRequest(_ request: DerivedKeyRequest) -> [UInt8] {
        GuestSyscalls.derivedKeyRequestBytes(request)
    }

    public static func reportRequest(userData: [UInt8], vmpl: UInt32) -> [UInt8] {
        GuestSyscalls.reportRequestBytes(userData: userData, vmpl: vmpl)
    }

    public static var requestNumbers: [String: UInt] { GuestSyscalls.requestNumbers }
}

/// Process controls that go through the shim.
public enum ProcessControls {
    /// PR_SET_DUMPABLE 0: the kernel writes no core dump and refuses same-uid ptrace. Returns 0 or -errno.
    @discardableResult
    public static func disableDumping() -> Int32 { cca_disable_dumping() }

    /// sync(), then power the machine off at once (reboot(RB_POWER_OFF)). Returns -errno only when the
    /// kernel refused (no CAP_SYS_BOOT); otherwise it does not return.
    public static func powerOff() -> Int32 { cca_power_off() }
}
