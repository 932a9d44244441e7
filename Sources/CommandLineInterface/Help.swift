// SPDX-License-Identifier: Apache-2.0
// `--help`: OVERVIEW, USAGE, ARGUMENTS, OPTIONS and SUBCOMMANDS, laid out as swift-argument-parser lays them
// out (labels in a 26-column gutter, text wrapped at 80 columns), so the help reads as it always has.

struct HelpFormatter {
    static let indent = 2
    static let labelColumn = 26
    static let width = 80

    let path: CommandPath
    let definitions: [ArgumentDefinition]

    init(_ path: CommandPath) {
        self.path = path
        definitions = path.definitions.filter { !$0.isHidden }
    }

    /// `ccagent unlock [<options>] [<device>]`: every argument, or only the required ones and `[<options>]` when
    /// there are more than 12; `<subcommand>` for a command with subcommands.
    var usage: String {
        var text = path.name
        var shown = definitions
        if shown.count > 12 {
            shown = shown.filter { $0.kind == .positional || !$0.isOptional }
            text += shown.isEmpty || shown.count > 12 ? " <options>" : " [<options>]"
            if shown.count > 12 { shown = [] }
        }
        for definition in shown { text += " " + definition.usageSynopsis }
        if !path.command.configuration.subcommands.isEmpty { text += " <subcommand>" }
        return text
    }

    /// The help text without its final newline.
    func help() -> String {
        let configuration = path.command.configuration
        var overview = configuration.abstract
        if !configuration.discussion.isEmpty {
            overview += (overview.isEmpty ? "" : "\n") + "\n" + configuration.discussion
        }
        var text = overview.isEmpty ? "" : wrap("OVERVIEW: " + overview, indent: 0) + "\n\n"
        text += "USAGE: \(usage)\n\n"
        var sections: [String] = []
        let arguments = definitions.filter { $0.kind == .positional }.map { element($0.helpLabel, abstract($0)) }
        if !arguments.isEmpty { sections.append("ARGUMENTS:\n" + arguments.joined()) }
        var options = definitions.filter { $0.kind != .positional }.map { element($0.helpLabel, abstract($0)) }
        if !path.root.configuration.version.isEmpty { options.append(element("--version", "Show the version.")) }
        options.append(element("-h, --help", "Show help information."))
        sections.append("OPTIONS:\n" + options.joined())
        let subcommands = configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { command in
            var label = ([command.commandName] + command.configuration.aliases).joined(separator: ", ")
            if let fallback = configuration.defaultSubcommand, fallback == command { label += " (default)" }
            return element(label, command.configuration.abstract)
        }
        if !subcommands.isEmpty { sections.append("SUBCOMMANDS:\n" + subcommands.joined()) }
        text += sections.joined(separator: "\n")
        if !subcommands.isEmpty {
            var names = path.stack.map { $0.commandName }
            names.insert("help", at: 1)
            text += "\n  See '\(names.joined(separator: " ")) <subcommand>' for detailed help."
        }
        return text
    }

    /// The help of one argument: its text, then `(values: …; default: …)`.
    func abstract(_ definition: ArgumentDefinition) -> String {
        let values = definition.allValues.filter { !$0.isEmpty }
        let defaultValue = definition.defaultDescription ?? ""
        var suffix = ""
        switch (values.isEmpty, defaultValue.isEmpty) {
        case (true, true): break
        case (false, true): suffix = "(values: \(values.joined(separator: ", ")))"
        case (true, false): suffix = "(default: \(defaultValue))"
        case (false, false): suffix = "(values: \(values.joined(separator: ", ")); default: \(defaultValue))"
        }
        return [definition.help.abstract, suffix].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// `  --label               Text wrapped in the gutter`, or the text on the next line for a long label.
    func element(_ label: String, _ abstract: String) -> String {
        let padded = String(repeating: " ", count: Self.indent) + label
        guard !abstract.isEmpty else { return padded + "\n" }
        let wrapped = wrap(abstract, indent: Self.labelColumn)
        if padded.count < Self.labelColumn { return padded + String(wrapped.dropFirst(padded.count)) + "\n" }
        return padded + "\n" + wrapped + "\n"
    }

    /// Wraps at spaces to 80 columns, each line indented by `indent`; line breaks in `text` are kept.
    func wrap(_ text: String, indent: Int) -> String { wrapText(text, width: Self.width, indent: indent) }
}

/// swift-argument-parser's wrapping: chunks of `width - indent` characters, broken at the chunk's last line break,
/// else its last space, else the next space; a word longer than a line stays whole.
func wrapText(_ text: String, width: Int, indent: Int) -> String {
    let columns = width - indent
    var lines: [Substring] = []
    var start = text.startIndex
    while true {
        let chunk = text[start...].prefix(columns)
        if let lineBreak = chunk.lastIndex(of: "\n") {
            lines += text[start..<lineBreak].split(separator: "\n", omittingEmptySubsequences: false)
            start = text.index(after: lineBreak)
        } else if chunk.endIndex == text.endIndex {
            lines.append(text[start...])
            break
        } else if let space = chunk.lastIndex(of: " ") {
            lines.append(text[start..<space])
            start = text.index(after: space)
        } else if let space = text[start...].firstIndex(of: " ") {
            lines.append(text[start..<space])
            start = text.index(after: space)
        } else {
            lines.append(text[start...])
            break
        }
    }
    let margin = String(repeating: " ", count: indent)
    return lines.map { $0.isEmpty ? "" : margin + $0 }.joined(separator: "\n")
}
