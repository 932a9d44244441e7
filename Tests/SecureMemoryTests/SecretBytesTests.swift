// SPDX-License-Identifier: Apache-2.0
// Tests for SecretBytes: redaction, copying, zeroization and comparison.

import SecureMemory
import Testing

@Suite("SecretBytes")
struct SecretBytesTests {
    @Test("never prints its bytes")
    func redactsDescription() {
        let secret = SecretBytes(copying: Array("hunter2-hunter2".utf8))
        #expect("\(secret)" == "<redacted 15 bytes>")
        #expect(String(reflecting: secret) == "<redacted 15 bytes>")
        #expect(!"\(secret)".contains("hunter2"))
    }

    @Test("consuming an array zeroizes and empties the source")
    func consumingZeroizesSource() {
        var source: [UInt8] = [1, 2, 3, 4]
        let secret = SecretBytes(consuming: &source)
        #expect(source.isEmpty)
        #expect(secret.unsafeCopyToArray() == [1, 2, 3, 4])
    }

    @Test("wipe overwrites every byte with zero")
    func wipeZeroes() {
        let secret = SecretBytes(copying: [0xFF, 0xEE, 0xDD])
        secret.wipe()
        #expect(secret.unsafeCopyToArray() == [0, 0, 0])
        #expect(secret.count == 3)
    }

    @Test("a failing fill leaves nothing behind and rethrows")
    func failingFill() {
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            _ = try SecretBytes(count: 8) { buffer in
                buffer.storeBytes(of: 0xAB, as: UInt8.self)
                throw Boom()
            }
        }
    }

    @Test("compares equal content only")
    func constantTimeEquals() {
        let a = SecretBytes(copying: [1, 2, 3])
        #expect(a.constantTimeEquals(SecretBytes(copying: [1, 2, 3])))
        #expect(!a.constantTimeEquals(SecretBytes(copying: [1, 2, 4])))
        #expect(!a.constantTimeEquals(SecretBytes(copying: [1, 2])))
    }
}
