// SPDX-License-Identifier: Apache-2.0
// SecretBytes: the one type that holds key material; zeroized on release, never printed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap buffer of secret bytes (keys, passphrases, released broker secrets).
///
/// - The storage is zeroized when the last reference goes away (and on ``wipe()``), with a write the
///   optimizer cannot elide.
/// - The pages are locked in memory (`mlock`) where the process is allowed to; failure is ignored.
/// - `description` and `debugDescription` print `<redacted N bytes>`, so a secret cannot reach a log
///   or an error message by string interpolation.
/// - There is deliberately no conversion to `String`; bytes leave only through ``withUnsafeBytes(_:)``.
///
/// It is a class so that copies share one buffer and exactly one place zeroizes it. It is
/// `@unchecked Sendable`: the buffer is written only during initialization and by ``wipe()``.
public final class SecretBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer
    private let locked: Bool

    /// The number of bytes held.
    public let count: Int

    /// Creates a zero-filled secret of `count` bytes, to be filled through ``withUnsafeMutableBytes(_:)``.
    public init(zeroedCount count: Int) {
        precondition(count >= 0, "negative secret size")
        self.count = count
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        locked = mlock(storage.baseAddress, storage.count) == 0
    }

    /// Copies `bytes` into a new secret. The caller remains responsible for wiping its own copy.
    public convenience init<C: Collection>(copying bytes: C) where C.Element == UInt8 {
        self.init(zeroedCount: bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]).copyBytes(from: bytes)
    }

    /// Takes ownership of `bytes`, zeroizing the array's buffer after copying.
    public convenience init(consuming bytes: inout [UInt8]) {
        self.init(copying: bytes)
        bytes.withUnsafeMutableBytes { SecretBytes.zeroize($0) }
        bytes.removeAll()
    }

    /// Fills a new secret with `count` bytes produced by `fill` (e.g. a CSPRNG or a KDF).
    public convenience init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        self.init(zeroedCount: count)
        do {
            try fill(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        } catch {
            wipe()
            throw error
        }
    }

    deinit {
        wipe()
        if locked { munlock(storage.baseAddress, storage.count) }
        storage.deallocate()
    }

    /// Calls `body` with the secret's bytes. Do not let the pointer escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Calls `body` with the secret's mutable bytes. Do not let the pointer escape.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Overwrites the secret with zeros now (it stays allocated and keeps its count).
    public func wipe() {
        SecretBytes.zeroize(storage)
    }

    /// Compares in time independent of the position of the first difference.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in
                var diff: UInt8 = 0
                for i in 0..<a.count { diff |= a[i] ^ b[i] }
                return diff == 0
            }
        }
    }

    /// Zeroizes a buffer with a volatile-equivalent write (`explicit_bzero`).
    public static func zeroize(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        explicit_bzero(base, buffer.count)
    }

    /// Returns a copy of the bytes as an array. Only for handing a secret to an API that needs one
    /// (e.g. writing it to a 0600 file the user asked for); the caller must zeroize the array.
    public func unsafeCopyToArray() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { "<redacted \(count) bytes>" }
    public var debugDescription: String { description }
}
