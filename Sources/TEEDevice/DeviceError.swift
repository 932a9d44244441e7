// SPDX-License-Identifier: Apache-2.0
// Errors from guest devices and the simulator, with firmware and host status kept as data.

import AgentBase

/// A failure to talk to the TEE.
public struct DeviceError: CodedError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        /// No usable TEE interface; the message lists what was checked.
        public static let unavailable = Code(name: "tee.unavailable")
        /// The firmware refused (fw_error / status word); the channel is now disabled until reboot.
        public static let firmware = Code(name: "tee.firmware")
        /// The hypervisor refused or failed (vmm_error).
        public static let host = Code(name: "tee.host")
        /// A system call failed (errno kept).
        public static let system = Code(name: "tee.system")
        /// The request was invalid (bad field, VMPL, SVN or TCB).
        public static let invalidRequest = Code(name: "tee.invalid-request")
        /// The simulator's state is missing or unreadable.
        public static let simulatorState = Code(name: "tee.simulator-state")
        /// The device returned something that does not parse.
        public static let malformedResponse = Code(name: "tee.malformed-response")
    }

    public var code: Code
    public var message: String
    public var errno: Int32?
    public var firmwareError: UInt64?
    public var hostError: UInt64?

    public init(
        _ code: Code, _ message: String, errno: Int32? = nil, firmwareError: UInt64? = nil, hostError: UInt64? = nil
    ) {
        self.code = code
        self.message = message
        self.errno = errno
        self.firmwareError = firmwareError
        self.hostError = hostError
    }

    public var description: String { message }
    public var errorCode: ErrorCode { ErrorCode(code.description) }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
