// SPDX-License-Identifier: Apache-2.0
// Background processes for integration tests: a real ccbroker, test CAs, the built binaries.

import ProcessControl

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose stdout+stderr go to a log file; killed on `stop()` or deinit.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logPath: String

    public init(_ arguments: [String], logPath: String) throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var attributes = ProcessControls.cleanSignalSpawnAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var child: pid_t = 0
        let rc = posix_spawn(&child, arguments[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw FixtureError(message: "failed to spawn \(arguments[0]): \(rc)") }
        pid = child
    }

    /// The log so far.
    public var log: String {
        (try? Fixtures.readFile(logPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Waits (bounded) until the log contains `text`.
    public func waitFor(_ text: String, seconds: Double = 20) throws -> String {
        var waited = 0.0
        while waited < seconds {
            let current = log
            if current.contains(text) { return current }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                throw FixtureError(message: "process exited before '\(text)': \(current)")
            }
            usleep(50_000)
            waited += 0.05
        }
        throw FixtureError(message: "timed out waiting for '\(text)': \(log)")
    }

    private var reaped = false

    /// Sends SIGTERM and waits up to `seconds` for the process to exit: its wait status, or nil when it
    /// did not (it is then killed).
    public func terminate(within seconds: Double) -> Int32? {
        guard !reaped else { return nil }
        Glibc.kill(pid, SIGTERM)
        var status: Int32 = 0
        var waited = 0.0
        while waited < seconds {
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                return status
            }
            usleep(20_000)
            waited += 0.02
        }
        signal(SIGKILL)
        return nil
    }

    /// Sends `signal` and reaps the process; returns its wait status.
    @discardableResult
    public func signal(_ signal: Int32) -> Int32 {
        var status: Int32 = 0
        guard !reaped else { return status }
        reaped = true
        Glibc.kill(pid, signal)
        waitpid(pid, &status, 0)
        return status
    }

    public func stop() {
        guard !reaped else { return }
        reaped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || result < 0 { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    deinit { stop() }
}

/// The built executables (the test command builds them with the tests).
public enum Binaries {
    public static var directory: String { Fixtures.repositoryRoot + "/.build/debug" }
    public static var ccagent: String { directory + "/ccagent" }
    public static var ccbroker: String { directory + "/ccbroker" }

    /// `ccagent simulator init` in `directory`/sim, and its roots (`simulator roots`) written to
    /// `directory`/roots.pem for a broker's `--trust-simulator`. Returns both paths.
    public static func initialiseSimulator(in directory: String) throws -> (simulator: String, roots: String) {
        let simulator = directory + "/sim"
        try Subprocess.run([ccagent, "simulator", "init", "--simulator-dir", simulator]).check()
        let roots = try Subprocess.run([ccagent, "simulator", "roots", "--simulator-dir", simulator]).output
        try Fixtures.writeFile(directory + "/roots.pem", Array(roots.utf8))
        return (simulator, directory + "/roots.pem")
    }
}

/// A test PKI: a CA and a server certificate for 127.0.0.1 (openssl CLI).
public struct TestPKI {
    public let directory: String
    public var caPEM: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }

    public init(directory: String) throws {
        self.directory = directory
        func run(_ arguments: [String]) throws {
            let result = try Subprocess.run(["/usr/bin/openssl"] + arguments)
            guard result.exitCode == 0 else { throw FixtureError(message: "openssl failed: \(result.output)") }
        }
        try run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
            "/CN=ccagent test CA", "-keyout", directory + "/ca.key", "-out", caPEM,
        ])
        try run([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout",
            serverKey, "-out", directory + "/server.csr",
        ])
        let extensions = directory + "/ext.cnf"
        let text = "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        _ = try Subprocess.run(["/bin/sh", "-c", "printf '%s' \"$0\" > \"$1\"", text, extensions])
        try run([
            "x509", "-req", "-in", directory + "/server.csr", "-CA", caPEM, "-CAkey", directory + "/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", serverCertificate,
        ])
    }
}

/// A running ccbroker on 127.0.0.1 over TLS (or plain http, for a relay that must read the exchange).
public final class BrokerProcess: @unchecked Sendable {
    public let process: BackgroundProcess
    public let url: String
    public let resources: String

    public convenience init(pki: TestPKI, directory: String, extraArguments: [String] = []) throws {
        try self.init(
            directory: directory, transport: ["--tls-cert", pki.serverCertificate, "--tls-key", pki.serverKey],
            extraArguments: extraArguments)
    }

    /// A broker serving plain http:// (clients need --allow-insecure-http): only for a ``FaultRelay`` in front.
    public convenience init(plainHTTPIn directory: String, extraArguments: [String] = []) throws {
        try self.init(directory: directory, transport: [], extraArguments: extraArguments)
    }

    private init(directory: String, transport: [String], extraArguments: [String]) throws {
        resources = directory + "/resources"
        mkdir(resources, 0o700)
        process = try BackgroundProcess(
            [Binaries.ccbroker, "serve", "--listen", "127.0.0.1:0", "--resources", resources] + transport
                + (extraArguments.contains("--policy") ? [] : ["--allow-any-measurement"]) + extraArguments,
            logPath: directory + "/broker.log")
        let scheme = transport.isEmpty ? "http://" : "https://"
        let log = try process.waitFor("listening on " + scheme)
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("ccbroker: listening on " + scheme) })
        else { throw FixtureError(message: "no URL in \(log)") }
        url = String(line.dropFirst("ccbroker: listening on ".count))
    }

    public func put(_ resource: String, _ value: [UInt8]) throws {
        let file = resources + "/../value-\(getpid())"
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = value.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(file) }
        let result = try Subprocess.run([
            Binaries.ccbroker, "resource", "put", "--resources", resources, resource, "--in", file,
        ])
        guard result.exitCode == 0 else { throw FixtureError(message: result.output) }
    }
}
