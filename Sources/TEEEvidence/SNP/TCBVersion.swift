// SPDX-License-Identifier: Apache-2.0
// SNP TCB_VERSION: one u64 whose byte layout differs between Milan/Genoa and Turin.

/// A TCB version with its components.
///
/// | byte | Milan / Genoa | Turin (family 0x1A) |
/// |------|---------------|---------------------|
/// | 0    | BOOT_LOADER   | FMC                 |
/// | 1    | TEE           | BOOT_LOADER         |
/// | 2    | reserved      | TEE                 |
/// | 3    | reserved      | SNP                 |
/// | 4–5  | reserved      | reserved            |
/// | 6    | SNP           | reserved            |
/// | 7    | MICROCODE     | MICROCODE           |
public struct TCBVersion: Sendable, Equatable, Hashable {
    public var raw: UInt64
    public var turinEncoding: Bool

    public init(raw: UInt64, turinEncoding: Bool) {
        self.raw = raw
        self.turinEncoding = turinEncoding
    }

    /// Builds a raw value from components.
    public init(bootloader: UInt8, tee: UInt8, snp: UInt8, microcode: UInt8, fmc: UInt8? = nil) {
        func byte(_ value: UInt8, _ index: Int) -> UInt64 { UInt64(value) << (8 * index) }
        if let fmc {
            raw = byte(fmc, 0) | byte(bootloader, 1) | byte(tee, 2) | byte(snp, 3) | byte(microcode, 7)
            turinEncoding = true
        } else {
            raw = byte(bootloader, 0) | byte(tee, 1) | byte(snp, 6) | byte(microcode, 7)
            turinEncoding = false
        }
    }

    private func byte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: raw >> (8 * index)) }

    public var bootloader: UInt8 { turinEncoding ? byte(1) : byte(0) }
    public var tee: UInt8 { turinEncoding ? byte(2) : byte(1) }
    public var snp: UInt8 { turinEncoding ? byte(3) : byte(6) }
    public var microcode: UInt8 { byte(7) }
    /// FMC SPL, Turin only.
    public var fmc: UInt8? { turinEncoding ? byte(0) : nil }

    /// The component names and values, in the order the VCEK extensions list them.
    public var components: [(name: String, value: UInt8)] {
        var list: [(String, UInt8)] = [
            ("bootloader", bootloader), ("tee", tee), ("snp", snp), ("microcode", microcode),
        ]
        if let fmc { list.append(("fmc", fmc)) }
        return list
    }

    /// Whether every component is at least the corresponding one of `minimum`.
    public func meets(_ minimum: TCBVersion) -> Bool {
        bootloader >= minimum.bootloader && tee >= minimum.tee && snp >= minimum.snp
            && microcode >= minimum.microcode && (fmc ?? 0) >= (minimum.fmc ?? 0)
    }
}

extension TCBVersion: CustomStringConvertible {
    public var description: String {
        components.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
    }
}
