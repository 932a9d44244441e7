// SPDX-License-Identifier: Apache-2.0
// The journal events of the agent, each with a stable MESSAGE_ID documented in systemd/ccagent.catalog.

/// A journal event. Pass it as the `event` metadata of a log call; the handler turns it into MESSAGE_ID.
public enum AgentEvent: String, CaseIterable, Sendable {
    case unlockStarted = "unlock-started"
    case attestationSucceeded = "attestation-succeeded"
    case attestationFailed = "attestation-failed"
    case volumeUnlocked = "volume-unlocked"
    case volumeFailed = "volume-failed"
    case headerRejected = "header-rejected"
    case brokerUnreachable = "broker-unreachable"
    case deadlineReached = "deadline-reached"
    case fallbackToPassphrase = "fallback-to-passphrase"
    case configurationProblem = "configuration-problem"
    case secretServed = "secret-served"
    case secretDenied = "secret-denied"
    case poweringOff = "powering-off"

    /// The 128-bit MESSAGE_ID (lower-case hex, no dashes), fixed forever.
    public var messageID: String {
        switch self {
        case .unlockStarted: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e01"
        case .attestationSucceeded: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e02"
        case .attestationFailed: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e03"
        case .volumeUnlocked: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e04"
        case .volumeFailed: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e05"
        case .headerRejected: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e06"
        case .brokerUnreachable: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e07"
        case .deadlineReached: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e08"
        case .fallbackToPassphrase: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e09"
        case .configurationProblem: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e0a"
        case .secretServed: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e0b"
        case .secretDenied: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e0c"
        case .poweringOff: "8c1e5ad4a4d94b3f9a0e2b1c7d6f5e0d"
        }
    }
}
