// SPDX-License-Identifier: Apache-2.0
// The real binaries against a real ccbroker on 127.0.0.1 over TLS: fetch, policy, boot unlock, status.

import AgentBase
import AgentCore
import FoundationEssentials
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One broker, PKI and simulator shared by the suite.
final class Environment: @unchecked Sendable {
    let directory: String
    let pki: TestPKI
    let simulator: String
    let broker: BrokerProcess

    init(policy: String? = nil) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-e2e")
        pki = try TestPKI(directory: directory)
        let initialised = try Binaries.initialiseSimulator(in: directory)
        simulator = initialised.simulator
        var arguments = ["--trust-simulator", initialised.roots, "--allow-sample"]
        if let policy {
            try FileIO.writeAtomically(path: directory + "/policy.json", bytes: Array(policy.utf8))
            arguments += ["--policy", directory + "/policy.json"]
        }
        broker = try BrokerProcess(pki: pki, directory: directory, extraArguments: arguments)
    }

    /// A fresh 20 MiB LUKS2 image (cheap pbkdf2 passphrase keyslot); returns its path and passphrase file.
    func makeImage(_ name: String) throws -> (image: String, passphrase: String) {
        let image = directory + "/\(name).img"
        let passphrase = directory + "/\(name)-pass"
        try FileIO.writeAtomically(path: passphrase, bytes: Array("correct horse".utf8))
        try Subprocess.run(["/usr/bin/truncate", "-s", "20M", image]).check()
        try Subprocess.run([
            "/sbin/cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
            "--pbkdf-force-iterations", "1000", "--key-file", passphrase, image,
        ]).check()
        return (image, passphrase)
    }

    func ccagent(_ arguments: [String]) throws -> Subprocess.Result {
        try Subprocess.run([Binaries.ccagent] + arguments, environment: ["HOME": directory])
    }

    deinit {
        broker.process.stop()
        Fixtures.removeTree(directory)
    }

    /// One environment for the parameterized cases (creating a simulator costs two RSA-4096 keys).
    /// A static is never deinitialized, so its broker is stopped and its directory removed at exit.
    static func shared() throws -> Environment {
        try lock.withLock {
            if let cached { return cached }
            let environment = try Environment()
            cached = environment
            atexit {
                guard let environment = Environment.cached else { return }
                environment.broker.process.stop()
                Fixtures.removeTree(environment.directory)
            }
            return environment
        }
    }

    nonisolated(unsafe) private static var cached: Environment?
    private static let lock = Lock()
}

@Suite("End to end with ccbroker", .serialized, .tags(.integration))
struct EndToEndTests {
    @Test(
        "ccagent fetch gets the exact bytes for every TEE and key type",
        arguments: ["sample", "sim-snp", "sim-tdx"], ["p256", "p521", "rsa"])
    func fetch(tee: String, keyType: String) throws {
        let environment = try Environment.shared()
        let secret = Array("secret for \(tee)/\(keyType)".utf8)
        try environment.broker.put("default/test/\(tee)", secret)
        let out = environment.directory + "/out"
        let result = try environment.ccagent([
            "fetch", "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource",
            "default/test/\(tee)",
            "--tee", tee, "--simulator-dir", environment.simulator, "--key-type", keyType, "--out", out,
        ])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(try Fixtures.readFile(out) == secret)
        var info = stat()
        stat(out, &info)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test("a policy violation gives the agent PolicyDeny and the broker log the failing rule")
    func policyDeny() throws {
        let environment = try Environment(
            policy: #"{"default":{"snp":{"measurements":["00"]},"tdx":{"mr_td":["00"]}}}"#)
        try environment.broker.put("default/test/x", [1, 2, 3])
        for tee in ["sim-snp", "sim-tdx"] {
            let result = try environment.ccagent([
                "fetch", "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource",
                "default/test/x",
                "--tee", tee, "--simulator-dir", environment.simulator, "--out", environment.directory + "/out",
            ])
            #expect(result.exitCode == 1)
            #expect(result.output.contains("policy denied"), "\(result.output)")
        }
        let log = environment.broker.process.log
        #expect(log.contains("rule=snp.measurements:"))
        #expect(log.contains("rule=tdx.mr_td:"))
        #expect(!FileManager.default.fileExists(atPath: environment.directory + "/out"), "nothing written")
    }

    @Test("simulated evidence is refused by a broker that does not trust the simulator")
    func untrustedSimulator() throws {
        let environment = try Environment()
        let other = environment.directory + "/other-sim"
        try Subprocess.run([Binaries.ccagent, "simulator", "init", "--simulator-dir", other]).check()
        try environment.broker.put("default/test/x", [1])
        let result = try environment.ccagent([
            "fetch", "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource", "default/test/x",
            "--tee", "sim-snp", "--simulator-dir", other, "--out", environment.directory + "/out",
        ])
        #expect(result.exitCode == 1)
        #expect(result.output.contains("did not accept the evidence"), "\(result.output)")
        #expect(environment.broker.process.log.contains("not a trusted AMD root"))
    }

    @Test("unlock --all attests once for two volumes and records state.json; status reads it back")
    func bootUnlock() throws {
        let environment = try Environment()
        var images: [String] = []
        for index in 0..<2 {
            let (image, passphrase) = try environment.makeImage("disk\(index)")
            let secret = environment.directory + "/secret\(index)"
            try environment.ccagent([
                "enroll", image, "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource",
                "default/luks/disk\(index)", "--key-file", passphrase, "--secret-out", secret,
            ]).check()
            try environment.broker.put("default/luks/disk\(index)", Fixtures.readFile(secret))
            images.append(image)
        }
        let state = environment.directory + "/state.json"
        let common = [
            "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--tee", "sim-snp", "--simulator-dir",
            environment.simulator,
        ]
        let result = try environment.ccagent(
            ["unlock", "--all", "--verify-only", "--state-file", state, "--only", images[0], "--only", images[1]]
                + common)
        #expect(result.exitCode == 0, "\(result.output)")
        let recorded = try #require(try BootState.read(from: state))
        #expect(recorded.outcome == .unlocked)
        #expect(recorded.volumes.map(\.outcome) == [.unlocked, .unlocked])
        #expect(recorded.phases.map(\.name).contains("attest"))
        let log = environment.broker.process.log
        #expect(log.components(separatedBy: "attest allow").count - 1 == 1, "one attestation for both volumes")
        #expect(log.components(separatedBy: "resource allow").count - 1 == 2)

        let status = try environment.ccagent(
            ["status", "--json", "--state-file", state, "--store", environment.directory + "/store"] + common + images)
        let json = try JSONDecoder().decode(StatusReport.self, from: Data(status.output.utf8))
        #expect(json.lastBoot.health == .ok)
        #expect(json.volumes.facts.count == 2)
        #expect(status.exitCode == 10, "degraded: the simulator is in use")
    }

    @Test("broker down: unlock --all gives up within its deadline, records why, and exits for the passphrase prompt")
    func brokerDown() throws {
        let environment = try Environment()
        let (image, passphrase) = try environment.makeImage("disk")
        let dead = "https://127.0.0.1:9"
        try environment.ccagent([
            "enroll", image, "--broker", dead, "--resource", "default/luks/d", "--key-file", passphrase, "--secret-out",
            environment.directory + "/secret",
        ]).check()
        let state = environment.directory + "/state.json"
        let result = try environment.ccagent([
            "unlock", "--all", "--verify-only", "--state-file", state, "--only", image, "--broker", dead, "--tee",
            "sim-snp",
            "--simulator-dir", environment.simulator, "--deadline", "2",
        ])
        #expect(result.exitCode == 1)
        let recorded = try #require(try BootState.read(from: state))
        #expect(recorded.outcome == .failed)
        #expect(recorded.volumes.first?.errorCode == "broker.unreachable")
        let status = try environment.ccagent([
            "status", "--state-file", state, "--broker", dead, "--tee", "sim-snp", "--simulator-dir",
            environment.simulator,
            "--store", environment.directory + "/store",
        ])
        #expect(status.exitCode == 11)
        #expect(status.output.contains("next: check the guest network in the initramfs"))
        let json = try environment.ccagent([
            "status", "--json", "--state-file", state, "--broker", dead, "--tee", "sim-snp", "--simulator-dir",
            environment.simulator, "--store", environment.directory + "/store",
        ])
        let schema = Fixtures.repositoryRoot + "/docs/status.schema.json"
        let check = try Subprocess.run(
            [
                "/usr/bin/env", "python3", "-c",
                "import json,sys,jsonschema; jsonschema.validate(json.loads(sys.stdin.read()), json.load(open(sys.argv[1])))",
                schema,
            ], input: Array(json.output.utf8))
        #expect(check.exitCode == 0, "\(check.output)")
    }

    @Test("a tampered volume is named by status, with the next step")
    func statusTampered() throws {
        let environment = try Environment()
        let (image, passphrase) = try environment.makeImage("disk")
        try environment.ccagent([
            "enroll", image, "--broker", environment.broker.url, "--resource", "default/luks/d", "--key-file",
            passphrase,
            "--secret-out", environment.directory + "/secret",
        ]).check()
        try Subprocess.run([
            "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/luks2_tamper.py", image,
            "segment-cipher",
            "cipher_null-ecb",
        ]).check()
        let status = try environment.ccagent([
            "status", "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--tee", "sim-snp",
            "--simulator-dir", environment.simulator, "--state-file", environment.directory + "/none.json", "--store",
            environment.directory + "/store", image,
        ])
        #expect(status.exitCode == 11)
        #expect(status.output.contains("cipher_null-ecb"))
        #expect(status.output.contains("may have been tampered with"))
    }

    @Test("a real journald receives the agent's entries with MESSAGE_ID and CCAGENT_* fields, and no secret anywhere")
    func journal() throws {
        let environment = try Environment.shared()
        let (image, passphrase) = try environment.makeImage("journal")
        let secretFile = environment.directory + "/journal-secret"
        try environment.ccagent([
            "enroll", image, "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource",
            "default/luks/journal", "--key-file", passphrase, "--secret-out", secretFile,
        ]).check()
        let secret = try Fixtures.readFile(secretFile)
        try environment.broker.put("default/luks/journal", secret)
        let journal = environment.directory + "/journal.json"
        let state = environment.directory + "/journal-state.json"
        let run = try Subprocess.run([
            Fixtures.repositoryRoot + "/scripts/testing/with_journald.sh", journal, Binaries.ccagent, "unlock", "--all",
            "--verify-only", "--only", image, "--state-file", state, "--broker", environment.broker.url, "--ca",
            environment.pki.caPEM, "--tee", "sim-snp", "--simulator-dir", environment.simulator,
        ])
        #expect(run.exitCode == 0, "\(run.output)")
        let entries = try String(decoding: Fixtures.readFile(journal), as: UTF8.self).split(separator: "\n").map {
            try JSONDecoder().decode([String: JSONField].self, from: Data($0.utf8))
        }
        let ours = entries.filter { $0["SYSLOG_IDENTIFIER"]?.text == "ccagent" && $0["_TRANSPORT"]?.text == "journal" }
        #expect(ours.count >= 3)
        let unlocked = try #require(ours.first { $0["MESSAGE_ID"]?.text == "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e04" })
        #expect(unlocked["CCAGENT_VOLUME"]?.text == "luks-" + (try CryptsetupUUID.of(image)))
        #expect(unlocked["CCAGENT_DEVICE"]?.text == image)
        #expect(unlocked["CCAGENT_PHASE"]?.text == "unlock")
        #expect(unlocked["CCAGENT_EVENT"]?.text == "volume-unlocked")
        #expect(ours.contains { $0["MESSAGE_ID"]?.text == "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e02" })
        // The secret, raw or encoded, appears in no log, state file or output.
        let haystacks = [try Fixtures.readFile(journal), try Fixtures.readFile(state), Array(run.output.utf8)]
        let needles = [secret, Array(Hex.encode(secret).utf8), Array(Base64Text(secret).utf8)]
        for haystack in haystacks {
            for needle in needles {
                #expect(!contains(haystack, needle), "a secret leaked")
            }
        }
    }
    @Test("an independently written KBS client behaves the same against ccbroker and the independent KBS")
    func crossImplementation() throws {
        let environment = try Environment.shared()
        try environment.broker.put("default/cross/key", Array("cross".utf8))
        let stub = try BackgroundProcess(
            [
                "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/stub_kbs.py", "--cert",
                environment.pki.serverCertificate, "--key", environment.pki.serverKey, "--resource",
                "default/cross/key=cross",
            ], logPath: environment.directory + "/stub.log")
        defer { stub.stop() }
        let stubLog = try stub.waitFor("listening on https://")
        let stubURL = String(
            stubLog.split(separator: "\n").first { $0.hasPrefix("listening on ") }?.dropFirst(13) ?? "")
        var outcomes: [String] = []
        for url in [environment.broker.url, stubURL] {
            let result = try Subprocess.run([
                "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/bench/load.py", url,
                environment.pki.caPEM,
                "default/cross/key", "5",
            ])
            #expect(result.exitCode == 0, "\(result.output)")
            let summary = try JSONDecoder().decode([String: JSONNumberOrText].self, from: Data(result.output.utf8))
            outcomes.append("ok=\(summary["ok"]?.number ?? -1) errors=\(summary["errors"]?.number ?? -1)")
        }
        #expect(outcomes == ["ok=5 errors=0", "ok=5 errors=0"])
    }
}

/// A JSON value that is a number (or anything else, ignored).
struct JSONNumberOrText: Decodable {
    var number: Int?
    init(from decoder: any Decoder) throws {
        number = try? decoder.singleValueContainer().decode(Int.self)
    }
}

/// A journal JSON field: a string, or (for binary fields) an array of bytes.
struct JSONField: Decodable {
    var text: String?
    init(from decoder: any Decoder) throws {
        text = try? decoder.singleValueContainer().decode(String.self)
    }
}

enum CryptsetupUUID {
    static func of(_ image: String) throws -> String {
        try Subprocess.run(["/sbin/cryptsetup", "luksUUID", image]).output.filter { !$0.isNewline }
    }
}

func Base64Text(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count >= 8, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if Array(haystack[start..<start + needle.count]) == needle { return true }
    }
    return false
}
