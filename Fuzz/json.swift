// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the strict JSON parser and RFC 8785 output (KBS messages, the LUKS token, collateral).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONValue.parse(bytes) else { return 0 }
    // Canonical output parses back to the same value, and is a fixed point.
    let canonical = value.canonicalBytes()
    guard let again = try? JSONValue.parse(canonical) else { preconditionFailure("canonical JSON did not parse") }
    precondition(again == value, "canonical JSON changed the value")
    precondition(again.canonicalBytes() == canonical, "canonical JSON is not a fixed point")
    return 0
}
