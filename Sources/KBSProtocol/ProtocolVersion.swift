// SPDX-License-Identifier: Apache-2.0
// The /auth version rule as Trustee applies it: the request's version is parsed as SemVer 2.0 and must match `=0.4.0`.

/// A SemVer 2.0.0 version (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`), parsed strictly: no leading `v`, no
/// whitespace, no leading zeros in numeric identifiers, no empty identifiers.
public struct SemanticVersion: Sendable, Equatable, CustomStringConvertible {
    public var major: UInt64
    public var minor: UInt64
    public var patch: UInt64
    /// Dot-separated pre-release identifiers (empty: a release).
    public var prerelease: [String]
    /// Build metadata; ignored when versions are compared.
    public var build: [String]

    public init?(_ text: String) {
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            guard let identifiers = Self.identifiers(rest[rest.index(after: plus)...], numericRule: false) else {
                return nil
            }
            build = identifiers
            rest = rest[..<plus]
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            guard let identifiers = Self.identifiers(rest[rest.index(after: dash)...], numericRule: true) else {
                return nil
            }
            prerelease = identifiers
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3, let major = Self.number(core[0]), let minor = Self.number(core[1]),
            let patch = Self.number(core[2])
        else { return nil }
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    public var description: String {
        "\(major).\(minor).\(patch)" + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
            + (build.isEmpty ? "" : "+" + build.joined(separator: "."))
    }

    /// Whether this version satisfies the requirement `=required` (SemVer comparison: build metadata is
    /// ignored; a pre-release never equals a release).
    public func matchesExactly(_ required: SemanticVersion) -> Bool {
        major == required.major && minor == required.minor && patch == required.patch
            && prerelease == required.prerelease
    }

    /// A numeric identifier: ASCII digits, no leading zero unless it is "0".
    private static func number(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text == "0" || text.first != "0"
        else { return nil }
        return UInt64(text)
    }

    /// Non-empty `[0-9A-Za-z-]` identifiers; pre-release numeric identifiers may not have leading zeros.
    private static func identifiers(_ text: Substring, numericRule: Bool) -> [String]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        for part in parts {
            guard !part.isEmpty,
                part.utf8.allSatisfy({
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D
                })
            else { return nil }
            let numeric = part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            if numericRule && numeric && part.count > 1 && part.first == "0" { return nil }
        }
        return parts.map(String.init)
    }
}
