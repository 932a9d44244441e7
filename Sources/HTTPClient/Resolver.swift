// SPDX-License-Identifier: Apache-2.0
// Name resolution bounded by the connect deadline: glibc's getaddrinfo has no timeout of its own beyond
// resolv.conf's (5 s per attempt), and a DNS server that never answers must not hold the agent past its budget.

#if canImport(Glibc)
import Glibc
#endif

/// The addresses of one host, freed with the value.
final class ResolvedAddresses {
    let list: UnsafeMutablePointer<addrinfo>

    init(_ list: UnsafeMutablePointer<addrinfo>) { self.list = list }

    deinit { freeaddrinfo(list) }
}

enum Resolver {
    /// Resolves `host`: literal addresses at once, names on a helper thread that the caller waits for only
    /// until `deadline` (monotonic seconds). A lookup still running then is abandoned; its thread frees what it
    /// finds. `onTimeout` builds the error for that case.
    static func resolve(
        host: String, port: UInt16, deadline: Double, onTimeout: () -> HTTPError, url: String
    ) throws(HTTPError) -> ResolvedAddresses {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST
        var list: UnsafeMutablePointer<addrinfo>?
        if getaddrinfo(host, String(port), &hints, &list) == 0, let list { return ResolvedAddresses(list) }

        guard let lookup = Lookup(host: host, port: port) else {
            throw HTTPError(
                .unreachable, "could not resolve host '\(host)': \(String(cString: strerror(errno)))", url: url)
        }
        let box = Unmanaged.passRetained(lookup)
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { context in
                guard let context else { return nil }
                Unmanaged<Lookup>.fromOpaque(context).takeRetainedValue().run()
                return nil
            }, box.toOpaque())
        guard started == 0 else {
            box.release()
            throw HTTPError(.unreachable, "could not resolve host '\(host)': no thread for the lookup", url: url)
        }
        pthread_detach(thread)

        var poller = pollfd(fd: lookup.notify, events: Int16(POLLIN), revents: 0)
        while true {
            let remaining = deadline - monotonicNow()
            if remaining <= 0 {
                lookup.abandon()
                throw onTimeout()
            }
            let ready = poll(&poller, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if ready > 0 { break }
            if ready < 0 && errno != EINTR {
                lookup.abandon()
                throw HTTPError(
                    .unreachable, "could not resolve host '\(host)': \(String(cString: strerror(errno)))", url: url)
            }
        }
        let (status, result, savedErrno) = lookup.take()
        guard status == 0, let result else {
            let reason =
                status == EAI_SYSTEM ? String(cString: strerror(savedErrno)) : String(cString: gai_strerror(status))
            throw HTTPError(.unreachable, "could not resolve host '\(host)': \(reason)", url: url)
        }
        return ResolvedAddresses(result)
    }

    /// One lookup shared by the caller and the resolving thread; whichever of them is last frees the result.
    private final class Lookup: @unchecked Sendable {
        let host: String
        let port: UInt16
        /// A pipe the thread writes to when done. Both ends close with the last reference, so the read end is
        /// open whenever the thread writes (no SIGPIPE) and an abandoned lookup leaks nothing.
        let notify: Int32
        private let notifyWrite: Int32
        private var mutex = pthread_mutex_t()
        private var finished = false
        private var abandoned = false
        private var status: Int32 = 0
        private var savedErrno: Int32 = 0
        private var result: UnsafeMutablePointer<addrinfo>?

        init?(host: String, port: UInt16) {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { return nil }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            notify = fds[0]
            notifyWrite = fds[1]
            self.host = host
            self.port = port
            pthread_mutex_init(&mutex, nil)
        }

        deinit {
            Glibc.close(notify)
            Glibc.close(notifyWrite)
            pthread_mutex_destroy(&mutex)
        }

        func run() {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            let error = errno
            pthread_mutex_lock(&mutex)
            finished = true
            if abandoned {
                if let list { freeaddrinfo(list) }
            } else {
                self.status = status
                self.savedErrno = error
                self.result = list
            }
            pthread_mutex_unlock(&mutex)
            var one: UInt8 = 1
            _ = write(notifyWrite, &one, 1)
        }

        /// The caller gives up: a result arriving later is freed by the resolving thread.
        func abandon() {
            pthread_mutex_lock(&mutex)
            abandoned = true
            if finished, let result { freeaddrinfo(result) }
            result = nil
            pthread_mutex_unlock(&mutex)
        }

        func take() -> (Int32, UnsafeMutablePointer<addrinfo>?, Int32) {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            let taken = (status, result, savedErrno)
            result = nil
            return taken
        }
    }
}
