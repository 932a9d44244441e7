// SPDX-License-Identifier: Apache-2.0
// LUKS2 enrollment and unlock on real images made by cryptsetup, and what a hostile host can do to them.

import AgentCore
import Cryptsetup
import FoundationEssentials
import KBSProtocol
import LUKSBinding
import SecureMemory
import TestSupport
import Testing

/// A factor source at the broker boundary: a fixed secret, and a record of every request.
final class RecordingFactors: VolumeFactorSource {
    var secret: SecretBytes
    var brokerRequests: [(String, ResourcePath)] = []

    init(secret: [UInt8] = Array(repeating: 0x5A, count: 32)) { self.secret = SecretBytes(copying: secret) }

    func brokerSecret(broker: String, resource: ResourcePath) throws -> SecretBytes {
        brokerRequests.append((broker, resource))
        return secret
    }

    func snpKey(_ parameters: SNPKeyParameters) throws -> SecretBytes {
        SecretBytes(copying: Array(repeating: 0x11, count: 32))
    }
}

/// A LUKS2 image in a private directory, with the tools to inspect and tamper with it.
struct TestImage {
    static let broker = "https://kbs.test:8443"
    let directory: String
    let path: String
    let passphraseFile: String

    init() throws {
        directory = try Fixtures.temporaryDirectory("ccagent-luks")
        path = directory + "/disk.img"
        passphraseFile = directory + "/passphrase"
        try FileIO.writeAtomically(path: passphraseFile, bytes: Array("correct horse".utf8))
        try run("/usr/bin/truncate", "-s", "20M", path)
        try run(
            "/sbin/cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
            "--pbkdf-force-iterations", "1000", "--key-file", passphraseFile, path)
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

    func tamper(_ edit: String...) throws {
        try Subprocess.run(
            ["/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/luks2_tamper.py", path] + edit
        ).check()
    }

    /// Enrolls with the secret `factors` will later release (as the broker admin would store it).
    func enroll(factors: RecordingFactors, binding: BindingMode = .broker) throws -> EnrollmentResult {
        try Enrollment.enroll(
            EnrollmentRequest(
                device: path, binding: binding, broker: TestImage.broker,
                resource: ResourcePath("default/luks/\(uuid)"),
                trustRecord: [], snp: binding.usesSNP ? SNPKeyParameters(fields: ["measurement"]) : nil,
                existingPassphrase: passphrase, brokerSecret: factors.secret),
            factors: factors)
    }

    /// The original passphrase still opens the image (cryptsetup's own check).
    var originalPassphraseOpens: Bool {
        (try? Subprocess.run(["/sbin/cryptsetup", "open", "--test-passphrase", "--key-file", passphraseFile, path])
            .exitCode) == 0
    }

    var bytes: [UInt8] { (try? FileIO.read(path: path, limit: 64 << 20)) ?? [] }

    func remove() { Fixtures.removeTree(directory) }
}

extension Subprocess.Result {
    func check() throws {
        guard exitCode == 0 else { throw FixtureError(message: output) }
    }
}

@Suite("LUKS2 enrollment and unlock", .serialized)
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
        let outcome = try VolumeUnlock.unlock(
            device: image.path, name: nil, configuredBroker: TestImage.broker + "/", factors: factors)
        #expect(outcome.keyslot == 1)
        #expect(factors.brokerRequests.last?.1.description == "default/luks/\(image.uuid)")
        let volumes = VolumeInventory.scan([image.path])
        #expect(volumes.first?.binding == "broker" && volumes.first?.keyslot == 1)
        #expect(volumes.first?.headerCheck.hasPrefix("ok") == true)
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
                factors: RecordingFactors())
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
            _ = try VolumeUnlock.unlock(
                device: image.path, name: nil, configuredBroker: TestImage.broker, factors: factors)
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
                resource: ResourcePath("a/b/c"),
                trustRecord: [], snp: nil, existingPassphrase: host.passphrase, brokerSecret: nil),
            factors: RecordingFactors())
        let factors = RecordingFactors()
        #expect(throws: BindingError(.brokerMismatch, "")) {
            _ = try VolumeUnlock.unlock(
                device: host.path, name: nil, configuredBroker: TestImage.broker, factors: factors)
        }
        #expect(factors.brokerRequests.isEmpty)
    }

    @Test(
        "header changes a hostile host could make are refused and nothing is activated",
        arguments: [
            ["token-resource", "default/luks/other"], ["segment-cipher", "cipher_null-ecb"],
            ["area-cipher", "1", "aes-ecb"], ["area-cipher", "1", "aes-cbc-essiv:sha256"], ["digest-replace"],
            ["token-drop-mac"],
        ])
    func tamperedHeader(edit: [String]) throws {
        let image = try TestImage()
        defer { image.remove() }
        let factors = RecordingFactors()
        _ = try image.enroll(factors: factors)
        try Subprocess.run(
            ["/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/luks2_tamper.py", image.path] + edit
        ).check()
        let before = image.bytes
        do {
            _ = try VolumeUnlock.unlock(
                device: image.path, name: nil, configuredBroker: TestImage.broker, factors: factors)
            Issue.record("\(edit) was accepted")
        } catch let error as BindingError {
            #expect([.headerRejected, .macMismatch, .malformedToken].contains(error.code), "\(edit): \(error)")
            #expect(error.message.contains("refusing") || error.message.contains("malformed"))
        } catch {
            // A header libcryptsetup itself refuses to load is a refusal too.
            #expect("\(error)".contains("failed to"), "\(edit): \(error)")
        }
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
        #expect(throws: BindingError.self) {
            _ = try VolumeUnlock.unlock(
                device: other.path, name: nil, configuredBroker: TestImage.broker, factors: factors)
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
        let outcome = try VolumeUnlock.unlock(
            device: image.path, name: nil, configuredBroker: TestImage.broker, factors: factors)
        #expect(outcome.keyslot == 1)
    }

    @Test("a broker that releases another secret is caught by the MAC before any keyslot is tried")
    func wrongSecret() throws {
        let image = try TestImage()
        defer { image.remove() }
        _ = try image.enroll(factors: RecordingFactors())
        #expect(throws: BindingError(.macMismatch, "")) {
            _ = try VolumeUnlock.unlock(
                device: image.path, name: nil, configuredBroker: TestImage.broker,
                factors: RecordingFactors(secret: Array(repeating: 0x01, count: 32)))
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
        arguments: ["pending-token", "keyslot-added", "priority-set", "token-final", "unenroll-keyslot-destroyed"])
    func crashSafety(point: String) throws {
        let image = try TestImage()
        defer { image.remove() }
        let ccagent = Fixtures.repositoryRoot + "/.build/debug/ccagent"
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
        let ccagentTokens = device.tokens.filter { $0.json.contains("\"ccagent\"") }
        if point.hasPrefix("unenroll") {
            #expect(device.activeKeyslots == [0])
            #expect(ccagentTokens.isEmpty)
        } else {
            #expect(device.activeKeyslots == [0, 1], "no orphan keyslot")
            #expect(ccagentTokens.count == 1)
        }
    }
}
