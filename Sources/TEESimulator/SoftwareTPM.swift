// SPDX-License-Identifier: Apache-2.0
// swtpm (Debian: swtpm, swtpm-tools) as the simulated Azure vTPM: one process per SoftwareTPM, on 127.0.0.1.

import AgentBase
import ProcessControl
import TEEDevice
import VTPM

#if canImport(Glibc)
import Glibc
#endif

/// A TPM 2.0 simulator process (swtpm in socket mode) owned by this object: started by ``start(stateDirectory:)``,
/// killed by ``stop()`` or deinit. Its TCTI is `swtpm:host=127.0.0.1,port=N`.
public final class SoftwareTPM: @unchecked Sendable {
    public let pid: pid_t
    public let port: UInt16
    public let stateDirectory: String
    public var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }
    private var stopped = false

    /// Where swtpm is (PATH, then /usr/bin), or nil when it is not installed.
    public static func locate() -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin"] {
            let candidate = directory + "/swtpm"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Starts swtpm with its state in `stateDirectory` (created if needed) and waits until it accepts.
    public static func start(stateDirectory: String) throws(DeviceError) -> SoftwareTPM {
        guard let swtpm = locate() else {
            throw DeviceError(
                .unavailable,
                "the simulated Azure vTPM needs swtpm (apt install swtpm swtpm-tools; scripts/setup.sh installs it)")
        }
        mkdir(stateDirectory, 0o700)
        var lastError = ""
        for _ in 0..<5 {
            let port = freePortPair()
            guard port != 0 else { continue }
            let arguments = [
                swtpm, "socket", "--tpm2",
                "--server", "type=tcp,port=\(port),bindaddr=127.0.0.1",
                "--ctrl", "type=tcp,port=\(port + 1),bindaddr=127.0.0.1",
                "--tpmstate", "dir=\(stateDirectory)",
                "--flags", "not-need-init,startup-clear",
            ]
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(
                &actions, 1, stateDirectory + "/swtpm.log", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let argv = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            // A clean signal mask and default dispositions: ccagent blocks SIGTERM for its own handling, and a
            // child inheriting that would ignore stop()'s SIGTERM.
            var attributes = ProcessControls.cleanSignalSpawnAttributes()
            defer { posix_spawnattr_destroy(&attributes) }
            var child: pid_t = 0
            let rc = posix_spawn(&child, swtpm, &actions, &attributes, argv, environ)
            guard rc == 0 else {
                throw DeviceError(.system, "failed to start swtpm: \(String(cString: strerror(rc)))")
            }
            let tpm = SoftwareTPM(pid: child, port: port, stateDirectory: stateDirectory)
            if tpm.waitUntilListening(seconds: 5) { return tpm }
            tpm.stop()
            lastError =
                (try? FileIO.read(path: stateDirectory + "/swtpm.log", limit: 4096))
                .map { String(decoding: $0, as: UTF8.self) } ?? "no log"
        }
        throw DeviceError(.system, "swtpm did not start listening on 127.0.0.1: \(lastError)")
    }

    private init(pid: pid_t, port: UInt16, stateDirectory: String) {
        self.pid = pid
        self.port = port
        self.stateDirectory = stateDirectory
    }

    deinit { stop() }

    /// Kills the swtpm process (this one only) and reaps it.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    private func waitUntilListening(seconds: Double) -> Bool {
        var waited = 0.0
        while waited < seconds {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                stopped = true
                return false
            }
            if SoftwareTPM.connects(port: port) && SoftwareTPM.connects(port: port + 1) { return true }
            usleep(20_000)
            waited += 0.02
        }
        return false
    }

    private static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private static func connects(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// A port p with p and p+1 free a moment ago (swtpm's server and control ports).
    private static func freePortPair() -> UInt16 {
        for _ in 0..<20 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return 0 }
            var address = loopback(0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            close(fd)
            guard bound else { continue }
            let port = UInt16(bigEndian: address.sin_port)
            guard port < 65000, !connects(port: port + 1) else { continue }
            return port
        }
        return 0
    }
}
