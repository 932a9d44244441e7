// SPDX-License-Identifier: Apache-2.0
// Runs a child process for tests and captures its combined output.

import ProcessControl

#if canImport(Glibc)
import Glibc
#endif

/// A minimal posix_spawn wrapper for tests (real binaries: cryptsetup, python3, ccagent, ...).
public enum Subprocess {
    public struct Result: Sendable {
        public var exitCode: Int32
        public var output: String
    }

    /// Runs `arguments` (argv[0] is a path) with optional extra environment and stdin bytes; waits.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], input: [UInt8] = []
    ) throws -> Result {
        var outPipe: [Int32] = [0, 0]
        var inPipe: [Int32] = [0, 0]
        // O_CLOEXEC: other children spawned concurrently (tests run in parallel) must not inherit these
        // pipes, or this read would wait for them to exit.
        guard pipe(&outPipe) == 0, pipe(&inPipe) == 0 else {
            throw FixtureError(message: "failed to create a pipe: errno \(errno)")
        }
        for fd in outPipe + inPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
        posix_spawn_file_actions_addclose(&actions, outPipe[0])
        posix_spawn_file_actions_addclose(&actions, inPipe[1])

        var env: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                env[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        env.merge(environment) { $1 }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var attributes = ProcessControls.cleanSignalSpawnAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(inPipe[0])
        guard rc == 0 else {
            close(outPipe[0])
            close(inPipe[1])
            throw FixtureError(message: "failed to spawn '\(arguments[0])': errno \(rc)")
        }
        if !input.isEmpty {
            _ = input.withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
        }
        close(inPipe[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(outPipe[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output.append(contentsOf: buffer[0..<n])
        }
        close(outPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7F) == 0
        let code = exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(exitCode: code, output: String(decoding: output, as: UTF8.self))
    }
}

extension Subprocess.Result {
    /// Throws the output when the command failed.
    public func check() throws {
        guard exitCode == 0 else { throw FixtureError(message: output) }
    }
}
