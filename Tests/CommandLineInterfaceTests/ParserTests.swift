// SPDX-License-Identifier: Apache-2.0
// The parser on a small tool that uses every feature: values, defaults, repetition, positionals, `--`,
// aliases, hidden options, value validation, groups with their own validation, mutually exclusive options,
// nested and default subcommands, help, version, and every usage error with its message and exit status 64.

import Testing

@testable import CommandLineInterface

enum Colour: String, CaseIterable, ExpressibleByArgument {
    case red, green, blue
}

enum Shade: String, CaseIterable, ExpressibleByArgument {
    case white, silver, grey, slate, charcoal, black
}

struct EvenNumberError: Error, CustomStringConvertible {
    var description: String { "not an even number" }
}

struct Shared: ParsableArguments {
    @Option(help: "Configuration file.") var config = "/etc/tool.conf"
    @Flag(help: "Say more.") var verbose = false

    func validate() throws {
        if config.isEmpty { throw ValidationError("--config must name a file") }
    }
}

struct Tool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tool", abstract: "A tool for tests.", discussion: "Exit status: 0 fine, 3 unhappy.",
        version: "1.2.3", subcommands: [Make.self, Group.self, Secretive.self],
        manualSections: [(title: "Exit status", text: "0: fine.\n3: unhappy.")])
}

struct Make: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "make", abstract: "Make something.")

    @Argument(help: "Input file.") var input: String
    @Argument(help: "More inputs.") var more: [String] = []
    @Option(help: "How many.") var count = 3
    @Option(name: .customLong("out"), help: "Output file.") var output: String?
    @Option(help: "A tag (repeatable).") var tag: [String] = []
    @Option(help: "The colour.") var colour: Colour = .red
    @Option(name: [.customLong("level"), .customLong("lvl"), .customShort("l")], help: "The level.")
    var level: UInt32 = 0
    @Option(
        help: "An even number.",
        transform: { word in
            guard let value = Int(word), value % 2 == 0 else { throw EvenNumberError() }
            return value
        })
    var even = 0
    @Flag(help: .hidden("Internal switch.")) var internalSwitch = false
    @Option(help: "Use this key.") var key: String?
    @Option(help: "Use this password, instead of --key.") var password: String?
    @Option(help: "The rate.") var rate: Double = 1.5
    @OptionGroup var shared: Shared

    func validate() throws {
        if key != nil && password != nil { throw ValidationError("--key and --password are alternatives; give one") }
    }
}

struct Group: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Nested commands.", subcommands: [First.self, Second.self],
        defaultSubcommand: First.self)

    struct First: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The first.")
        @Option(help: "Required here.") var name: String
        @Option(help: "A shade.") var shade: Shade?
    }

    struct Second: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The second, asynchronous.", aliases: ["2nd"])
        @Flag var loud = false

        func run() async throws {
            await Task.yield()
            throw ExitCode(loud ? 7 : 5)
        }
    }
}

struct Secretive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secretive", abstract: "Not shown.", shouldDisplay: false)
}

/// The command `arguments` parse to, or the termination they end with.
func parsed<C: ParsableCommand>(_ arguments: [String], as type: C.Type) throws -> C {
    guard case .run(let command, _) = Tool.parse(arguments) else {
        Issue.record("\(arguments) did not parse to a command: \(Tool.parse(arguments))")
        throw ExitCode(99)
    }
    return try #require(command as? C)
}

func termination(_ arguments: [String]) -> Termination {
    guard case .finished(let termination) = Tool.parse(arguments) else { return Termination(status: -1) }
    return termination
}

@Suite("Command-line parser")
struct ParserTests {
    @Test("defaults apply when nothing is given")
    func defaults() throws {
        let make = try parsed(["make", "in.txt"], as: Make.self)
        #expect(make.input == "in.txt" && make.more.isEmpty && make.count == 3 && make.output == nil)
        #expect(make.tag.isEmpty && make.colour == .red && make.level == 0 && make.even == 0 && make.rate == 1.5)
        #expect(!make.internalSwitch && make.key == nil && make.shared.config == "/etc/tool.conf")
        #expect(!make.shared.verbose)
    }

    @Test("--name value and --name=value, repeated options in order, flags, aliases, enums, groups")
    func values() throws {
        let make = try parsed(
            [
                "make", "--count", "7", "in.txt", "--out=o.bin", "--tag", "a", "--tag=b", "--colour", "blue",
                "--lvl", "2", "--even=4", "--config", "/x.conf", "--verbose", "extra1", "--rate", "0.25", "extra2",
                "--tag", "c",
            ], as: Make.self)
        #expect(make.input == "in.txt" && make.more == ["extra1", "extra2"] && make.count == 7)
        #expect(make.output == "o.bin" && make.tag == ["a", "b", "c"] && make.colour == .blue && make.level == 2)
        #expect(make.even == 4 && make.rate == 0.25 && make.shared.config == "/x.conf" && make.shared.verbose)
        #expect(try parsed(["make", "x", "--level", "3"], as: Make.self).level == 3)
        #expect(try parsed(["make", "x", "-l", "1"], as: Make.self).level == 1)
        #expect(try parsed(["make", "x", "--count", "1", "--count", "2"], as: Make.self).count == 2)
    }

    @Test("'--' ends the options: what follows is positional even when it starts with '-'; '-' alone is a value")
    func terminator() throws {
        let make = try parsed(["make", "--out", "-", "--", "--count", "-x"], as: Make.self)
        #expect(make.input == "--count" && make.more == ["-x"] && make.count == 3 && make.output == "-")
    }

    @Test("a hidden flag works but is in neither help nor completions nor the manual")
    func hidden() throws {
        #expect(try parsed(["make", "x", "--internal-switch"], as: Make.self).internalSwitch)
        let help = termination(["make", "--help"]).standardOutput
        #expect(help.hasPrefix("OVERVIEW: Make something.") && !help.contains("internal"))
        #expect(!CompletionGenerator(root: Tool.self).bash.contains("--internal-switch"))
        #expect(!ManualGenerator(root: Tool.self, section: 8, date: "", authors: "").page.contains("internal"))
        #expect(
            termination(["make", "x", "--internal-swich"]).standardError.hasPrefix(
                "Error: Unknown option '--internal-swich'\n"))
    }

    @Test("a subcommand with shouldDisplay false runs but is not listed")
    func undisplayed() throws {
        guard case .run(var command, let path) = Tool.parse(["secretive"]) else {
            Issue.record("'secretive' did not parse")
            return
        }
        #expect(throws: CleanExit.self) { try command.run() }
        #expect(path.termination(for: CleanExit.helpRequest).standardOutput.hasPrefix("OVERVIEW: Not shown."))
        #expect(!termination(["--help"]).standardOutput.contains("secretive"))
    }

    @Test("nested, aliased and default subcommands")
    func subcommands() throws {
        #expect(try parsed(["group", "first", "--name", "a"], as: Group.First.self).name == "a")
        #expect(try parsed(["group", "--name", "b"], as: Group.First.self).name == "b")
        #expect(try !parsed(["group", "2nd"], as: Group.Second.self).loud)
        #expect(try parsed(["group", "second", "--loud"], as: Group.Second.self).loud)
    }

    @Test("an asynchronous command is run by awaiting it, and its ExitCode is the status")
    func asynchronous() async throws {
        guard case .run(let command, let path) = Tool.parse(["group", "second", "--loud"]),
            var second = command as? any AsyncParsableCommand
        else {
            Issue.record("no asynchronous command")
            return
        }
        do {
            try await second.run()
            Issue.record("the command did not throw")
        } catch {
            #expect(path.termination(for: error) == Termination(status: 7))
        }
    }

    struct Failure: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var error: String
        var help: String?
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(
        "usage errors: 'Error:', the Help line where one argument is at fault, the usage, where to read more; exit 64",
        arguments: [
            Failure(
                arguments: ["make", "x", "--cuont", "1"], error: "Unknown option '--cuont'. Did you mean '--count'?"),
            Failure(arguments: ["make", "x", "-q"], error: "Unknown option '-q'"),
            Failure(
                arguments: ["make", "x", "--count"], error: "Missing value for '--count <count>'",
                help: "--count <count>  How many."),
            Failure(
                arguments: ["make", "x", "--tag="], error: "Missing value for '--tag <tag>'",
                help: "--tag <tag>  A tag (repeatable)."),
            Failure(
                arguments: ["make", "x", "--out", "--count", "2"], error: "Missing value for '--out <out>'",
                help: "--out <out>  Output file."),
            Failure(
                arguments: ["make", "x", "--count", "many"], error: "The value 'many' is invalid for '--count <count>'",
                help: "--count <count>  How many."),
            Failure(
                arguments: ["make", "x", "--colour", "pink"],
                error:
                    "The value 'pink' is invalid for '--colour <colour>'. Please provide one of 'red', 'green' or 'blue'.",
                help: "--colour <colour>  The colour."),
            Failure(
                arguments: ["make", "x", "--even", "3"],
                error: "The value '3' is invalid for '--even <even>': not an even number",
                help: "--even <even>  An even number."),
            Failure(
                arguments: ["make", "x", "--lvl", "-1"], error: "Missing value for '--lvl <level>'",
                help: "--lvl <level>  The level."),
            Failure(
                arguments: ["make", "x", "--lvl", "1.5"], error: "The value '1.5' is invalid for '--lvl <level>'",
                help: "--lvl <level>  The level."),
            Failure(
                arguments: ["make", "x", "--rate", "nan"], error: "The value 'nan' is invalid for '--rate <rate>'",
                help: "--rate <rate>  The rate."),
            Failure(
                arguments: ["make", "x", "--verbose=yes"],
                error: "The option '--verbose' does not take any value, but 'yes' was specified."),
            Failure(
                arguments: ["make"], error: "Missing expected argument '<input>'", help: "<input>  Input file."),
            Failure(
                arguments: ["group", "first"], error: "Missing expected argument '--name <name>'",
                help: "--name <name>  Required here."),
            Failure(arguments: ["group", "second", "stray"], error: "Unexpected argument 'stray'"),
            Failure(arguments: ["group", "second", "a", "b"], error: "2 unexpected arguments: 'a', 'b'"),
            Failure(arguments: ["frob"], error: "Unexpected argument 'frob'"),
            Failure(arguments: ["make", "x", "--config", ""], error: "--config must name a file"),
            Failure(
                arguments: ["make", "x", "--config="], error: "Missing value for '--config <config>'",
                help: "--config <config>  Configuration file."),
            Failure(
                arguments: ["make", "x", "--key", "k", "--password", "p"],
                error: "--key and --password are alternatives; give one"),
        ])
    func usageErrors(failure: Failure) {
        let result = termination(failure.arguments)
        #expect(result.status == 64 && result.standardOutput.isEmpty)
        var path = "tool"
        if let first = failure.arguments.first, ["make", "group"].contains(first) {
            path += " " + first
            if failure.arguments.count > 1, ["first", "second"].contains(failure.arguments[1]) {
                path += " " + failure.arguments[1]
            }
        }
        let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "Error: \(failure.error)", "\(result.standardError)")
        if let help = failure.help {
            #expect(lines.count > 1 && lines[1] == "Help:  \(help)", "\(result.standardError)")
        } else {
            #expect(!result.standardError.contains("Help:"))
        }
        #expect(lines.contains { $0.hasPrefix("Usage: \(path)") }, "\(result.standardError)")
        #expect(
            Array(lines.suffix(2)) == ["  See '\(path) --help' for more information.", ""], "\(result.standardError)")
    }

    @Test("a group's validate() runs before the command's, with the command's usage")
    func groupValidation() {
        let result = termination(["make", "x", "--config", "", "--key", "k"])
        #expect(result.status == 64)
        let withValue = termination(["make", "x", "--config=/", "--key", "k", "--password", "p"])
        #expect(withValue.standardError.hasPrefix("Error: --key and --password are alternatives; give one\n"))
        #expect(withValue.standardError.contains("Usage: tool make [<options>] <input> [<more> ...]\n"))
    }

    @Test("six values or more are listed one per line")
    func longValueList() throws {
        let result = termination(["group", "first", "--name", "n", "--shade", "pink"])
        #expect(result.status == 64)
        #expect(
            result.standardError.hasPrefix(
                """
                Error: The value 'pink' is invalid for '--shade <shade>'. Please provide one of the following:
                  - white
                  - silver
                  - grey
                  - slate
                  - charcoal
                  - black
                Help:  --shade <shade>  A shade.

                """), "\(result.standardError)")
        #expect(try parsed(["group", "first", "--shade", "grey", "--name", "n"], as: Group.First.self).shade == .grey)
    }

    @Test("errors a command's run() throws: ExitCode is the status alone, ValidationError a usage error, others 1")
    func runErrors() throws {
        guard case .run(_, let path) = Tool.parse(["make", "x"]) else {
            Issue.record("no command")
            return
        }
        #expect(path.termination(for: ExitCode(3)) == Termination(status: 3))
        let usage = path.termination(for: ValidationError("refusing to print key material to a terminal"))
        #expect(usage.status == 64)
        #expect(usage.standardError.hasPrefix("Error: refusing to print key material to a terminal\nUsage: tool make "))
        #expect(
            path.termination(for: EvenNumberError())
                == Termination(status: 1, standardError: "Error: not an even number\n"))
        #expect(path.termination(for: CleanExit.helpRequest).standardOutput.hasPrefix("OVERVIEW: Make something."))
    }

    @Test("-h, --help and help SUBCOMMAND print the help to stdout and exit 0; --version prints the version")
    func helpAndVersion() throws {
        let help = termination(["make", "--help"])
        #expect(help.status == 0 && help.standardError.isEmpty)
        #expect(termination(["make", "-h"]) == help)
        #expect(termination(["help", "make"]) == help)
        #expect(termination(["make", "x", "--bogus", "--help"]) == help)
        #expect(try parsed(["make", "--", "--help"], as: Make.self).input == "--help")
        #expect(termination(["--version"]) == Termination(status: 0, standardOutput: "1.2.3\n"))
        #expect(termination(["make", "--version"]) == Termination(status: 0, standardOutput: "1.2.3\n"))
        #expect(termination([]) == termination(["--help"]))
        #expect(termination(["help", "nothing"]) == termination(["--help"]))
        #expect(termination(["group", "--help"]).standardOutput.contains("  first (default)         The first.\n"))
        #expect(termination(["help", "group", "second"]).standardOutput.contains("  See") == false)
    }

    @Test("the help text, exactly")
    func helpText() {
        #expect(
            termination(["--help"]).standardOutput == """
                OVERVIEW: A tool for tests.

                Exit status: 0 fine, 3 unhappy.

                USAGE: tool <subcommand>

                OPTIONS:
                  --version               Show the version.
                  -h, --help              Show help information.

                SUBCOMMANDS:
                  make                    Make something.
                  group                   Nested commands.

                  See 'tool help <subcommand>' for detailed help.

                """)
        #expect(
            termination(["help", "make"]).standardOutput == """
                OVERVIEW: Make something.

                USAGE: tool make [<options>] <input> [<more> ...]

                ARGUMENTS:
                  <input>                 Input file.
                  <more>                  More inputs.

                OPTIONS:
                  --count <count>         How many. (default: 3)
                  --out <out>             Output file.
                  --tag <tag>             A tag (repeatable).
                  --colour <colour>       The colour. (values: red, green, blue; default: red)
                  --level, --lvl, -l <level>
                                          The level. (default: 0)
                  --even <even>           An even number. (default: 0)
                  --key <key>             Use this key.
                  --password <password>   Use this password, instead of --key.
                  --rate <rate>           The rate. (default: 1.5)
                  --config <config>       Configuration file. (default: /etc/tool.conf)
                  --verbose               Say more.
                  --version               Show the version.
                  -h, --help              Show help information.


                """)
        #expect(
            termination(["group", "second", "--help"]).standardOutput == """
                OVERVIEW: The second, asynchronous.

                USAGE: tool group second [--loud]

                OPTIONS:
                  --loud
                  --version               Show the version.
                  -h, --help              Show help information.


                """)
    }

    @Test("wrapping: at the last space that fits, long words whole, line breaks kept, continuation indented")
    func wrapping() {
        #expect(wrapText("aaa bbb ccc", width: 8, indent: 0) == "aaa bbb\nccc")
        #expect(wrapText("aaaaaaaaaaaa bb", width: 8, indent: 0) == "aaaaaaaaaaaa\nbb")
        #expect(wrapText("a\nb c", width: 80, indent: 2) == "  a\n  b c")
        #expect(wrapText("one two three", width: 10, indent: 4) == "    one\n    two\n    three")
    }

    @Test("names: camel case becomes kebab case; edit distance")
    func names() {
        #expect(kebabCase("allowInsecureHTTP") == "allow-insecure-http")
        #expect(
            kebabCase("guestSVN") == "guest-svn" && kebabCase("Init") == "init"
                && kebabCase("trustRoots") == "trust-roots")
        #expect(kebabCase("HTTPServer") == "http-server" && kebabCase("x") == "x")
        #expect(editDistance("--stat-file", "--state-file") == 1 && editDistance("", "abc") == 3)
        #expect(editDistance("abc", "") == 3 && editDistance("kitten", "sitting") == 3)
    }

    @Test("--generate-completion-script: bash, zsh, fish; another shell is a usage error")
    func completionScripts() {
        for shell in ["bash", "zsh", "fish"] {
            let script = termination(["--generate-completion-script", shell])
            #expect(script.status == 0 && script.standardOutput.contains("tool"))
            #expect(termination(["--generate-completion-script=\(shell)"]) == script)
        }
        let other = termination(["--generate-completion-script", "tcsh"])
        #expect(other.status == 64)
        #expect(other.standardError.hasPrefix("Error: Can't generate completion scripts for 'tcsh'.\n"))
    }

    @Test("--generate-manual: mdoc with every displayed command and option, --date and --authors")
    func manual() {
        let page = termination(["--generate-manual", "--date", "2026-12-02", "--authors=The authors"])
        #expect(page.status == 0)
        let text = page.standardOutput
        for line in [
            ".Dd December 2, 2026", ".Dt TOOL 8", ".Nm tool", ".Nd \"A tool for tests\"", ".Ss make", ".Ss group first",
            ".Ss group second", ".It Fl -level , Fl -lvl , Fl l Ar level", ".It Ar more ...", ".It Fl -verbose",
            ".Sh EXIT STATUS", ".It \"3\"", ".Sh AUTHORS", "The authors",
        ] {
            #expect(text.split(separator: "\n").contains { $0 == line }, "\(line)")
        }
        #expect(!text.contains("secretive"))
        #expect(termination(["--generate-manual", "--bogus"]).status == 64)
    }
}
