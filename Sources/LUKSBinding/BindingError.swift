// SPDX-License-Identifier: Apache-2.0
// Errors of the LUKS2 binding: what is wrong with a header or token, and what to do.

/// A refusal or failure of the ccagent LUKS2 binding.
public struct BindingError: Error, CustomStringConvertible, Equatable {
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
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
