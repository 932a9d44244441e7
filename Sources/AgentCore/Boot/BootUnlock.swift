// SPDX-License-Identifier: Apache-2.0
// The boot unlock: find enrolled volumes, attest once, fetch every key in one session, activate,
// record the outcome in /run/ccagent/state.json, and give up cleanly at the deadline.

import Cryptsetup
import FoundationEssentials
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
    /// Devices to consider; empty scans /sys/class/block.
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
}

public enum BootUnlock {
    /// Runs the unlock and returns its recorded state (also written to `request.statePath`).
    /// Never throws and never waits past the deadline: failures are recorded, logged, and left to
    /// the passphrase prompt of systemd-cryptsetup / cryptroot.
    public static func run(
        _ request: BootUnlockRequest, logger: Logger, notifier: ServiceNotifier = ServiceNotifier()
    ) -> BootState {
        let started = Deadline(secondsFromNow: request.configuration.deadlineSeconds)
        let clock = Stopwatch()
        var phases: [BootState.Phase] = []
        var volumes: [BootState.VolumeOutcome] = []
        var tee: String?
        let configuration = request.configuration
        let broker = configuration.brokerURL
        var log = logger
        log[metadataKey: "phase"] = "config"
        for warning in configuration.warnings {
            log.warning("configuration problem: \(warning), continuing", metadata: ["event": "configuration-problem"])
        }
        phases.append(
            .init(
                name: "config", outcome: configuration.warnings.isEmpty ? "ok" : "warnings",
                durationMilliseconds: clock.lap()))

        func finish(_ outcome: String) -> BootState {
            let state = BootState(
                startedAt: clock.startedAt, bootPhase: BootPhase.isInitrd ? "initrd" : "host", tee: tee, broker: broker,
                outcome: outcome, phases: phases, volumes: volumes, totalMilliseconds: clock.total())
            do {
                try state.write(to: request.statePath)
            } catch {
                log.warning("failed to write \(request.statePath): \(error), continuing")
            }
            return state
        }

        if configuration.disabled {
            log.notice(
                "automatic unlock disabled (ccagent.disable); the passphrase prompt will appear",
                metadata: ["event": "fallback-to-passphrase"])
            return finish("disabled")
        }
        log.info(
            "boot unlock started (deadline \(configuration.deadlineSeconds) s)", metadata: ["event": "unlock-started"])
        log[metadataKey: "phase"] = "discover"
        notifier.status("discovering volumes")

        if request.devices.isEmpty {
            waitForBootVolumes(request, deadline: started, log: log)
        }
        let entries = VolumeInventory.scan(request.devices, crypttab: request.crypttab).filter { $0.binding != nil }
        phases.append(.init(name: "discover", outcome: "ok", durationMilliseconds: clock.lap()))
        guard !entries.isEmpty else {
            log.info("no volume carries a ccagent token; nothing to do")
            return finish("nothing-to-do")
        }

        // Platform and attestation: once, for every volume.
        log[metadataKey: "phase"] = "attest"
        notifier.status("attesting")
        let factors: AttestedFactors
        do {
            let attester = try DeviceSelection.attester(
                for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory)
            tee = configuration.tee == .auto ? attester.teeName : configuration.tee.rawValue
            let device = try? DeviceSelection.device(
                for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory)
            factors = AttestedFactors(
                clientConfiguration: KBSClientConfiguration(
                    brokerURL: broker ?? "https://unset.invalid", trust: request.trust,
                    allowInsecureHTTP: configuration.allowInsecureHTTP, deadlineSeconds: max(started.remaining, 0.1)),
                attester: attester, device: device)
            phases.append(.init(name: "platform", outcome: "ok", durationMilliseconds: clock.lap()))
            if let broker, entries.contains(where: { $0.binding != BindingMode.snp.rawValue }) {
                try factors.attest(broker: broker)
                log.info(
                    "attested to \(broker)",
                    metadata: ["event": "attestation-succeeded", "tee": "\(tee ?? "?")", "broker": "\(broker)"])
                phases.append(.init(name: "attest", outcome: "ok", durationMilliseconds: clock.lap()))
            }
        } catch {
            let code = errorCode(error)
            let event =
                code == "broker.unreachable" || code == "broker.timeout" ? "broker-unreachable" : "attestation-failed"
            log.error(
                "attestation failed: \(error)",
                metadata: [
                    "event": "\(code == "deadline.reached" ? "deadline-reached" : event)", "error_code": "\(code)",
                ])
            phases.append(
                .init(
                    name: tee == nil ? "platform" : "attest", outcome: "failed", durationMilliseconds: clock.lap(),
                    errorCode: code, message: "\(error)"))
            volumes = entries.map {
                .init(
                    device: $0.device, name: $0.name, uuid: $0.uuid, outcome: "failed", errorCode: code,
                    message: "no key: \(error)")
            }
            log.notice("giving up; the passphrase prompt will appear", metadata: ["event": "fallback-to-passphrase"])
            return finish("failed")
        }

        log[metadataKey: "phase"] = "unlock"
        notifier.status("unlocking \(entries.count) volume(s)")
        for entry in entries {
            let volumeClock = Stopwatch()
            var volumeLog = log
            volumeLog[metadataKey: "volume"] = "\(entry.name)"
            volumeLog[metadataKey: "device"] = "\(entry.device)"
            guard !started.hasPassed else {
                volumes.append(
                    .init(
                        device: entry.device, name: entry.name, uuid: entry.uuid, outcome: "failed",
                        errorCode: "deadline.reached", message: "the deadline passed before this volume"))
                volumeLog.error("deadline reached before unlocking", metadata: ["event": "deadline-reached"])
                continue
            }
            do {
                let outcome = try VolumeUnlock.unlock(
                    device: entry.device, name: request.verifyOnly ? nil : entry.name, configuredBroker: broker,
                    factors: factors)
                let result = outcome.alreadyActive ? "already-active" : "unlocked"
                if !outcome.alreadyActive && !request.verifyOnly && RTMR.isAvailable() {
                    // Later attestations can tell "initramfs before unlock" from "running on volume X".
                    do {
                        try RTMR.extend(index: 3, event: Array("ccagent:unlocked:\(entry.uuid)".utf8))
                    } catch {
                        volumeLog.warning("failed to extend RTMR3: \(error), continuing")
                    }
                }
                volumes.append(
                    .init(
                        device: entry.device, name: entry.name, uuid: entry.uuid, outcome: result,
                        durationMilliseconds: volumeClock.total()))
                volumeLog.info(
                    "volume \(entry.name) \(result)\(request.verifyOnly ? " (verify only)" : "")",
                    metadata: [
                        "event": "volume-unlocked", "keyslot": "\(outcome.keyslot)",
                        "duration_ms": "\(Int(volumeClock.total()))",
                    ])
            } catch {
                let code = errorCode(error)
                volumes.append(
                    .init(
                        device: entry.device, name: entry.name, uuid: entry.uuid, outcome: "failed", errorCode: code,
                        message: "\(error)", durationMilliseconds: volumeClock.total()))
                // A header or token the checks refuse (the host's doing) is its own event, as in the catalog.
                let refused = code.hasPrefix("header.") || code.hasPrefix("token.")
                volumeLog.error(
                    "volume \(entry.name) not unlocked: \(error)",
                    metadata: ["event": "\(refused ? "header-rejected" : "volume-failed")", "error_code": "\(code)"])
            }
        }
        phases.append(
            .init(
                name: "unlock", outcome: volumes.allSatisfy { $0.outcome != "failed" } ? "ok" : "failed",
                durationMilliseconds: clock.lap()))
        let failed = volumes.filter { $0.outcome == "failed" }.count
        if failed > 0 {
            log.notice(
                "\(failed) volume(s) left for the passphrase prompt", metadata: ["event": "fallback-to-passphrase"])
        }
        return finish(failed == 0 ? "unlocked" : (failed == volumes.count ? "failed" : "partial"))
    }

    /// In early boot the agent can start before udev has created the disks: wait (within the
    /// deadline) for the volumes the kernel command line and crypttab say the boot needs.
    static func waitForBootVolumes(_ request: BootUnlockRequest, deadline: Deadline, log: Logger) {
        let expected = request.configuration.bootVolumeUUIDs.union(
            VolumeInventory.crypttabUUIDs(crypttab: request.crypttab))
        guard !expected.isEmpty else { return }
        var missing = expected.subtracting(VolumeInventory.presentUUIDs())
        guard !missing.isEmpty else { return }
        log.info("waiting for LUKS device(s) \(missing.sorted().joined(separator: ", ")) to appear")
        while !missing.isEmpty && !deadline.hasPassed {
            deadline.sleep(0.1)
            missing.subtract(VolumeInventory.presentUUIDs())
        }
        if !missing.isEmpty {
            let names = missing.sorted().joined(separator: ", ")
            log.warning(
                "LUKS device(s) \(names) did not appear before the deadline; check that the disk is attached and that rd.luks.uuid= or crypttab names the right UUID"
            )
        }
    }

    /// The stable code of an error, for state.json, the journal and `status` hints.
    public static func errorCode(_ error: any Error) -> String {
        switch error {
        case let error as KBSError: error.code.description
        case let error as BindingError: error.code.description
        case let error as DeviceError: error.code.description
        case let error as CryptsetupError: error.isWrongKey ? "keyslot.wrong-key" : "cryptsetup.error"
        default: "internal.error"
        }
    }
}

/// Wall-clock start and monotonic laps, in milliseconds.
final class Stopwatch {
    let start = Stopwatch.now()
    private(set) var last = Stopwatch.now()
    let startedAt: String = Date().formatted(.iso8601)

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
