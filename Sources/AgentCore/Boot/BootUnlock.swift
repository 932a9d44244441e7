// SPDX-License-Identifier: Apache-2.0
// The boot unlock: open exactly the volumes the boot names, check each header once against the
// measured configuration, attest once, fetch every key in one session, activate those same headers,
// record the outcome in /run/ccagent/state.json, and give up cleanly at the deadline.

import AgentBase
import Cryptsetup
import KBSClient
import KBSProtocol
import LUKSBinding
import Logging
import SystemdSupport
import TEEDevice

#if canImport(Glibc)
import Glibc
#endif

/// Inputs of one boot unlock (`ccagent unlock --all`, `ccagent daemon`).
public struct BootUnlockRequest: Sendable {
    public var configuration: AgentConfiguration
    public var trust: TLSTrust
    /// Devices to consider instead of the ones the boot names (tests, `--only`).
    public var devices: [String]
    public var crypttab: String
    public var statePath: String
    /// Check keys without activating (machines without device-mapper; tests).
    public var verifyOnly: Bool

    public init(
        configuration: AgentConfiguration, trust: TLSTrust, devices: [String] = [], crypttab: String = "/etc/crypttab",
        statePath: String = BootState.defaultPath, verifyOnly: Bool = false
    ) {
        self.configuration = configuration
        self.trust = trust
        self.devices = devices
        self.crypttab = crypttab
        self.statePath = statePath
        self.verifyOnly = verifyOnly
    }

    var policy: UnlockPolicy {
        UnlockPolicy(broker: configuration.brokerURL, volumes: configuration.volumePolicy)
    }
}

/// One volume the boot asks for: where, under which mapping name, and which UUID it must have.
struct BootTarget {
    var device: String?
    var name: String?
    var expectedUUID: String?
    /// crypttab gives it a key file of its own: without a ccagent token it is not ours to open.
    var hasKeyFile = false
    /// crypttab marks it `nofail`: it may be absent by design, so nothing waits for it.
    var optional = false
}

public enum BootUnlock {
    /// Runs the unlock and returns its recorded state (also written to `request.statePath`).
    /// Never throws and never waits past the deadline: failures are recorded and logged; what happens
    /// next (power off, or the passphrase prompt) is ``BootFallbackAction``'s decision.
    public static func run(
        _ request: BootUnlockRequest, logger: Logger, notifier: ServiceNotifier = ServiceNotifier()
    ) -> BootState {
        var run = BootRun(request: request, logger: logger)
        run.execute(notifier: notifier)
        return run.finish()
    }

    /// The stable code of an error, for state.json, the journal and `status` hints.
    public static func errorCode(_ error: any Error) -> String { ErrorCode.of(error).description }
}

/// One boot unlock in progress: the phases append to it, ``finish()`` records it.
struct BootRun {
    let request: BootUnlockRequest
    let deadline: Deadline
    let clock = Stopwatch()
    var log: Logger
    var tee: String?
    var phases: [BootState.Phase] = []
    var volumes: [BootState.VolumeOutcome] = []
    var outcome: BootState.Outcome?

    init(request: BootUnlockRequest, logger: Logger) {
        self.request = request
        deadline = Deadline(secondsFromNow: request.configuration.deadlineSeconds)
        log = logger
    }

    var configuration: AgentConfiguration { request.configuration }

    mutating func execute(notifier: ServiceNotifier) {
        log[metadataKey: "phase"] = "config"
        for warning in configuration.warnings {
            log.warning("configuration problem: \(warning), continuing", metadata: .event(.configurationProblem))
        }
        phase("config", configuration.warnings.isEmpty ? .ok : .warnings)
        if configuration.disabled {
            log.notice("automatic unlock disabled (ccagent.disable)", metadata: .event(.fallbackToPassphrase))
            outcome = .disabled
            return
        }
        log.info(
            "boot unlock started (deadline \(configuration.deadlineSeconds) s)", metadata: .event(.unlockStarted))

        log[metadataKey: "phase"] = "discover"
        notifier.status("discovering volumes")
        let targets = discover()
        phase("discover", .ok)

        log[metadataKey: "phase"] = "check"
        let checked = check(targets)
        let refused = volumes.filter { $0.outcome == .failed }
        phase(
            "check", refused.isEmpty ? .ok : .failed, code: refused.first.flatMap { $0.errorCode.map(ErrorCode.init) },
            message: refused.isEmpty ? nil : "\(refused.count) volume(s) refused before any key was derived")
        guard !checked.isEmpty else {
            if volumes.isEmpty {
                log.info("the boot names no volume with a ccagent token; nothing to do")
                outcome = .nothingToDo
            }
            return
        }

        log[metadataKey: "phase"] = "attest"
        notifier.status("attesting")
        let factors: AttestedFactors
        switch attest(needsBroker: checked.contains { $0.volume.token.binding.usesBroker }) {
        case .success(let attested): factors = attested
        case .failure(let failure):
            for entry in checked {
                fail(
                    device: entry.volume.path, name: entry.name, uuid: entry.volume.uuid, failure.code,
                    "no key: \(failure.message)", logged: false)
            }
            return
        }

        log[metadataKey: "phase"] = "unlock"
        notifier.status("unlocking \(checked.count) volume(s)")
        for entry in checked { unlock(entry.volume, name: entry.name, factors: factors) }
        phase("unlock", checked.count == volumes.filter({ $0.outcome != .failed }).count ? .ok : .failed)
    }

    /// The volumes to open: `--only` devices, else the ones the boot names (waiting for them to
    /// appear), else — with `boot-volumes = all` — every device carrying a ccagent token.
    mutating func discover() -> [BootTarget] {
        let crypttab = VolumeInventory.crypttabEntries(AgentConfiguration.readTextFile(request.crypttab) ?? "")
        func name(uuid: String?, device: String?) -> String? {
            crypttab.first { entry in
                let key = VolumeInventory.sourceKey(entry.source)
                return key == uuid || key == device
            }?.name
        }
        if !request.devices.isEmpty {
            return request.devices.map { BootTarget(device: $0, name: name(uuid: nil, device: $0)) }
        }
        if configuration.bootVolumes == .all {
            return VolumeInventory.blockDevices().compactMap { path in
                guard let device = try? CryptDevice(path: path),
                    device.tokens.contains(where: { CCAgentToken.isCCAgentToken($0.json) })
                else { return nil }
                return BootTarget(device: path, name: name(uuid: device.uuid.lowercased(), device: path))
            }
        }
        var targets: [BootTarget] = []
        for entry in crypttab where !entry.options.contains(where: { $0 == "noauto" }) {
            let uuid = AgentConfiguration.normalizedUUID(Substring(VolumeInventory.sourceKey(entry.source)))
            let hasKeyFile = !["", "-", "none"].contains(entry.keyFile)
            let optional = entry.options.contains { $0 == "nofail" }
            if let uuid {
                targets.append(
                    BootTarget(
                        device: nil, name: entry.name, expectedUUID: uuid, hasKeyFile: hasKeyFile, optional: optional))
            } else if entry.source.hasPrefix("/") {
                targets.append(
                    BootTarget(device: entry.source, name: entry.name, hasKeyFile: hasKeyFile, optional: optional))
            }
        }
        for uuid in configuration.bootVolumeUUIDs.sorted() where !targets.contains(where: { $0.expectedUUID == uuid }) {
            targets.append(BootTarget(device: nil, name: nil, expectedUUID: uuid))
        }
        let wanted = Set(targets.filter { !$0.optional }.compactMap(\.expectedUUID))
        let present = targets.contains { $0.expectedUUID != nil } ? waitForDevices(wanted) : [:]
        return targets.map { target in
            var target = target
            if let uuid = target.expectedUUID { target.device = present[uuid] }
            return target
        }
    }

    /// In early boot the agent can start before udev has created the disks: wait (within the
    /// deadline) for the UUIDs the boot names. Returns UUID → device path for those present.
    func waitForDevices(_ wanted: Set<String>) -> [String: String] {
        var present = VolumeInventory.presentDevices()
        var missing = wanted.subtracting(present.keys)
        if !missing.isEmpty {
            log.info("waiting for LUKS device(s) \(missing.sorted().joined(separator: ", ")) to appear")
        }
        while !missing.isEmpty && !deadline.hasPassed {
            deadline.sleep(0.1)
            present = VolumeInventory.presentDevices()
            missing.subtract(present.keys)
        }
        return present
    }

    /// Opens each target once and checks everything its disk claims; nothing is sent yet.
    mutating func check(_ targets: [BootTarget]) -> [(volume: CheckedVolume, name: String)] {
        var checked: [(volume: CheckedVolume, name: String)] = []
        for target in targets {
            let label = target.name ?? target.expectedUUID.map { "luks-\($0)" } ?? target.device ?? "?"
            guard let path = target.device else {
                if target.optional {
                    volumes.append(
                        .init(
                            device: "", name: label, uuid: target.expectedUUID, outcome: .skipped,
                            message: "absent; crypttab marks it nofail"))
                    continue
                }
                fail(
                    device: "", name: label, uuid: target.expectedUUID,
                    ErrorCode("volume.missing"),
                    "LUKS device \(target.expectedUUID ?? label) did not appear before the deadline; check that the disk "
                        + "is attached and that rd.luks.uuid= or crypttab names the right UUID")
                continue
            }
            do {
                let volume = try VolumeUnlock.check(
                    device: path, expectedUUID: target.expectedUUID, policy: request.policy)
                checked.append((volume, target.name ?? "luks-\(volume.uuid)"))
            } catch let error as BindingError where error.code == .notEnrolled && target.hasKeyFile {
                volumes.append(
                    .init(
                        device: path, name: label, uuid: target.expectedUUID, outcome: .skipped,
                        message: "no ccagent token; crypttab gives it a key file"))
            } catch {
                fail(device: path, name: label, uuid: target.expectedUUID, ErrorCode.of(error), "\(error)")
            }
        }
        return checked
    }

    /// Why the run could not attest.
    struct AttestationFailure: Error {
        var code: ErrorCode
        var message: String
    }

    /// Selects the TEE and attests once for every volume.
    mutating func attest(needsBroker: Bool) -> Result<AttestedFactors, AttestationFailure> {
        let broker = configuration.brokerURL
        do {
            let device = try? DeviceSelection.device(
                for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory)
            let attester = try DeviceSelection.attester(
                for: configuration.tee, device: device, simulatorDirectory: configuration.simulatorDirectory)
            tee = configuration.tee == .auto ? attester.teeName : configuration.tee.rawValue
            let factors = AttestedFactors(
                clientConfiguration: KBSClientConfiguration(
                    brokerURL: broker ?? "https://unset.invalid", trust: request.trust,
                    allowInsecureHTTP: configuration.allowInsecureHTTP, deadlineSeconds: max(deadline.remaining, 0.1)),
                attester: attester, device: device)
            phase("platform", .ok)
            if needsBroker, let broker {
                try factors.attest(broker: broker)
                log.info(
                    "attested to \(broker)",
                    metadata: Logger.Metadata.event(.attestationSucceeded).merging([
                        "tee": "\(tee ?? "?")", "broker": "\(broker)",
                    ]) { $1 })
                phase("attest", .ok)
            }
            return .success(factors)
        } catch {
            let code = ErrorCode.of(error)
            log.error(
                "attestation failed: \(error)",
                metadata: Logger.Metadata.event(AgentEvent.forAttestationFailure(code)).merging([
                    "error_code": "\(code)"
                ]) { $1 })
            phase(tee == nil ? "platform" : "attest", .failed, code: code, message: "\(error)")
            return .failure(AttestationFailure(code: code, message: "\(error)"))
        }
    }

    mutating func unlock(_ volume: CheckedVolume, name: String, factors: AttestedFactors) {
        let volumeClock = Stopwatch()
        var volumeLog = log
        volumeLog[metadataKey: "volume"] = "\(name)"
        volumeLog[metadataKey: "device"] = "\(volume.path)"
        guard !deadline.hasPassed else {
            fail(
                device: volume.path, name: name, uuid: volume.uuid, ErrorCode("deadline.reached"),
                "the deadline passed before this volume")
            return
        }
        do {
            let outcome = try VolumeUnlock.unlock(
                volume, name: request.verifyOnly ? nil : name, policy: request.policy, factors: factors)
            let result: BootState.VolumeResult = outcome.alreadyActive ? .alreadyActive : .unlocked
            if !outcome.alreadyActive && !request.verifyOnly, let measurement = outcome.measurement,
                let measurer = RuntimeMeasurement.measurer(
                    for: request.configuration.tee, simulatorDirectory: request.configuration.simulatorDirectory)
            {
                // Later attestations can tell "initramfs before unlock" from "running on volume X", and a
                // broker that released the secret can check which volume: the value is bound to its key.
                // The runtime event log records the extension, so the broker's replay still explains RTMR3.
                do {
                    try RuntimeMeasurement.recordUnlock(uuid: volume.uuid, measurement: measurement, measurer: measurer)
                } catch {
                    volumeLog.warning("failed to extend RTMR3: \(error), continuing")
                }
            }
            volumes.append(
                .init(
                    device: volume.path, name: name, uuid: volume.uuid, outcome: result,
                    durationMilliseconds: volumeClock.total(), measurement: outcome.measurement))
            volumeLog.info(
                "volume \(name) \(result.rawValue)\(request.verifyOnly ? " (verify only)" : "")",
                metadata: Logger.Metadata.event(.volumeUnlocked).merging([
                    "keyslot": "\(outcome.keyslot)", "duration_ms": "\(Int(volumeClock.total()))",
                    "uuid": "\(volume.uuid)",
                ]) { $1 })
        } catch {
            fail(
                device: volume.path, name: name, uuid: volume.uuid, ErrorCode.of(error), "\(error)",
                milliseconds: volumeClock.total())
        }
    }

    /// Records one volume's failure, and logs it unless the cause was already logged (attestation).
    mutating func fail(
        device: String, name: String, uuid: String?, _ code: ErrorCode, _ message: String, milliseconds: Double? = nil,
        logged: Bool = true
    ) {
        volumes.append(
            .init(
                device: device, name: name, uuid: uuid, outcome: .failed, errorCode: code.description, message: message,
                durationMilliseconds: milliseconds))
        guard logged else { return }
        var volumeLog = log
        volumeLog[metadataKey: "volume"] = "\(name)"
        volumeLog.error(
            "volume \(name) not unlocked: \(message)",
            metadata: Logger.Metadata.event(AgentEvent.forVolumeFailure(code)).merging([
                "error_code": "\(code)", "device": "\(device)",
            ]) { $1 })
    }

    mutating func phase(
        _ name: String, _ outcome: BootState.PhaseOutcome, code: ErrorCode? = nil, message: String? = nil
    ) {
        phases.append(
            .init(
                name: name, outcome: outcome, durationMilliseconds: clock.lap(), errorCode: code?.description,
                message: message))
    }

    /// The recorded state, written to the state file.
    mutating func finish() -> BootState {
        let failed = volumes.filter { $0.outcome == .failed }.count
        let opened = volumes.filter { $0.outcome == .unlocked || $0.outcome == .alreadyActive }.count
        let result =
            outcome ?? (failed == 0 ? (opened == 0 ? .nothingToDo : .unlocked) : (opened == 0 ? .failed : .partial))
        let state = BootState(
            startedAt: clock.startedAt, bootPhase: BootPhase.isInitrd ? "initrd" : "host", tee: tee,
            broker: configuration.brokerURL, outcome: result, phases: phases, volumes: volumes,
            totalMilliseconds: clock.total())
        do {
            try state.write(to: request.statePath)
        } catch {
            log.warning("failed to write \(request.statePath): \(error), continuing")
        }
        return state
    }
}

extension AgentEvent {
    /// The journal event of a failed attestation: the broker out of reach, the deadline, or a refusal.
    static func forAttestationFailure(_ code: ErrorCode) -> AgentEvent {
        switch code.description {
        case "broker.unreachable", "broker.timeout": .brokerUnreachable
        case "deadline.reached": .deadlineReached
        default: .attestationFailed
        }
    }

    /// The journal event of a volume that was not opened: a header or token the checks refuse (the
    /// host's doing) is its own event, as in the catalog.
    static func forVolumeFailure(_ code: ErrorCode) -> AgentEvent {
        switch code.family {
        case "token", "header": .headerRejected
        case "volume" where code.description == "volume.identity-mismatch": .headerRejected
        case "deadline": .deadlineReached
        default: .volumeFailed
        }
    }
}

extension Logger.Metadata {
    /// `["event": name]`: the journal handler turns it into MESSAGE_ID and CCAGENT_EVENT.
    static func event(_ event: AgentEvent) -> Logger.Metadata { ["event": "\(event.rawValue)"] }
}

/// Wall-clock start and monotonic laps, in milliseconds.
final class Stopwatch {
    let start = Stopwatch.now()
    private(set) var last = Stopwatch.now()
    let startedAt: String = Timestamp.now.iso8601

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
    }

    func lap() -> Double {
        let now = Stopwatch.now()
        defer { last = now }
        return now - last
    }

    func total() -> Double { Stopwatch.now() - start }
}
