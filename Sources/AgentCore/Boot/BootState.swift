// SPDX-License-Identifier: Apache-2.0
// The outcome of a boot unlock run, written atomically to /run/ccagent/state.json for `ccagent status`.

import AgentBase
import CanonicalJSON

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
        try FileIO.writeAtomically(path: path, mode: 0o644, bytes: jsonValue.prettyPrintedBytes())
    }

    /// Reads a state file; nil when there is none (no boot unlock ran since the machine started).
    public static func read(from path: String = BootState.defaultPath) throws -> BootState? {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: path, limit: 1 << 20)
        } catch let error as FileIOError where error.errno == ENOENT {
            return nil
        }
        return try BootState(json: bytes)
    }
}

/// A state file that is not a boot state (truncated, hand-edited, or from an incompatible version).
public struct BootStateError: CodedError, Equatable {
    public var message: String
    public var errorCode: ErrorCode { ErrorCode("state.unreadable") }
    public var description: String { "failed to read the boot state: \(message)" }
}

// MARK: JSON (the documented status schema; keys as in CodingKeys)

extension BootState {
    /// The state as JSON, with the keys of ``CodingKeys``; absent optionals are left out.
    public var jsonValue: JSONValue {
        var members: [(String, JSONValue)] = [
            ("version", .integer(version)), ("started_at", .string(startedAt)), ("boot_phase", .string(bootPhase)),
            ("outcome", .string(outcome.rawValue)), ("phases", .array(phases.map(\.jsonValue))),
            ("volumes", .array(volumes.map(\.jsonValue))), ("total_ms", .number(totalMilliseconds)),
        ]
        if let tee { members.append(("tee", .string(tee))) }
        if let broker { members.append(("broker", .string(broker))) }
        if let fallback { members.append(("fallback", .string(fallback))) }
        return .object(members)
    }

    /// Parses a state file (as written by ``write(to:)``, or by earlier versions of the agent).
    public init(json bytes: [UInt8]) throws(BootStateError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            throw BootStateError(message: "\(error)")
        }
        let fields = JSONFields(json, "the state")
        let phases = try fields.array("phases").map { value throws(BootStateError) in try Phase(json: value) }
        let volumes = try fields.array("volumes").map { value throws(BootStateError) in try VolumeOutcome(json: value) }
        self.init(
            startedAt: try fields.string("started_at"), bootPhase: try fields.string("boot_phase"),
            tee: try fields.optionalString("tee"), broker: try fields.optionalString("broker"),
            outcome: try fields.enumeration("outcome"), phases: phases, volumes: volumes,
            totalMilliseconds: try fields.double("total_ms"), fallback: try fields.optionalString("fallback"))
        version = try fields.integer("version")
    }
}

extension BootState.Phase {
    var jsonValue: JSONValue {
        var members: [(String, JSONValue)] = [
            ("name", .string(name)), ("outcome", .string(outcome.rawValue)),
            ("duration_ms", .number(durationMilliseconds)),
        ]
        if let errorCode { members.append(("error_code", .string(errorCode))) }
        if let message { members.append(("message", .string(message))) }
        return .object(members)
    }

    init(json: JSONValue) throws(BootStateError) {
        let fields = JSONFields(json, "a phase")
        self.init(
            name: try fields.string("name"), outcome: try fields.enumeration("outcome"),
            durationMilliseconds: try fields.double("duration_ms"), errorCode: try fields.optionalString("error_code"),
            message: try fields.optionalString("message"))
    }
}

extension BootState.VolumeOutcome {
    var jsonValue: JSONValue {
        var members: [(String, JSONValue)] = [
            ("device", .string(device)), ("name", .string(name)), ("outcome", .string(outcome.rawValue)),
        ]
        if let uuid { members.append(("uuid", .string(uuid))) }
        if let errorCode { members.append(("error_code", .string(errorCode))) }
        if let message { members.append(("message", .string(message))) }
        if let durationMilliseconds { members.append(("duration_ms", .number(durationMilliseconds))) }
        if let measurement { members.append(("measurement", .string(measurement))) }
        return .object(members)
    }

    init(json: JSONValue) throws(BootStateError) {
        let fields = JSONFields(json, "a volume")
        self.init(
            device: try fields.string("device"), name: try fields.string("name"),
            uuid: try fields.optionalString("uuid"),
            outcome: try fields.enumeration("outcome"), errorCode: try fields.optionalString("error_code"),
            message: try fields.optionalString("message"),
            durationMilliseconds: try fields.optionalDouble("duration_ms"),
            measurement: try fields.optionalString("measurement"))
    }
}

/// Typed access to one JSON object's members, with errors naming the object and the key. A missing
/// optional member and `null` both read as nil; members it does not know are ignored.
private struct JSONFields {
    let members: [(String, JSONValue)]
    let what: String
    let problem: String?

    init(_ value: JSONValue, _ what: String) {
        self.what = what
        if case .object(let members) = value {
            self.members = members
            problem = nil
        } else {
            self.members = []
            problem = "\(what) is not a JSON object"
        }
    }

    func fail(_ key: String, _ detail: String) -> BootStateError {
        BootStateError(message: problem ?? "\(what): '\(key)' \(detail)")
    }

    func value(_ key: String) -> JSONValue? {
        guard let value = members.first(where: { $0.0 == key })?.1, !value.isNull else { return nil }
        return value
    }

    func required(_ key: String) throws(BootStateError) -> JSONValue {
        guard let value = value(key) else { throw fail(key, "is missing") }
        return value
    }

    func string(_ key: String) throws(BootStateError) -> String {
        guard let text = try required(key).stringValue else { throw fail(key, "is not a string") }
        return text
    }

    func optionalString(_ key: String) throws(BootStateError) -> String? {
        guard value(key) != nil else { return nil }
        return try string(key)
    }

    func double(_ key: String) throws(BootStateError) -> Double {
        guard case .number(let text) = try required(key), let number = Double(text) else {
            throw fail(key, "is not a number")
        }
        return number
    }

    func optionalDouble(_ key: String) throws(BootStateError) -> Double? {
        guard value(key) != nil else { return nil }
        return try double(key)
    }

    func integer(_ key: String) throws(BootStateError) -> Int {
        guard case .number(let text) = try required(key), let number = Int(text) else {
            throw fail(key, "is not an integer")
        }
        return number
    }

    func array(_ key: String) throws(BootStateError) -> [JSONValue] {
        guard let values = try required(key).arrayValue else { throw fail(key, "is not an array") }
        return values
    }

    func enumeration<T: RawRepresentable>(_ key: String) throws(BootStateError) -> T where T.RawValue == String {
        let text = try string(key)
        guard let value = T(rawValue: text) else { throw fail(key, "has the unknown value '\(text)'") }
        return value
    }
}
