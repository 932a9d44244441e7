// SPDX-License-Identifier: Apache-2.0
// The value behind `ccagent status`: sections of facts and findings, and one verdict.

/// How healthy something is. Ordered: the verdict is the worst section.
public enum Health: String, Codable, Sendable, Comparable {
    case ok, degraded, broken

    private var rank: Int {
        switch self {
        case .ok: 0
        case .degraded: 1
        case .broken: 2
        }
    }

    public static func < (lhs: Health, rhs: Health) -> Bool { lhs.rank < rhs.rank }
}

/// One problem found, in plain words, with the next step.
public struct Finding: Codable, Sendable, Equatable {
    public var severity: Health
    /// What is wrong (or noteworthy), e.g. "broker https://kbs:8443 unreachable: connection refused".
    public var message: String
    /// What to do next.
    public var hint: String
    /// A stable code, e.g. `broker.unreachable`, for scripts and the journal.
    public var code: String

    public init(_ severity: Health, code: String, _ message: String, hint: String) {
        self.severity = severity
        self.code = code
        self.message = message
        self.hint = hint
    }
}

/// One section of the report: its health, ordered facts for the text view, findings.
public struct StatusSection: Codable, Sendable, Equatable {
    public var health: Health
    /// Label → value, in display order (also in the JSON, as an object).
    public var facts: [Fact]
    public var findings: [Finding]

    public struct Fact: Codable, Sendable, Equatable {
        public var label: String
        public var value: String
        /// Shown in the text view only with `--verbose` (always in the JSON).
        public var verboseOnly: Bool
        public init(_ label: String, _ value: String, verboseOnly: Bool = false) {
            self.label = label
            self.value = value
            self.verboseOnly = verboseOnly
        }
    }

    public init(facts: [Fact] = [], findings: [Finding] = []) {
        self.facts = facts
        self.findings = findings
        self.health = findings.map(\.severity).max() ?? .ok
    }

    /// Adds a finding and lowers the section's health accordingly.
    public mutating func add(_ finding: Finding) {
        findings.append(finding)
        health = max(health, finding.severity)
    }
}

/// The whole answer to "why did this boot (not) unlock".
///
/// JSON top-level keys: `verdict`, `platform`, `evidence`, `broker`, `volumes`, `last_boot`, `secrets`
/// (see docs/status.schema.json). A section the agent could not look at (e.g. no broker configured)
/// is still present, with a finding saying why.
public struct StatusReport: Codable, Sendable, Equatable {
    public var platform: StatusSection
    public var evidence: StatusSection
    public var broker: StatusSection
    public var volumes: StatusSection
    public var lastBoot: StatusSection
    public var secrets: StatusSection

    public init(
        platform: StatusSection, evidence: StatusSection, broker: StatusSection, volumes: StatusSection,
        lastBoot: StatusSection, secrets: StatusSection
    ) {
        self.platform = platform
        self.evidence = evidence
        self.broker = broker
        self.volumes = volumes
        self.lastBoot = lastBoot
        self.secrets = secrets
    }

    /// The worst health of any section.
    public var verdict: Health {
        [platform, evidence, broker, volumes, lastBoot, secrets].map(\.health).max() ?? .ok
    }

    /// Sections in display order, with their titles.
    public var sections: [(title: String, key: String, section: StatusSection)] {
        [
            ("Platform", "platform", platform), ("Evidence", "evidence", evidence), ("Broker", "broker", broker),
            ("Volumes", "volumes", volumes), ("Last boot", "last_boot", lastBoot),
            ("Sealed secrets", "secrets", secrets),
        ]
    }

    enum CodingKeys: String, CodingKey {
        case verdict, platform, evidence, broker, volumes, secrets
        case lastBoot = "last_boot"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(platform, forKey: .platform)
        try container.encode(evidence, forKey: .evidence)
        try container.encode(broker, forKey: .broker)
        try container.encode(volumes, forKey: .volumes)
        try container.encode(lastBoot, forKey: .lastBoot)
        try container.encode(secrets, forKey: .secrets)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        platform = try container.decode(StatusSection.self, forKey: .platform)
        evidence = try container.decode(StatusSection.self, forKey: .evidence)
        broker = try container.decode(StatusSection.self, forKey: .broker)
        volumes = try container.decode(StatusSection.self, forKey: .volumes)
        lastBoot = try container.decode(StatusSection.self, forKey: .lastBoot)
        secrets = try container.decode(StatusSection.self, forKey: .secrets)
    }
}

extension StatusReport {
    /// Plain-text rendering; ANSI colours only when `colour` is true (a terminal).
    public func renderText(colour: Bool, verbose: Bool) -> String {
        func paint(_ text: String, _ health: Health) -> String {
            guard colour else { return text }
            let code =
                switch health {
                case .ok: "32"
                case .degraded: "33"
                case .broken: "31"
                }
            return "\u{1B}[\(code)m\(text)\u{1B}[0m"
        }
        func mark(_ health: Health) -> String {
            switch health {
            case .ok: "ok"
            case .degraded: "DEGRADED"
            case .broken: "BROKEN"
            }
        }
        var out = "ccagent status: \(paint(mark(verdict), verdict))\n"
        for (title, _, section) in sections {
            out += "\n\(title): \(paint(mark(section.health), section.health))\n"
            let facts = section.facts.filter { verbose || !$0.verboseOnly }
            let width = facts.map(\.label.count).max() ?? 0
            for fact in facts {
                let padding = String(repeating: " ", count: width - fact.label.count)
                out += "  \(fact.label)\(padding) : \(fact.value)\n"
            }
            for finding in section.findings {
                let tag = finding.severity == .broken ? "error" : finding.severity == .degraded ? "warning" : "note"
                out += "  \(paint(tag, finding.severity)): \(finding.message)\n"
                out += "    next: \(finding.hint)\n"
            }
        }
        return out
    }
}
