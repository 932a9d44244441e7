// SPDX-License-Identifier: Apache-2.0
// What the agent measures after opening a volume: a value bound to the volume's key, not only its UUID.

import Cryptography

extension VolumeKeys {
    /// HMAC-SHA256 keyed with the keyslot passphrase over "ccagent volume measurement v1", a zero byte
    /// and the UUID (lower case). The host chooses UUIDs, so measuring a UUID alone proves nothing; this
    /// value can only be produced by whoever holds the volume's factors — the agent after a successful
    /// unlock, and (for the `broker` binding) the broker, which can therefore check it in a later
    /// attestation's RTMR3 (in the spirit of systemd's PCR 15 volume-key measurement).
    public func measurement(uuid: String) -> [UInt8] {
        HMAC.authenticationCode(
            .sha256, key: passphrase,
            data: Array("ccagent volume measurement v1".utf8) + [0] + Array(uuid.lowercased().utf8))
    }
}
