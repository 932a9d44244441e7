// SPDX-License-Identifier: Apache-2.0
// Small, careful file I/O for the flows: bounded reads and atomic 0600 writes.

import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

/// A file operation that failed, with the path and errno kept as data.
public struct FileIOError: Error, CustomStringConvertible, Equatable {
    public var operation: String
    public var path: String
    public var errno: Int32

    public var description: String {
        "failed to \(operation) '\(path)': \(String(cString: strerror(errno)))"
    }
}

/// Bounded reads and atomic writes. Every flow that touches a file goes through here.
public enum FileIO {
    /// Reads at most `limit` bytes; a larger file is an error (hostile or wrong input).
    public static func read(path: String, limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            guard result.count + n <= limit else { throw FileIOError(operation: "read", path: path, errno: EFBIG) }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Reads at most `limit` bytes of a secret (a key file, a passphrase) straight into zeroizing
    /// memory: no intermediate array holds the bytes, and every buffer outgrown is zeroized. A larger
    /// file is an error (`EFBIG`).
    public static func readSecret(path: String, limit: Int) throws -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        return try readSecret(fileDescriptor: fd, limit: limit, name: path)
    }

    /// Reads an open descriptor (e.g. standard input) to its end like ``readSecret(path:limit:)``;
    /// `name` stands for the path in errors. The descriptor stays open.
    public static func readSecret(fileDescriptor fd: Int32, limit: Int, name: String) throws -> SecretBytes {
        guard limit >= 0 else { throw FileIOError(operation: "read", path: name, errno: EINVAL) }
        // One byte over the limit is enough to tell a file that is too large.
        let ceiling = limit == Int.max ? limit : limit + 1
        var capacity = 4096
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG), info.st_size >= 0 {
            capacity = Int(info.st_size) < ceiling ? Int(info.st_size) + 1 : ceiling
        }
        var buffer = SecretBytes(zeroedCount: max(1, min(capacity, ceiling)))
        var count = 0
        while true {
            if count == buffer.count {
                guard count <= limit else { throw FileIOError(operation: "read", path: name, errno: EFBIG) }
                let grown = SecretBytes(zeroedCount: count > ceiling / 2 ? ceiling : count * 2)
                grown.withUnsafeMutableBytes { target in
                    buffer.withUnsafeBytes {
                        UnsafeMutableRawBufferPointer(rebasing: target[0..<$0.count]).copyMemory(from: $0)
                    }
                }
                buffer = grown  // the outgrown buffer is zeroized as it is released
            }
            let n = buffer.withUnsafeMutableBytes {
                Glibc.read(fd, $0.baseAddress.map { $0 + count }, $0.count - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "read", path: name, errno: errno)
            }
            if n == 0 { break }
            count += n
        }
        guard count <= limit else { throw FileIOError(operation: "read", path: name, errno: EFBIG) }
        if count == buffer.count { return buffer }
        return buffer.withUnsafeBytes { SecretBytes(copying: $0[0..<count]) }
    }

    /// Writes `bytes` to `path` atomically and durably: the data goes to an unnamed file in the same
    /// directory (O_TMPFILE), is fsynced, gets a temporary name only for the instant before the rename,
    /// and the directory is fsynced after it. A reader sees the old content or the new one, never a
    /// mix; a crash leaves the old file or the new one, and (but for that instant) no temporary file.
    public static func writeAtomically(path: String, mode: mode_t = 0o600, _ bytes: UnsafeRawBufferPointer) throws {
        let temporary = path + ".tmp.\(getpid())"
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        // O_TMPFILE (__O_TMPFILE | O_DIRECTORY), which Glibc's Swift overlay does not export.
        var fd = open(directory, O_WRONLY | O_CLOEXEC | 0o20_000_000 | O_DIRECTORY, mode)
        let unnamed = fd >= 0
        if !unnamed { fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode) }
        guard fd >= 0 else { throw FileIOError(operation: "create", path: temporary, errno: errno) }
        var failure: FileIOError?
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = FileIOError(operation: "write", path: temporary, errno: errno)
                break
            }
            offset += n
        }
        if failure == nil, fchmod(fd, mode) != 0 {
            failure = FileIOError(operation: "chmod", path: temporary, errno: errno)
        }
        if failure == nil, fsync(fd) != 0 { failure = FileIOError(operation: "fsync", path: temporary, errno: errno) }
        if failure == nil, unnamed, linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) != 0
        {
            failure = FileIOError(operation: "link", path: temporary, errno: errno)
        }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 {
            failure = FileIOError(operation: "rename into", path: path, errno: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            defer { close(directoryFD) }
            guard fsync(directoryFD) == 0 else { throw FileIOError(operation: "fsync", path: directory, errno: errno) }
        }
    }

    /// Convenience for non-secret bytes.
    public static func writeAtomically(path: String, mode: mode_t = 0o600, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAtomically(path: path, mode: mode, $0) }
    }

    /// Creates a directory (and parents) with `mode` if it does not exist.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw FileIOError(operation: "create directory", path: prefix, errno: errno)
            }
        }
    }

    /// The names in a directory, sorted by their bytes, without `.` and `..`. Calls `opendir`/`readdir`.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            throw FileIOError(operation: "open directory", path: path, errno: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                guard errno == 0 else { throw FileIOError(operation: "read directory", path: path, errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }
}
