// SPDX-License-Identifier: Apache-2.0
// Errors of the LUKS2 binding: what is wrong with a header or token, and what to do.

import AgentBase

/// A refusal or failure of the ccagent LUKS2 binding.
public struct BindingError: CodedError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        public static let notEnrolled = Code(name: "token.absent")
        public static let malformedToken = Code(name: "token.malformed")
        public static let brokerMismatch = Code(name: "token.broker-mismatch")
        public static let headerRejected = Code(name: "header.rejected")
        public static let macMismatch = Code(name: "header.mac-mismatch")
        public static let keyslotMissing = Code(name: "keyslot.missing")
        public static let wrongKey = Code(name: "keyslot.wrong-key")
        public static let alreadyEnrolled = Code(name: "token.already-enrolled")
        /// The token asks for something the measured configuration does not allow (binding, SNP key
        /// fields, resource, volume).
        public static let policyRefused = Code(name: "token.policy-refused")
        /// The device is not the volume that was named or checked (UUID differs, or it changed).
        public static let identityMismatch = Code(name: "volume.identity-mismatch")
        /// The active dm-crypt mapping differs from the header that was verified; it was removed.
        public static let mappingMismatch = Code(name: "volume.mapping-mismatch")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    public var errorCode: ErrorCode { ErrorCode(code.description) }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
