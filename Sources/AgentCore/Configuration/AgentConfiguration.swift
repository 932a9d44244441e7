// SPDX-License-Identifier: Apache-2.0
// The agent's defaults: /etc/ccagent/ccagent.conf, then the kernel command line, then CLI flags.

import AgentBase
import LUKSBinding

/// Which TEE interface produces evidence.
public enum TEEChoice: String, Sendable, CaseIterable {
    case auto, snp, tdx
    case simSNP = "sim-snp"
    case simTDX = "sim-tdx"
    /// Azure confidential VMs (the paravisor's vTPM), and their simulation on swtpm.
    case azSNP = "az-snp"
    case azTDX = "az-tdx"
    case simAzSNP = "sim-az-snp"
    case simAzTDX = "sim-az-tdx"
    case sample

    /// Whether the choice is an Azure vTPM TEE (real or simulated).
    public var isAzure: Bool { self == .azSNP || self == .azTDX || self == .simAzSNP || self == .simAzTDX }
}

/// What the boot does when it cannot unlock a volume it needs.
public enum BootFallback: String, Sendable, CaseIterable {
    /// Say why on the console and in the journal, then power the VM off. On a confidential VM the
    /// console belongs to the host: a passphrase typed there is the host's, and a prompt lets the host
    /// open any header on the disk with a passphrase of its own.
    case poweroff
    /// Let systemd-cryptsetup / cryptroot ask for the passphrase (development, non-confidential machines).
    case passphrase
}

/// Which volumes the boot unlock opens.
public enum BootVolumeSelection: String, Sendable, CaseIterable {
    /// Only those the boot names: crypttab in the initramfs, `rd.luks.*`, `luks.*`, `cryptopts=`.
    case named
    /// Every block device that carries a ccagent token (the configuration's pins still apply).
    case all
}

/// Every default the agent reads before a command's own flags apply.
///
/// Precedence, lowest first: built-in defaults, the config file, the kernel command line, CLI flags.
/// The file and the command line are both covered by the launch measurement when they live in the
/// initramfs, which is why the broker and its TLS trust may come from them and never from a disk.
public struct AgentConfiguration: Sendable, Equatable {
    /// Where the config file lives by default.
    public static let defaultPath = "/etc/ccagent/ccagent.conf"
    /// The default simulator state directory.
    public static let defaultSimulatorDirectory = "/var/lib/ccagent/simulator"

    public var brokerURL: String?
    public var brokerTrust: TLSTrust = .systemCAs
    public var tee: TEEChoice = .auto
    /// Seconds the boot unlock may take before it gives up and the passphrase prompt takes over.
    public var deadlineSeconds: Double = 90
    public var allowInsecureHTTP = false
    public var simulatorDirectory = AgentConfiguration.defaultSimulatorDirectory
    /// `ccagent.disable` on the kernel command line: the boot unlock does nothing and says so.
    public var disabled = false
    /// LUKS UUIDs (lower case) the boot needs, from `rd.luks.uuid=`, `rd.luks.name=`, `luks.uuid=`,
    /// `luks.name=` and `cryptopts=source=UUID=`: the boot unlock waits for these devices to appear.
    public var bootVolumeUUIDs: Set<String> = []
    /// What tokens may ask for: bindings, SNP key fields, resources, volumes, discards.
    public var volumePolicy = VolumePolicy()
    /// What the boot does when it cannot unlock a volume it needs.
    public var fallback: BootFallback = .poweroff
    /// Which volumes the boot unlock opens.
    public var bootVolumes: BootVolumeSelection = .named
    /// The broker resource holding the key-encryption key of broker-sealed secrets.
    public var sealingKEKResource = "default/ccagent/sealing-kek"
    /// Problems found while reading; each names the file or source, the line and what was ignored.
    public var warnings: [String] = []

    public init() {}
}

extension AgentConfiguration {
    /// Reads the config file at `path` (absent is fine) and applies `kernelCommandLine` on top.
    ///
    /// Never throws: a boot must not hang on a typo. Each problem becomes a warning that names the
    /// source and line, and the setting keeps its previous value.
    public static func load(
        path: String = AgentConfiguration.defaultPath,
        kernelCommandLine: String? = nil,
        readFile: (String) -> String? = AgentConfiguration.readTextFile
    ) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        if let text = readFile(path) {
            configuration.apply(configFile: text, source: path)
        }
        if let cmdline = kernelCommandLine ?? readFile("/proc/cmdline") {
            configuration.apply(kernelCommandLine: cmdline)
        }
        return configuration
    }

    /// Applies `key = value` lines (`#` comments, blank lines ignored).
    public mutating func apply(configFile text: String, source: String) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                warnings.append("\(source):\(index + 1): expected 'key = value', ignoring the line")
                continue
            }
            let key = line[..<equals].trimmingWhitespace()
            let value = line[line.index(after: equals)...].trimmingWhitespace().unquoted()
            set(key: key, value: value, origin: "\(source):\(index + 1)")
        }
    }

    /// Applies `ccagent.*` parameters from a kernel command line; other parameters are ignored.
    public mutating func apply(kernelCommandLine: String) {
        for word in kernelCommandLine.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            if let uuid = AgentConfiguration.bootVolumeUUID(String(word)) {
                bootVolumeUUIDs.insert(uuid)
                continue
            }
            guard word.hasPrefix("ccagent.") else { continue }
            let parameter = word.dropFirst("ccagent.".count)
            if parameter == "disable" {
                disabled = true
                continue
            }
            guard let equals = parameter.firstIndex(of: "=") else {
                warnings.append("kernel command line: 'ccagent.\(parameter)' needs a value, ignoring it")
                continue
            }
            let key = String(parameter[..<equals])
            let value = String(parameter[parameter.index(after: equals)...])
            let mapped = key == "timeout" ? "deadline" : key
            set(key: mapped, value: value, origin: "kernel command line 'ccagent.\(key)'")
        }
    }

    /// The LUKS UUID a systemd (`rd.luks.*`, `luks.*`) or initramfs-tools (`cryptopts=`) parameter names.
    static func bootVolumeUUID(_ word: String) -> String? {
        var value: Substring
        if let prefix = ["rd.luks.uuid=", "luks.uuid=", "rd.luks.name=", "luks.name="].first(where: word.hasPrefix) {
            value = word.dropFirst(prefix.count)
            if prefix.hasSuffix("name=") { value = value.prefix { $0 != "=" } }
            if value.hasPrefix("luks-") { value = value.dropFirst(5) }
        } else if word.hasPrefix("cryptopts=") {
            guard let source = word.dropFirst(10).split(separator: ",").first(where: { $0.hasPrefix("source=UUID=") })
            else { return nil }
            value = source.dropFirst("source=UUID=".count)
        } else {
            return nil
        }
        return normalizedUUID(value)
    }

    /// `value` in lower case when it is shaped like a UUID (36 hex digits and dashes), else nil.
    static func normalizedUUID(_ value: Substring) -> String? {
        let uuid = value.lowercased()
        return uuid.count == 36 && uuid.allSatisfy { $0.isHexDigit || $0 == "-" } ? uuid : nil
    }

    private mutating func set(key: String, value: String, origin: String) {
        switch key {
        case "broker":
            guard value.hasPrefix("https://") || value.hasPrefix("http://") else {
                warnings.append("\(origin): broker '\(value)' is not an http(s) URL, ignoring it")
                return
            }
            brokerURL = value
        case "ca":
            brokerTrust = .caFile(value)
        case "pin":
            guard let pin = Hex.decode(value), pin.count == 32 else {
                warnings.append("\(origin): pin must be 64 hex digits (SHA-256 of the broker's SPKI), ignoring it")
                return
            }
            brokerTrust = .pinnedSPKISHA256(pin)
        case "tee":
            guard let choice = TEEChoice(rawValue: value) else {
                let names = TEEChoice.allCases.map(\.rawValue).joined(separator: "|")
                warnings.append("\(origin): tee '\(value)' is not one of \(names), ignoring it")
                return
            }
            tee = choice
        case "deadline":
            guard let seconds = Double(value), seconds > 0, seconds <= 3600 else {
                warnings.append("\(origin): deadline '\(value)' must be seconds in (0, 3600], ignoring it")
                return
            }
            deadlineSeconds = seconds
        case "allow-insecure-http":
            guard let flag = Bool(value) else {
                warnings.append("\(origin): allow-insecure-http must be true or false, ignoring it")
                return
            }
            allowInsecureHTTP = flag
        case "simulator-dir":
            simulatorDirectory = value
        case "disable":
            disabled = value == "true" || value == "1"
        case "fallback":
            guard let choice = BootFallback(rawValue: value) else {
                warnings.append(
                    "\(origin): fallback '\(value)' is not poweroff or passphrase, keeping \(fallback.rawValue)")
                return
            }
            fallback = choice
        case "boot-volumes":
            guard let choice = BootVolumeSelection(rawValue: value) else {
                warnings.append(
                    "\(origin): boot-volumes '\(value)' is not named or all, keeping \(bootVolumes.rawValue)")
                return
            }
            bootVolumes = choice
        case "sealing-kek":
            sealingKEKResource = value
        case "bindings", "snp-key-fields", "snp-vmpl", "snp-root-key", "resources", "volume", "allow-discards":
            setVolumePin(key: key, value: value, origin: origin)
        default:
            warnings.append("\(origin): unknown setting '\(key)', ignoring it")
        }
    }

    /// The pins of ``VolumePolicy``. A value that does not parse keeps the (strict) default.
    private mutating func setVolumePin(key: String, value: String, origin: String) {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
        switch key {
        case "bindings":
            let modes = words.compactMap(BindingMode.init(rawValue:))
            guard !modes.isEmpty, modes.count == words.count else {
                warnings.append(
                    "\(origin): bindings '\(value)' must list broker, broker+snp or snp; keeping the default")
                return
            }
            volumePolicy.bindings = Set(modes)
        case "snp-key-fields":
            switch GuestFieldSelect.parse(value) {
            case .success(let fields): volumePolicy.snpFields = fields
            case .failure(let error): warnings.append("\(origin): snp-key-fields: \(error); keeping the default")
            }
        case "snp-vmpl":
            guard let vmpl = UInt32(value), vmpl <= 3 else {
                warnings.append("\(origin): snp-vmpl '\(value)' is not 0-3; keeping \(volumePolicy.snpVMPL)")
                return
            }
            volumePolicy.snpVMPL = vmpl
        case "snp-root-key":
            guard let root = DerivedKeyRequest.RootKey(rawValue: value) else {
                warnings.append("\(origin): snp-root-key '\(value)' is not vcek or vmrk; keeping the default")
                return
            }
            volumePolicy.snpRootKey = root
        case "resources":
            guard !words.isEmpty else {
                warnings.append("\(origin): resources needs at least one pattern; keeping the default")
                return
            }
            volumePolicy.resourcePatterns = words
        case "volume":
            guard (1...2).contains(words.count), let uuid = AgentConfiguration.normalizedUUID(Substring(words[0]))
            else {
                warnings.append("\(origin): expected 'volume = UUID [RESOURCE]', ignoring the line")
                return
            }
            volumePolicy.volumes[uuid] = words.count == 2 ? words[1] : ""
        default:
            guard let flag = Bool(value) else {
                warnings.append("\(origin): allow-discards must be true or false, keeping false")
                return
            }
            volumePolicy.allowDiscards = flag
        }
    }

    /// Reads a whole text file, or nil when it does not exist or cannot be read.
    public static func readTextFile(_ path: String) -> String? {
        guard let bytes = try? FileIO.read(path: path, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }

    fileprivate func unquoted() -> String {
        if count >= 2, let first, let last, first == last, first == "\"" || first == "'" {
            return String(dropFirst().dropLast())
        }
        return String(self)
    }
}
