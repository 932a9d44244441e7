// SPDX-License-Identifier: Apache-2.0
// The `ccagent` LUKS2 token (format v1): everything needed to unlock, parsed strictly.

import AgentBase
import CanonicalJSON

/// How a volume's key depends on the platform.
public enum BindingMode: String, Sendable, CaseIterable {
    /// The broker's secret only: portable across hosts.
    case broker
    /// The broker's secret and an SNP derived key: breaks when the VM moves host or the TCB changes.
    case brokerAndSNP = "broker+snp"
    /// An SNP derived key only: offline, on-premises.
    case snp

    public var usesBroker: Bool { self != .snp }
    public var usesSNP: Bool { self != .broker }
}

/// The LUKS2 token of type `ccagent`.
///
/// ```json
/// {"type":"ccagent","keyslots":["1"],"version":1,"binding":"broker",
///  "broker":"https://kbs:8443","resource":"default/luks/<uuid>","trust":{"ca_sha256":"<hex>"},
///  "snp":{"root_key":"vcek","fields":["measurement"],"vmpl":0,"guest_svn":0,"tcb_version":0},
///  "state":"enrolled","mac":"<hex HMAC-SHA256>"}
/// ```
/// `state` is `pending` between "keyslot about to be added" and "enrolled" (crash recovery).
public struct CCAgentToken: Sendable, Equatable {
    public static let type = "ccagent"

    public var keyslot: Int32
    public var binding: BindingMode
    public var broker: String?
    public var resource: String?
    /// The TLS trust recorded at enrollment (informational: the configuration decides).
    public var trust: [(String, String)]
    public var snp: DerivedKeyRequest?
    public var pending: Bool
    public var mac: String?

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.json() == rhs.json() }

    public init(
        keyslot: Int32, binding: BindingMode, broker: String?, resource: String?, trust: [(String, String)] = [],
        snp: DerivedKeyRequest? = nil, pending: Bool = false, mac: String? = nil
    ) {
        self.keyslot = keyslot
        self.binding = binding
        self.broker = broker
        self.resource = resource
        self.trust = trust
        self.snp = snp
        self.pending = pending
        self.mac = mac
    }

    /// The token JSON; `includeMAC: false` gives the bytes the MAC covers.
    public func json(includeMAC: Bool = true) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("type", .string(CCAgentToken.type)),
            // A pending token does not claim its keyslot yet, so libcryptsetup never pairs them early.
            ("keyslots", .array(pending ? [] : [.string(String(keyslot))])),
            ("version", .integer(1)), ("binding", .string(binding.rawValue)),
            ("keyslot", .integer(keyslot)), ("state", .string(pending ? "pending" : "enrolled")),
        ]
        if let broker { members.append(("broker", .string(broker))) }
        if let resource { members.append(("resource", .string(resource))) }
        if !trust.isEmpty { members.append(("trust", .object(trust.map { ($0.0, .string($0.1)) }))) }
        if let snp {
            members.append(
                (
                    "snp",
                    .object([
                        ("root_key", .string(snp.rootKey.rawValue)),
                        ("fields", .array(snp.fields.names.map { .string($0) })),
                        ("vmpl", .integer(snp.vmpl)), ("guest_svn", .integer(snp.guestSVN)),
                        ("tcb_version", .integer(snp.tcbVersion)),
                    ])
                ))
        }
        if includeMAC, let mac { members.append(("mac", .string(mac))) }
        return .object(members)
    }

    /// Whether token JSON (any type) is a ccagent token: its `type` member, parsed, not a substring.
    public static func isCCAgentToken(_ json: String) -> Bool {
        (try? JSONValue.parse(json))?["type"]?.stringValue == CCAgentToken.type
    }

    /// Parses a token strictly: unknown members, wrong types or inconsistent values are refused.
    public init(json text: String) throws(BindingError) {
        func bad(_ why: String) -> BindingError {
            BindingError(
                .malformedToken,
                "the ccagent token is malformed (\(why)); it may have been tampered with — re-enroll from a trusted copy"
            )
        }
        guard let value = try? JSONValue.parse(text), case .object(let members) = value else {
            throw bad("not a JSON object")
        }
        let allowed: Set<String> = [
            "type", "keyslots", "version", "binding", "keyslot", "state", "broker", "resource", "trust", "snp", "mac",
        ]
        if let unknown = members.first(where: { !allowed.contains($0.0) }) {
            throw bad("unknown member '\(unknown.0)'")
        }
        guard value["type"]?.stringValue == CCAgentToken.type else { throw bad("type is not 'ccagent'") }
        guard value["version"]?.uint64Value == 1 else { throw bad("version is not 1") }
        guard let bindingText = value["binding"]?.stringValue, let binding = BindingMode(rawValue: bindingText) else {
            throw bad("unknown binding")
        }
        guard let slot = value["keyslot"]?.uint64Value, slot < 32 else { throw bad("keyslot is not 0-31") }
        guard let state = value["state"]?.stringValue, state == "pending" || state == "enrolled" else {
            throw bad("state is not pending/enrolled")
        }
        let keyslots = value["keyslots"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let pending = state == "pending"
        // libcryptsetup drops a destroyed keyslot from `keyslots`, so an enrolled token may list none.
        guard keyslots == [] || (!pending && keyslots == [String(slot)]) else {
            throw bad("keyslots does not match keyslot \(slot)")
        }
        var trust: [(String, String)] = []
        if let trustValue = value["trust"] {
            guard case .object(let items) = trustValue else { throw bad("trust is not an object") }
            for (key, item) in items {
                guard ["ca_sha256", "pin_sha256"].contains(key), let text = item.stringValue else {
                    throw bad("bad trust '\(key)'")
                }
                trust.append((key, text))
            }
        }
        var snp: DerivedKeyRequest?
        if let snpValue = value["snp"] {
            guard let root = snpValue["root_key"]?.stringValue.flatMap(DerivedKeyRequest.RootKey.init(rawValue:)),
                let names = snpValue["fields"]?.arrayValue?.compactMap(\.stringValue),
                let fields = try? GuestFieldSelect(names: names), fields.names == names,
                let vmpl = snpValue["vmpl"]?.uint64Value, vmpl <= 3,
                let svn = snpValue["guest_svn"]?.uint64Value, svn <= UInt64(UInt32.max),
                let tcb = snpValue["tcb_version"]?.uint64Value
            else { throw bad("bad snp parameters") }
            snp = DerivedKeyRequest(
                rootKey: root, fields: fields, vmpl: UInt32(vmpl), guestSVN: UInt32(svn), tcbVersion: tcb)
        }
        guard binding.usesSNP == (snp != nil) else {
            throw bad("binding '\(binding.rawValue)' and snp parameters disagree")
        }
        let broker = value["broker"]?.stringValue
        let resource = value["resource"]?.stringValue
        guard !binding.usesBroker || (broker != nil && resource != nil) else {
            throw bad("broker binding without broker/resource")
        }
        let mac = value["mac"]?.stringValue
        guard pending || mac?.utf8.count == 64 else { throw bad("missing or malformed mac") }
        self.init(
            keyslot: Int32(slot), binding: binding, broker: broker, resource: resource, trust: trust, snp: snp,
            pending: pending, mac: mac)
    }
}
