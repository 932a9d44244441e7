// SPDX-License-Identifier: Apache-2.0
// What a failed boot unlock leads to: the VM powers off (the default), or the passphrase prompt.
// A watchdog applies the same decision when the deadline passes while a system call blocks.

import AgentBase
import Dispatch
import Logging
import SystemdSupport
import TEEDevice

#if canImport(Glibc)
import Glibc
#endif

extension BootUnlock {
    /// Seconds past the deadline after which the watchdog ends the run, however it is blocked.
    public static let watchdogGrace: Double = 10

    /// The boot unlock as the boot runs it: armed with the watchdog, and followed by the configured
    /// fallback when a volume the boot needs stays locked. With `boot` false (a manual
    /// `ccagent unlock --all`) nothing is ever powered off.
    public static func runAsBoot(
        _ request: BootUnlockRequest, boot: Bool, logger: Logger, notifier: ServiceNotifier = ServiceNotifier()
    ) -> BootState {
        let action = BootFallbackAction(
            fallback: boot ? request.configuration.fallback : .passphrase, boot: boot, statePath: request.statePath,
            logger: logger)
        let watchdog = action.armWatchdog(seconds: request.configuration.deadlineSeconds + watchdogGrace)
        var state = run(request, logger: logger, notifier: notifier)
        watchdog.cancel()
        action.apply(&state)
        return state
    }
}

/// Carries out the fallback.
public struct BootFallbackAction: Sendable {
    public var fallback: BootFallback
    /// Whether this is the boot (a manual `unlock --all` records no fallback and never powers off).
    public var boot: Bool
    public var statePath: String
    public var logger: Logger

    public init(fallback: BootFallback, boot: Bool, statePath: String, logger: Logger) {
        self.fallback = boot ? fallback : .passphrase
        self.boot = boot
        self.statePath = statePath
        self.logger = logger
    }

    /// What a run's outcome leads to.
    public enum Decision: Equatable, Sendable {
        /// Every volume the boot needs is open.
        case none
        /// Leave the volumes named in the message to the passphrase prompt.
        case passphrase(String)
        /// Power off after printing this line.
        case powerOff(String)
    }

    /// The decision for `state`, without carrying it out.
    public func decide(_ state: BootState) -> Decision {
        guard state.outcome.isFailure else { return .none }
        let failed = state.volumes.filter { $0.outcome == .failed }
        let reasons = failed.map { "\($0.name) (\($0.errorCode ?? "?"))" }.joined(separator: ", ")
        switch fallback {
        case .poweroff:
            return .powerOff(
                "ccagent: powering off: cannot unlock \(reasons); fallback = poweroff (a passphrase typed on this "
                    + "console would be readable by the host)")
        case .passphrase:
            return .passphrase("\(failed.count) volume(s) left for the passphrase prompt: \(reasons)")
        }
    }

    /// After the run: nothing when every needed volume is open; else power off or leave the prompt.
    public func apply(_ state: inout BootState) {
        let decision = decide(state)
        if decision != .none, boot {
            state.fallback = fallback.rawValue
            try? state.write(to: statePath)
        }
        switch decision {
        case .none: return
        case .powerOff(let line): stop(line)
        case .passphrase(let message):
            logger.notice("\(message)", metadata: ["event": "\(AgentEvent.fallbackToPassphrase.rawValue)"])
        }
    }

    /// Ends the run at `seconds` from now even if the main thread is blocked in a system call (a disk
    /// that never answers, an ioctl): the reason goes to the console, then the fallback applies.
    public func armWatchdog(seconds: Double) -> DispatchWorkItem {
        let action = self
        let work = DispatchWorkItem {
            let reason =
                "the deadline (\(Int(seconds - BootUnlock.watchdogGrace)) s) passed while the agent was blocked"
            let state = BootState(
                startedAt: "", bootPhase: BootPhase.isInitrd ? "initrd" : "host", tee: nil, broker: nil,
                outcome: .failed,
                phases: [
                    .init(
                        name: "watchdog", outcome: .failed, durationMilliseconds: seconds * 1000,
                        errorCode: "deadline.reached", message: reason)
                ], volumes: [], totalMilliseconds: seconds * 1000,
                fallback: action.boot ? action.fallback.rawValue : nil)
            try? state.write(to: action.statePath)
            if action.fallback == .poweroff {
                action.stop(
                    "ccagent: powering off: \(reason) (deadline.reached); fallback = poweroff (a passphrase typed on "
                        + "this console would be readable by the host)")
            }
            action.logger.error(
                "\(reason); giving up (deadline.reached)", metadata: ["event": "\(AgentEvent.deadlineReached.rawValue)"]
            )
            _exit(1)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: work)
        return work
    }

    /// Says why on the console and in the journal, then powers off. If the kernel refuses, the
    /// process exits with status 3 so the initramfs script fails closed instead.
    func stop(_ line: String) {
        logger.critical("\(line)", metadata: ["event": "\(AgentEvent.poweringOff.rawValue)"])
        Console.write(line)
        let rc = ProcessControls.powerOff()
        logger.critical("failed to power off (errno \(-rc)); exiting with status 3 so the boot fails closed")
        _exit(3)
    }
}

/// The system console (/dev/console): where a person (or the host) watching the VM reads.
enum Console {
    static func write(_ line: String) {
        let fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var text = line + "\n"
        _ = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
