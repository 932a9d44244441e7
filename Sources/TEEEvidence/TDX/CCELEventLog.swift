// SPDX-License-Identifier: Apache-2.0
// The CCEL event log (TCG PC Client crypto-agile format) TDVF publishes for RTMR replay.

/// One measured event.
public struct CCELEvent: Sendable, Equatable {
    /// The TCG "PCR index": 0 = MRTD, 1…4 = RTMR0…3.
    public var mrIndex: UInt32
    public var eventType: UInt32
    /// Digests by TCG algorithm id (0x000C = SHA-384).
    public var digests: [(algorithm: UInt16, digest: [UInt8])]
    public var eventData: [UInt8]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.mrIndex == rhs.mrIndex && lhs.eventType == rhs.eventType && lhs.eventData == rhs.eventData
            && lhs.digests.map(\.digest) == rhs.digests.map(\.digest)
    }

    /// The SHA-384 digest, if the event has one.
    public var sha384: [UInt8]? { digests.first { $0.algorithm == 0x000C }?.digest }
}

/// A parsed CCEL log: the spec-ID header event, then crypto-agile events until the end marker.
public struct CCELEventLog: Sendable {
    public var events: [CCELEvent]
    /// The bytes the header and events occupy: everything before the end marker or the fill
    /// (what upstream's attester sends of the firmware's log area).
    public private(set) var usedByteCount: Int

    /// Parses a log; the data after the last event (0xFF or 0x00 fill) is ignored.
    public init(parsing bytes: [UInt8]) throws(EvidenceError) {
        var r = ByteReader(bytes, context: "CCEL event log")
        // Header event (TCG_PCR_EVENT, SHA-1 format): pcr, type, digest[20], size, TCG_EfiSpecIDEvent.
        _ = try r.u32("header pcr index")
        let headerType = try r.u32("header event type")
        guard headerType == 3 else {
            throw EvidenceError(.malformed, "failed to read CCEL: the first event is not EV_NO_ACTION (spec ID)")
        }
        _ = try r.bytes(20, "header digest")
        let specSize = Int(try r.u32("spec ID size"))
        var spec = ByteReader(try r.bytes(specSize, "spec ID event"), context: "CCEL spec ID event")
        let signature = try spec.bytes(16, "signature")
        guard signature.starts(with: Array("Spec ID Event03".utf8)) else {
            throw EvidenceError(.malformed, "failed to read CCEL: not a crypto-agile log (no 'Spec ID Event03')")
        }
        _ = try spec.u32("platform class")
        _ = try spec.bytes(3, "spec version")
        _ = try spec.u8("uintn size")
        let algorithmCount = Int(try spec.u32("number of algorithms"))
        guard algorithmCount > 0, algorithmCount <= 8 else {
            throw EvidenceError(.malformed, "failed to read CCEL: \(algorithmCount) digest algorithms")
        }
        var sizes: [UInt16: Int] = [:]
        for _ in 0..<algorithmCount {
            let id = try spec.u16("algorithm id")
            sizes[id] = Int(try spec.u16("digest size"))
        }
        var events: [CCELEvent] = []
        var used = r.offset
        while r.remaining >= 8 {
            let start = r.offset
            let index = try r.u32("mr index")
            let type = try r.u32("event type")
            if index == 0xFFFF_FFFF || (index == 0 && type == 0) {
                break  // fill after the last event
            }
            let count = Int(try r.u32("digest count"))
            guard count > 0, count <= 8 else {
                throw EvidenceError(
                    .malformed, "failed to read CCEL: event at 0x\(String(start, radix: 16)) has \(count) digests")
            }
            var digests: [(UInt16, [UInt8])] = []
            for _ in 0..<count {
                let algorithm = try r.u16("digest algorithm")
                guard let size = sizes[algorithm] else {
                    throw EvidenceError(
                        .malformed, "failed to read CCEL: unknown digest algorithm 0x\(String(algorithm, radix: 16))")
                }
                digests.append((algorithm, try r.bytes(size, "digest")))
            }
            let dataSize = Int(try r.u32("event size"))
            guard dataSize <= 1 << 20 else {
                throw EvidenceError(.malformed, "failed to read CCEL: event data of \(dataSize) bytes")
            }
            let data = try r.bytes(dataSize, "event data")
            events.append(CCELEvent(mrIndex: index, eventType: type, digests: digests, eventData: data))
            used = r.offset
            guard events.count <= 100_000 else {
                throw EvidenceError(.malformed, "failed to read CCEL: too many events")
            }
        }
        self.events = events
        self.usedByteCount = used
    }
}
