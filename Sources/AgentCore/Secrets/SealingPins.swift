// SPDX-License-Identifier: Apache-2.0
// What a sealed secret must be sealed to: pinned by the configuration, checked before any key is used.

import AgentBase
import TEEDevice

/// The key parameters sealed secrets must use, from the configuration and never from a blob.
///
/// A blob's header names its SNP guest-field selection, VMPL and root key, or the broker resource of
/// its key-encryption key. The header is on the disk, so the host chooses it: a blob sealed by the
/// host's own VM on the same chip under a policy-only key (or one naming a broker resource whose
/// value the host knows) would otherwise open on this VM. ``check(_:name:)`` refuses such a blob
/// before any key is derived or any broker contacted.
///
/// - SNP: the blob must select at least ``requiredFields`` (a superset is fine: it binds more), and
///   exactly ``vmpl`` and the ``rootKeyVMRK`` root key.
/// - Broker: the blob must name exactly ``kekResource``.
public struct SealingPins: Sendable, Equatable {
    /// The guest fields every SNP-sealed blob must bind (configuration `snp-key-fields`).
    public var requiredFields: GuestFieldSelect
    /// The VMPL SNP-sealed blobs must be derived at (configuration `snp-vmpl`).
    public var vmpl: UInt32
    /// Whether SNP-sealed blobs use the VM root key instead of the VCEK (configuration `snp-root-key`).
    public var rootKeyVMRK: Bool
    /// The broker resource of the key-encryption key (configuration `sealing-kek`).
    public var kekResource: String

    public init(
        requiredFields: GuestFieldSelect = [.measurement, .policy], vmpl: UInt32 = 0, rootKeyVMRK: Bool = false,
        kekResource: String = SealingKeys.defaultKEKResource
    ) {
        self.requiredFields = requiredFields
        self.vmpl = vmpl
        self.rootKeyVMRK = rootKeyVMRK
        self.kekResource = kekResource
    }

    /// Throws `secret.policy-refused`, naming each difference, unless `policy` meets the pins.
    public func check(_ policy: SealingPolicy, name: String) throws {
        var problems: [String] = []
        switch policy.mode {
        case .snp:
            let selected = GuestFieldSelect(rawValue: policy.guestFieldSelect)
            let missing = requiredFields.subtracting(selected)
            if !missing.isEmpty {
                problems.append(
                    "it does not bind the SNP field\(missing.names.count == 1 ? "" : "s") "
                        + "\(missing.names.joined(separator: ",")) (required: \(requiredFields.names.joined(separator: ",")))"
                )
            }
            if policy.vmpl != vmpl {
                problems.append("it is derived at VMPL \(policy.vmpl), not the pinned VMPL \(vmpl)")
            }
            if policy.rootKeyVMRK != rootKeyVMRK {
                problems.append(
                    "it uses the \(SealingPins.rootName(policy.rootKeyVMRK)) root key, not the pinned "
                        + SealingPins.rootName(rootKeyVMRK))
            }
        case .broker:
            if policy.brokerResource != kekResource {
                problems.append(
                    "it names the key-encryption key '\(SealingPins.shown(policy.brokerResource))', "
                        + "not the pinned '\(kekResource)'")
            }
        }
        guard problems.isEmpty else {
            throw SecretStoreError(
                .policyRefused,
                "refusing secret '\(name)': \(problems.joined(separator: "; ")) — the configuration decides what "
                    + "secrets are sealed to, not the blob; re-seal it with 'ccagent secret put' if it is yours")
        }
    }

    /// The policy `secret put` seals under in `mode`: the pinned parameters, nothing weaker.
    public func policy(for mode: SealingPolicy.Mode) -> SealingPolicy {
        switch mode {
        case .snp:
            SealingPolicy(mode: .snp, rootKeyVMRK: rootKeyVMRK, guestFieldSelect: requiredFields.rawValue, vmpl: vmpl)
        case .broker:
            SealingPolicy(mode: .broker, brokerResource: kekResource)
        }
    }

    /// The policy for a requested sealing mode, or, when none is requested, for the device in use:
    /// an SNP device (or the SNP simulator) seals to SNP; anything else (TDX, no device) to the
    /// broker's KEK, because only SNP has a sealing key.
    public func policy(requested: SealingPolicy.Mode?, deviceKind: TEEKind?) -> SealingPolicy {
        policy(for: requested ?? SealingPins.defaultMode(for: deviceKind))
    }

    /// SNP where the device can derive a sealing key, else the broker.
    public static func defaultMode(for deviceKind: TEEKind?) -> SealingPolicy.Mode {
        switch deviceKind {
        case .snp?, .simSNP?: .snp
        // TDX has no derived key; neither has Azure's paravisor (it owns the SNP/TDX guest interface).
        case .tdx?, .simTDX?, .azSNP?, .azTDX?, .simAzSNP?, .simAzTDX?, nil: .broker
        }
    }

    /// A name read from a blob, fit for one log line: at most 128 characters, printable ASCII only.
    static func shown(_ text: String) -> String {
        String(
            text.unicodeScalars.prefix(128).map {
                $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?"
            })
    }

    static func rootName(_ vmrk: Bool) -> String { vmrk ? "VMRK" : "VCEK" }
}

extension AgentConfiguration {
    /// What sealed secrets must be sealed to: the same SNP pins as volumes, and the configured KEK.
    public var sealingPins: SealingPins {
        SealingPins(
            requiredFields: volumePolicy.snpFields, vmpl: volumePolicy.snpVMPL,
            rootKeyVMRK: volumePolicy.snpRootKey == .vmrk, kekResource: sealingKEKResource)
    }
}
