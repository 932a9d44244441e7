// SPDX-License-Identifier: Apache-2.0
// The one error vocabulary every module's errors adopt: a stable code (family.name) and a hint.

/// A stable, documented error code such as `token.policy-refused` or `broker.unreachable`.
///
/// Codes appear in state.json, in the journal (`CCAGENT_ERROR_CODE`) and in `ccagent status`; they
/// never change meaning. The family (the part before the first dot) says which layer failed.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ code: String) { description = code }

    /// `token`, `header`, `keyslot`, `broker`, `tee`, `volume`, `deadline`, `cryptsetup`, `secret`...
    public var family: String { String(description.prefix { $0 != "." }) }

    /// Fallback for an error that adopts no code (a defect: every user-visible error should).
    public static let internalError = ErrorCode("internal.error")
}

/// An error with a stable code. Every module's public error type adopts it, so callers branch on
/// codes, never on message text.
public protocol CodedError: Error, CustomStringConvertible {
    var errorCode: ErrorCode { get }
}

extension ErrorCode {
    /// The code of any error (``internalError`` when it adopts none).
    public static func of(_ error: any Error) -> ErrorCode {
        (error as? any CodedError)?.errorCode ?? .internalError
    }
}
