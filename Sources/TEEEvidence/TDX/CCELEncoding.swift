// SPDX-License-Identifier: Apache-2.0
// Writing CCEL events (the simulator's firmware log, the agent's runtime log) and reading the boot
// events TDVF records (kernel, initrd, command line) and the runtime (AAEL) events of a parsed log.

/// TCG PC Client event types that appear in TDVF's CCEL and in runtime logs.
public enum CCELEventType {
    public static let noAction: UInt32 = 0x0000_0003
    public static let separator: UInt32 = 0x0000_0004
    public static let eventTag: UInt32 = 0x0000_0006
    public static let platformConfigFlags: UInt32 = 0x0000_000A
    public static let efiVariableDriverConfig: UInt32 = 0x8000_0001
    public static let efiBootServicesApplication: UInt32 = 0x8000_0003
    public static let efiAction: UInt32 = 0x8000_0007
    public static let efiPlatformFirmwareBlob2: UInt32 = 0x8000_000A
    public static let efiHandoffTables2: UInt32 = 0x8000_000B
}

/// The TCG algorithm id of SHA-384, the only bank TDX measures.
public let tcgSHA384: UInt16 = 0x000C

extension CCELEvent {
    public init(mrIndex: UInt32, eventType: UInt32, sha384 digest: [UInt8], eventData: [UInt8]) {
        self.init(mrIndex: mrIndex, eventType: eventType, digests: [(tcgSHA384, digest)], eventData: eventData)
    }

    /// The event as TCG_PCR_EVENT2 (crypto-agile): MR index, type, digest count, (algorithm, digest)…,
    /// event size, event data; all little-endian.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.u32(mrIndex)
        w.u32(eventType)
        w.u32(UInt32(digests.count))
        for digest in digests {
            w.u16(digest.algorithm)
            w.append(digest.digest)
        }
        w.u32(UInt32(eventData.count))
        w.append(eventData)
        return w.bytes
    }

    /// EV_EVENT_TAG data (TCG_PCClientTaggedEvent): the tag id and its data; nil for other types.
    public var taggedEvent: (id: UInt32, data: [UInt8])? {
        guard eventType == CCELEventType.eventTag else { return nil }
        var r = ByteReader(eventData, context: "tagged event")
        guard let id = try? r.u32("tag id"), let size = try? r.u32("tag size"),
            let data = try? r.bytes(Int(size), "tag data")
        else { return nil }
        return (id, data)
    }
}

extension CCELEventLog {
    /// The header every crypto-agile log starts with: an SHA-1-format EV_NO_ACTION event carrying
    /// TCG_EfiSpecIDEvent ("Spec ID Event03", spec 2.0 errata 2, UINTN 64-bit) with SHA-384 only.
    public static var specIDHeader: [UInt8] {
        var spec = ByteWriter()
        spec.append(Array("Spec ID Event03".utf8) + [0])
        spec.u32(0)  // platform class: client
        spec.append([0, 2, 2])  // spec version minor, major, errata
        spec.u8(2)  // UINTN size: 64-bit
        spec.u32(1)
        spec.u16(tcgSHA384)
        spec.u16(48)
        spec.u8(0)  // no vendor info
        var w = ByteWriter()
        w.u32(0)
        w.u32(CCELEventType.noAction)
        w.zeros(20)
        w.u32(UInt32(spec.bytes.count))
        w.append(spec.bytes)
        return w.bytes
    }

    /// What upstream's attester appends after the last event: eight 0xFF bytes.
    public static let endMarker = [UInt8](repeating: 0xFF, count: 8)

    /// The wire form of `cc_eventlog` as guest-components' attester builds it: the firmware log's
    /// used part (or, without one, ``specIDHeader``), then the runtime log's events, then ``endMarker``.
    public static func evidenceBytes(firmware: [UInt8]?, runtime: [UInt8]) -> [UInt8] {
        (firmware ?? specIDHeader) + runtime + endMarker
    }

    /// ``evidenceBytes(firmware:runtime:)`` from a whole log area as the firmware publishes it (fill included).
    public static func joining(firmwareArea: [UInt8], runtime: [UInt8]) throws(EvidenceError) -> [UInt8] {
        let used = try CCELEventLog(parsing: firmwareArea).usedByteCount
        return evidenceBytes(firmware: Array(firmwareArea.prefix(used)), runtime: runtime)
    }
}

/// A runtime event in the Attestation Agent event log (AAEL) format guest-components writes to
/// `/run/attestation-agent/eventlog` and Trustee replays: EV_EVENT_TAG into MR index 4 (RTMR3), tag
/// id "AAEL", data `"<domain> <operation> <content>"`, digest = SHA-384 of the event data.
public struct RuntimeEvent: Sendable, Equatable {
    public static let tagID: UInt32 = 0x4141_454C
    public static let mrIndex: UInt32 = 4

    public var domain: String
    public var operation: String
    public var content: String

    /// Fails for a domain or operation with a space, or any field with a newline (the format splits on them).
    public init(domain: String, operation: String, content: String) throws(EvidenceError) {
        guard !domain.isEmpty, !operation.isEmpty, !domain.contains(" "), !operation.contains(" "),
            !(domain + operation + content).contains(where: \.isNewline)
        else {
            throw EvidenceError(
                .malformed,
                "runtime event '\(domain) \(operation)': domain and operation need no spaces, no field a newline")
        }
        self.domain = domain
        self.operation = operation
        self.content = content
    }

    /// Reads an event's AAEL text; nil when it is not an AAEL tagged event.
    public init?(_ event: CCELEvent) {
        guard let tagged = event.taggedEvent, tagged.id == Self.tagID else { return nil }
        let parts = String(decoding: tagged.data, as: UTF8.self).split(
            separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3,
            let parsed = try? RuntimeEvent(
                domain: String(parts[0]), operation: String(parts[1]), content: String(parts[2]))
        else { return nil }
        self = parsed
    }

    public var text: String { "\(domain) \(operation) \(content)" }

    /// The EV_EVENT_TAG data: tag id, size, text.
    public var eventData: [UInt8] {
        var w = ByteWriter()
        w.u32(Self.tagID)
        let text = Array(text.utf8)
        w.u32(UInt32(text.count))
        w.append(text)
        return w.bytes
    }

    /// The log entry, given `digest` = SHA-384(``eventData``) (hashing is the caller's: TEEEvidence has no crypto).
    public func event(digest: [UInt8]) -> CCELEvent {
        CCELEvent(mrIndex: Self.mrIndex, eventType: CCELEventType.eventTag, sha384: digest, eventData: eventData)
    }
}

/// The boot components TDVF measures for a direct (`-kernel`) boot, as the digests of their events.
///
/// - kernel: EV_EFI_BOOT_SERVICES_APPLICATION in MR index 2 (RTMR1) whose device path ends in `File(kernel)`;
/// - cmdline: EV_EVENT_TAG "LOADED_IMAGE::LoadOptions" in MR index 3 (RTMR2);
/// - initrd: EV_EVENT_TAG "Linux initrd" in MR index 3 (RTMR2).
///
/// The first matching event of each kind counts (Trustee's `ccel.kernel`/`initrd`/`cmdline` claims).
public struct TDXBootDigests: Sendable, Equatable {
    public var kernel: [UInt8]?
    public var initrd: [UInt8]?
    public var cmdline: [UInt8]?

    public static let loadOptionsTag: UInt32 = 0x8F3B_22ED
    public static let initrdTag: UInt32 = 0x8F3B_22EC

    public init(kernel: [UInt8]? = nil, initrd: [UInt8]? = nil, cmdline: [UInt8]? = nil) {
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
    }

    public init(_ log: CCELEventLog) {
        for event in log.events {
            guard let digest = event.sha384 else { continue }
            if kernel == nil, event.mrIndex == 2, event.eventType == CCELEventType.efiBootServicesApplication,
                Self.filePaths(imageLoadEvent: event.eventData).contains("kernel")
            {
                kernel = digest
            }
            if event.mrIndex == 3, let tagged = event.taggedEvent {
                let name = String(decoding: tagged.data.prefix { $0 != 0 }, as: UTF8.self)
                if cmdline == nil, name == "LOADED_IMAGE::LoadOptions" { cmdline = digest }
                if initrd == nil, name == "Linux initrd" { initrd = digest }
            }
        }
    }

    /// The `File(...)` nodes of a UEFI_IMAGE_LOAD_EVENT's device path (four UINT64s, then the path).
    static func filePaths(imageLoadEvent data: [UInt8]) -> [String] {
        var r = ByteReader(data, context: "image load event")
        guard (try? r.bytes(24, "image location, length, link address")) != nil,
            let length = try? r.u64("device path length"), length <= UInt64(r.remaining),
            var path = try? r.bytes(Int(length), "device path").makeReader()
        else { return [] }
        var names: [String] = []
        while path.remaining >= 4, let type = try? path.u8("type"), let subtype = try? path.u8("subtype"),
            let size = try? path.u16("length"), size >= 4, let body = try? path.bytes(Int(size) - 4, "node")
        {
            if type == 0x7F { break }
            if type == 0x04, subtype == 0x04 {
                let units = stride(from: 0, to: body.count - 1, by: 2).map {
                    UInt16(body[$0]) | UInt16(body[$0 + 1]) << 8
                }
                names.append(String(decoding: units.prefix { $0 != 0 }, as: UTF16.self))
            }
        }
        return names
    }
}

extension Array where Element == UInt8 {
    fileprivate func makeReader() -> ByteReader { ByteReader(self, context: "device path") }
}
