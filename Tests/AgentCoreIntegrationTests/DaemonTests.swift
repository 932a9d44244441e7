// SPDX-License-Identifier: Apache-2.0
// `ccagent daemon` after switch-root: boot unlock, the credential socket, and a graceful SIGTERM.

import AgentCore
import FoundationEssentials
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The daemon's lifecycle", .serialized, .tags(.integration))
struct DaemonTests {
    @Test("SIGTERM ends the daemon gracefully: exit status 0, the boot outcome recorded, nothing left running")
    func gracefulShutdown() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-daemon")
        defer { Fixtures.removeTree(directory) }
        let socket = directory + "/credentials.sock"
        let statePath = directory + "/state.json"
        let daemon = try BackgroundProcess(
            [
                Binaries.ccagent, "daemon", "--credential-socket", socket, "--store", directory + "/store",
                "--state-file", statePath, "--config", directory + "/none.conf",
            ], logPath: directory + "/log")
        // Ready once the socket exists (after the boot unlock, which has nothing to do here).
        var waited = 0
        while access(socket, F_OK) != 0 && waited < 200 {
            usleep(50_000)
            waited += 1
        }
        #expect(access(socket, F_OK) == 0, "the credential socket never appeared: \(daemon.log)")
        let state = try #require(try BootState.read(from: statePath))
        #expect(state.outcome == .nothingToDo)
        #expect(state.fallback == nil, "outside the initrd the boot fallback never applies")
        let status = daemon.terminate(within: 10)
        #expect(status != nil, "the daemon did not stop within 10 s of SIGTERM: \(daemon.log)")
        if let status {
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "wait status \(status): \(daemon.log)")
        }
    }

    @Test(
        "SIGINT ends it gracefully too, and signals repeated during the shutdown do not kill it",
        arguments: [[SIGINT], [SIGINT, SIGINT, SIGTERM], [SIGTERM, SIGTERM, SIGINT, SIGTERM]])
    func repeatedSignals(signals: [Int32]) throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-daemon")
        defer { Fixtures.removeTree(directory) }
        let socket = directory + "/credentials.sock"
        let daemon = try BackgroundProcess(
            [
                Binaries.ccagent, "daemon", "--credential-socket", socket, "--store", directory + "/store",
                "--state-file", directory + "/state.json", "--config", directory + "/none.conf",
            ], logPath: directory + "/log")
        var waited = 0
        while access(socket, F_OK) != 0 && waited < 200 {
            usleep(50_000)
            waited += 1
        }
        #expect(access(socket, F_OK) == 0, "the credential socket never appeared: \(daemon.log)")
        // Back to back: the later ones arrive while the first one's shutdown runs (or just after).
        for signal in signals { kill(daemon.pid, signal) }
        var status: Int32 = 0
        var exited = false
        for _ in 0..<500 where !exited {
            exited = waitpid(daemon.pid, &status, WNOHANG) == daemon.pid
            if !exited { usleep(20_000) }
        }
        #expect(exited, "the daemon did not stop within 10 s of \(signals): \(daemon.log)")
        if exited {
            // Exited (not killed by a signal), with status 0.
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "wait status \(status): \(daemon.log)")
            daemon.signal(0)  // sends nothing; records that the process is reaped
        } else {
            daemon.signal(SIGKILL)
        }
    }
}
