// SPDX-License-Identifier: Apache-2.0
// The SNP guest policy and platform-info bit fields.

/// The guest policy (report offset 0x008).
public struct SNPGuestPolicy: Sendable, Equatable {
    public var raw: UInt64
    public init(raw: UInt64) { self.raw = raw }

    public var abiMinor: UInt8 { UInt8(truncatingIfNeeded: raw) }
    public var abiMajor: UInt8 { UInt8(truncatingIfNeeded: raw >> 8) }
    public var smtAllowed: Bool { raw & (1 << 16) != 0 }
    /// Bit 17 is reserved and must be 1.
    public var reservedBitSet: Bool { raw & (1 << 17) != 0 }
    public var migrationAgentAllowed: Bool { raw & (1 << 18) != 0 }
    public var debugAllowed: Bool { raw & (1 << 19) != 0 }
    public var singleSocketOnly: Bool { raw & (1 << 20) != 0 }
    public var cxlAllowed: Bool { raw & (1 << 21) != 0 }
    public var memAES256XTS: Bool { raw & (1 << 22) != 0 }
    public var raplDisabled: Bool { raw & (1 << 23) != 0 }
    public var ciphertextHiding: Bool { raw & (1 << 24) != 0 }
    public var pageSwapDisabled: Bool { raw & (1 << 25) != 0 }

    /// Names of the set flags, for display.
    public var flagNames: [String] {
        var names: [String] = []
        if smtAllowed { names.append("smt") }
        if migrationAgentAllowed { names.append("migrate-ma") }
        if debugAllowed { names.append("debug") }
        if singleSocketOnly { names.append("single-socket") }
        if cxlAllowed { names.append("cxl") }
        if memAES256XTS { names.append("mem-aes-256-xts") }
        if raplDisabled { names.append("rapl-disabled") }
        if ciphertextHiding { names.append("ciphertext-hiding") }
        if pageSwapDisabled { names.append("page-swap-disabled") }
        return names
    }
}

/// The platform info (report offset 0x040).
public struct SNPPlatformInfo: Sendable, Equatable {
    public var raw: UInt64
    public init(raw: UInt64) { self.raw = raw }

    public var smtEnabled: Bool { raw & 1 != 0 }
    public var tsmeEnabled: Bool { raw & 2 != 0 }
    public var eccEnabled: Bool { raw & 4 != 0 }
    public var raplDisabled: Bool { raw & 8 != 0 }
    public var ciphertextHidingEnabled: Bool { raw & 16 != 0 }
    public var aliasCheckComplete: Bool { raw & 32 != 0 }
    public var tioEnabled: Bool { raw & 128 != 0 }
}

/// Which key signed the report (KEY_INFO bits 4:2).
public enum SNPSigningKey: String, Sendable, Equatable {
    case vcek, vlek, none
}
