// SPDX-License-Identifier: Apache-2.0
// What went wrong talking to the (v)TPM: the library, the TCTI, a command, or an answer we refuse.

/// A failure of the vTPM path. Messages say what failed, why, and what to do next; they never carry
/// secrets (nothing secret passes through this module: report data, quotes and PCRs are public).
public struct VTPMError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// libtss2-esys / libtss2-tctildr could not be loaded, or lacks a function.
        case libraryMissing = "library-missing"
        /// The TCTI (device or swtpm) could not be opened.
        case unavailable
        /// A TPM command failed (the TPM or the TSS returned an error code).
        case commandFailed = "command-failed"
        /// The TPM's answer is not what the command must return (sizes, algorithms, counts).
        case badAnswer = "bad-answer"
        /// The caller asked for something out of range.
        case invalidArgument = "invalid-argument"
    }

    public var code: Code
    public var message: String
    /// The TSS2_RC, for command failures.
    public var returnCode: UInt32?

    public init(_ code: Code, _ message: String, returnCode: UInt32? = nil) {
        self.code = code
        self.message = message
        self.returnCode = returnCode
    }

    public var description: String { message }

    /// Whether the TPM said the handle (NV index, persistent key) does not exist: TPM_RC_HANDLE (format one,
    /// error 0x0B, any handle/parameter number), from the TPM layer.
    public var isHandleAbsent: Bool {
        guard let rc = returnCode, rc & 0xFFFF_0000 == 0 else { return false }
        return rc & 0x80 != 0 && rc & 0x3F == 0x0B
    }
}
