// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the vTPM suites: a software TPM per test, a simulator, and a TPM that lies.

import AgentBase
import TEEDevice
import TEESimulator
import TestSupport
import Testing
import VTPM

#if canImport(Glibc)
import Glibc
#endif

/// swtpm, or why the tests that need it cannot run (setup.sh installs it, so CI runs them).
enum SoftwareTPMRequirement {
    static let present = SoftwareTPM.locate() != nil
    static let reason: Comment = "needs swtpm (apt install swtpm swtpm-tools, as scripts/setup.sh does)"
}

/// One temporary directory with an initialised simulator, shared by the suites (creating one costs RSA keys).
final class SimulatorFixture: @unchecked Sendable {
    let directory: String
    let state: SimulatorState

    private init() throws {
        directory = try Fixtures.temporaryDirectory("ccagent-vtpm")
        state = try SimulatorState.initialize(directory: directory + "/sim")
        try FileIO.writeAtomically(path: directory + "/roots.pem", bytes: Array(state.rootsPEM.utf8))
    }

    var rootsPath: String { directory + "/roots.pem" }

    static func shared() throws -> SimulatorFixture {
        try lock.withLock {
            if let cached { return cached }
            let fixture = try SimulatorFixture()
            cached = fixture
            atexit {
                if let fixture = SimulatorFixture.cached { Fixtures.removeTree(fixture.directory) }
            }
            return fixture
        }
    }

    nonisolated(unsafe) private static var cached: SimulatorFixture?
    private static let lock = Lock()
}

/// A TPM whose answers are set by the test (a hostile or broken vTPM).
final class FakeTPM: TPMCommands, @unchecked Sendable {
    var nvIndices: [UInt32: [UInt8]] = [:]
    var claimedSize: [UInt32: Int] = [:]
    var shortRead = false
    var maxBuffer = 1024
    var quoteAnswer = RawQuote(
        attest: [UInt8](repeating: 1, count: 145), signatureAlgorithm: 0x0014, hashAlgorithm: 0x000B,
        signature: [UInt8](repeating: 2, count: 256))
    var pcrAnswer: ([Int]) -> [(index: Int, value: [UInt8])] = { pcrs in
        pcrs.prefix(8).map { (index: $0, value: [UInt8](repeating: UInt8($0), count: 32)) }
    }

    func nvReadPublic(index: UInt32) throws(VTPMError) -> (size: Int, attributes: UInt32)? {
        guard let bytes = nvIndices[index] else { return nil }
        return (claimedSize[index] ?? bytes.count, 0)
    }
    func nvDefineSpace(index: UInt32, size: Int, attributes: UInt32) throws(VTPMError) {
        nvIndices[index] = [UInt8](repeating: 0, count: size)
    }
    func nvUndefineSpace(index: UInt32) throws(VTPMError) { nvIndices[index] = nil }
    func nvWrite(index: UInt32, data: [UInt8], offset: Int) throws(VTPMError) {
        nvIndices[index]?.replaceSubrange(offset..<offset + data.count, with: data)
    }
    func nvRead(index: UInt32, size: Int, offset: Int) throws(VTPMError) -> [UInt8] {
        let bytes = nvIndices[index] ?? []
        let end = min(bytes.count, offset + size)
        let slice = offset < end ? Array(bytes[offset..<end]) : []
        return shortRead ? Array(slice.dropLast()) : slice
    }
    func maxNVBuffer() throws(VTPMError) -> Int { maxBuffer }
    func quote(keyHandle: UInt32, qualifyingData: [UInt8], pcrs: [Int]) throws(VTPMError) -> RawQuote {
        quoteAnswer
    }
    func pcrRead(pcrs: [Int]) throws(VTPMError) -> [(index: Int, value: [UInt8])] { pcrAnswer(pcrs) }
}
