// SPDX-License-Identifier: Apache-2.0
// The Cryptography module's error: a stable code, a message, and OpenSSL's error queue as data.

import COpenSSL

/// A failure inside OpenSSL or a rejected input (bad key, bad tag, malformed certificate).
public struct CryptoError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        public static let invalidKey = Code(name: "crypto.invalid-key")
        public static let invalidInput = Code(name: "crypto.invalid-input")
        public static let authenticationFailed = Code(name: "crypto.authentication-failed")
        public static let invalidCertificate = Code(name: "crypto.invalid-certificate")
        public static let internalFailure = Code(name: "crypto.internal")
    }

    public var code: Code
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error)?
    /// OpenSSL's error queue at the time of failure (library reason strings; never key material).
    public var openSSLErrors: [String]

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.openSSLErrors = CryptoError.drainErrorQueue()
    }

    public var description: String {
        var text = openSSLErrors.isEmpty ? message : "\(message) (\(openSSLErrors.joined(separator: "; ")))"
        if let underlying { text += ": \(underlying)" }
        return text
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    /// Empties OpenSSL's thread-local error queue, returning its entries as strings.
    static func drainErrorQueue() -> [String] {
        var errors: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            errors.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return errors
    }
}
