// SPDX-License-Identifier: Apache-2.0
// `ccagent enroll | unlock | unenroll | volumes`: the LUKS2 binding from the command line.

import AgentBase
import AgentCore
import CommandLineInterface
import KBSClient
import KBSProtocol
import LUKSBinding
import Logging
import SecureMemory
import TEEDevice

#if canImport(Glibc)
import Glibc
#endif

extension BindingMode: ExpressibleByArgument {}

/// Builds the factor source for the chosen TEE and broker endpoint.
func makeFactors(
    tee: TEEChoice, simulatorDirectory: String,
    endpoint: (url: String, trust: TLSTrust, insecure: Bool, deadline: Double)?,
    needsDevice: Bool
) throws -> AttestedFactors {
    noteSimulated(tee)
    let device: (any GuestDevice)? =
        needsDevice || tee != .sample
        ? try? DeviceSelection.device(for: tee, simulatorDirectory: simulatorDirectory) : nil
    let attester: (any Attester)? =
        endpoint == nil
        ? nil : try DeviceSelection.attester(for: tee, device: device, simulatorDirectory: simulatorDirectory)
    let configuration = KBSClientConfiguration(
        brokerURL: endpoint?.url ?? "https://unset.invalid", trust: endpoint?.trust ?? .systemCAs,
        allowInsecureHTTP: endpoint?.insecure ?? false, deadlineSeconds: endpoint?.deadline ?? 60)
    return AttestedFactors(clientConfiguration: configuration, attester: attester, device: device)
}

struct EnrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll", abstract: "Add a ccagent keyslot and token to a LUKS2 volume.")

    @Argument(help: "LUKS2 device or image file.") var device: String
    @OptionGroup var config: ConfigOptions
    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var teeOptions: TEEOptions
    @Option(help: "Broker resource holding the volume secret, REPO/TYPE/TAG.") var resource: String?
    @Option(help: "Binding: broker (default), broker+snp, snp.") var bind: BindingMode = .broker
    @Option(name: .customLong("snp-fields"), help: "Launch fields mixed into the SNP key (e.g. measurement,policy).")
    var snpFields: String = "measurement,policy"
    @Option(name: .customLong("key-file"), help: "File holding the existing passphrase (else asked on the terminal).")
    var keyFile: String?
    @Option(
        name: .customLong("secret-out"), help: "Write the generated broker secret here (0600) for the broker admin.")
    var secretOut: String?
    @Option(name: .customLong("secret-in"), help: "Use this broker secret instead of generating one.")
    var secretIn: String?

    func validate() throws {
        try requireDevice(device)
        if bind.usesBroker {
            guard let resource, ResourcePath(resource) != nil else {
                throw ValidationError("--resource REPO/TYPE/TAG is required for the '\(bind.rawValue)' binding")
            }
            guard (secretOut == nil) != (secretIn == nil) else {
                throw ValidationError("give exactly one of --secret-out FILE (generate) or --secret-in FILE (use)")
            }
        }
        if case .failure(let error) = GuestFieldSelect.parse(snpFields) { throw ValidationError("\(error)") }
    }

    func run() throws {
        let configuration = config.load()
        do {
            let endpoint = bind.usesBroker ? try brokerOptions.endpoint(configuration) : nil
            let volumePolicy = configuration.volumePolicy
            let (tee, simulatorDirectory) = teeOptions.resolved(configuration)
            let factors = try makeFactors(
                tee: tee, simulatorDirectory: simulatorDirectory, endpoint: nil, needsDevice: bind.usesSNP)
            let passphrase =
                try keyFile.map { try secretFile($0) } ?? askPassphrase("Existing passphrase for \(device): ")
            let fields = (try? GuestFieldSelect.parse(snpFields).get()) ?? []
            let snp = DerivedKeyRequest(
                rootKey: volumePolicy.snpRootKey, fields: fields, vmpl: volumePolicy.snpVMPL)
            let result = try Enrollment.enroll(
                EnrollmentRequest(
                    device: device, binding: bind, broker: endpoint?.url, resource: resource.flatMap(ResourcePath.init),
                    trustRecord: endpoint.map { Enrollment.trustRecord($0.trust) } ?? [], snp: bind.usesSNP ? snp : nil,
                    existingPassphrase: passphrase, brokerSecret: try secretIn.map { try secretFile($0) }),
                policy: UnlockPolicy(broker: endpoint?.url, volumes: volumePolicy), factors: factors,
                persistSecret: { secret in
                    // Durably on disk before the header changes: a crash never strands an enrolled volume.
                    guard let secretOut else { return }
                    try secret.withUnsafeBytes { try writeOutput($0, to: secretOut, secret: true) }
                })
            for note in result.recovered { printError("ccagent: \(note)") }
            if let secretOut, result.brokerSecret != nil {
                printError(
                    "ccagent: wrote the volume secret to '\(secretOut)' (0600): store it at the broker as '\(resource ?? "")'"
                )
            }
            print(
                "enrolled \(device): keyslot \(result.keyslot) (pbkdf2-sha512, 1000 iterations, priority prefer), token \(result.token), binding \(bind.rawValue)"
            )
        } catch let error as ValidationError {
            throw error
        } catch {
            throw fail(error)
        }
    }
}

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock", abstract: "Attest, fetch the volume key and open a LUKS2 volume (or --all of them).")

    @Argument(help: "LUKS2 device or image file (omit with --all).") var device: String?
    @OptionGroup var config: ConfigOptions
    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var teeOptions: TEEOptions
    @Option(help: "dm-crypt mapping name (default: from /etc/crypttab, else luks-<UUID>).") var name: String?
    @Flag(name: .customLong("verify-only"), help: "Check the key without activating (no device-mapper needed).")
    var verifyOnly = false
    @Flag(help: "Unlock every volume with a ccagent token: attest once, write /run/ccagent/state.json.")
    var all = false
    @Option(name: .customLong("state-file"), help: "Where --all records its outcome.")
    var stateFile: String = BootState.defaultPath
    @Option(help: "With --all: only these devices instead of scanning (repeatable).")
    var only: [String] = []
    @Option(help: "With --all: the crypttab that names the mappings (initramfs-tools: /cryptroot/crypttab).")
    var crypttab: String = "/etc/crypttab"
    @Flag(
        help: ArgumentHelp(
            "With --all: this is the boot. Apply the configured fallback; 'poweroff' (the default) powers the "
                + "machine off when a volume the boot needs stays locked."))
    var boot = false

    func validate() throws {
        guard all == (device == nil) else { throw ValidationError("give a DEVICE, or --all (not both)") }
        guard all || !boot else { throw ValidationError("--boot applies to --all only") }
        if let device { try requireDevice(device) }
        for path in only { try requireDevice(path) }
    }

    func run() throws {
        var configuration = config.load()
        brokerOptions.apply(to: &configuration)
        teeOptions.apply(to: &configuration)
        if all {
            AgentLogging.bootstrap()
            let state = BootUnlock.runAsBoot(
                BootUnlockRequest(
                    configuration: configuration, trust: configuration.brokerTrust, devices: only, crypttab: crypttab,
                    statePath: stateFile, verifyOnly: verifyOnly),
                boot: boot, logger: Logger(label: "ccagent"))
            print(
                "boot unlock: \(state.outcome.rawValue) (\(state.volumes.count) volume(s), \(Int(state.totalMilliseconds)) ms)"
            )
            if state.outcome.isFailure { throw ExitCode.failure }
            return
        }
        do {
            let endpoint = try? brokerOptions.endpoint(configuration)
            let factors = try makeFactors(
                tee: configuration.tee, simulatorDirectory: configuration.simulatorDirectory, endpoint: endpoint,
                needsDevice: false)
            let devicePath = device ?? ""
            let policy = UnlockPolicy(broker: endpoint?.url, volumes: configuration.volumePolicy)
            let volume = try VolumeUnlock.check(device: devicePath, expectedUUID: nil, policy: policy)
            let mapping =
                verifyOnly ? nil : (name ?? VolumeInventory.mappingName(uuid: volume.uuid, device: devicePath))
            let outcome = try VolumeUnlock.unlock(volume, name: mapping, policy: policy, factors: factors)
            if outcome.alreadyActive {
                print("\(devicePath): '\(mapping ?? "")' is already active; left alone")
            } else if let mapping {
                print("unlocked \(devicePath) as /dev/mapper/\(mapping) (keyslot \(outcome.keyslot))")
            } else {
                print(
                    "verified \(devicePath): keyslot \(outcome.keyslot) opens with the attested key (not activated: --verify-only)"
                )
            }
        } catch {
            throw fail(error)
        }
    }
}

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run as a systemd service (Type=notify): boot unlock, READY=1, then serve LoadCredential= secrets.")

    @Option(name: .customLong("credential-socket"), help: "AF_UNIX socket for LoadCredential= (after switch-root).")
    var credentialSocket: String = "/run/ccagent/credentials.sock"
    @Option(name: .customLong("store"), help: "Sealed secret store.") var store: String = SecretStore.defaultDirectory
    @Flag(name: .customLong("verify-only"), help: "Check keys without activating (testing).") var verifyOnly = false
    @Option(name: .customLong("state-file"), help: "Where the boot unlock records its outcome.")
    var stateFile: String = BootState.defaultPath
    @OptionGroup var config: ConfigOptions

    func run() async throws {
        AgentLogging.bootstrap()
        let configuration = config.load()
        let trust = configuration.brokerTrust
        let inInitrd = AgentService.runsInInitrd
        let rules = CredentialAccessRules(
            parsing: AgentConfiguration.readTextFile(CredentialAccessRules.defaultPath) ?? "",
            source: CredentialAccessRules.defaultPath)
        let keys = inInitrd ? nil : try? SealingKeys.forPlatform(configuration: configuration, trust: trust)
        try await AgentService(
            request: BootUnlockRequest(
                configuration: configuration, trust: trust, statePath: stateFile, verifyOnly: verifyOnly),
            logger: Logger(label: "ccagent"), credentialSocket: inInitrd ? nil : credentialSocket,
            store: SecretStore(directory: store), keys: keys, rules: rules, pins: configuration.sealingPins
        ).runUntilSignalled()
    }
}

struct UnenrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unenroll", abstract: "Remove ccagent's keyslot and token (other keyslots are untouched).")

    @Argument(help: "LUKS2 device or image file.") var device: String

    func validate() throws { try requireDevice(device) }

    func run() throws {
        do {
            let result = try Enrollment.unenroll(device: device)
            for note in result.recovered { printError("ccagent: \(note)") }
            if result.keyslot >= 0 {
                print("unenrolled \(device): removed keyslot \(result.keyslot) and the ccagent token")
            }
        } catch {
            throw fail(error)
        }
    }
}

struct VolumesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volumes", abstract: "List LUKS2 volumes carrying a ccagent token.")

    @Argument(help: "Devices or images to describe (default: scan block devices).") var devices: [String] = []
    @Flag(help: "JSON output.") var json = false
    @OptionGroup var config: ConfigOptions

    func validate() throws {
        for path in devices { try requireDevice(path) }
    }

    func run() throws {
        let configuration = config.load()
        let entries = VolumeInventory.scan(
            devices, policy: UnlockPolicy(broker: configuration.brokerURL, volumes: configuration.volumePolicy))
        if json {
            print(try jsonText(entries))
            return
        }
        if entries.isEmpty { print("no LUKS2 volume with a ccagent token found") }
        for entry in entries {
            print("\(entry.device)  \(entry.name)  uuid \(entry.uuid)")
            print(
                "  binding \(entry.binding ?? "-"), keyslot \(entry.keyslot.map(String.init) ?? "-"), broker \(entry.broker ?? "-"), resource \(entry.resource ?? "-")"
            )
            print("  header \(entry.headerCheck); \(entry.active ? "active" : "not active")")
        }
    }
}

/// Refuses a device argument that does not exist, before any platform or broker work.
func requireDevice(_ path: String) throws {
    guard access(path, F_OK) == 0 else {
        throw ValidationError("no such device or image file: '\(path)'")
    }
}

/// Reads a secret file straight into zeroizing memory (a trailing newline is kept: passphrase files are exact).
func secretFile(_ path: String) throws -> SecretBytes {
    try FileIO.readSecret(path: path, limit: 8192)
}

/// Asks for a passphrase on the terminal with echo off.
func askPassphrase(_ prompt: String) throws -> SecretBytes {
    guard isatty(0) != 0 else { throw ValidationError("no terminal to ask the passphrase on; use --key-file FILE") }
    printError(prompt)
    var saved = termios()
    tcgetattr(0, &saved)
    var silent = saved
    silent.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(0, TCSANOW, &silent)
    defer {
        tcsetattr(0, TCSANOW, &saved)
        printError("")
    }
    var bytes: [UInt8] = []
    var byte: UInt8 = 0
    while read(0, &byte, 1) == 1, byte != 0x0A, bytes.count < 4096 { bytes.append(byte) }
    return SecretBytes(consuming: &bytes)
}
