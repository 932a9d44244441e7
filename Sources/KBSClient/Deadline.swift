// SPDX-License-Identifier: Apache-2.0
// One overall deadline on the monotonic clock, shared by every step of an exchange.

#if canImport(Glibc)
import Glibc
#endif

/// A point in monotonic time after which the work gives up.
public struct Deadline: Sendable {
    private let end: Double

    public init(secondsFromNow seconds: Double) {
        end = Deadline.now() + seconds
    }

    /// Seconds left (never negative).
    public var remaining: Double { max(0, end - Deadline.now()) }
    public var hasPassed: Bool { remaining <= 0 }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Sleeps for `seconds`, but never past the deadline.
    public func sleep(_ seconds: Double) {
        let duration = min(seconds, remaining)
        guard duration > 0 else { return }
        var request = timespec(tv_sec: Int(duration), tv_nsec: Int((duration - Double(Int(duration))) * 1e9))
        var left = timespec()
        while nanosleep(&request, &left) != 0 && errno == EINTR { request = left }
    }
}
