// SPDX-License-Identifier: Apache-2.0
// The TDX event logs the agent sends: the firmware's CCEL (ACPI) and ccagent's own runtime log of RTMR3
// extensions, joined the way guest-components' attester joins them into `cc_eventlog`.

import AgentBase
import Cryptography
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// Where the TDX event logs are; `root` prefixes every path (tests point it at a fake tree).
public struct TDXEventLogSource: Sendable {
    /// The CCEL ACPI table (header, CC type, LAML, LASA) and the log area it describes.
    public var table: String
    public var data: String
    /// ccagent's runtime log (AAEL-format events for each RTMR3 extension it made).
    public var runtimeLog: String

    /// The firmware log area is at most this large whatever the table claims (TDVF reserves 64 KiB–1 MiB).
    public static let firmwareLimit = 16 << 20

    public init(root: String = "", runtimeLog: String? = nil) {
        table = root + "/sys/firmware/acpi/tables/CCEL"
        data = root + "/sys/firmware/acpi/tables/data/CCEL"
        self.runtimeLog = runtimeLog ?? root + RuntimeEventLog.defaultPath
    }

    /// `cc_eventlog` as upstream's attester sends it: the used part of the CCEL (header and events, not
    /// the fill), then the runtime log's events, then eight 0xFF bytes; nil when there is neither.
    public func evidenceLog() throws(DeviceError) -> [UInt8]? {
        let firmware = try firmwareLog()
        let runtime = try RuntimeEventLog.read(path: runtimeLog)
        guard firmware != nil || runtime != nil else { return nil }
        return CCELEventLog.evidenceBytes(firmware: firmware, runtime: runtime ?? [])
    }

    /// The CCEL's used bytes, or nil when the firmware publishes none (no log area, as upstream's attester
    /// decides). The table, when present, must describe a TDX CCEL; its LAML bounds the read.
    public func firmwareLog() throws(DeviceError) -> [UInt8]? {
        guard access(data, F_OK) == 0 else { return nil }
        var limit = Self.firmwareLimit
        if access(table, F_OK) == 0 {
            let header: [UInt8]
            do {
                header = try FileIO.read(path: table, limit: 4096)
            } catch {
                throw DeviceError(
                    .system, "failed to read the CCEL ACPI table: \(error) (is the acpi sysfs readable, are we root?)")
            }
            // ACPI header (36 bytes), CC type (2 = TDX), subtype, reserved, LAML (u64), LASA (u64).
            guard header.count >= 56, header.starts(with: Array("CCEL".utf8)), header[36] == 2 else {
                throw DeviceError(
                    .malformedResponse,
                    "the CCEL ACPI table '\(table)' is not a TDX CCEL (\(header.count) bytes, CC type "
                        + "\(header.count > 36 ? String(header[36]) : "?")); the firmware's event log cannot be sent")
            }
            let laml = header[40..<48].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
            limit = Int(min(laml, UInt64(limit)))
        }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: data, limit: limit)
        } catch let error as FileIOError where error.errno == EFBIG {
            throw DeviceError(
                .malformedResponse, "the CCEL log area '\(data)' is larger than its table's \(limit) bytes (LAML)")
        } catch {
            throw DeviceError(.system, "failed to read the CCEL log area: \(error)")
        }
        do {
            let log = try CCELEventLog(parsing: bytes)
            return Array(bytes.prefix(log.usedByteCount))
        } catch {
            throw DeviceError(.malformedResponse, "the firmware's CCEL event log '\(data)' does not parse: \(error)")
        }
    }
}

/// A TDX guest whose RTMR3 the agent extends at run time.
public protocol RuntimeMeasurer: Sendable {
    /// The runtime log that explains this device's RTMR3 extensions.
    var runtimeLogPath: String { get }
    /// RTMR3 = SHA-384(RTMR3 ‖ digest), `digest` 48 bytes.
    func extendRTMR3(digest: [UInt8]) throws(DeviceError)
}

/// The kernel's RTMR3 (sysfs, Linux 6.16+), logged in `/run/ccagent/eventlog`.
public struct SysfsRuntimeMeasurer: RuntimeMeasurer {
    public var directory: String
    public var runtimeLogPath: String

    public init(directory: String = RTMR.defaultDirectory, runtimeLogPath: String = RuntimeEventLog.defaultPath) {
        self.directory = directory
        self.runtimeLogPath = runtimeLogPath
    }

    public func extendRTMR3(digest: [UInt8]) throws(DeviceError) {
        try RTMR.extend(index: 3, digest: digest, directory: directory)
    }
}

/// ccagent's runtime event log: the AAEL-format events (``RuntimeEvent``) for every RTMR3 extension it
/// made since boot, in the TCG2 encoding guest-components uses for `/run/attestation-agent/eventlog`.
/// Replaying the CCEL followed by these events gives RTMR0–3.
public enum RuntimeEventLog {
    public static let defaultPath = "/run/ccagent/eventlog"
    /// A runtime log larger than this is refused (each unlock adds about 150 bytes).
    public static let limit = 1 << 20

    /// The log's bytes (whole events only), or nil when there is none yet.
    public static func read(path: String) throws(DeviceError) -> [UInt8]? {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: path, limit: limit)
        } catch let error as FileIOError where error.errno == ENOENT {
            return nil
        } catch {
            throw DeviceError(.system, "failed to read the runtime event log: \(error)")
        }
        do {
            _ = try CCELEventLog(parsing: CCELEventLog.specIDHeader + bytes)
        } catch {
            throw DeviceError(
                .malformedResponse,
                "the runtime event log '\(path)' does not parse (\(error)); it no longer explains RTMR3, and "
                    + "attestations with it will be refused until the next boot")
        }
        return bytes.isEmpty ? nil : bytes
    }

    /// Records `event`: appends it to the log (atomically, under a lock), then extends RTMR3 with
    /// SHA-384 of its data. If the extension fails the log is restored, so the two stay in step.
    public static func record(_ event: RuntimeEvent, measurer: any RuntimeMeasurer) throws(DeviceError) {
        let path = measurer.runtimeLogPath
        try makeParentDirectory(of: path)
        let lockFD = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else {
            throw DeviceError(
                .system, "failed to open '\(path).lock': \(String(cString: strerror(errno)))", errno: errno)
        }
        defer { close(lockFD) }
        while flock(lockFD, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw DeviceError(
                    .system, "failed to lock '\(path).lock': \(String(cString: strerror(errno)))", errno: errno)
            }
        }
        let before = try read(path: path) ?? []
        let digest = DigestAlgorithm.sha384.hash(event.eventData)
        let after = before + event.event(digest: digest).encoded
        guard after.count <= limit else {
            throw DeviceError(.invalidRequest, "the runtime event log '\(path)' would exceed \(limit) bytes")
        }
        try write(after, to: path)
        do throws(DeviceError) {
            try measurer.extendRTMR3(digest: digest)
        } catch {
            try? write(before, to: path)
            throw error
        }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws(DeviceError) {
        do {
            try FileIO.writeAtomically(path: path, mode: 0o644, bytes: bytes)
        } catch {
            throw DeviceError(.system, "failed to write the runtime event log: \(error)")
        }
    }

    private static func makeParentDirectory(of path: String) throws(DeviceError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let directory = String(path[..<slash])
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw DeviceError(
                .system, "failed to create '\(directory)': \(String(cString: strerror(errno)))", errno: errno)
        }
    }
}
