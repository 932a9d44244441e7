// SPDX-License-Identifier: Apache-2.0
// The journal catalog, sd_notify against a real datagram socket, and the stderr fallback.

import Logging
import TestSupport
import Testing

@testable import SystemdSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd support", .serialized)
struct SystemdSupportTests {
    @Test("every event's MESSAGE_ID is explained in systemd/ccagent.catalog, once, under its event name")
    func catalog() throws {
        let catalog = String(
            decoding: try Fixtures.readFile(Fixtures.repositoryRoot + "/systemd/ccagent.catalog"), as: UTF8.self)
        let ids = Set(AgentEvent.allCases.map(\.messageID))
        #expect(ids.count == AgentEvent.allCases.count, "ids are unique")
        for event in AgentEvent.allCases {
            #expect(catalog.components(separatedBy: "-- \(event.messageID)\n").count == 2, "\(event.rawValue)")
            // The boot proof (scripts/e2e/bootproof/catalog.py) finds the IDs by this line.
            #expect(
                catalog.components(separatedBy: "-- \(event.messageID)\nEvent: \(event.rawValue)\n").count == 2,
                "\(event.rawValue)")
        }
    }

    @Test("libsystemd is loaded on first use with both functions; an absent one is nil, not a crash")
    func lazyLibrary() {
        #expect(SystemdLibrary.load(soname: "libsystemd-absent.so.9") == nil)
        #expect(SystemdLibrary.load(soname: "libc.so.6") == nil, "libc has no sd_notify")
        #expect(SystemdLibrary.shared != nil)
    }

    @Test("sd_notify reaches NOTIFY_SOCKET; without it the agent knows it is not under systemd")
    func notify() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let path = directory + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        unsetenv("NOTIFY_SOCKET")
        #expect(ServiceNotifier().ready(status: "x") == .notUnderSystemd)
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        #expect(ServiceNotifier().ready(status: "boot unlock: unlocked") == .sent)
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self) == "READY=1\nSTATUS=boot unlock: unlocked")
    }

    @Test("without journald the handler writes a readable line to stderr with its context")
    func stderrFallback() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        let path = directory + "/stderr"
        let saved = dup(2)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        dup2(fd, 2)
        var logger = Logger(label: "test") { JournalLogHandler(label: $0, sink: .stderr) }
        logger[metadataKey: "volume"] = "root"
        logger.error(
            "volume root not unlocked", metadata: ["event": "volume-failed", "error_code": "broker.unreachable"])
        dup2(saved, 2)
        close(fd)
        close(saved)
        let line = String(decoding: try Fixtures.readFile(path), as: UTF8.self)
        #expect(line == "ccagent: volume root not unlocked (error_code=broker.unreachable volume=root)\n")
    }
}
