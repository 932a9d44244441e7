// SPDX-License-Identifier: Apache-2.0
// `ccagent daemon`: the boot unlock under systemd (Type=notify), then the credential socket after boot.

import AgentBase
import Dispatch
import Logging
import ServiceLifecycle
import SystemdSupport

#if canImport(Glibc)
import Glibc
#endif

/// The agent as a long-running service: boot unlock, READY=1, then (after switch-root) the socket
/// that serves sealed secrets to LoadCredential=, until SIGTERM.
public struct AgentService: Service {
    let request: BootUnlockRequest
    let logger: Logger
    let credentialSocket: String?
    let store: SecretStore
    let keys: (any SealingKeySource)?
    let rules: CredentialAccessRules

    public init(
        request: BootUnlockRequest, logger: Logger, credentialSocket: String?, store: SecretStore,
        keys: (any SealingKeySource)?, rules: CredentialAccessRules
    ) {
        self.request = request
        self.logger = logger
        self.credentialSocket = credentialSocket
        self.store = store
        self.keys = keys
        self.rules = rules
    }

    public func run() async throws {
        let notifier = ServiceNotifier()
        // In the initrd this is the boot: the configured fallback applies (poweroff by default).
        let state = BootUnlock.runAsBoot(request, boot: BootPhase.isInitrd, logger: logger, notifier: notifier)
        let ready = notifier.ready(status: "boot unlock: \(state.outcome.rawValue)")
        if case .failed(let error) = ready { logger.warning("sd_notify failed: errno \(error), continuing") }
        // In the initrd the job is done: exit, and let systemd-cryptsetup take over.
        guard let credentialSocket, let keys else { return }
        let server = try CredentialServer(
            path: credentialSocket, store: store, keys: keys, rules: rules,
            log: { [logger] line in
                logger.notice(
                    "\(line)",
                    metadata: ["event": "\(line.hasPrefix("credential served") ? "secret-served" : "secret-denied")"])
            })
        let thread = DispatchQueue(label: "ccagent.credentials")
        thread.async { server.serve() }
        notifier.status("serving credentials on \(credentialSocket)")
        try? await gracefulShutdown()
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
    /// Runs the service until SIGTERM or SIGINT (graceful shutdown).
    public func runUntilSignalled() async throws {
        // In the initrd run() returns after the boot unlock: that is the normal end, not a failure.
        let service = ServiceGroupConfiguration.ServiceConfiguration(
            service: self, successTerminationBehavior: .gracefullyShutdownGroup)
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
