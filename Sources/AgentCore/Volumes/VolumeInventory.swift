// SPDX-License-Identifier: Apache-2.0
// Which LUKS2 devices carry a ccagent token, how they are bound, and whether their header passes.

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
    /// `ok`, or the first problem found.
    public var headerCheck: String
    public var active: Bool

    enum CodingKeys: String, CodingKey {
        case device, uuid, name, binding, keyslot, broker, resource, active
        case headerCheck = "header_check"
    }
}

public enum VolumeInventory {
    /// Describes `paths`, or every block device with a ccagent token when `paths` is empty.
    public static func scan(_ paths: [String] = [], crypttab: String = "/etc/crypttab") -> [VolumeEntry] {
        let names = crypttabNames(AgentConfiguration.readTextFile(crypttab) ?? "")
        let candidates = paths.isEmpty ? blockDevices() : paths
        return candidates.compactMap { path in
            guard let device = try? CryptDevice(path: path) else { return nil }
            let hasToken = device.tokens.contains { $0.json.contains("\"ccagent\"") }
            guard hasToken || !paths.isEmpty else { return nil }
            let uuid = device.uuid
            let name = names[uuid.lowercased()] ?? names[path] ?? "luks-\(uuid)"
            var entry = VolumeEntry(
                device: path, uuid: uuid, name: name, binding: nil, keyslot: nil, broker: nil, resource: nil,
                headerCheck: "no ccagent token", active: CryptDevice.isActive(name: name))
            do {
                let token = try VolumeUnlock.token(of: device)
                entry.binding = token.binding.rawValue
                entry.keyslot = token.keyslot
                entry.broker = token.broker
                entry.resource = token.resource
                let header = try LUKSHeader(json: device.headerJSON(), uuid: uuid)
                let problems = HeaderPolicy.check(header, keyslot: token.keyslot)
                entry.headerCheck =
                    problems.first
                    ?? (device.isKeyslotActive(token.keyslot) ? "ok (MAC verified at unlock)" : "keyslot missing")
            } catch {
                entry.headerCheck = "\(error)"
            }
            return entry
        }
    }

    /// UUIDs (lower case) of the LUKS devices present now, with or without a ccagent token.
    public static func presentUUIDs() -> Set<String> {
        Set(blockDevices().compactMap { (try? CryptDevice(path: $0))?.uuid.lowercased() })
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

    /// The entries of crypttab text: name, source and the comma-separated options of the fourth field.
    static func crypttabEntries(_ text: String) -> [(name: String, source: String, options: [Substring])] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2, !words[0].hasPrefix("#") else { return nil }
            return (words[0], words[1], words.count >= 4 ? words[3].split(separator: ",") : [])
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
