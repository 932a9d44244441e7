// SPDX-License-Identifier: Apache-2.0
// `ccagent daemon`: the boot unlock under systemd (Type=notify), then the credential socket after boot.

import AgentBase
import Dispatch
import Logging
import SystemdSupport

#if canImport(Glibc)
import Glibc
#endif

/// The agent as a long-running service: boot unlock, READY=1, then (after switch-root) the socket
/// that serves sealed secrets to LoadCredential=, until SIGTERM or SIGINT.
public struct AgentService: Sendable {
    let request: BootUnlockRequest
    let logger: Logger
    let credentialSocket: String?
    let store: SecretStore
    let keys: (any SealingKeySource)?
    let rules: CredentialAccessRules
    let pins: SealingPins

    /// `pins` are the configuration's sealing parameters every served secret is checked against.
    public init(
        request: BootUnlockRequest, logger: Logger, credentialSocket: String?, store: SecretStore,
        keys: (any SealingKeySource)?, rules: CredentialAccessRules, pins: SealingPins = SealingPins()
    ) {
        self.request = request
        self.logger = logger
        self.credentialSocket = credentialSocket
        self.store = store
        self.keys = keys
        self.rules = rules
        self.pins = pins
    }

    /// Whether this process runs in the initrd (the boot), not after switch-root.
    public static var runsInInitrd: Bool { BootPhase.isInitrd }

    /// The boot unlock, then (after switch-root) the credential socket until `shutdown` reports a signal.
    /// A signal during the boot unlock lets it finish (it records its outcome and applies its fallback);
    /// the daemon then stops instead of serving.
    public func run(shutdown: ShutdownSignals) async throws {
        let notifier = ServiceNotifier()
        // In the initrd this is the boot: the configured fallback applies (poweroff by default).
        let state = BootUnlock.runAsBoot(request, boot: BootPhase.isInitrd, logger: logger, notifier: notifier)
        let ready = notifier.ready(status: "boot unlock: \(state.outcome.rawValue)")
        if case .failed(let error) = ready { logger.warning("sd_notify failed: errno \(error), continuing") }
        // In the initrd the job is done: exit, and let systemd-cryptsetup take over.
        guard let credentialSocket, let keys else { return }
        let server = try CredentialServer(
            path: credentialSocket, store: store, keys: keys, rules: rules, pins: pins,
            log: { [logger] decision in
                let event: AgentEvent
                switch decision {
                case .served: event = .secretServed
                case .denied: event = .secretDenied
                }
                logger.notice("\(decision)", metadata: .event(event))
            })
        let thread = DispatchQueue(label: "ccagent.credentials")
        thread.async { server.serve() }
        notifier.status("serving credentials on \(credentialSocket)")
        let signal = await shutdown.wait()
        logger.debug("signal \(signal) caught, shutting down")
        notifier.stopping()
        server.shutdown()
    }
}

/// The agent's logger: journald (or /dev/kmsg, or stderr) with the ccagent identifier.
public enum AgentLogging {
    public static func bootstrap(level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handler = JournalLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension AgentService {
    /// Runs the service until SIGTERM or SIGINT (graceful shutdown): from here on neither signal kills
    /// the process; the first one ends the serving, later ones are ignored. In the initrd ``run(shutdown:)``
    /// returns after the boot unlock: that is the normal end, not a failure.
    public func runUntilSignalled() async throws {
        try await run(shutdown: ShutdownSignals([SIGTERM, SIGINT]))
    }
}
