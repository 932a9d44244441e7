// SPDX-License-Identifier: Apache-2.0
// `@Option`, `@Flag`, `@Argument` and `@OptionGroup`: each declares one definition (names, help, how a word
// becomes its value, its default) and keeps the parsed value in a slot the parser fills.

/// One declared option, flag or positional argument, as the parser, help and generators see it.
final class ArgumentDefinition {
    enum Kind { case option, flag, positional }

    let kind: Kind
    let nameSpecification: NameSpecification
    let help: ArgumentHelp
    /// Absent on the command line is fine (a default, nil or an empty array).
    let isOptional: Bool
    /// Given any number of times (arrays).
    let isRepeating: Bool
    let defaultDescription: String?
    let allValues: [String]
    /// Reads one word; throws `InvalidValue` (with a detail, or nil for the generic message).
    let assign: (String) throws(InvalidValue) -> Void
    /// Sets a flag.
    let raise: () -> Void
    /// Applies the default once parsing is done; false when a required value is missing.
    let finish: () -> Bool
    /// Every spelling, e.g. ["--config"]; bound when the declaring property is known.
    private(set) var names: [String] = []
    /// `<value-name>` in help and errors.
    private(set) var valueName = ""

    init(
        kind: Kind, name: NameSpecification, help: ArgumentHelp?, isOptional: Bool, isRepeating: Bool,
        defaultDescription: String?, allValues: [String], assign: @escaping (String) throws(InvalidValue) -> Void,
        raise: @escaping () -> Void = {}, finish: @escaping () -> Bool
    ) {
        self.kind = kind
        self.nameSpecification = name
        self.help = help ?? ArgumentHelp()
        self.isOptional = isOptional
        self.isRepeating = isRepeating
        self.defaultDescription = defaultDescription
        self.allValues = allValues
        self.assign = assign
        self.raise = raise
        self.finish = finish
    }

    /// Names the definition after its property (`_keyType` → `--key-type <key-type>`).
    func bind(property: String) {
        guard names.isEmpty, valueName.isEmpty else { return }
        if kind == .positional {
            valueName = kebabCase(property)
            return
        }
        names = nameSpecification.names(property: property)
        let long = names.first { $0.hasPrefix("--") } ?? names.first ?? property
        valueName = String(long.drop { $0 == "-" })
    }

    var isHidden: Bool { help.isHidden }
    var takesValue: Bool { kind != .flag }
    /// `--config <config>`, `--json`, `<device>`: the spelling in usage lines and error messages.
    var synopsis: String {
        switch kind {
        case .option: "\(names.first ?? "") <\(valueName)>"
        case .flag: names.first ?? ""
        case .positional: "<\(valueName)>"
        }
    }
    /// The label in help: every name, comma-separated.
    var helpLabel: String {
        switch kind {
        case .option: names.joined(separator: ", ") + " <\(valueName)>"
        case .flag: names.joined(separator: ", ")
        case .positional: "<\(valueName)>"
        }
    }
    /// `[--config <config>]`, `<name>`, `[<devices> ...]`.
    var usageSynopsis: String {
        var text = synopsis
        if isRepeating { text += " ..." }
        return isOptional ? "[\(text)]" : text
    }
}

/// A word that is not a value of the option's type; `detail` is the type's own explanation.
struct InvalidValue: Error {
    var detail: String?
}

/// Where a wrapper keeps its value until and after parsing.
final class Slot<Value> {
    var value: Value?
    var definition: ArgumentDefinition?

    func get() -> Value {
        guard let value else {
            fatalError("\(definition?.synopsis ?? "an argument") was read before the command line was parsed")
        }
        return value
    }
}

/// What the parser finds in a command's properties.
protocol DeclaredArgument {
    var definition: ArgumentDefinition { get }
}

protocol DeclaredGroup {
    var group: any ParsableArguments { get }
}

/// Definitions for one value of type `Element`, stored in `slot` as `Value` (the element, an optional or an array).
private func makeDefinition<Element, Value>(
    kind: ArgumentDefinition.Kind, name: NameSpecification, help: ArgumentHelp?, slot: Slot<Value>,
    defaultValue: Value?, defaultDescription: String?, allValues: [String], isOptional: Bool, isRepeating: Bool,
    transform: @escaping (String) throws(InvalidValue) -> Element, store: @escaping (Value?, Element) -> Value
) -> ArgumentDefinition {
    var given = false
    let definition = ArgumentDefinition(
        kind: kind, name: name, help: help, isOptional: isOptional, isRepeating: isRepeating,
        defaultDescription: defaultDescription, allValues: allValues,
        assign: { (word: String) throws(InvalidValue) in
            let element = try transform(word)
            slot.value = store(given ? slot.value : nil, element)
            given = true
        },
        finish: {
            if !given { slot.value = defaultValue }
            return slot.value != nil
        })
    slot.definition = definition
    return definition
}

/// Converts a word with the type's own parser.
private func converter<T: ExpressibleByArgument>(_ type: T.Type) -> (String) throws(InvalidValue) -> T {
    { (word: String) throws(InvalidValue) -> T in
        guard let value = T(argument: word) else { throw InvalidValue(detail: nil) }
        return value
    }
}

/// Converts a word with a closure; its thrown error's description is the explanation.
private func converter<T>(_ transform: @escaping (String) throws -> T) -> (String) throws(InvalidValue) -> T {
    { (word: String) throws(InvalidValue) -> T in
        do { return try transform(word) } catch { throw InvalidValue(detail: "\(error)") }
    }
}

/// `--name value` or `--name=value`.
@propertyWrapper
public struct Option<Value>: DeclaredArgument {
    let slot: Slot<Value>
    let definition: ArgumentDefinition

    public var wrappedValue: Value {
        get { slot.get() }
        nonmutating set { slot.value = newValue }
    }

    init(slot: Slot<Value>, definition: ArgumentDefinition) {
        self.slot = slot
        self.definition = definition
    }
}

extension Option where Value: ExpressibleByArgument {
    /// An option with a default.
    public init(wrappedValue: Value, name: NameSpecification = .long, help: ArgumentHelp? = nil) {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .option, name: name, help: help, slot: slot, defaultValue: wrappedValue,
                defaultDescription: wrappedValue.defaultValueDescription, allValues: Value.allValueStrings,
                isOptional: true, isRepeating: false, transform: converter(Value.self), store: { $1 }))
    }

    /// A required option.
    public init(name: NameSpecification = .long, help: ArgumentHelp? = nil) {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .option, name: name, help: help, slot: slot, defaultValue: nil, defaultDescription: nil,
                allValues: Value.allValueStrings, isOptional: false, isRepeating: false,
                transform: converter(Value.self), store: { $1 }))
    }
}

extension Option {
    /// An option read by `transform`; a thrown error's description explains a rejected word.
    public init(
        wrappedValue: Value? = nil, name: NameSpecification = .long, help: ArgumentHelp? = nil,
        transform: @escaping (String) throws -> Value
    ) {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .option, name: name, help: help, slot: slot, defaultValue: wrappedValue,
                defaultDescription: wrappedValue.map { "\($0)" }, allValues: [], isOptional: wrappedValue != nil,
                isRepeating: false, transform: converter(transform), store: { $1 }))
    }

    /// An optional option: nil when absent.
    public init<T: ExpressibleByArgument>(name: NameSpecification = .long, help: ArgumentHelp? = nil)
    where Value == T? {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .option, name: name, help: help, slot: slot, defaultValue: .some(nil), defaultDescription: nil,
                allValues: T.allValueStrings, isOptional: true, isRepeating: false, transform: converter(T.self),
                store: { $1 }))
    }

    /// A repeatable option: every occurrence in order, else the default.
    public init<T: ExpressibleByArgument>(
        wrappedValue: [T] = [], name: NameSpecification = .long, help: ArgumentHelp? = nil
    ) where Value == [T] {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .option, name: name, help: help, slot: slot, defaultValue: wrappedValue,
                defaultDescription: nil, allValues: T.allValueStrings, isOptional: true, isRepeating: true,
                transform: converter(T.self), store: { ($0 ?? []) + [$1] }))
    }
}

/// `--name`: true when given.
@propertyWrapper
public struct Flag: DeclaredArgument {
    let slot: Slot<Bool>
    let definition: ArgumentDefinition

    public var wrappedValue: Bool {
        get { slot.get() }
        nonmutating set { slot.value = newValue }
    }

    public init(wrappedValue: Bool = false, name: NameSpecification = .long, help: ArgumentHelp? = nil) {
        let slot = Slot<Bool>()
        self.slot = slot
        definition = ArgumentDefinition(
            kind: .flag, name: name, help: help, isOptional: true, isRepeating: false, defaultDescription: nil,
            allValues: [], assign: { _ throws(InvalidValue) in }, raise: { slot.value = true },
            finish: {
                if slot.value == nil { slot.value = wrappedValue }
                return true
            })
        slot.definition = definition
    }
}

/// A positional argument, in declaration order.
@propertyWrapper
public struct Argument<Value>: DeclaredArgument {
    let slot: Slot<Value>
    let definition: ArgumentDefinition

    public var wrappedValue: Value {
        get { slot.get() }
        nonmutating set { slot.value = newValue }
    }

    init(slot: Slot<Value>, definition: ArgumentDefinition) {
        self.slot = slot
        self.definition = definition
    }
}

extension Argument where Value: ExpressibleByArgument {
    /// A required positional argument without help.
    public init() { self.init(help: nil) }

    /// A required positional argument.
    public init(help: ArgumentHelp? = nil) {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .positional, name: [], help: help, slot: slot, defaultValue: nil, defaultDescription: nil,
                allValues: Value.allValueStrings, isOptional: false, isRepeating: false,
                transform: converter(Value.self), store: { $1 }))
    }

    /// A positional argument with a default.
    public init(wrappedValue: Value, help: ArgumentHelp? = nil) {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .positional, name: [], help: help, slot: slot, defaultValue: wrappedValue,
                defaultDescription: wrappedValue.defaultValueDescription, allValues: Value.allValueStrings,
                isOptional: true, isRepeating: false, transform: converter(Value.self), store: { $1 }))
    }
}

extension Argument {
    /// An optional positional argument: nil when absent.
    public init<T: ExpressibleByArgument>(help: ArgumentHelp? = nil) where Value == T? {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .positional, name: [], help: help, slot: slot, defaultValue: .some(nil),
                defaultDescription: nil, allValues: T.allValueStrings, isOptional: true, isRepeating: false,
                transform: converter(T.self), store: { $1 }))
    }

    /// The remaining positional words.
    public init<T: ExpressibleByArgument>(wrappedValue: [T] = [], help: ArgumentHelp? = nil) where Value == [T] {
        let slot = Slot<Value>()
        self.init(
            slot: slot,
            definition: makeDefinition(
                kind: .positional, name: [], help: help, slot: slot, defaultValue: wrappedValue,
                defaultDescription: nil, allValues: T.allValueStrings, isOptional: true, isRepeating: true,
                transform: converter(T.self), store: { ($0 ?? []) + [$1] }))
    }
}

/// Options declared once in a `ParsableArguments` type and shared by several commands.
@propertyWrapper
public struct OptionGroup<Value: ParsableArguments>: DeclaredGroup {
    public var wrappedValue: Value

    public init() { wrappedValue = Value() }

    var group: any ParsableArguments { wrappedValue }
}

/// The definitions of `value`'s properties in declaration order (groups expanded in place) and its groups.
func declarations(of value: Any) -> (definitions: [ArgumentDefinition], groups: [any ParsableArguments]) {
    var definitions: [ArgumentDefinition] = []
    var groups: [any ParsableArguments] = []
    for child in Mirror(reflecting: value).children {
        let property = String((child.label ?? "").drop { $0 == "_" })
        if let argument = child.value as? any DeclaredArgument {
            argument.definition.bind(property: property)
            definitions.append(argument.definition)
        } else if let declared = child.value as? any DeclaredGroup {
            let nested = declarations(of: declared.group)
            definitions += nested.definitions
            groups += nested.groups + [declared.group]
        }
    }
    return (definitions, groups)
}
