// SPDX-License-Identifier: Apache-2.0
// The ephemeral TEE key pair, generated on a thread of its own while the TLS handshake and /auth are in flight.

import KBSProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A `TEEKeyPair` being generated on another thread; ``value()`` waits for it.
///
/// The key pair is needed only once the attestation request is built (after /auth answered), so its
/// generation (an RSA key takes tens of milliseconds) overlaps the connection, the handshake and the auth
/// round trip instead of preceding them. Without a thread (pthread_create failed) it is generated inline.
final class KeyPairInBackground: @unchecked Sendable {
    /// Written by the thread before it ends; read after `pthread_join`, which orders the two.
    private var outcome: Result<TEEKeyPair, any Error>?
    private var thread: pthread_t?

    init(type: TEEKeyType) {
        thread = startThread { [self] in
            outcome = Result { try TEEKeyPair(type: type) }
        }
        if thread == nil { outcome = Result { try TEEKeyPair(type: type) } }
    }

    /// The key pair (or the error its generation threw), once the thread has ended.
    func value() throws -> TEEKeyPair {
        join()
        guard let outcome else { throw KBSError(.evidence, "the TEE key pair was not generated") }
        return try outcome.get()
    }

    private func join() {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    deinit { join() }
}

/// The closure a new thread runs.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Runs `body` on a new joinable thread; nil if none could be created.
private func startThread(_ body: @escaping () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { raw in
            guard let raw else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
    guard status == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        return nil
    }
    return thread
}
