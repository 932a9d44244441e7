// SPDX-License-Identifier: Apache-2.0
// The keys sealed secrets are sealed under: an SNP derived key, or a broker-released key-encryption key.

import AgentBase
import KBSClient
import KBSProtocol
import SecureMemory
import Synchronization
import TEEDevice

/// Produces sealing keys from the TEE and the broker.
///
/// A long-running daemon serves requests for days, so nothing broker-side outlives one request: each
/// KEK fetch builds a fresh ``AttestedFactors`` (a new client, its own deadline, a new attestation
/// and token) from the template given at creation. A fetched KEK is kept in memory for
/// ``kekLifetimeSeconds``, so a burst of requests attests once, and a broker-side change (a revoked
/// or rotated KEK, a stricter policy) takes effect within that time.
public final class SealingKeys: SealingKeySource, @unchecked Sendable {
    let device: (any GuestDevice)?
    /// The template of every broker session: its client configuration, attester and device.
    let factors: AttestedFactors?
    let broker: String?
    /// How long a fetched KEK is reused before the broker is asked again.
    public let kekLifetimeSeconds: Double
    private let cache = Mutex(KEKCache())

    private struct KEKCache {
        var entries: [String: (kek: SecretBytes, fetched: ContinuousClock.Instant)] = [:]
        var fetches = 0
    }

    /// The default ``kekLifetimeSeconds``: five minutes.
    public static let defaultKEKLifetimeSeconds = 300.0

    public init(
        device: (any GuestDevice)?, factors: AttestedFactors?, broker: String?,
        kekLifetimeSeconds: Double = SealingKeys.defaultKEKLifetimeSeconds
    ) {
        self.device = device
        self.factors = factors
        self.broker = broker
        self.kekLifetimeSeconds = kekLifetimeSeconds
    }

    /// The kind of TEE device in use, if any.
    public var deviceKind: TEEKind? { device?.kind }

    /// Broker sessions this source has started (each KEK fetch is one; a cached KEK is none).
    public var brokerSessionCount: Int { cache.withLock { $0.fetches } }

    /// The documented default resource holding the broker's key-encryption key.
    public static let defaultKEKResource = "default/ccagent/sealing-kek"

    /// The default policy for a platform: SNP seals to this chip with the measurement and policy
    /// (an image update or a host move makes old blobs unreadable — re-seal before updating);
    /// TDX (no sealing key) seals under the broker's KEK (portable; needs the broker to read).
    /// The same as `SealingPins().policy(requested: nil, deviceKind: kind)`.
    public static func defaultPolicy(for kind: TEEKind?) -> SealingPolicy {
        SealingPins().policy(requested: nil, deviceKind: kind)
    }

    /// The key for `policy`. Callers check the policy against the configuration's ``SealingPins``
    /// first (``SecretStore`` does): this derives whatever the policy names.
    public func sealingKey(for policy: SealingPolicy) throws -> SecretBytes {
        switch policy.mode {
        case .snp:
            guard let device, device.kind == .snp || device.kind == .simSNP else {
                throw SecretStoreError(
                    .keyUnavailable, "this secret is sealed to SNP, but no SNP device is in use (--tee snp or sim-snp)")
            }
            return try device.derivedKey(
                DerivedKeyRequest(
                    rootKey: policy.rootKeyVMRK ? .vmrk : .vcek,
                    fields: GuestFieldSelect(rawValue: policy.guestFieldSelect),
                    vmpl: policy.vmpl, guestSVN: policy.guestSVN, tcbVersion: policy.tcbVersion))
        case .broker:
            return try cache.withLock { cache in
                let now = ContinuousClock.now
                if let entry = cache.entries[policy.brokerResource],
                    now - entry.fetched < .seconds(kekLifetimeSeconds)
                {
                    return entry.kek
                }
                cache.entries[policy.brokerResource] = nil
                guard let factors, let broker, let resource = ResourcePath(policy.brokerResource) else {
                    throw SecretStoreError(
                        .keyUnavailable,
                        "this secret is sealed under the broker's KEK '\(policy.brokerResource)', but no broker is "
                            + "configured")
                }
                // A fresh session per fetch: the template's client (if it ever made one) and its
                // deadline and token are never reused.
                let session = AttestedFactors(
                    clientConfiguration: factors.clientConfiguration, attester: factors.attester,
                    device: factors.device)
                cache.fetches += 1
                let kek = try session.brokerSecret(broker: broker, resource: resource)
                guard kek.count >= 32 else {
                    throw SecretStoreError(
                        .keyUnavailable, "the broker's KEK '\(policy.brokerResource)' is shorter than 32 bytes")
                }
                if kekLifetimeSeconds > 0 { cache.entries[policy.brokerResource] = (kek, now) }
                return kek
            }
        }
    }

    /// Sealing keys for the configured TEE and broker. Each broker fetch gets the configuration's
    /// deadline from its own start.
    public static func forPlatform(
        configuration: AgentConfiguration, trust: TLSTrust = .systemCAs,
        kekLifetimeSeconds: Double = SealingKeys.defaultKEKLifetimeSeconds
    ) throws -> SealingKeys {
        let device = try? DeviceSelection.device(
            for: configuration.tee, simulatorDirectory: configuration.simulatorDirectory)
        let attester = try? DeviceSelection.attester(
            for: configuration.tee, device: device, simulatorDirectory: configuration.simulatorDirectory)
        let factors = AttestedFactors(
            clientConfiguration: KBSClientConfiguration(
                brokerURL: configuration.brokerURL ?? "https://unset.invalid", trust: trust,
                allowInsecureHTTP: configuration.allowInsecureHTTP, deadlineSeconds: configuration.deadlineSeconds),
            attester: attester, device: device)
        return SealingKeys(
            device: device, factors: factors, broker: configuration.brokerURL, kekLifetimeSeconds: kekLifetimeSeconds)
    }
}
