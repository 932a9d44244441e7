// SPDX-License-Identifier: Apache-2.0
// The documented exit statuses of ccagent, in one place.

import CommandLineInterface

extension ExitCode {
    /// The operation failed (broker refused, volume not unlocked, I/O error, ...). The message says why.
    static let failure = ExitCode(1)
    /// `verify`: the evidence was read but is not trusted; the failed checks are listed.
    static let notTrusted = ExitCode(2)
    /// The input could not be read or parsed (missing file, truncated or garbage evidence, bad config).
    static let unreadableInput = ExitCode(3)
    /// No usable TEE interface (or the simulator was not initialised); the message lists what was checked.
    static let noTEE = ExitCode(4)
    /// `status`: everything works but something needs attention (e.g. simulator, debug policy).
    static let degraded = ExitCode(10)
    /// `status`: the next boot would not unlock, or this one did not.
    static let broken = ExitCode(11)
    // 64 (EX_USAGE, ExitCode.validationFailure) is a usage error: the command line was wrong.

    /// The EXIT STATUS section of ccagent(8).
    static let manual = """
        0: success (verify: trusted; status: everything works).
        1: the operation failed; the message says why.
        2: verify: the evidence was read but is not trusted; every failed check is listed.
        3: the input could not be read or parsed.
        4: no usable TEE interface (or the simulator was not initialised).
        10: status: degraded (works, but something needs attention).
        11: status: broken (the next boot would not unlock, or this one did not).
        64: usage error: the command line was wrong (EX_USAGE).
        """
}
