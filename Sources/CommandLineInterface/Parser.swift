// SPDX-License-Identifier: Apache-2.0
// From argv to a command ready to run, or to what to print and the exit status (help, version, completion
// script, manual page, usage error). Nothing is printed here; `execute` prints and exits.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A command's place in the tree: the commands from the root down to it.
public struct CommandPath {
    public let stack: [any ParsableCommand.Type]

    init(_ stack: [any ParsableCommand.Type]) { self.stack = stack }

    var root: any ParsableCommand.Type { stack[0] }
    var command: any ParsableCommand.Type { stack[stack.count - 1] }
    /// `ccagent verify snp`.
    public var name: String { stack.map { $0.commandName }.joined(separator: " ") }
    var isRoot: Bool { stack.count == 1 }

    /// The declarations of the command (a fresh instance's).
    var definitions: [ArgumentDefinition] { declarations(of: command.init()).definitions }

    func appending(_ command: any ParsableCommand.Type) -> CommandPath { CommandPath(stack + [command]) }

    /// The subcommand named `word` (or one of its aliases).
    func subcommand(named word: String) -> (any ParsableCommand.Type)? {
        command.configuration.subcommands.first { $0.commandName == word || $0.configuration.aliases.contains(word) }
    }

    /// What ends a run that threw `error`: its exit status and message (usage errors with the usage).
    public func termination(for error: any Error) -> Termination {
        switch error {
        case let code as ExitCode: Termination(status: code.rawValue)
        case let error as ValidationError: usageError(error.message)
        case CleanExit.helpRequest: Termination(status: 0, standardOutput: HelpFormatter(self).help() + "\n")
        default: Termination(status: 1, standardError: "Error: \(error)\n")
        }
    }

    /// `Error: …`, the optional `Help:` line, the usage and where to read more; exit 64.
    func usageError(_ message: String, help: String? = nil) -> Termination {
        var text = "Error: \(message)\n"
        if let help { text += "Help:  \(help)\n" }
        text += "Usage: \(HelpFormatter(self).usage)\n  See '\(name) --help' for more information.\n"
        return Termination(status: ExitCode.validationFailure.rawValue, standardError: text)
    }
}

/// What a command line ended with when it did not run a command.
public struct Termination: Equatable, Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String

    public init(status: Int32, standardOutput: String = "", standardError: String = "") {
        self.status = status
        self.standardOutput = standardOutput
        self.standardError = standardError
    }
}

/// The result of parsing: a command to run, or the end.
public enum ParseOutcome {
    case run(any ParsableCommand, CommandPath)
    case finished(Termination)
}

/// A parse that stopped with a usage error.
private struct UsageFailure: Error {
    var message: String
    var help: String?
}

extension ParsableCommand {
    /// Parses `arguments` (without the program name) against this root command. No output, no exit.
    public static func parse(_ arguments: [String]) -> ParseOutcome {
        var path = CommandPath([Self.self])
        var words = arguments[...]
        if words.first == "help", !Self.configuration.subcommands.isEmpty {
            words.removeFirst()
            while let word = words.first, let next = path.subcommand(named: word) {
                path = path.appending(next)
                words.removeFirst()
            }
            return .finished(Termination(status: 0, standardOutput: HelpFormatter(path).help() + "\n"))
        }
        while let word = words.first, let next = path.subcommand(named: word) {
            path = path.appending(next)
            words.removeFirst()
        }
        if let builtin = builtinRequest(Array(words), path: path) { return .finished(builtin) }
        if !path.command.configuration.subcommands.isEmpty {
            if let fallback = path.command.configuration.defaultSubcommand {
                path = path.appending(fallback)
            } else if let word = words.first {
                return .finished(path.usageError("Unexpected argument '\(word)'"))
            } else {
                return .finished(Termination(status: 0, standardOutput: HelpFormatter(path).help() + "\n"))
            }
        }
        do {
            return .run(try parseLeaf(Array(words), path: path), path)
        } catch let failure as UsageFailure {
            return .finished(path.usageError(failure.message, help: failure.help))
        } catch let error as ValidationError {
            return .finished(path.usageError(error.message))
        } catch {
            return .finished(path.termination(for: error))
        }
    }

    /// Parses, validates and runs the command `arguments` name (default: the process's), then exits with its
    /// status: 0, the `ExitCode` it threw, 64 for a usage error, 1 for any other error.
    public static func execute(_ arguments: [String]? = nil) async -> Never {
        let termination: Termination
        switch parse(arguments ?? Array(CommandLine.arguments.dropFirst())) {
        case .finished(let finished):
            termination = finished
        case .run(var command, let path):
            do {
                if var asynchronous = command as? any AsyncParsableCommand {
                    try await asynchronous.run()
                } else {
                    try command.run()
                }
                termination = Termination(status: 0)
            } catch {
                termination = path.termination(for: error)
            }
        }
        if !termination.standardOutput.isEmpty { print(termination.standardOutput, terminator: "") }
        if !termination.standardError.isEmpty {
            var text = termination.standardError
            text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(2, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
        exit(termination.status)
    }
}

/// `--help`, `-h`, `--version` anywhere before `--`; at the root also `--generate-completion-script SHELL` and
/// the hidden `--generate-manual [--date DATE] [--authors TEXT]`.
private func builtinRequest(_ words: [String], path: CommandPath) -> Termination? {
    let options = words.prefix { $0 != "--" }
    if options.contains("-h") || options.contains("--help") {
        return Termination(status: 0, standardOutput: HelpFormatter(path).help() + "\n")
    }
    let version = path.root.configuration.version
    if !version.isEmpty, options.contains("--version") {
        return Termination(status: 0, standardOutput: version + "\n")
    }
    guard path.isRoot, let first = options.first else { return nil }
    if first == "--generate-completion-script" || first.hasPrefix("--generate-completion-script=") {
        let shell =
            first.hasPrefix("--generate-completion-script=")
            ? String(first.dropFirst("--generate-completion-script=".count)) : (options.dropFirst().first ?? "")
        guard let script = CompletionGenerator(root: path.root).script(shell: shell) else {
            let shells = CompletionGenerator.shells.joined(separator: " ")
            return path.usageError(
                "Can't generate completion scripts for '\(shell)'.\n"
                    + "Please use --generate-completion-script=<shell> with one of:\n    \(shells)")
        }
        return Termination(status: 0, standardOutput: script)
    }
    if first == "--generate-manual" {
        var date = "", authors = ""
        var rest = options.dropFirst()
        while let word = rest.popFirst() {
            let (name, attached) = splitAttached(word)
            guard name == "--date" || name == "--authors", let value = attached ?? rest.popFirst() else {
                return path.usageError("--generate-manual takes only --date DATE and --authors TEXT, got '\(word)'")
            }
            if name == "--date" { date = value } else { authors = value }
        }
        return Termination(
            status: 0, standardOutput: ManualGenerator(root: path.root, section: 8, date: date, authors: authors).page)
    }
    return nil
}

/// `--name=value` → ("--name", "value"); anything else → (word, nil).
private func splitAttached(_ word: String) -> (String, String?) {
    guard word.hasPrefix("--"), let equals = word.firstIndex(of: "=") else { return (word, nil) }
    return (String(word[..<equals]), String(word[word.index(after: equals)...]))
}

/// A word that is an option's name rather than a value: `-x`, `--name` (a lone `-` is a value).
private func looksLikeOption(_ word: String) -> Bool { word.count > 1 && word.hasPrefix("-") }

/// Fills a fresh instance of the leaf command from `words`, then validates its groups and itself.
private func parseLeaf(_ words: [String], path: CommandPath) throws -> any ParsableCommand {
    var command = path.command.init()
    let (definitions, groups) = declarations(of: command)
    var byName: [String: ArgumentDefinition] = [:]
    for definition in definitions where definition.kind != .positional {
        for name in definition.names { byName[name] = definition }
    }
    var positionals = definitions.filter { $0.kind == .positional }[...]
    var extra: [String] = []
    var index = 0
    var terminated = false

    func assign(_ definition: ArgumentDefinition, _ word: String, as spelled: String) throws {
        do {
            try definition.assign(word)
        } catch {
            let spelling = definition.kind == .positional ? definition.synopsis : "\(spelled) <\(definition.valueName)>"
            var message = "The value '\(word)' is invalid for '\(spelling)'"
            if let detail = error.detail {
                message += ": \(detail)"
            } else if !definition.allValues.isEmpty {
                message += validValueList(definition.allValues)
            }
            throw UsageFailure(message: message, help: helpLine(definition, spelled: spelled))
        }
    }

    while index < words.count {
        let word = words[index]
        index += 1
        if !terminated && word == "--" {
            terminated = true
            continue
        }
        if !terminated && looksLikeOption(word) {
            let (name, attached) = splitAttached(word)
            guard let definition = byName[name] else {
                throw UsageFailure(message: unknownOptionMessage(name, known: definitions))
            }
            if definition.kind == .flag {
                if let attached {
                    throw UsageFailure(
                        message: "The option '\(name)' does not take any value, but '\(attached)' was specified.")
                }
                definition.raise()
                continue
            }
            let value: String
            if let attached, !attached.isEmpty {
                value = attached
            } else if attached == nil, index < words.count, !looksLikeOption(words[index]) {
                value = words[index]
                index += 1
            } else {
                throw UsageFailure(
                    message: "Missing value for '\(name) <\(definition.valueName)>'",
                    help: helpLine(definition, spelled: name))
            }
            try assign(definition, value, as: name)
            continue
        }
        guard let positional = positionals.first else {
            extra.append(word)
            continue
        }
        try assign(positional, word, as: positional.synopsis)
        if !positional.isRepeating { positionals.removeFirst() }
    }
    for definition in definitions where !definition.finish() {
        throw UsageFailure(
            message: "Missing expected argument '\(definition.synopsis)'",
            help: helpLine(definition, spelled: definition.names.first ?? definition.synopsis))
    }
    switch extra.count {
    case 0: break
    case 1: throw UsageFailure(message: "Unexpected argument '\(extra[0])'")
    default: throw UsageFailure(message: "\(extra.count) unexpected arguments: '\(extra.joined(separator: "', '"))'")
    }
    for var group in groups { try group.validate() }
    try command.validate()
    return command
}

/// `Help:  --out <out>  File to write…` under a usage error about one argument.
private func helpLine(_ definition: ArgumentDefinition, spelled: String) -> String {
    let label = definition.kind == .positional ? definition.synopsis : "\(spelled) <\(definition.valueName)>"
    return "\(label)  \(definition.help.abstract)"
}

/// `. Please provide one of 'a', 'b' or 'c'.`, or a bulleted list for six values or more.
private func validValueList(_ values: [String]) -> String {
    guard values.count < 6 else {
        return ". Please provide one of the following:\n" + values.map { "  - \($0)" }.joined(separator: "\n")
    }
    let quoted = values.map { "'\($0)'" }
    if quoted.count <= 2 { return ". Please provide one of \(quoted.joined(separator: " and "))." }
    return ". Please provide one of \(quoted.dropLast().joined(separator: ", ")) or \(quoted[quoted.count - 1])."
}

/// `Unknown option '--stat-file'. Did you mean '--state-file'?` (a long name within edit distance 3).
private func unknownOptionMessage(_ name: String, known: [ArgumentDefinition]) -> String {
    let message = "Unknown option '\(name)'"
    guard name.hasPrefix("--") else { return message }
    let candidates = known.filter { !$0.isHidden }.flatMap(\.names).filter { $0.hasPrefix("--") }
    let scored = candidates.map { ($0, editDistance($0, name)) }.filter { $0.1 < 4 }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return message }
    return message + ". Did you mean '\(best.0)'?"
}

/// Levenshtein distance over bytes.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8)
    let b = Array(b.utf8)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
