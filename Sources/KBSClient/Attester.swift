// SPDX-License-Identifier: Apache-2.0
// What the client needs from a TEE: evidence binding a runtime-data digest.

import CanonicalJSON
import KBSProtocol

/// Produces `tee-evidence.primary_evidence` for a runtime-data digest.
public protocol Attester: Sendable {
    /// The `tee` sent in /auth (`snp`, `tdx`, `sample`).
    var teeName: String { get }
    /// Whether the evidence comes from the simulator (printed as SIMULATED by callers).
    var isSimulated: Bool { get }
    /// Evidence whose report data is `digest` (zero-padded to 64 bytes for SNP/TDX; raw for sample and the
    /// Azure vTPM TEEs, see ``KBSClient/takesUnpaddedDigest(_:)``).
    func evidence(digest: [UInt8]) throws -> JSONValue
}

/// The `sample` TEE: no hardware, the digest in clear. Brokers must be told to accept it.
public struct SampleAttester: Attester {
    public init() {}
    public var teeName: String { "sample" }
    public var isSimulated: Bool { true }
    public func evidence(digest: [UInt8]) throws -> JSONValue { EvidenceJSON.sample(digest: digest) }
}
