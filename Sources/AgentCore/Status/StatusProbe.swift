// SPDX-License-Identifier: Apache-2.0
// Gathers `ccagent status`: platform, fresh evidence, broker reachability, volumes, last boot, secrets.

import AgentBase
import KBSClient
import KBSProtocol
import TEEDevice
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// What `status` looks at.
public struct StatusRequest: Sendable {
    public var configuration: AgentConfiguration
    public var trust: TLSTrust
    public var statePath: String
    public var secretStore: String
    public var devices: [String]
    /// Prefixes every kernel path the platform probe reads ("" on a real machine; a fake tree in tests).
    public var platformRoot: String

    public init(
        configuration: AgentConfiguration, trust: TLSTrust, statePath: String = BootState.defaultPath,
        secretStore: String = SecretStore.defaultDirectory, devices: [String] = [], platformRoot: String = ""
    ) {
        self.platformRoot = platformRoot
        self.configuration = configuration
        self.trust = trust
        self.statePath = statePath
        self.secretStore = secretStore
        self.devices = devices
    }
}

public enum StatusProbe {
    /// Builds the report. Every probe is bounded (the broker probe by 1.5 s), so this answers in seconds.
    public static func run(_ request: StatusRequest) -> StatusReport {
        let configuration = request.configuration
        let (platform, device) = platformSection(configuration, root: request.platformRoot)
        return StatusReport(
            platform: platform, evidence: evidenceSection(device, configuration: configuration),
            broker: brokerSection(request), volumes: volumesSection(request),
            lastBoot: lastBootSection(request.statePath), secrets: secretsSection(request.secretStore))
    }

    static func platformSection(
        _ configuration: AgentConfiguration, root: String
    ) -> (StatusSection, (any GuestDevice)?) {
        let report = Platform.detect(root: root)
        var section = StatusSection(facts: [
            .init("CVM", report.cvm), .init("Kernel", report.kernel),
            .init("Configured TEE", configuration.tee.rawValue),
        ])
        if report.azure != nil || configuration.tee.isAzure {
            let tdx = configuration.tee == .azTDX || configuration.tee == .simAzTDX
            let name: String
            if report.azure != nil {
                name = report.platformName
            } else if configuration.tee == .simAzSNP || configuration.tee == .simAzTDX {
                name = "Azure CVM, \(tdx ? "TDX" : "SNP") via paravisor vTPM (SIMULATED on swtpm)"
            } else {
                name = "Azure CVM configured (\(configuration.tee.rawValue)), not confirmed by detection (see below)"
            }
            section.facts.insert(.init("Platform", name), at: 0)
            section.facts.append(
                .init(
                    "Sealing", "broker: Azure's paravisor gives no TEE-derived key (no SNP MSG_KEY_REQ for the guest)"))
        } else if let isolation = report.checks.first(where: { $0.name == "hyperv-isolation" }) {
            section.facts.append(.init("Azure CVM", "no — \(isolation.detail)", verboseOnly: true))
        }
        if let vmpl = report.vmpl { section.facts.append(.init("VMPL", "\(vmpl)")) }
        for check in report.checks {
            section.facts.append(
                .init(check.name, "\(check.present ? "present" : "absent") — \(check.detail)", verboseOnly: true))
        }
        for warning in configuration.warnings {
            section.add(
                Finding(
                    .degraded, code: "config.invalid", "configuration: \(warning)",
                    hint: BootFailureHints.hint(for: "config.invalid")))
        }
        let device = try? DeviceSelection.device(
            for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory, platformRoot: root)
        if configuration.tee == .simSNP || configuration.tee == .simTDX || configuration.tee == .simAzSNP
            || configuration.tee == .simAzTDX
        {
            section.add(
                Finding(
                    .degraded, code: "tee.simulated",
                    "RUNNING ON THE SIMULATOR (\(configuration.tee.rawValue)): evidence proves nothing about this machine",
                    hint: "set 'tee = auto' in \(AgentConfiguration.defaultPath) on a confidential VM"))
            if device == nil {
                section.add(
                    Finding(
                        .broken, code: "tee.simulator-state",
                        "the simulator in '\(configuration.simulatorDirectory)' is not initialised",
                        hint: "run 'ccagent simulator init --simulator-dir \(configuration.simulatorDirectory)'"))
            }
        } else if device == nil {
            section.add(
                Finding(
                    .broken, code: "tee.unavailable",
                    "no usable TEE interface: checked \(report.checks.map(\.path).joined(separator: ", "))",
                    hint: BootFailureHints.hint(for: "tee.unavailable")))
        }
        return (section, device)
    }

    static func evidenceSection(_ device: (any GuestDevice)?, configuration: AgentConfiguration) -> StatusSection {
        guard let device else {
            return StatusSection(findings: [
                Finding(
                    .broken, code: "evidence.unavailable", "no evidence: there is no TEE to ask",
                    hint: "see Platform above")
            ])
        }
        do {
            if device.kind.isAzure { return try azureEvidenceSection(device) }
            let evidence = try device.evidence(reportData: [UInt8](repeating: 0, count: 64), vmpl: 0)
            var section = StatusSection()
            switch try EvidenceKind.detect(evidence.bytes) {
            case .snpReport(let report):
                section.facts = [
                    .init("Type", "SNP report v\(report.version)\(device.kind.isSimulated ? " (SIMULATED)" : "")"),
                    .init("Measurement", Hex.encode(report.measurement)),
                    .init(
                        "Policy",
                        "0x\(String(report.policy.raw, radix: 16)) [\(report.policy.flagNames.joined(separator: ", "))]"
                    ),
                    .init("Reported TCB", "\(report.reportedTCB)"),
                    .init("HOST_DATA", Hex.encode(report.hostData)),
                    .init("Chip ID", Hex.encode(report.chipID), verboseOnly: true),
                ]
                if report.policy.debugAllowed {
                    section.add(
                        Finding(
                            .degraded, code: "evidence.debug",
                            "the guest policy allows debugging: the host can read this VM's memory",
                            hint: "launch the VM with a policy without DEBUG"))
                }
                if report.policy.migrationAgentAllowed {
                    section.add(
                        Finding(
                            .degraded, code: "evidence.migration", "the guest policy allows a migration agent",
                            hint: "launch without MIGRATE_MA unless you use one"))
                }
            case .tdxQuote(let quote):
                section.facts = [
                    .init("Type", "TDX quote v\(quote.version)\(device.kind.isSimulated ? " (SIMULATED)" : "")"),
                    .init("MRTD", Hex.encode(quote.body.mrTD)),
                ]
                for (index, value) in quote.body.rtmr.enumerated() {
                    section.facts.append(.init("RTMR\(index)", Hex.encode(value)))
                }
                section.facts.append(.init("Attributes", Hex.encode(quote.body.tdAttributes)))
                if quote.body.debug {
                    section.add(
                        Finding(
                            .degraded, code: "evidence.debug", "the TD is debuggable: the host can read its memory",
                            hint: "launch the TD without the DEBUG attribute"))
                }
            case .tdReport:
                section.facts = [.init("Type", "TDREPORT")]
            }
            return section
        } catch {
            return StatusSection(findings: [
                Finding(
                    .broken, code: BootUnlock.errorCode(error), "failed to get fresh evidence: \(error)",
                    hint: BootFailureHints.hint(for: BootUnlock.errorCode(error)))
            ])
        }
    }

    /// Azure: a fresh HCL report and quote (report data zero), shown as what the broker will check.
    static func azureEvidenceSection(_ device: any GuestDevice) throws -> StatusSection {
        let evidence = try device.evidence(reportData: [UInt8](repeating: 0, count: 64), vmpl: 0)
        let parsed = try AzureEvidence(parsing: evidence.bytes)
        let simulated = device.kind.isSimulated ? " (SIMULATED)" : ""
        var section = StatusSection(facts: [
            .init("Type", "\(parsed.tee.rawValue) evidence v\(parsed.version)\(simulated)"),
            .init(
                "HCLAkPub",
                parsed.hclReport.runtimeData.attestationKey.map { "RSA \($0.modulusBits) bits" } ?? "absent"),
        ])
        for (index, pcr) in parsed.tpmQuote.pcrs.enumerated() where [0, 4, 7, 9, 11].contains(index) {
            section.facts.append(.init("PCR\(index)", Hex.encode(pcr), verboseOnly: index != 4))
        }
        switch parsed.hclReport.hardwareReport {
        case .snp(let report):
            section.facts.append(.init("Measurement", Hex.encode(report.measurement)))
            section.facts.append(.init("VMPL", "\(report.vmpl)"))
        case .tdx(let report):
            section.facts.append(.init("MRTD", Hex.encode(report.mrTD)))
        }
        return section
    }

    static func brokerSection(_ request: StatusRequest) -> StatusSection {
        let configuration = request.configuration
        guard let broker = configuration.brokerURL else {
            return StatusSection(
                facts: [.init("URL", "not configured")],
                findings: [
                    Finding(
                        .degraded, code: "broker.unconfigured", "no broker is configured",
                        hint: "set 'broker' (and 'ca' or 'pin') in \(AgentConfiguration.defaultPath)")
                ])
        }
        var trustText = "system CAs"
        switch request.trust {
        case .caFile(let path): trustText = "CA file \(path)"
        case .pinnedSPKISHA256(let pin): trustText = "pinned SPKI \(Hex.encode(pin))"
        case .systemCAs: break
        }
        var section = StatusSection(facts: [.init("URL", broker), .init("TLS trust", trustText)])
        let clock = Stopwatch()
        do {
            let client = try KBSClient(
                configuration: KBSClientConfiguration(
                    brokerURL: broker, trust: request.trust, allowInsecureHTTP: configuration.allowInsecureHTTP,
                    deadlineSeconds: 1.5, connectTimeoutSeconds: 1, requestTimeoutSeconds: 1.5),
                attester: SampleAttester())
            try client.probe()
            section.facts.append(
                .init("Reachable", "yes, protocol \(kbsProtocolVersion) accepted (\(Int(clock.total())) ms)"))
        } catch let error as KBSError where error.code == .attestationFailed {
            // The broker answered in protocol: it refuses the sample TEE, which proves reachability.
            section.facts.append(.init("Reachable", "yes (\(Int(clock.total())) ms); it refused a dry 'sample' auth"))
        } catch {
            let code = BootUnlock.errorCode(error)
            section.facts.append(.init("Reachable", "no (\(Int(clock.total())) ms)"))
            section.add(
                Finding(.broken, code: code, "broker \(broker): \(error)", hint: BootFailureHints.hint(for: code)))
        }
        return section
    }

    static func volumesSection(_ request: StatusRequest) -> StatusSection {
        let configuration = request.configuration
        let entries = VolumeInventory.scan(
            request.devices,
            policy: UnlockPolicy(broker: configuration.brokerURL, volumes: configuration.volumePolicy))
        var section = StatusSection()
        if entries.isEmpty { section.facts.append(.init("Volumes", "none with a ccagent token")) }
        for entry in entries {
            section.facts.append(
                .init(
                    entry.name,
                    "\(entry.device), binding \(entry.binding ?? "-"), keyslot \(entry.keyslot.map(String.init) ?? "-"), header \(entry.headerCheck), \(entry.active ? "active" : "not active")"
                ))
            if let code = entry.problemCode {
                section.add(
                    Finding(
                        .broken, code: code, "volume \(entry.name) (\(entry.device)): \(entry.headerCheck)",
                        hint: BootFailureHints.hint(for: code)))
            }
        }
        return section
    }

    static func lastBootSection(_ path: String) -> StatusSection {
        do {
            return .lastBoot(try BootState.read(from: path))
        } catch {
            return .lastBoot(nil, readError: error)
        }
    }

    static func secretsSection(_ directory: String) -> StatusSection {
        let store = SecretStore(directory: directory)
        guard let names = try? store.list() else {
            return StatusSection(findings: [
                Finding(
                    .degraded, code: "secret.io", "cannot read the secret store '\(directory)'",
                    hint: "run as root, or check the directory's permissions")
            ])
        }
        var modes: [String: Int] = [:]
        for name in names {
            let mode = (try? store.read(name: name).policy.summary) ?? "unreadable"
            modes[mode, default: 0] += 1
        }
        var section = StatusSection(facts: [.init("Store", directory), .init("Count", "\(names.count)")])
        for (mode, count) in modes.sorted(by: { $0.key < $1.key }) {
            section.facts.append(.init("Sealed", "\(count) × \(mode)"))
        }
        return section
    }
}
