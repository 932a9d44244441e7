// SPDX-License-Identifier: Apache-2.0
// The simulator's persistent state: a fake AMD chain and chip, and a fake TDX PCK chain.

import AgentBase
import CanonicalJSON
import Cryptography
import SecureMemory
import Synchronization
import TEEDevice
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// A software SEV-SNP / TDX "firmware" for machines without a TEE.
///
/// The state directory (0700) holds an ARK and ASK (RSA-4096, RSASSA-PSS SHA-384, like AMD's), a VCEK
/// (ECDSA P-384 with AMD's SPL and hwID extensions matching the reports), a TDX root, PCK and
/// attestation key (ECDSA P-256), a 64-byte chip secret, and the launch values of the simulated
/// guest. Every certificate's subject says SIMULATED in O and OU; the common names are the vendors' own. It is never chosen automatically.
public struct SimulatorState: Sendable {
    /// The documented default directory.
    public static let defaultDirectory = "/var/lib/ccagent/simulator"

    /// The simulated launch: what a real report would carry for this guest.
    public struct Launch: Codable, Sendable, Equatable {
        public var measurement: String
        public var hostData: String
        public var policy: UInt64
        public var familyID: String
        public var imageID: String
        public var guestSVN: UInt32
        public var chipID: String
        public var mrTD: String

        enum CodingKeys: String, CodingKey {
            case measurement, policy
            case hostData = "host_data"
            case familyID = "family_id"
            case imageID = "image_id"
            case guestSVN = "guest_svn"
            case chipID = "chip_id"
            case mrTD = "mr_td"
        }
    }

    /// The TCB the simulated Genoa part reports (and its VCEK certifies).
    public static let reportedTCB = TCBVersion(bootloader: 10, tee: 0, snp: 23, microcode: 84)

    public let directory: String
    public let launch: Launch
    let chipSecret: SecretBytes
    /// The private keys are read at load but parsed on first use: an SNP report needs only the VCEK key,
    /// a TDX quote only the other two.
    private let vcekKeyPEM: LazyPrivateKey
    public let ark: Certificate
    public let ask: Certificate
    public let vcek: Certificate
    private let tdxAttestationKeyPEM: LazyPrivateKey
    private let pckKeyPEM: LazyPrivateKey
    var vcekKey: PrivateKey { get throws { try vcekKeyPEM.key() } }
    var tdxAttestationKey: PrivateKey { get throws { try tdxAttestationKeyPEM.key() } }
    var pckKey: PrivateKey { get throws { try pckKeyPEM.key() } }
    public let tdxRoot: Certificate
    public let pck: Certificate

    /// Loads the state from `directory`.
    public static func load(directory: String = defaultDirectory) throws(DeviceError) -> SimulatorState {
        do {
            let store = StateFiles(directory: directory)
            guard store.exists("chip-secret") else {
                throw DeviceError(
                    .simulatorState,
                    "failed to load the simulator: '\(directory)' is not initialised; run "
                        + "'ccagent simulator init --simulator-dir \(directory)'")
            }
            let launch = try Launch(json: store.read("launch.json"), path: store.path("launch.json"))
            return SimulatorState(
                directory: directory, launch: launch, chipSecret: try store.readSecret("chip-secret"),
                vcekKeyPEM: LazyPrivateKey(pem: try store.readSecret("vcek.key.pem"), path: store.path("vcek.key.pem")),
                ark: try store.certificate("ark.pem"), ask: try store.certificate("ask.pem"),
                vcek: try store.certificate("vcek.pem"),
                tdxAttestationKeyPEM: LazyPrivateKey(
                    pem: try store.readSecret("tdx-attestation.key.pem"), path: store.path("tdx-attestation.key.pem")),
                pckKeyPEM: LazyPrivateKey(pem: try store.readSecret("pck.key.pem"), path: store.path("pck.key.pem")),
                tdxRoot: try store.certificate("tdx-root.pem"), pck: try store.certificate("pck.pem"))
        } catch let error as DeviceError {
            throw error
        } catch {
            throw DeviceError(.simulatorState, "failed to load the simulator state from '\(directory)': \(error)")
        }
    }

    /// Creates a new simulated chip in `directory` (refuses to overwrite one unless `force`).
    @discardableResult
    public static func initialize(
        directory: String = defaultDirectory, force: Bool = false
    ) throws(DeviceError)
        -> SimulatorState
    {
        let store = StateFiles(directory: directory)
        if store.exists("chip-secret") && !force {
            return try load(directory: directory)
        }
        do {
            try store.makeDirectory()
            let now = Timestamp.now
            let validity = (now - 86400, now + 25 * 365 * 86400)
            // AMD's common names exactly (verifiers key the processor generation on them); SIMULATED is
            // in O and OU only.
            let amd = [("C", "US"), ("ST", "CA"), ("L", "Santa Clara"), ("O", "ccagent simulator (SIMULATED)")]
            let arkName = [("OU", "SIMULATED")] + amd + [("CN", "ARK-Genoa")]
            let askName = [("OU", "SIMULATED")] + amd + [("CN", "SEV-Genoa")]

            let arkKey = try PrivateKey.generateRSA(bits: 4096)
            var arkBuilder = CertificateBuilder(
                subject: arkName, serial: [0x02, 0x00, 0x00], notBefore: validity.0, notAfter: validity.1,
                publicKey: arkKey.publicKey)
            arkBuilder.basicConstraints(ca: true)
            arkBuilder.keyUsage(["keyCertSign", "cRLSign"])
            let ark = try arkBuilder.sign(issuer: arkName, key: arkKey, alg: .sha384, rsaPSS: true)

            let askKey = try PrivateKey.generateRSA(bits: 4096)
            var askBuilder = CertificateBuilder(
                subject: askName, serial: [0x02, 0x00, 0x02], notBefore: validity.0, notAfter: validity.1,
                publicKey: askKey.publicKey)
            askBuilder.basicConstraints(ca: true)
            askBuilder.keyUsage(["keyCertSign", "cRLSign"])
            let ask = try askBuilder.sign(issuer: arkName, key: arkKey, alg: .sha384, rsaPSS: true)

            let chipSecret = SecureRandom.secret(64)
            let chipID = try HKDF.derive(
                .sha512, inputKeyMaterial: chipSecret, salt: [], info: Array("ccagent simulator chip id".utf8),
                outputByteCount: 64
            ).unsafeCopyToArray()
            let vcekKey = try PrivateKey.generateEC(.p384)
            var vcekBuilder = CertificateBuilder(
                subject: [("OU", "SIMULATED"), ("O", "ccagent simulator (SIMULATED)"), ("CN", "SEV-VCEK")], serial: [0],
                notBefore: validity.0, notAfter: validity.1, publicKey: vcekKey.publicKey)
            // AMD's VCEK extensions (1.3.6.1.4.1.3704.1.*): structVersion, productName, the SPLs, hwID.
            let tcb = reportedTCB
            func integer(_ value: UInt8) -> [UInt8] {
                value >= 0x80 ? [0x02, 0x02, 0x00, value] : [0x02, 0x01, value]
            }
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.1", critical: false, derValue: [0x02, 0x01, 0x00])
            vcekBuilder.addExtension(
                oid: "1.3.6.1.4.1.3704.1.2", critical: false, derValue: [0x16, 0x05] + Array("Genoa".utf8))
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.3.1", critical: false, derValue: integer(tcb.bootloader))
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.3.2", critical: false, derValue: integer(tcb.tee))
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.3.3", critical: false, derValue: integer(tcb.snp))
            for spl in 4...7 {
                vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.3.\(spl)", critical: false, derValue: integer(0))
            }
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.3.8", critical: false, derValue: integer(tcb.microcode))
            vcekBuilder.addExtension(oid: "1.3.6.1.4.1.3704.1.4", critical: false, derValue: chipID)
            let vcek = try vcekBuilder.sign(issuer: askName, key: askKey, alg: .sha384, rsaPSS: true)

            // TDX: a root, a PCK leaf and the quoting enclave's attestation key (all P-256, like Intel's).
            let tdxRootName = [
                ("CN", "Intel SGX Root CA"), ("O", "ccagent simulator (SIMULATED)"), ("OU", "SIMULATED"),
            ]
            let tdxRootKey = try PrivateKey.generateEC(.p256)
            var rootBuilder = CertificateBuilder(
                subject: tdxRootName, serial: [1], notBefore: validity.0, notAfter: validity.1,
                publicKey: tdxRootKey.publicKey)
            rootBuilder.basicConstraints(ca: true)
            rootBuilder.keyUsage(["keyCertSign", "cRLSign"])
            let tdxRoot = try rootBuilder.sign(issuer: tdxRootName, key: tdxRootKey, alg: .sha256, rsaPSS: false)
            let pckKey = try PrivateKey.generateEC(.p256)
            var pckBuilder = CertificateBuilder(
                subject: [
                    ("CN", "Intel SGX PCK Certificate"), ("O", "ccagent simulator (SIMULATED)"), ("OU", "SIMULATED"),
                ],
                serial: [2], notBefore: validity.0, notAfter: validity.1, publicKey: pckKey.publicKey)
            pckBuilder.basicConstraints(ca: false)
            let pck = try pckBuilder.sign(issuer: tdxRootName, key: tdxRootKey, alg: .sha256, rsaPSS: false)
            let attestationKey = try PrivateKey.generateEC(.p256)

            let launch = Launch(
                measurement: Hex.encode(SecureRandom.bytes(48)),
                hostData: Hex.encode([UInt8](repeating: 0, count: 32)),
                policy: 0x30000, familyID: Hex.encode([UInt8](repeating: 0, count: 16)),
                imageID: Hex.encode([UInt8](repeating: 0, count: 16)), guestSVN: 1,
                chipID: Hex.encode(chipID), mrTD: Hex.encode(SecureRandom.bytes(48)))

            try store.writeSecret("chip-secret", chipSecret)
            try store.writeSecret("vcek.key.pem", vcekKey.pemPKCS8())
            try store.writeSecret("tdx-attestation.key.pem", attestationKey.pemPKCS8())
            try store.writeSecret("pck.key.pem", pckKey.pemPKCS8())
            try store.write("ark.pem", Array(ark.pem.utf8))
            try store.write("ask.pem", Array(ask.pem.utf8))
            try store.write("vcek.pem", Array(vcek.pem.utf8))
            try store.write("tdx-root.pem", Array(tdxRoot.pem.utf8))
            try store.write("pck.pem", Array(pck.pem.utf8))
            try store.write("launch.json", launch.jsonValue.prettyPrintedBytes())
        } catch let error as DeviceError {
            throw error
        } catch {
            throw DeviceError(.simulatorState, "failed to initialise the simulator in '\(directory)': \(error)")
        }
        return try load(directory: directory)
    }

    /// The PEM certificates a verifier or broker must be told to trust: the SNP ASK then ARK, then the
    /// TDX root.
    public var rootsPEM: String { ask.pem + ark.pem + tdxRoot.pem }
}

extension SimulatorState.Launch {
    /// `launch.json` as written (keys of ``CodingKeys``).
    var jsonValue: JSONValue {
        .object([
            ("measurement", .string(measurement)), ("host_data", .string(hostData)), ("policy", .integer(policy)),
            ("family_id", .string(familyID)), ("image_id", .string(imageID)), ("guest_svn", .integer(guestSVN)),
            ("chip_id", .string(chipID)), ("mr_td", .string(mrTD)),
        ])
    }

    /// Parses `launch.json` (as written by any version of the simulator); `path` names it in errors.
    init(json bytes: [UInt8], path: String) throws(DeviceError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            throw DeviceError(.simulatorState, "failed to read '\(path)': \(error)")
        }
        func string(_ key: String) throws(DeviceError) -> String {
            guard let value = json[key]?.stringValue else {
                throw DeviceError(.simulatorState, "failed to read '\(path)': '\(key)' is missing or not a string")
            }
            return value
        }
        func integer(_ key: String) throws(DeviceError) -> UInt64 {
            guard let value = json[key]?.uint64Value else {
                throw DeviceError(
                    .simulatorState, "failed to read '\(path)': '\(key)' is missing or not a non-negative integer")
            }
            return value
        }
        let guestSVN = try integer("guest_svn")
        guard let svn = UInt32(exactly: guestSVN) else {
            throw DeviceError(.simulatorState, "failed to read '\(path)': 'guest_svn' \(guestSVN) exceeds 32 bits")
        }
        self.init(
            measurement: try string("measurement"), hostData: try string("host_data"), policy: try integer("policy"),
            familyID: try string("family_id"), imageID: try string("image_id"), guestSVN: svn,
            chipID: try string("chip_id"), mrTD: try string("mr_td"))
    }
}

/// A private key file's bytes, parsed into a ``PrivateKey`` the first time it is needed (then kept).
final class LazyPrivateKey: Sendable {
    private let pem: SecretBytes
    private let path: String
    private let parsed = Mutex<PrivateKey?>(nil)

    init(pem: SecretBytes, path: String) {
        self.pem = pem
        self.path = path
    }

    func key() throws(DeviceError) -> PrivateKey {
        try parsed.withLock { (parsed: inout PrivateKey?) throws(DeviceError) -> PrivateKey in
            if let parsed { return parsed }
            do {
                let key = try PrivateKey(pem: pem)
                parsed = key
                return key
            } catch {
                throw DeviceError(.simulatorState, "failed to load the simulator key '\(path)': \(error)")
            }
        }
    }
}

/// File access for the state directory (the simulator's only I/O).
struct StateFiles {
    let directory: String

    func path(_ name: String) -> String { directory + "/" + name }

    func exists(_ name: String) -> Bool { access(path(name), F_OK) == 0 }

    func makeDirectory() throws {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw DeviceError(.simulatorState, "failed to create '\(prefix)'", errno: errno)
            }
        }
        chmod(directory, 0o700)
    }

    func read(_ name: String) throws -> [UInt8] {
        do {
            return try FileIO.read(path: path(name), limit: 1 << 20)
        } catch let error as FileIOError {
            throw DeviceError(.simulatorState, "\(error)", errno: error.errno)
        }
    }

    func readSecret(_ name: String) throws -> SecretBytes {
        var data = try read(name)
        return SecretBytes(consuming: &data)
    }

    func certificate(_ name: String) throws -> Certificate {
        guard let first = try Certificate.parse(pemOrDER: read(name)).first else {
            throw DeviceError(.simulatorState, "no certificate in '\(path(name))'")
        }
        return first
    }

    func write(_ name: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        try bytes.withUnsafeBytes { try write(name, $0, mode: mode) }
    }

    /// Every state file goes through FileIO's atomic writer.
    func write(_ name: String, _ bytes: UnsafeRawBufferPointer, mode: mode_t) throws {
        do {
            try FileIO.writeAtomically(path: path(name), mode: mode, bytes)
        } catch let error as FileIOError {
            throw DeviceError(.simulatorState, "failed to write '\(path(name))': \(error)", errno: error.errno)
        }
    }

    func writeSecret(_ name: String, _ secret: SecretBytes) throws {
        try secret.withUnsafeBytes { try write(name, $0, mode: 0o600) }
    }
}
