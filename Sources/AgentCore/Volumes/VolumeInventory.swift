// SPDX-License-Identifier: Apache-2.0
// Which LUKS2 devices carry a ccagent token, how they are bound, and whether their header passes.

import AgentBase
import Cryptsetup
import LUKSBinding

#if canImport(Glibc)
import Glibc
#endif

/// One enrolled (or broken) volume as `volumes` and `status` show it.
public struct VolumeEntry: Codable, Sendable, Equatable {
    public var device: String
    public var uuid: String
    /// The mapping name: from /etc/crypttab, else `luks-<UUID>`.
    public var name: String
    public var binding: String?
    public var keyslot: Int32?
    public var broker: String?
    public var resource: String?
    /// `ok (MAC verified at unlock)`, or the first problem found (the same check unlock makes).
    public var headerCheck: String
    /// The error code of that problem; nil when the volume passes every check short of the MAC.
    public var problemCode: String?
    public var active: Bool

    /// Whether the header and token pass every check that needs no key.
    public var isAcceptable: Bool { problemCode == nil }

    enum CodingKeys: String, CodingKey {
        case device, uuid, name, binding, keyslot, broker, resource, active
        case headerCheck = "header_check"
        case problemCode = "problem_code"
    }
}

public enum VolumeInventory {
    /// Describes `paths`, or every block device with a ccagent token when `paths` is empty, checking
    /// each against `policy` exactly as unlock would before it derives a key.
    public static func scan(
        _ paths: [String] = [], crypttab: String = "/etc/crypttab", policy: UnlockPolicy = UnlockPolicy(broker: nil)
    ) -> [VolumeEntry] {
        let names = crypttabNames(AgentConfiguration.readTextFile(crypttab) ?? "")
        let candidates = paths.isEmpty ? blockDevices() : paths
        return candidates.compactMap { path in
            guard let device = try? CryptDevice(path: path) else { return nil }
            let hasToken = device.tokens.contains { CCAgentToken.isCCAgentToken($0.json) }
            guard hasToken || !paths.isEmpty else { return nil }
            let uuid = device.uuid
            let name = names[uuid.lowercased()] ?? names[path] ?? "luks-\(uuid)"
            var entry = VolumeEntry(
                device: path, uuid: uuid, name: name, binding: nil, keyslot: nil, broker: nil, resource: nil,
                headerCheck: "ok (MAC verified at unlock)", problemCode: nil, active: CryptDevice.isActive(name: name))
            let token = try? VolumeUnlock.token(of: device)
            if let token {
                entry.binding = token.binding.rawValue
                entry.keyslot = token.keyslot
                entry.broker = token.broker
                entry.resource = token.resource
            }
            do {
                // The broker is checked only when one is configured: `volumes` may run without one.
                var checks = policy
                if checks.broker == nil { checks.broker = token?.broker }
                _ = try VolumeUnlock.check(device, expectedUUID: nil, policy: checks)
            } catch {
                entry.headerCheck = "\(error)"
                entry.problemCode = ErrorCode.of(error).description
            }
            return entry
        }
    }

    /// The mapping name of a volume: its crypttab entry (by UUID or device), else `luks-<UUID>`.
    public static func mappingName(uuid: String, device: String, crypttab: String = "/etc/crypttab") -> String {
        let names = crypttabNames(AgentConfiguration.readTextFile(crypttab) ?? "")
        return names[uuid.lowercased()] ?? names[device] ?? "luks-\(uuid)"
    }

    /// LUKS devices present now, with or without a ccagent token: UUID (lower case) → device path.
    public static func presentDevices() -> [String: String] {
        var devices: [String: String] = [:]
        for path in blockDevices() {
            if let uuid = (try? CryptDevice(path: path))?.uuid.lowercased(), devices[uuid] == nil {
                devices[uuid] = path
            }
        }
        return devices
    }

    /// UUIDs (lower case) that crypttab names by `UUID=` or `/dev/disk/by-uuid/`, except the entries
    /// marked `noauto` or `nofail`: those disks may be absent by design, so nothing waits for them.
    public static func crypttabUUIDs(crypttab: String) -> Set<String> {
        let entries = crypttabEntries(AgentConfiguration.readTextFile(crypttab) ?? "")
        return Set(
            entries.compactMap { entry in
                let optional = entry.options.contains { $0 == "noauto" || $0 == "nofail" }
                return optional ? nil : AgentConfiguration.normalizedUUID(Substring(sourceKey(entry.source)))
            })
    }

    /// UUID or device → name, from crypttab lines `name device [keyfile [options]]`.
    static func crypttabNames(_ text: String) -> [String: String] {
        var names: [String: String] = [:]
        for entry in crypttabEntries(text) {
            names[sourceKey(entry.source)] = entry.name
        }
        return names
    }

    /// The entries of crypttab text: name, source, key file and the comma-separated options.
    static func crypttabEntries(
        _ text: String
    ) -> [(name: String, source: String, keyFile: String, options: [Substring])] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2, !words[0].hasPrefix("#") else { return nil }
            return (
                words[0], words[1], words.count >= 3 ? words[2] : "",
                words.count >= 4 ? words[3].split(separator: ",") : []
            )
        }
    }

    /// A crypttab source as names are looked up: a UUID (lower case) for `UUID=` and by-uuid paths,
    /// else the source itself.
    static func sourceKey(_ source: String) -> String {
        if source.hasPrefix("UUID=") { return String(source.dropFirst(5)).lowercased() }
        if source.hasPrefix("/dev/disk/by-uuid/") {
            return String(source.dropFirst("/dev/disk/by-uuid/".count)).lowercased()
        }
        return source
    }

    /// Whole disks and partitions from /sys/class/block.
    static func blockDevices() -> [String] {
        guard let directory = opendir("/sys/class/block") else { return [] }
        defer { closedir(directory) }
        var devices: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.hasPrefix("."), !name.hasPrefix("loop"), !name.hasPrefix("ram"), !name.hasPrefix("dm-") else {
                continue
            }
            devices.append("/dev/" + name)
        }
        return devices.sorted()
    }
}
