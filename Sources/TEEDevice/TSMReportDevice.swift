// SPDX-License-Identifier: Apache-2.0
// configfs-tsm (/sys/kernel/config/tsm/report, Linux 6.7+): reports and quotes through one interface.

import AgentBase
import SecureMemory
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// Evidence through configfs-tsm: one private report directory per request, generation checked
/// against concurrent writers, removed afterwards. No derived keys (SNP keys need /dev/sev-guest).
public struct TSMReportDevice: GuestDevice {
    public let kind: TEEKind
    /// The `report` directory (a parameter so tests can point it at a tree that imitates the kernel's).
    public let root: String
    /// TDX: where the CCEL and ccagent's runtime log are (sent as `cc_eventlog`).
    public let eventLog: TDXEventLogSource

    public init(
        kind: TEEKind, root: String = "/sys/kernel/config/tsm/report", eventLog: TDXEventLogSource = TDXEventLogSource()
    ) {
        self.kind = kind
        self.root = root
        self.eventLog = eventLog
    }

    public func evidence(reportData: [UInt8], vmpl: UInt32) throws(DeviceError) -> AttestationEvidence {
        let directory = root + "/ccagent-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(directory, 0o700) == 0 else {
            throw DeviceError(
                errno == ENXIO ? .unavailable : .system,
                "failed to create configfs-tsm report '\(directory)': \(String(cString: strerror(errno)))", errno: errno
            )
        }
        defer { rmdir(directory) }
        let expected = kind.protocolName == "snp" ? "sev_guest" : "tdx_guest"
        let provider = String(decoding: try read(directory + "/provider", limit: 64), as: UTF8.self)
            .filter { !$0.isNewline }
        guard provider == expected else {
            throw DeviceError(.unavailable, "configfs-tsm provider is '\(provider)', not '\(expected)'")
        }
        let before = try generation(directory)
        var padded = Array(reportData.prefix(64))
        padded += [UInt8](repeating: 0, count: 64 - padded.count)
        try write(directory + "/inblob", padded)
        if kind.protocolName == "snp" { try write(directory + "/privlevel", Array("\(vmpl)".utf8)) }
        let out = try read(directory + "/outblob", limit: 32 * 1024)
        let aux = kind.protocolName == "snp" ? (try? read(directory + "/auxblob", limit: 64 * 1024)) : nil
        let after = try generation(directory)
        let writes: UInt64 = kind.protocolName == "snp" ? 2 : 1
        guard after == before + writes else {
            throw DeviceError(
                .system,
                "configfs-tsm report '\(directory)' was modified concurrently (generation \(before) → \(after))")
        }
        let table = aux.flatMap { $0.isEmpty ? nil : try? SNPCertificateTable(parsing: $0) }
        // TDX: an RTMR3 extension between the quote and this read makes the replay fail at the broker;
        // it cannot hide an extension.
        let log = try kind.protocolName == "tdx" ? eventLog.evidenceLog() : nil
        return AttestationEvidence(kind: kind, bytes: out, certificateTable: table, eventLog: log)
    }

    public func derivedKey(_ request: DerivedKeyRequest) throws(DeviceError) -> SecretBytes {
        throw DeviceError(
            .unavailable, "configfs-tsm has no derived keys: SNP derived keys need /dev/sev-guest (module sev-guest)")
    }

    private func generation(_ directory: String) throws(DeviceError) -> UInt64 {
        let text = String(decoding: try read(directory + "/generation", limit: 32), as: UTF8.self)
        guard let value = UInt64(text.filter(\.isNumber)) else {
            throw DeviceError(.malformedResponse, "configfs-tsm generation '\(text)' is not a number")
        }
        return value
    }

    private func read(_ path: String, limit: Int) throws(DeviceError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DeviceError(.system, "failed to open '\(path)': \(String(cString: strerror(errno)))", errno: errno)
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw DeviceError(
                    errno == EINVAL || errno == ENXIO ? .firmware : .system,
                    "failed to read '\(path)': \(String(cString: strerror(errno)))", errno: errno)
            }
            if n == 0 { return out }
            out += buffer[0..<n]
            guard out.count <= limit else { throw DeviceError(.malformedResponse, "'\(path)' exceeds \(limit) bytes") }
        }
    }

    private func write(_ path: String, _ bytes: [UInt8]) throws(DeviceError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DeviceError(.system, "failed to open '\(path)': \(String(cString: strerror(errno)))", errno: errno)
        }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else {
            throw DeviceError(.system, "failed to write '\(path)': \(String(cString: strerror(errno)))", errno: errno)
        }
    }
}
