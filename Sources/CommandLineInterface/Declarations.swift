// SPDX-License-Identifier: Apache-2.0
// The declarations a command line is written in: commands, option groups, options, flags, positional arguments,
// their names and help, value conversion, and the errors and exit statuses a command may end with. The spelling
// follows swift-argument-parser's, so a command reads the same; nothing here needs Foundation.

/// A group of options, flags and arguments; `init()` must give every property its declaration's default.
public protocol ParsableArguments {
    init()
    /// Checks the parsed values together; a thrown `ValidationError` is a usage error (exit 64).
    mutating func validate() throws
}

extension ParsableArguments {
    public mutating func validate() throws {}
}

/// A command: its configuration, its arguments (as properties) and what it does.
public protocol ParsableCommand: ParsableArguments {
    static var configuration: CommandConfiguration { get }
    mutating func run() throws
}

extension ParsableCommand {
    /// A command with subcommands and nothing of its own to do shows its help.
    public mutating func run() throws { throw CleanExit.helpRequest }
}

/// A command whose work is asynchronous; the runner awaits `run()`.
public protocol AsyncParsableCommand: ParsableCommand {
    mutating func run() async throws
}

extension AsyncParsableCommand {
    public mutating func run() throws { throw CleanExit.helpRequest }
}

/// A command's name, help texts and subcommands.
public struct CommandConfiguration: @unchecked Sendable {  // immutable; metatypes only
    public var commandName: String?
    public var abstract: String
    public var discussion: String
    public var version: String
    public var subcommands: [any ParsableCommand.Type]
    public var defaultSubcommand: (any ParsableCommand.Type)?
    /// Left out of help, completions and the manual (still accepted).
    public var shouldDisplay: Bool
    /// Other names the command answers to.
    public var aliases: [String]
    /// Extra manual sections (title, text) after the commands, e.g. EXIT STATUS; root command only.
    public var manualSections: [(title: String, text: String)]

    public init(
        commandName: String? = nil, abstract: String = "", discussion: String = "", version: String = "",
        shouldDisplay: Bool = true, subcommands: [any ParsableCommand.Type] = [],
        defaultSubcommand: (any ParsableCommand.Type)? = nil, aliases: [String] = [],
        manualSections: [(title: String, text: String)] = []
    ) {
        self.commandName = commandName
        self.abstract = abstract
        self.discussion = discussion
        self.version = version
        self.shouldDisplay = shouldDisplay
        self.subcommands = subcommands
        self.defaultSubcommand = defaultSubcommand
        self.aliases = aliases
        self.manualSections = manualSections
    }
}

extension ParsableCommand {
    /// The name typed on the command line: the configured one, else the type's name in kebab case.
    static var commandName: String {
        configuration.commandName ?? kebabCase(String(describing: Self.self))
    }
}

/// How an option is spelled: `--long-name` (from the property by default), a custom long name, a short letter.
public struct NameSpecification: ExpressibleByArrayLiteral, Sendable {
    public enum Element: Sendable {
        /// `--property-name`.
        case long
        /// `--name`.
        case customLong(String)
        /// `-c`.
        case customShort(Character)
    }
    let elements: [Element]

    public init(arrayLiteral elements: Element...) { self.elements = elements }

    public static var long: NameSpecification { [.long] }
    public static func customLong(_ name: String) -> NameSpecification { [.customLong(name)] }
    public static func customShort(_ letter: Character) -> NameSpecification { [.customShort(letter)] }

    /// The spellings, given the property the option is declared on.
    func names(property: String) -> [String] {
        elements.map { element in
            switch element {
            case .long: "--" + kebabCase(property)
            case .customLong(let name): "--" + name
            case .customShort(let letter): "-" + String(letter)
            }
        }
    }
}

/// Help for one argument; a string literal is its abstract.
public struct ArgumentHelp: ExpressibleByStringInterpolation, Sendable {
    public var abstract: String
    /// A hidden argument works but is left out of help, usage, completions and the manual.
    public var isHidden: Bool

    public init(_ abstract: String = "", hidden: Bool = false) {
        self.abstract = abstract
        self.isHidden = hidden
    }

    public init(stringLiteral value: String) { self.init(value) }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }

    public static func hidden(_ abstract: String = "") -> ArgumentHelp { ArgumentHelp(abstract, hidden: true) }
}

/// A value that can be read from one command-line word.
public protocol ExpressibleByArgument {
    /// The value `argument` spells, or nil when it spells none (a usage error naming the option).
    init?(argument: String)
    /// Every accepted spelling, for help and completion; empty when open-ended.
    static var allValueStrings: [String] { get }
    /// How a default value is shown in help.
    var defaultValueDescription: String { get }
}

extension ExpressibleByArgument {
    public static var allValueStrings: [String] { [] }
    public var defaultValueDescription: String { "\(self)" }
}

extension ExpressibleByArgument where Self: RawRepresentable, RawValue: ExpressibleByArgument {
    public init?(argument: String) {
        guard let raw = RawValue(argument: argument) else { return nil }
        self.init(rawValue: raw)
    }
    public var defaultValueDescription: String { rawValue.defaultValueDescription }
}

extension ExpressibleByArgument where Self: CaseIterable, Self: RawRepresentable, RawValue == String {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension String: ExpressibleByArgument {
    public init?(argument: String) { self = argument }
}

extension Int: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension Int32: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension UInt32: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension UInt64: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension Double: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = Double(argument), value.isFinite else { return nil }
        self = value
    }
}

/// A usage error found after parsing (by `validate()`, or by `run()` before any work): exit 64 with the usage.
public struct ValidationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Ends the command with this status and no message (the command has printed what it had to say).
public struct ExitCode: Error, RawRepresentable, Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ code: Int32) { self.rawValue = code }

    public static let success = ExitCode(0)
    /// EX_USAGE from sysexits.h: the command line was wrong.
    public static let validationFailure = ExitCode(64)
}

/// Ends the command successfully after printing help.
public enum CleanExit: Error, Sendable {
    case helpRequest
}

/// `allowInsecureHTTP` → `allow-insecure-http`, `Init` → `init`.
func kebabCase(_ name: String) -> String {
    let characters = Array(name)
    var result = ""
    for (index, character) in characters.enumerated() {
        if character.isUppercase, index > 0 {
            let previous = characters[index - 1]
            let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
            if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { result += "-" }
        }
        result += character.lowercased()
    }
    return result
}
