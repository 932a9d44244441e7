// SPDX-License-Identifier: Apache-2.0
// Where a volume's key factors come from: the broker (one attested session for all volumes) and SNP.

import AgentBase
import KBSClient
import KBSProtocol
import LUKSBinding
import SecureMemory
import TEEDevice

#if canImport(Glibc)
import Glibc
#endif

/// Supplies the factors a binding needs.
public protocol VolumeFactorSource: AnyObject {
    /// The broker secret for `resource` from `broker` (the configured broker; never one read from disk).
    func brokerSecret(broker: String, resource: ResourcePath) throws -> SecretBytes
    /// An SNP derived key with these MSG_KEY_REQ parameters.
    func snpKey(_ request: DerivedKeyRequest) throws -> SecretBytes
}

/// The real factors: a KBS client that attests once, and the guest device (or simulator).
public final class AttestedFactors: VolumeFactorSource {
    let clientConfiguration: KBSClientConfiguration
    let attester: (any Attester)?
    let device: (any GuestDevice)?
    private var client: KBSClient?

    /// Times this source attested (one session serves every volume).
    public var attestationCount: Int { client?.attestationCount ?? 0 }

    public init(clientConfiguration: KBSClientConfiguration, attester: (any Attester)?, device: (any GuestDevice)?) {
        self.clientConfiguration = clientConfiguration
        self.attester = attester
        self.device = device
    }

    public func brokerSecret(broker: String, resource: ResourcePath) throws -> SecretBytes {
        try attest(broker: broker).fetch(resource)
    }

    /// Attests to `broker` once (later calls reuse the session and token).
    @discardableResult
    public func attest(broker: String) throws -> KBSClient {
        if let client { return client }
        guard let attester else {
            throw DeviceError(
                .unavailable, "no TEE to attest with; pass --tee (sim-snp/sim-tdx on machines without a TEE)")
        }
        var configuration = clientConfiguration
        configuration.brokerURL = broker
        let client = try KBSClient(configuration: configuration, attester: attester)
        try client.attest()
        self.client = client
        return client
    }

    public func snpKey(_ request: DerivedKeyRequest) throws -> SecretBytes {
        guard let device, device.kind == .snp || device.kind == .simSNP else {
            throw DeviceError(
                .unavailable,
                "this volume is bound to an SNP derived key, but no SNP device is in use (--tee snp or sim-snp)")
        }
        return try device.derivedKey(request)
    }
}

/// Test and crash-safety hook: `CCAGENT_FAULT_INJECT=<point>` makes the process exit abruptly (as a
/// kill would) right after that step, so tests can prove every intermediate state is recoverable.
enum FaultInjection {
    static func point(_ name: String) {
        if let value = getenv("CCAGENT_FAULT_INJECT"), String(cString: value) == name {
            _exit(86)
        }
    }
}
