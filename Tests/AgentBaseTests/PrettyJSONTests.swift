// SPDX-License-Identifier: Apache-2.0
// The state files' JSON layout, byte for byte as FoundationEssentials' JSONEncoder wrote it.

import AgentBase
import CanonicalJSON
import Testing

@Suite("Pretty-printed JSON")
struct PrettyJSONTests {
    @Test("matches JSONEncoder [.prettyPrinted, .sortedKeys]: indents, ' : ', sorted keys, escapes, empty containers")
    func layout() {
        let value = JSONValue.object([
            ("s", .string("a/b\"c\\d\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é")),
            (
                "d",
                .array(
                    [0, 0.1, 1e-05, 0.0001, 1e21, 1e20, 100, 12.345, -3.5, 0.30000000000000004, 1e15, 1e16, -0.0].map(
                        JSONValue.number)
                )
            ),
            ("e", .array([])), ("o", .object([])), ("B", .bool(true)), ("_", .null), ("a", .integer(-7)),
        ])
        // Produced by FoundationEssentials' JSONEncoder (Swift 6.3) for the same values.
        let expected = """
            {
              "B" : true,
              "_" : null,
              "a" : -7,
              "d" : [
                0,
                0.1,
                1e-05,
                0.0001,
                1e+21,
                1e+20,
                100,
                12.345,
                -3.5,
                0.30000000000000004,
                1000000000000000,
                1e+16,
                -0
              ],
              "e" : [

              ],
              "o" : {

              },
              "s" : "a\\/b\\"c\\\\d\\u0001\\b\\f\\n\\r\\t\\u001f\u{7f}é"
            }
            """
        #expect(String(decoding: value.prettyPrintedBytes(), as: UTF8.self) == expected)
    }

    @Test("what it writes parses back to the same value")
    func roundTrip() throws {
        let value = JSONValue.object([
            ("url", .string("https://kbs.example:8443/a")), ("n", .number(12.5)), ("list", .array([.string("x")])),
        ])
        #expect(try JSONValue.parse(value.prettyPrintedBytes()) == value)
    }
}
