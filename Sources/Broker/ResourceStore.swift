// SPDX-License-Identifier: Apache-2.0
// Resources as 0600 files in <dir>/<repo>/<type>/<tag>; path segments validated by the protocol's rule.

import AgentBase
import Foundation
import KBSProtocol
import SecureMemory

/// The broker's secrets on disk.
public struct ResourceStore: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    func path(_ resource: ResourcePath) -> String {
        "\(directory)/\(resource.repository)/\(resource.type)/\(resource.tag)"
    }

    /// Reads a resource, or nil when it does not exist.
    public func get(_ resource: ResourcePath) throws -> SecretBytes? {
        let file = path(resource)
        do {
            return try FileIO.readSecret(path: file, limit: 1 << 20)
        } catch let error as FileIOError where error.errno == ENOENT {
            return nil
        }
    }

    /// Writes a resource atomically, 0600 (directories 0700).
    public func put(_ resource: ResourcePath, value: SecretBytes) throws {
        let file = path(resource)
        let parent = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            try value.withUnsafeBytes { try FileIO.writeAtomically(path: file, mode: 0o600, $0) }
        } catch {
            throw BrokerError("failed to store resource '\(resource)': \(error)")
        }
    }

    /// All stored resource paths, sorted.
    public func list() -> [ResourcePath] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var result: [ResourcePath] = []
        while let entry = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if let resource = ResourcePath(entry),
                FileManager.default.fileExists(atPath: path(resource), isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                result.append(resource)
            }
        }
        return result.sorted { $0.description < $1.description }
    }

    /// Removes a resource; false when it did not exist.
    @discardableResult
    public func remove(_ resource: ResourcePath) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path(resource)) else { return false }
        try FileManager.default.removeItem(atPath: path(resource))
        return true
    }
}

/// A broker-side failure (configuration, storage).
public struct BrokerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
