// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: our LUKS2 token parser and the header allowlist on hostile header JSON.

import CanonicalJSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLUKS(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let token = try? CCAgentToken(json: text) {
        // A token we accept re-parses from its own serialization to the same token.
        guard let again = try? CCAgentToken(json: token.json().canonicalString) else {
            preconditionFailure("an accepted token did not re-parse")
        }
        precondition(again == token, "token round trip changed it")
    }
    if let header = try? LUKSHeader(json: text, uuid: "00000000-0000-0000-0000-000000000000") {
        _ = HeaderPolicy.check(header, keyslot: 0)
        _ = HeaderPolicy.check(header, keyslot: 1)
    }
    return 0
}
