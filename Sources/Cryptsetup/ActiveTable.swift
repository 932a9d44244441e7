// SPDX-License-Identifier: Apache-2.0
// The dm-crypt table the kernel runs for a mapping, read back after activation (never the key).

import CDeviceMapper

/// One dm-crypt target as device-mapper reports it (sizes and offsets in 512-byte sectors).
public struct ActiveCryptTable: Sendable, Equatable {
    public var cipher: String
    public var keyBytes: Int
    public var lengthSectors: UInt64
    public var ivOffsetSectors: UInt64
    public var deviceOffsetSectors: UInt64
    public var sectorSize: UInt64
    public var allowsDiscards: Bool

    /// Reads the active table of `name` from /dev/mapper/control (DM_TABLE_STATUS, secure-data flag).
    public static func read(name: String) throws(CryptsetupError) -> ActiveCryptTable {
        var table = cca_crypt_table()
        let rc = cca_dm_crypt_table(name, &table)
        guard rc == 0 else {
            throw CryptsetupError(operation: "read the device-mapper table", device: name, code: rc)
        }
        let cipher = withUnsafeBytes(of: table.cipher) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return ActiveCryptTable(
            cipher: cipher, keyBytes: Int(table.key_bytes), lengthSectors: table.length_sectors,
            ivOffsetSectors: table.iv_offset, deviceOffsetSectors: table.device_offset,
            sectorSize: UInt64(table.sector_size), allowsDiscards: table.allow_discards != 0)
    }
}
