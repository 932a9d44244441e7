// SPDX-License-Identifier: Apache-2.0
// Known answers for the LUKS2 binding: the token format, the key derivation, the header allowlist and
// the volume policy — each pinned so a change to any of them fails here first.

import AgentBase
import LUKSBinding
import SecureMemory
import Testing

@Suite("LUKS2 binding known answers")
struct LUKSBindingTests {
    static let uuid = "0F0E0D0C-1111-2222-3333-444455556666"

    @Test("the keyslot passphrase and the volume measurement match an independent HKDF/HMAC (Python hashlib)")
    func keyDerivation() throws {
        let secret = SecretBytes(copying: [UInt8](repeating: 0x5A, count: 32))
        let snp = SecretBytes(copying: [UInt8](repeating: 0x11, count: 32))
        let broker = try VolumeKeys(binding: .broker, brokerSecret: secret, snpKey: nil, uuid: Self.uuid)
        #expect(
            Hex.encode(broker.passphrase.unsafeCopyToArray())
                == "9ea399b2ea904dad2ff18000cf0877b18ac9e14700d2d7deff731190c570f38a")
        #expect(
            Hex.encode(broker.measurement(uuid: Self.uuid))
                == "597d2511bb0342eec9db0a0b3d9c45dd5f2d665cdb4a564a95affeba78e4e6be")
        let both = try VolumeKeys(binding: .brokerAndSNP, brokerSecret: secret, snpKey: snp, uuid: Self.uuid)
        #expect(
            Hex.encode(both.passphrase.unsafeCopyToArray())
                == "7fb7ec52e127df71937d99bbee47d4a5eeb25fe865465d5ec96167977fa9731c")
        // A short broker secret or a missing SNP key is refused, not padded.
        #expect(throws: BindingError.self) {
            _ = try VolumeKeys(
                binding: .broker, brokerSecret: SecretBytes(copying: [1, 2, 3]), snpKey: nil, uuid: Self.uuid)
        }
        #expect(throws: BindingError.self) {
            _ = try VolumeKeys(binding: .brokerAndSNP, brokerSecret: secret, snpKey: nil, uuid: Self.uuid)
        }
    }

    @Test("the token serializes to the documented JSON and parses back; the SNP request is one typed value")
    func tokenRoundTrip() throws {
        let token = CCAgentToken(
            keyslot: 1, binding: .brokerAndSNP, broker: "https://kbs:8443", resource: "default/luks/x",
            trust: [("ca_sha256", String(repeating: "a", count: 64))],
            snp: DerivedKeyRequest(rootKey: .vcek, fields: [.measurement, .policy], vmpl: 0),
            mac: String(repeating: "b", count: 64))
        let text = token.json().canonicalString
        let expected =
            #"{"binding":"broker+snp","broker":"https://kbs:8443","keyslot":1,"keyslots":["1"],"mac":""#
            + String(repeating: "b", count: 64)
            + #"","resource":"default/luks/x","snp":{"fields":["policy","measurement"],"guest_svn":0,"#
            + #""root_key":"vcek","tcb_version":0,"vmpl":0},"state":"enrolled","trust":{"ca_sha256":""#
            + String(repeating: "a", count: 64) + #""},"type":"ccagent","version":1}"#
        #expect(text == expected)
        #expect(try CCAgentToken(json: text) == token)
        #expect(CCAgentToken.isCCAgentToken(text))
        #expect(!CCAgentToken.isCCAgentToken(#"{"type":"systemd-tpm2","note":"\"ccagent\""}"#))
    }

    static let snpPrefix =
        #"{"type":"ccagent","version":1,"binding":"snp","keyslot":1,"keyslots":[],"state":"pending","#

    @Test(
        "the token parser refuses unknown members, unknown or repeated SNP fields, fields out of order, bad root keys",
        arguments: [
            #"{"type":"ccagent","version":1,"binding":"broker","keyslot":1,"keyslots":["1"],"state":"enrolled","#
                + #""broker":"b","resource":"r","mac":"x","extra":1}"#,
            snpPrefix + #""snp":{"root_key":"vcek","fields":["launch-mit"],"vmpl":0,"guest_svn":0,"tcb_version":0}}"#,
            snpPrefix
                + #""snp":{"root_key":"vcek","fields":["policy","policy"],"vmpl":0,"guest_svn":0,"tcb_version":0}}"#,
            snpPrefix
                + #""snp":{"root_key":"vcek","fields":["measurement","policy"],"vmpl":0,"guest_svn":0,"tcb_version":0}}"#,
            snpPrefix + #""snp":{"root_key":"amd","fields":[],"vmpl":0,"guest_svn":0,"tcb_version":0}}"#,
        ])
    func tokenRefusals(json: String) {
        #expect(throws: BindingError(.malformedToken, "")) { _ = try CCAgentToken(json: json) }
    }

    @Test("the volume policy: bindings, SNP fields, VMPL, root key, resource patterns and exact volumes")
    func volumePolicy() throws {
        let policy = VolumePolicy()
        func token(
            _ binding: BindingMode, fields: GuestFieldSelect = [.measurement, .policy], vmpl: UInt32 = 0,
            root: DerivedKeyRequest.RootKey = .vcek, resource: String = "default/luks/abc"
        ) -> CCAgentToken {
            CCAgentToken(
                keyslot: 1, binding: binding, broker: "https://b", resource: binding.usesBroker ? resource : nil,
                snp: binding.usesSNP ? DerivedKeyRequest(rootKey: root, fields: fields, vmpl: vmpl) : nil)
        }
        let uuid = Self.uuid.lowercased()
        try policy.check(token(.broker), uuid: uuid)
        try policy.check(token(.brokerAndSNP, fields: [.measurement, .policy, .guestSVN]), uuid: uuid)
        let refused: [CCAgentToken] = [
            token(.snp), token(.brokerAndSNP, fields: [.policy]), token(.brokerAndSNP, fields: []),
            token(.brokerAndSNP, vmpl: 1), token(.brokerAndSNP, root: .vmrk),
            token(.broker, resource: "default/cfg/x"), token(.broker, resource: "default/luks/a/b"),
            token(.broker, resource: "other/luks/x"),
        ]
        for candidate in refused {
            #expect(throws: BindingError(.policyRefused, ""), "\(candidate.json().canonicalString)") {
                try policy.check(candidate, uuid: uuid)
            }
        }
        var exact = policy
        exact.volumes = [uuid: "default/luks/abc"]
        try exact.check(token(.broker), uuid: uuid)
        #expect(throws: BindingError(.policyRefused, "")) { try exact.check(token(.broker), uuid: "other") }
        #expect(VolumePolicy.matches(pattern: "default/luks/*", "default/luks/0f0e"))
        #expect(!VolumePolicy.matches(pattern: "default/luks/*", "default/luks/a/b"))
    }
}
