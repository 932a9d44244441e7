// SPDX-License-Identifier: Apache-2.0
// LUKS2 enrollment and unlock on real images made by cryptsetup, and what a hostile host can do to them.

import AgentBase
import AgentCore
import Cryptsetup
import FoundationEssentials
import KBSProtocol
import LUKSBinding
import SecureMemory
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A factor source at the broker boundary: a fixed secret, and a record of every request.
final class RecordingFactors: VolumeFactorSource {
    var secret: SecretBytes
    var brokerRequests: [(String, ResourcePath)] = []

    init(secret: [UInt8] = Array(repeating: 0x5A, count: 32)) { self.secret = SecretBytes(copying: secret) }

    func brokerSecret(broker: String, resource: ResourcePath) throws -> SecretBytes {
        brokerRequests.append((broker, resource))
        return secret
    }

    func snpKey(_ request: DerivedKeyRequest) throws -> SecretBytes {
        SecretBytes(copying: Array(repeating: 0x11, count: 32))
    }
}

/// A LUKS2 image in a private directory, with the tools to inspect and tamper with it.
struct TestImage {
    static let broker = "https://kbs.test:8443"
    let directory: String
    let path: String
    let passphraseFile: String

    /// A fresh 20 MiB LUKS2 image (cryptsetup's default cipher unless `cipher` is given).
    init(cipher: String? = nil) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-luks")
        path = directory + "/disk.img"
        passphraseFile = directory + "/passphrase"
        try FileIO.writeAtomically(path: passphraseFile, bytes: Array("correct horse".utf8))
        try run("/usr/bin/truncate", "-s", "20M", path)
        try Subprocess.run(
            [
                "/sbin/cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
                "--pbkdf-force-iterations", "1000", "--key-file", passphraseFile, path,
            ] + (cipher.map { ["--cipher", $0] } ?? [])
        ).check()
    }

    var uuid: String { (try? CryptDevice(path: path).uuid) ?? "" }
    var passphrase: SecretBytes { SecretBytes(copying: Array("correct horse".utf8)) }

    @discardableResult
    func run(_ arguments: String...) throws -> String {
        let result = try Subprocess.run(arguments)
        guard result.exitCode == 0 else {
            throw FixtureError(message: "\(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }

    func tamper(_ edit: String...) throws { try tamper(edit) }

    func tamper(_ edit: [String]) throws {
        try Subprocess.run(
            ["/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/luks2_tamper.py", path] + edit
        ).check()
    }

    /// The configuration's defaults with the test broker: what the genuine VM's initramfs pins.
    static let policy = UnlockPolicy(broker: TestImage.broker)

    /// Enrolls with the secret `factors` will later release (as the broker admin would store it).
    func enroll(factors: RecordingFactors, binding: BindingMode = .broker) throws -> EnrollmentResult {
        try Enrollment.enroll(
            EnrollmentRequest(
                device: path, binding: binding, broker: TestImage.broker,
                resource: ResourcePath("default/luks/\(uuid)"),
                trustRecord: [], snp: binding.usesSNP ? DerivedKeyRequest(fields: [.measurement, .policy]) : nil,
                existingPassphrase: passphrase, brokerSecret: factors.secret),
            policy: TestImage.policy, factors: factors)
    }

    /// Unlocks (verify only) under the default policy with `broker` configured.
    func unlock(factors: VolumeFactorSource, broker: String = TestImage.broker) throws -> UnlockOutcome {
        try VolumeUnlock.unlock(device: path, name: nil, policy: UnlockPolicy(broker: broker), factors: factors)
    }

    /// The original passphrase still opens the image (cryptsetup's own check).
    var originalPassphraseOpens: Bool {
        (try? Subprocess.run(["/sbin/cryptsetup", "open", "--test-passphrase", "--key-file", passphraseFile, path])
            .exitCode) == 0
    }

    var bytes: [UInt8] { (try? FileIO.read(path: path, limit: 64 << 20)) ?? [] }

    func remove() { Fixtures.removeTree(directory) }
}

@Suite("LUKS2 enrollment and unlock", .serialized, .tags(.integration))
struct VolumeTests {
    @Test("enroll adds a pbkdf2-sha512/1000 keyslot with priority prefer and our token; unlock verifies it")
    func enrollAndUnlock() throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        let result = try image.enroll(factors: factors)
        #expect(result.keyslot == 1)
        let dump = try image.run("/sbin/cryptsetup", "luksDump", image.path)
        #expect(dump.contains("ccagent"))
        #expect(dump.contains("Priority:   preferred"))
        #expect(dump.contains("Iterations: 1000"))
        #expect(dump.contains("Hash:       sha512"))
        #expect(image.originalPassphraseOpens)
        let outcome = try image.unlock(factors: factors, broker: TestImage.broker + "/")
        #expect(outcome.keyslot == 1)
        #expect(factors.brokerRequests.last?.1.description == "default/luks/\(image.uuid)")
        let volumes = VolumeInventory.scan([image.path])
        #expect(volumes.first?.binding == "broker" && volumes.first?.keyslot == 1)
        #expect(volumes.first?.isAcceptable == true, "\(String(describing: volumes.first))")
    }

    @Test("a wrong existing passphrase changes nothing")
    func wrongPassphrase() throws {
        let image = try TestImage()
        defer { image.remove() }
        let before = image.bytes
        #expect(throws: BindingError(.wrongKey, "")) {
            _ = try Enrollment.enroll(
                EnrollmentRequest(
                    device: image.path, binding: .broker, broker: TestImage.broker, resource: ResourcePath("a/b/c"),
                    trustRecord: [], snp: nil, existingPassphrase: SecretBytes(copying: Array("nope".utf8)),
                    brokerSecret: nil),
                policy: TestImage.policy, factors: RecordingFactors())
        }
        #expect(image.bytes == before)
    }

    @Test("a token naming another broker is refused before anything is sent")
    func brokerSwapped() throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        _ = try image.enroll(factors: factors)
        try image.tamper("token-broker", "https://evil.example")
        let before = image.bytes
        do {
            _ = try image.unlock(factors: factors, broker: TestImage.broker)
            Issue.record("unlocked with a swapped broker")
        } catch let error as BindingError {
            #expect(error.code == .brokerMismatch)
            #expect(error.message.contains("evil.example"))
        }
        #expect(factors.brokerRequests.isEmpty)
        #expect(image.bytes == before, "nothing written")
    }

    @Test("a whole new volume made by the host, with its own broker, is refused")
    func hostVolume() throws {
        let host = try TestImage()
        defer { host.remove() }
        _ = try Enrollment.enroll(
            EnrollmentRequest(
                device: host.path, binding: .broker, broker: "https://host-broker.example",
                resource: ResourcePath("default/luks/host"),
                trustRecord: [], snp: nil, existingPassphrase: host.passphrase, brokerSecret: nil),
            policy: permissivePolicy(broker: "https://host-broker.example"), factors: RecordingFactors())
        let factors = RecordingFactors()
        #expect(throws: BindingError(.brokerMismatch, "")) {
            _ = try host.unlock(factors: factors, broker: TestImage.broker)
        }
        #expect(factors.brokerRequests.isEmpty)
    }

    /// A header edit, the exact refusal it must meet, and whether that refusal comes before the broker
    /// is asked (the allowlist and the pins) or only after (the MAC, which needs the key).
    struct Tamper: Sendable, CustomTestStringConvertible {
        var edit: [String]
        var code: BindingError.Code
        var beforeBroker: Bool
        var testDescription: String { edit.joined(separator: " ") }
    }

    @Test(
        "header changes a hostile host could make are refused exactly, and nothing is activated",
        arguments: [
            Tamper(edit: ["token-resource", "default/luks/other"], code: .macMismatch, beforeBroker: false),
            Tamper(edit: ["token-resource", "public/config/motd"], code: .policyRefused, beforeBroker: true),
            Tamper(edit: ["segment-cipher", "cipher_null-ecb"], code: .headerRejected, beforeBroker: true),
            Tamper(edit: ["area-cipher", "1", "aes-ecb"], code: .headerRejected, beforeBroker: true),
            Tamper(edit: ["area-cipher", "1", "aes-cbc-essiv:sha256"], code: .macMismatch, beforeBroker: false),
            Tamper(edit: ["digest-replace"], code: .macMismatch, beforeBroker: false),
            Tamper(edit: ["token-drop-mac"], code: .malformedToken, beforeBroker: true),
            Tamper(edit: ["config-flag", "allow-discards"], code: .headerRejected, beforeBroker: true),
        ])
    func tamperedHeader(tamper: Tamper) throws {
        let edit = tamper.edit
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        _ = try image.enroll(factors: factors)
        try image.tamper(edit)
        let before = image.bytes
        let recorder = RecordingFactors()
        do {
            _ = try image.unlock(factors: recorder, broker: TestImage.broker)
            Issue.record("\(edit) was accepted")
        } catch let error as BindingError {
            #expect(error.code == tamper.code, "\(edit): \(error)")
            #expect(error.message.contains("refusing") || error.message.contains("malformed"))
        }
        #expect(recorder.brokerRequests.isEmpty == tamper.beforeBroker, "\(edit): \(recorder.brokerRequests)")
        #expect(image.bytes == before, "nothing written")
    }

    @Test("the token copied from another volume does not verify there")
    func tokenCopied() throws {
        let genuine = try TestImage()
        let other = try TestImage()
        defer {
            genuine.remove()
            other.remove()
        }
        let factors = RecordingFactors()
        _ = try genuine.enroll(factors: factors)
        _ = try other.enroll(factors: RecordingFactors(secret: Array(repeating: 0x33, count: 32)))
        try other.tamper("token-copy-from", genuine.path)
        // Same broker, an allowed resource, a genuine MAC — but over the other volume's header and UUID.
        #expect(throws: BindingError(.macMismatch, "")) {
            _ = try other.unlock(factors: factors, broker: TestImage.broker)
        }
    }

    @Test("benign changes — an unrelated token or keyslot added — still unlock")
    func benignChanges() throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        _ = try image.enroll(factors: factors)
        let token = image.directory + "/token.json"
        try FileIO.writeAtomically(path: token, bytes: Array(#"{"type":"systemd-recovery","keyslots":[]}"#.utf8))
        try image.run("/sbin/cryptsetup", "token", "import", "--json-file", token, image.path)
        let newKey = image.directory + "/second"
        try FileIO.writeAtomically(path: newKey, bytes: Array("second passphrase".utf8))
        try image.run(
            "/sbin/cryptsetup", "luksAddKey", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
            "--key-file", image.passphraseFile, image.path, newKey)
        let outcome = try image.unlock(factors: factors, broker: TestImage.broker)
        #expect(outcome.keyslot == 1)
    }

    @Test("a broker that releases another secret is caught by the MAC before any keyslot is tried")
    func wrongSecret() throws {
        let image = try TestImage()
        defer { image.remove() }
        _ = try image.enroll(factors: RecordingFactors())
        #expect(throws: BindingError(.macMismatch, "")) {
            _ = try image.unlock(factors: RecordingFactors(secret: Array(repeating: 0x01, count: 32)))
        }
    }

    @Test("unenroll removes our keyslot and token; the passphrase keyslot stays")
    func unenroll() throws {
        let image = try TestImage()
        defer { image.remove() }
        _ = try image.enroll(factors: RecordingFactors())
        let removed = try Enrollment.unenroll(device: image.path)
        #expect(removed.keyslot == 1)
        let device = try CryptDevice(path: image.path)
        #expect(device.activeKeyslots == [0])
        #expect(!device.tokens.contains { $0.json.contains("ccagent") })
        #expect(image.originalPassphraseOpens)
        #expect(throws: BindingError(.notEnrolled, "")) { try Enrollment.unenroll(device: image.path) }
    }

    @Test(
        "killing the process at every enroll/unenroll step leaves the image openable and a rerun clean",
        arguments: [
            "secret-stored", "pending-token", "keyslot-added", "priority-set", "token-final",
            "unenroll-keyslot-destroyed",
        ])
    func crashSafety(point: String) throws {
        let image = try TestImage()
        defer { image.remove() }
        let ccagent = Binaries.ccagent
        let secret = image.directory + "/secret"
        let enroll = [
            ccagent, "enroll", image.path, "--broker", TestImage.broker, "--resource", "default/luks/x",
            "--key-file", image.passphraseFile, "--secret-out", secret,
        ]
        let home = ["HOME": image.directory]
        if point.hasPrefix("unenroll") {
            try Subprocess.run(enroll, environment: home).check()
            let crashed = try Subprocess.run(
                [ccagent, "unenroll", image.path], environment: home.merging(["CCAGENT_FAULT_INJECT": point]) { $1 })
            #expect(crashed.exitCode == 86)
            #expect(image.originalPassphraseOpens)
            try Subprocess.run([ccagent, "unenroll", image.path], environment: home).check()
        } else {
            let crashed = try Subprocess.run(enroll, environment: home.merging(["CCAGENT_FAULT_INJECT": point]) { $1 })
            #expect(crashed.exitCode == 86, "\(crashed.output)")
            #expect(image.originalPassphraseOpens)
            try? FileIO.writeAtomically(path: secret + ".old", bytes: [])
            _ = try? Subprocess.run(["/bin/rm", "-f", secret])
            let rerun = try Subprocess.run(enroll, environment: home)
            if point == "token-final" {
                // The enrollment had completed: a rerun says so instead of adding a second keyslot.
                #expect(rerun.exitCode == 1 && rerun.output.contains("already enrolled"), "\(rerun.output)")
            } else {
                #expect(rerun.exitCode == 0, "\(rerun.output)")
            }
        }
        let device = try CryptDevice(path: image.path)
        let ccagentTokens = device.tokens.filter { CCAgentToken.isCCAgentToken($0.json) }
        if point.hasPrefix("unenroll") {
            #expect(device.activeKeyslots == [0])
            #expect(ccagentTokens.isEmpty)
        } else {
            #expect(device.activeKeyslots == [0, 1], "no orphan keyslot")
            #expect(ccagentTokens.count == 1)
        }
    }

    @Test(
        "kill -9 at random moments of enroll: the passphrase always opens, and an enrolled token always has its secret")
    func randomKills() throws {
        // How long one enrollment takes here, so the kills spread over all of it and a little past.
        let timing = try TestImage()
        defer { timing.remove() }
        let started = FaultBench.now()
        try Subprocess.run(
            [
                Binaries.ccagent, "enroll", timing.path, "--broker", TestImage.broker, "--resource",
                "default/luks/\(timing.uuid)", "--key-file", timing.passphraseFile, "--secret-out",
                timing.directory + "/secret",
            ]
        ).check()
        let span = max((FaultBench.now() - started) * 1000, 20) * 1.3
        var enrolledSeen = 0
        for round in 0..<12 {
            let image = try TestImage()
            defer { image.remove() }
            let secret = image.directory + "/secret"
            let process = try BackgroundProcess(
                [
                    Binaries.ccagent, "enroll", image.path, "--broker", TestImage.broker, "--resource",
                    "default/luks/\(image.uuid)", "--key-file", image.passphraseFile, "--secret-out", secret,
                ], logPath: image.directory + "/log")
            usleep(UInt32(span * 1000 * Double(round + 1) / 12))
            process.signal(SIGKILL)
            #expect(image.originalPassphraseOpens, "round \(round)")
            let device = try CryptDevice(path: image.path)
            let enrolled = device.tokens.compactMap { try? CCAgentToken(json: $0.json) }.filter { !$0.pending }
            if let token = enrolled.first {
                enrolledSeen += 1
                // The secret on disk is the one the keyslot was made from.
                let stored = try FileIO.read(path: secret, limit: 4096)
                #expect(stored.count == 32, "round \(round): enrolled token, secret file has \(stored.count) bytes")
                let outcome = try image.unlock(factors: RecordingFactors(secret: stored))
                #expect(outcome.keyslot == token.keyslot)
            }
            // Whatever the moment, a rerun completes or says exactly what to do.
            let rerun = try Subprocess.run(
                [
                    Binaries.ccagent, "enroll", image.path, "--broker", TestImage.broker, "--resource",
                    "default/luks/\(image.uuid)", "--key-file", image.passphraseFile, "--secret-out", secret,
                ])
            #expect(
                rerun.exitCode == 0 || (enrolled.count == 1 && rerun.output.contains("already enrolled")),
                "round \(round): \(rerun.output)")
            let leftovers = try Subprocess.run(["/bin/sh", "-c", "ls \(image.directory) | grep -c tmp || true"])
            #expect(leftovers.output.filter { !$0.isWhitespace } == "0", "round \(round): temp file left")
        }
        // The kills must land on both sides of the enrollment for the test to mean anything.
        #expect(enrolledSeen > 0 && enrolledSeen < 12, "\(enrolledSeen) of 12 kills came after the enrollment")
    }
}
