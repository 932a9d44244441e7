// SPDX-License-Identifier: Apache-2.0
// The simulator's launch.json: written as before, and a state directory of an earlier agent still loads.

import AgentBase
import TEESimulator
import TestSupport
import Testing

@Suite("Simulator state files")
struct SimulatorStateFileTests {
    /// A copy of `state`'s directory at `root`/state (the tests then damage or replace files in it).
    static func copy(of state: SimulatorState, into root: String) throws -> String {
        let directory = root + "/state"
        try FileIO.makeDirectory(directory)
        for name in try FileIO.listDirectory(state.directory) {
            let bytes = try FileIO.read(path: state.directory + "/" + name, limit: 1 << 20)
            try FileIO.writeAtomically(path: directory + "/" + name, bytes: bytes)
        }
        return directory
    }

    /// launch.json as the previous (Foundation) simulator wrote it, for the values below.
    static let previousLaunch = #"""
        {
          "chip_id" : "cc",
          "family_id" : "00",
          "guest_svn" : 1,
          "host_data" : "00",
          "image_id" : "11",
          "measurement" : "aa",
          "mr_td" : "dd",
          "policy" : 196608
        }
        """#

    @Test("launch.json is written in the previous layout, and one written by the previous simulator loads")
    func launchFile() throws {
        let state = SharedSimulators.first
        let written = String(
            decoding: try FileIO.read(path: state.directory + "/launch.json", limit: 1 << 20), as: UTF8.self)
        let launch = state.launch
        let expected = """
            {
              "chip_id" : "\(launch.chipID)",
              "family_id" : "\(launch.familyID)",
              "guest_svn" : \(launch.guestSVN),
              "host_data" : "\(launch.hostData)",
              "image_id" : "\(launch.imageID)",
              "measurement" : "\(launch.measurement)",
              "mr_td" : "\(launch.mrTD)",
              "policy" : \(launch.policy)
            }
            """
        #expect(written == expected)

        // A copy of the state directory with the previous simulator's launch.json.
        let root = try Fixtures.temporaryDirectory("ccagent-sim-old")
        defer { Fixtures.removeTree(root) }
        let directory = try Self.copy(of: state, into: root)
        try FileIO.writeAtomically(path: directory + "/launch.json", bytes: Array(Self.previousLaunch.utf8))
        let loaded = try SimulatorState.load(directory: directory).launch
        #expect(
            [loaded.measurement, loaded.hostData, loaded.familyID, loaded.imageID, loaded.chipID, loaded.mrTD]
                == ["aa", "00", "00", "11", "cc", "dd"])
        #expect(loaded.policy == 196608 && loaded.guestSVN == 1)
    }

    @Test("a damaged launch.json is refused naming the file and the key")
    func damagedLaunch() throws {
        let state = SharedSimulators.first
        let root = try Fixtures.temporaryDirectory("ccagent-sim-bad")
        defer { Fixtures.removeTree(root) }
        let directory = try Self.copy(of: state, into: root)
        try FileIO.writeAtomically(
            path: directory + "/launch.json",
            bytes: Array(Self.previousLaunch.replacing("\"policy\"", with: "\"p\"").utf8))
        #expect {
            try SimulatorState.load(directory: directory)
        } throws: { error in
            "\(error)".contains("launch.json") && "\(error)".contains("'policy'")
        }
    }

    @Test("a damaged key file fails the evidence that needs it, naming the file; the other TEE still works")
    func damagedKey() throws {
        let state = SharedSimulators.first
        let root = try Fixtures.temporaryDirectory("ccagent-sim-badkey")
        defer { Fixtures.removeTree(root) }
        let directory = try Self.copy(of: state, into: root)
        try FileIO.writeAtomically(
            path: directory + "/vcek.key.pem",
            bytes: Array("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8))
        // Keys are parsed on first use: the state loads, an SNP report fails naming the key file.
        let damaged = try SimulatorState.load(directory: directory)
        #expect {
            try SimulatedSNPDevice(state: damaged).evidence(reportData: [1], vmpl: 0)
        } throws: { error in
            "\(error)".contains("vcek.key.pem")
        }
        _ = try SimulatedTDXDevice(state: damaged).evidence(reportData: [1], vmpl: 0)
    }
}
