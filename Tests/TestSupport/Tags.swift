// SPDX-License-Identifier: Apache-2.0
// Test layers. Untagged suites are fast, in-process unit tests; `integration` suites start processes
// (ccagent, ccbroker, cryptsetup, python), make LUKS2 images or wait on deadlines.

import Testing

extension Tag {
    /// Starts processes or brokers, formats LUKS2 images, or waits on real deadlines: seconds each.
    @Tag public static var integration: Self
}
