// SPDX-License-Identifier: Apache-2.0
// A swift-log handler writing native journald entries (sd_journal_sendv, libsystemd loaded on first use),
// with /dev/kmsg or stderr fallback.

import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Writes each log record as a journal entry: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=ccagent, MESSAGE_ID
/// (from the `event` metadata, see ``AgentEvent``) and `CCAGENT_<KEY>` for every other metadata item.
/// Where journald is absent (initramfs-tools), it writes `<prio>ccagent: …` to /dev/kmsg, or to stderr.
public struct JournalLogHandler: LogHandler {
    public enum Sink: Sendable { case journal, kmsg, stderr }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let sink: Sink
    let identifier: String

    public init(label: String, identifier: String = "ccagent", sink: Sink? = nil) {
        self.identifier = identifier
        self.sink = sink ?? JournalLogHandler.detectSink()
    }

    /// journald when its socket exists, else /dev/kmsg when writable, else stderr.
    public static func detectSink() -> Sink {
        if access("/run/systemd/journal/socket", W_OK) == 0 { return .journal }
        if access("/dev/kmsg", W_OK) == 0 { return .kmsg }
        return .stderr
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let priority = JournalLogHandler.priority(event.level)
        switch sink {
        case .journal:
            var fields = [
                "MESSAGE=\(event.message)", "PRIORITY=\(priority)", "SYSLOG_IDENTIFIER=\(identifier)",
            ]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                if key == "event", let agentEvent = AgentEvent(rawValue: "\(value)") {
                    fields.append("MESSAGE_ID=\(agentEvent.messageID)")
                    fields.append("CCAGENT_EVENT=\(agentEvent.rawValue)")
                } else {
                    fields.append("CCAGENT_\(JournalLogHandler.fieldName(key))=\(value)")
                }
            }
            if JournalLogHandler.send(fields) != 0 { fallthrough }
        case .kmsg, .stderr:
            var line = "\(identifier): \(event.message)"
            let context = merged.filter { $0.key != "event" }.sorted { $0.key < $1.key }
            if !context.isEmpty { line += " (" + context.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + ")" }
            JournalLogHandler.writeLine(line, priority: priority, kmsg: sink == .kmsg)
        }
    }

    /// Sends fields with `sd_journal_sendv`; returns its result (0 or -errno; -ELIBACC when libsystemd
    /// cannot be loaded, and the caller falls back to /dev/kmsg or stderr).
    static func send(_ fields: [String]) -> Int32 {
        guard let library = SystemdLibrary.shared else { return -ELIBACC }
        let buffers = fields.map { Array($0.utf8) }
        return withIOVecs(buffers) { vectors in library.journalSendV(vectors, Int32(buffers.count)) }
    }

    private static func withIOVecs(_ buffers: [[UInt8]], _ body: (UnsafePointer<iovec>) -> Int32) -> Int32 {
        var vectors: [iovec] = []
        var memory: [UnsafeMutableRawPointer] = []
        defer { memory.forEach { $0.deallocate() } }
        for buffer in buffers {
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(buffer.count, 1), alignment: 1)
            buffer.withUnsafeBytes { source in
                if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: buffer.count) }
            }
            memory.append(pointer)
            vectors.append(iovec(iov_base: pointer, iov_len: buffer.count))
        }
        return vectors.withUnsafeBufferPointer { vectorBuffer -> Int32 in
            guard let base = vectorBuffer.baseAddress else { return -22 }
            return body(base)
        }
    }

    static func writeLine(_ line: String, priority: Int, kmsg: Bool) {
        var text = (kmsg ? "<\(priority)>" : "") + line + "\n"
        if kmsg {
            let fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if text.withUTF8({ write(fd, $0.baseAddress, $0.count) }) > 0 { return }
            }
            text = line + "\n"
        }
        _ = text.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }

    /// Journal field names: upper-case letters, digits and underscores.
    static func fieldName(_ key: String) -> String {
        String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
