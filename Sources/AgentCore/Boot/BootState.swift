// SPDX-License-Identifier: Apache-2.0
// The outcome of a boot unlock run, written atomically to /run/ccagent/state.json for `ccagent status`.

import AgentBase
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// What one `ccagent unlock --all` (or the daemon's boot phase) did, phase by phase.
///
/// Written atomically (temporary file + rename, 0644: it holds no secret) to ``BootState/defaultPath``,
/// which lives on the /run tmpfs and so survives switch-root. Field names are the JSON keys; they are
/// part of the documented status schema and only ever grow.
public struct BootState: Codable, Sendable, Equatable {
    /// The state file's location.
    public static let defaultPath = "/run/ccagent/state.json"

    /// How the whole run ended.
    public enum Outcome: String, Codable, Sendable {
        /// Every volume the boot needs is open.
        case unlocked
        /// Some volumes are open, others failed.
        case partial
        case failed
        /// The boot names no volume with a ccagent token.
        case nothingToDo = "nothing-to-do"
        /// `ccagent.disable` / `disable = true`.
        case disabled

        /// Whether a volume the boot needs was left locked.
        public var isFailure: Bool { self == .failed || self == .partial }
    }

    /// How one phase ended.
    public enum PhaseOutcome: String, Codable, Sendable {
        case ok, failed, skipped
        /// The configuration phase found problems; each was reported and its setting kept its default.
        case warnings
    }

    /// What happened to one volume.
    public enum VolumeResult: String, Codable, Sendable {
        case unlocked
        case alreadyActive = "already-active"
        case failed
        /// Named by the boot but not ours (no ccagent token; crypttab gives it a key file).
        case skipped
    }

    /// One step of the run with its duration.
    public struct Phase: Codable, Sendable, Equatable {
        /// `config`, `discover`, `check`, `platform`, `attest`, `unlock`.
        public var name: String
        public var outcome: PhaseOutcome
        public var durationMilliseconds: Double
        /// A stable error code (e.g. `broker.unreachable`) when the phase failed.
        public var errorCode: String?
        /// The human message of the failure (never contains secrets).
        public var message: String?

        public init(
            name: String, outcome: PhaseOutcome, durationMilliseconds: Double, errorCode: String? = nil,
            message: String? = nil
        ) {
            self.name = name
            self.outcome = outcome
            self.durationMilliseconds = durationMilliseconds
            self.errorCode = errorCode
            self.message = message
        }

        enum CodingKeys: String, CodingKey {
            case name, outcome, message
            case durationMilliseconds = "duration_ms"
            case errorCode = "error_code"
        }
    }

    /// What happened to one volume.
    public struct VolumeOutcome: Codable, Sendable, Equatable {
        public var device: String
        public var name: String
        public var uuid: String?
        public var outcome: VolumeResult
        public var errorCode: String?
        public var message: String?
        public var durationMilliseconds: Double?
        /// The value RTMR3 was extended with for this volume (hex; see VolumeKeys.measurement).
        public var measurement: String?

        public init(
            device: String, name: String, uuid: String? = nil, outcome: VolumeResult, errorCode: String? = nil,
            message: String? = nil, durationMilliseconds: Double? = nil, measurement: String? = nil
        ) {
            self.measurement = measurement
            self.device = device
            self.name = name
            self.uuid = uuid
            self.outcome = outcome
            self.errorCode = errorCode
            self.message = message
            self.durationMilliseconds = durationMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case device, name, uuid, outcome, message, measurement
            case errorCode = "error_code"
            case durationMilliseconds = "duration_ms"
        }
    }

    /// Schema version of this file.
    public var version = 1
    /// RFC 3339 UTC time the run started.
    public var startedAt: String
    /// `initrd` or `host`.
    public var bootPhase: String
    /// The TEE used (`snp`, `tdx`, `sim-snp`, ...), or nil when none was found.
    public var tee: String?
    public var broker: String?
    public var outcome: Outcome
    /// What a failed boot did next: `poweroff` or `passphrase` (nil when nothing failed, or outside the boot).
    public var fallback: String?
    public var phases: [Phase]
    public var volumes: [VolumeOutcome]
    public var totalMilliseconds: Double

    public init(
        startedAt: String, bootPhase: String, tee: String?, broker: String?, outcome: Outcome, phases: [Phase],
        volumes: [VolumeOutcome], totalMilliseconds: Double, fallback: String? = nil
    ) {
        self.fallback = fallback
        self.startedAt = startedAt
        self.bootPhase = bootPhase
        self.tee = tee
        self.broker = broker
        self.outcome = outcome
        self.phases = phases
        self.volumes = volumes
        self.totalMilliseconds = totalMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case version, tee, broker, outcome, phases, volumes, fallback
        case startedAt = "started_at"
        case bootPhase = "boot_phase"
        case totalMilliseconds = "total_ms"
    }
}

extension BootState {
    /// Writes the state atomically (0644, creating the directory 0755).
    public func write(to path: String = BootState.defaultPath) throws {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try FileIO.makeDirectory(String(path[..<slash]), mode: 0o755)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileIO.writeAtomically(path: path, mode: 0o644, bytes: Array(try encoder.encode(self)))
    }

    /// Reads a state file; nil when there is none (no boot unlock ran since the machine started).
    public static func read(from path: String = BootState.defaultPath) throws -> BootState? {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: path, limit: 1 << 20)
        } catch let error as FileIOError where error.errno == ENOENT {
            return nil
        }
        return try JSONDecoder().decode(BootState.self, from: Data(bytes))
    }
}
