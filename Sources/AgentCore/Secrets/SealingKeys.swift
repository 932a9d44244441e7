// SPDX-License-Identifier: Apache-2.0
// The keys sealed secrets are sealed under: an SNP derived key, or a broker-released key-encryption key.

import AgentBase
import KBSClient
import KBSProtocol
import SecureMemory
import TEEDevice

/// Produces sealing keys from the TEE and the broker; the broker KEK is fetched once per process.
public final class SealingKeys: SealingKeySource, @unchecked Sendable {
    let device: (any GuestDevice)?
    let factors: AttestedFactors?
    let broker: String?
    private var cachedKEK: [String: SecretBytes] = [:]

    public init(device: (any GuestDevice)?, factors: AttestedFactors?, broker: String?) {
        self.device = device
        self.factors = factors
        self.broker = broker
    }

    /// The kind of TEE device in use, if any.
    public var deviceKind: TEEKind? { device?.kind }

    /// The documented default resource holding the broker's key-encryption key.
    public static let defaultKEKResource = "default/ccagent/sealing-kek"

    /// The default policy for a platform: SNP seals to this chip with the measurement and policy
    /// (an image update or a host move makes old blobs unreadable — re-seal before updating);
    /// TDX (no sealing key) seals under the broker's KEK (portable; needs the broker to read).
    public static func defaultPolicy(for kind: TEEKind?) -> SealingPolicy {
        switch kind {
        case .snp?, .simSNP?:
            SealingPolicy(
                mode: .snp, guestFieldSelect: GuestFieldSelect([.measurement, .policy]).rawValue)
        default:
            SealingPolicy(mode: .broker, brokerResource: defaultKEKResource)
        }
    }

    public func sealingKey(for policy: SealingPolicy) throws -> SecretBytes {
        switch policy.mode {
        case .snp:
            guard let device else {
                throw SecretStoreError(
                    .keyUnavailable, "this secret is sealed to SNP, but no SNP device is in use (--tee snp or sim-snp)")
            }
            return try device.derivedKey(
                DerivedKeyRequest(
                    rootKey: policy.rootKeyVMRK ? .vmrk : .vcek,
                    fields: GuestFieldSelect(rawValue: policy.guestFieldSelect),
                    vmpl: policy.vmpl, guestSVN: policy.guestSVN, tcbVersion: policy.tcbVersion))
        case .broker:
            if let cached = cachedKEK[policy.brokerResource] { return cached }
            guard let factors, let broker, let resource = ResourcePath(policy.brokerResource) else {
                throw SecretStoreError(
                    .keyUnavailable,
                    "this secret is sealed under the broker's KEK '\(policy.brokerResource)', but no broker is configured"
                )
            }
            let kek = try factors.brokerSecret(broker: broker, resource: resource)
            guard kek.count >= 32 else {
                throw SecretStoreError(
                    .keyUnavailable, "the broker's KEK '\(policy.brokerResource)' is shorter than 32 bytes")
            }
            cachedKEK[policy.brokerResource] = kek
            return kek
        }
    }

    /// Sealing keys for the configured TEE and broker.
    public static func forPlatform(
        configuration: AgentConfiguration, trust: TLSTrust = .systemCAs
    ) throws -> SealingKeys {
        let device = try? DeviceSelection.device(
            for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory)
        let attester = try? DeviceSelection.attester(
            for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory)
        let factors = AttestedFactors(
            clientConfiguration: KBSClientConfiguration(
                brokerURL: configuration.brokerURL ?? "https://unset.invalid", trust: trust,
                allowInsecureHTTP: configuration.allowInsecureHTTP, deadlineSeconds: configuration.deadlineSeconds),
            attester: attester, device: device)
        return SealingKeys(device: device, factors: factors, broker: configuration.brokerURL)
    }
}
