// SPDX-License-Identifier: Apache-2.0
// The LUKS2 header is hostile input: an allowlist of what we accept before any key is used.

import AgentBase
import CanonicalJSON

/// A LUKS2 header's metadata (from `crypt_dump_json`) and its UUID.
public struct LUKSHeader: Sendable {
    public let json: JSONValue
    public let uuid: String

    public init(json text: String, uuid: String) throws(BindingError) {
        guard let value = try? JSONValue.parse(text), case .object = value else {
            throw BindingError(.headerRejected, "the LUKS2 header metadata is not valid JSON")
        }
        json = value
        self.uuid = uuid
    }

    public func keyslot(_ slot: Int32) -> JSONValue? { json["keyslots"]?[String(slot)] }

    /// The data segment (LUKS2 headers made by cryptsetup have exactly one, "0"), as numbers.
    public var dataSegment: DataSegment? {
        guard case .object(let segments)? = json["segments"], segments.count == 1, let segment = segments.first?.1,
            let offset = segment["offset"]?.stringValue.flatMap({ UInt64($0) })
        else { return nil }
        let size = segment["size"]?.stringValue
        return DataSegment(
            cipher: segment["encryption"]?.stringValue ?? "", offsetBytes: offset,
            sizeBytes: size == "dynamic" ? nil : size.flatMap { UInt64($0) },
            ivTweak: segment["iv_tweak"]?.stringValue.flatMap { UInt64($0) } ?? 0,
            sectorSize: segment["sector_size"]?.uint64Value ?? 512)
    }

    /// Digests that authenticate `slot`'s volume key.
    public func digests(for slot: Int32) -> [(String, JSONValue)] {
        guard case .object(let digests)? = json["digests"] else { return [] }
        return digests.filter { $0.1["keyslots"]?.arrayValue?.contains(.string(String(slot))) == true }
    }
}

/// A LUKS2 data segment's placement (bytes, as the header states them; `sizeBytes` nil is "dynamic").
public struct DataSegment: Sendable, Equatable {
    public var cipher: String
    public var offsetBytes: UInt64
    public var sizeBytes: UInt64?
    public var ivTweak: UInt64
    public var sectorSize: UInt64
}

/// What the agent accepts in a header before it uses a key on it.
public enum HeaderPolicy {
    /// Segment and keyslot-area ciphers. Never `cipher_null`, never ECB.
    public static let allowedCiphers: Set<String> = [
        "aes-xts-plain64", "aes-xts-plain", "serpent-xts-plain64", "twofish-xts-plain64", "aes-cbc-essiv:sha256",
        "xchacha20,aes-adiantum-plain64",
    ]
    public static let allowedSectorSizes: Set<UInt64> = [512, 1024, 2048, 4096]
    public static let allowedHashes: Set<String> = ["sha256", "sha512"]

    /// Every problem found in the header around `slot` (empty when acceptable). Persistent flags
    /// other than `allow-discards` (and that one only when `allowDiscards`), any requirement, and
    /// any segment flag are refused: activation ignores the header's flags, but a header that asks
    /// for them was not made by `ccagent enroll` on a volume this configuration accepts.
    public static func check(_ header: LUKSHeader, keyslot slot: Int32, allowDiscards: Bool = false) -> [String] {
        var problems = checkVolume(header, allowDiscards: allowDiscards)
        checkKeyslot(header, slot, into: &problems)
        return problems
    }

    /// The volume-wide part of ``check(_:keyslot:allowDiscards:)``: flags, requirements, segments.
    /// Enrollment runs it before writing anything, so a volume unlock would refuse is never enrolled.
    public static func checkVolume(_ header: LUKSHeader, allowDiscards: Bool = false) -> [String] {
        var problems: [String] = []
        let config = header.json["config"]
        for flag in config?["flags"]?.arrayValue ?? [] {
            let name = flag.stringValue ?? "?"
            if !(allowDiscards && name == "allow-discards") {
                problems.append("the header sets the persistent flag '\(name)', which the configuration does not allow")
            }
        }
        if let requirements = config?["requirements"], requirements != .null {
            let mandatory = requirements["mandatory"]?.arrayValue?.compactMap(\.stringValue) ?? []
            problems.append(
                "the header carries requirements (\(mandatory.isEmpty ? "present" : mandatory.joined(separator: ", "))), "
                    + "which this agent does not accept")
        }
        guard case .object(let segments)? = header.json["segments"], !segments.isEmpty else {
            return problems + ["the header has no data segment"]
        }
        for (id, segment) in segments {
            if segment["type"]?.stringValue != "crypt" {
                problems.append("segment \(id) is of type '\(segment["type"]?.stringValue ?? "?")', not 'crypt'")
            }
            if let problem = cipherProblem(segment["encryption"], "segment \(id)") { problems.append(problem) }
            if let size = segment["sector_size"]?.uint64Value, !allowedSectorSizes.contains(size) {
                problems.append("segment \(id) has sector size \(size)")
            }
            if let flags = segment["flags"]?.arrayValue, !flags.isEmpty {
                problems.append(
                    "segment \(id) has flags (\(flags.compactMap(\.stringValue).joined(separator: ", "))), e.g. an "
                        + "unfinished re-encryption")
            }
            if segment["integrity"] != nil {
                problems.append("segment \(id) uses dm-integrity, which this agent does not accept")
            }
        }
        return problems
    }

    /// Why `value` is not an allowed cipher for `place`, or nil when it is.
    static func cipherProblem(_ value: JSONValue?, _ place: String) -> String? {
        guard let cipher = value?.stringValue else { return "\(place) has no encryption" }
        if cipher.containsText("null") || cipher.containsText("ecb") || !allowedCiphers.contains(cipher) {
            return "\(place) uses '\(cipher)', which is not an allowed cipher"
        }
        return nil
    }

    static func checkKeyslot(_ header: LUKSHeader, _ slot: Int32, into problems: inout [String]) {
        guard let keyslot = header.keyslot(slot) else {
            problems.append("keyslot \(slot) named by the token does not exist")
            return
        }
        if keyslot["type"]?.stringValue != "luks2" { problems.append("keyslot \(slot) is not a luks2 keyslot") }
        if let size = keyslot["key_size"]?.uint64Value, size != 32 && size != 64 {
            problems.append("keyslot \(slot) has key size \(size) bytes")
        }
        if let problem = cipherProblem(keyslot["area"]?["encryption"], "keyslot \(slot) area") {
            problems.append(problem)
        }
        let kdf = keyslot["kdf"]
        if kdf?["type"]?.stringValue != "pbkdf2" {
            problems.append("keyslot \(slot) KDF is '\(kdf?["type"]?.stringValue ?? "?")', not the enrolled pbkdf2")
        } else {
            if !allowedHashes.contains(kdf?["hash"]?.stringValue ?? "") {
                problems.append("keyslot \(slot) KDF hash is not sha256/sha512")
            }
            let iterations = kdf?["iterations"]?.uint64Value ?? 0
            if iterations < 1000 || iterations > 10_000_000 {
                problems.append("keyslot \(slot) KDF iterations \(iterations) are out of bounds (1000–10000000)")
            }
        }
        let digests = header.digests(for: slot)
        if digests.isEmpty { problems.append("no digest covers keyslot \(slot)") }
        for (id, digest) in digests {
            if digest["type"]?.stringValue != "pbkdf2" || !allowedHashes.contains(digest["hash"]?.stringValue ?? "")
                || (digest["iterations"]?.uint64Value ?? 0) < 1000
            {
                problems.append("digest \(id) is not pbkdf2-sha256/512 with at least 1000 iterations")
            }
        }
    }
}
