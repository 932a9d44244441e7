// SPDX-License-Identifier: Apache-2.0
// What the measured configuration allows a volume's token to ask for. The disk decides nothing.

import AgentBase

#if canImport(Glibc)
import Glibc
#endif

/// The pins a token is checked against before any key is derived or any broker is contacted.
///
/// They come from the measured side of the boot (the configuration in the initramfs, the kernel
/// command line), never from the disk: a token is a claim, and a host that writes its own disk can
/// write any claim. Without these pins a host could, for example, enroll a disk of its own with an
/// SNP key that leaves out the measurement (the same for every guest with that policy on that chip)
/// and have the genuine initramfs open it and switch root into the host's code.
public struct VolumePolicy: Sendable, Equatable {
    /// The binding modes a token may use. `snp` alone (no broker) only when listed.
    public var bindings: Set<BindingMode> = [.broker, .brokerAndSNP]
    /// The MSG_KEY_REQ fields every SNP-bound token must select at least.
    public var snpFields: GuestFieldSelect = [.measurement, .policy]
    /// The VMPL an SNP-bound token must ask its key for.
    public var snpVMPL: UInt32 = 0
    /// The root key an SNP-bound token must use.
    public var snpRootKey: DerivedKeyRequest.RootKey = .vcek
    /// Glob patterns (fnmatch, `*` within one path segment) a token's broker resource must match.
    public var resourcePatterns: [String] = ["default/luks/*"]
    /// When not empty: exactly these volumes (UUID in lower case → resource), nothing else.
    public var volumes: [String: String] = [:]
    /// Whether the mapping may pass discards to the disk (they show the host which blocks are in use).
    public var allowDiscards = false

    public init() {}

    /// Refuses a token that asks for more than the configuration allows, naming what and why.
    public func check(_ token: CCAgentToken, uuid: String) throws(BindingError) {
        func refuse(_ why: String) -> BindingError {
            BindingError(
                .policyRefused,
                "refusing the ccagent token of volume \(uuid): \(why). Nothing was derived or sent; if this volume is "
                    + "genuine, enroll it again within the configuration (see docs/security.md)")
        }
        guard bindings.contains(token.binding) else {
            let allowed = bindings.map(\.rawValue).sorted().joined(separator: " ")
            throw refuse("its binding '\(token.binding.rawValue)' is not in the configured bindings (\(allowed))")
        }
        if let snp = token.snp {
            let missing = snpFields.subtracting(snp.fields)
            guard missing.isEmpty else {
                throw refuse(
                    "its SNP key leaves out \(missing.names.joined(separator: ",")) (snp-key-fields requires "
                        + "\(snpFields.names.joined(separator: ",")))")
            }
            guard snp.vmpl == snpVMPL else {
                throw refuse("its SNP key is for VMPL \(snp.vmpl), the configuration pins VMPL \(snpVMPL)")
            }
            guard snp.rootKey == snpRootKey else {
                throw refuse(
                    "its SNP key uses root key \(snp.rootKey.rawValue), the configuration pins \(snpRootKey.rawValue)")
            }
        }
        if token.binding.usesBroker {
            let resource = token.resource ?? ""
            if !volumes.isEmpty {
                guard let pinned = volumes[uuid.lowercased()] else {
                    throw refuse("the configuration lists its volumes ('volume = UUID RESOURCE') and this is not one")
                }
                guard pinned == resource else {
                    throw refuse("it asks for resource '\(resource)', the configuration pins '\(pinned)'")
                }
            } else {
                guard resourcePatterns.contains(where: { VolumePolicy.matches(pattern: $0, resource) }) else {
                    throw refuse(
                        "it asks for resource '\(resource)', which matches none of the configured resources ("
                            + resourcePatterns.joined(separator: " ") + ")")
                }
            }
        } else if !volumes.isEmpty, volumes[uuid.lowercased()] == nil {
            throw refuse("the configuration lists its volumes ('volume = UUID RESOURCE') and this is not one")
        }
    }

    /// fnmatch(3) with FNM_PATHNAME: `*` and `?` never match `/`.
    public static func matches(pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, FNM_PATHNAME) == 0
    }
}
