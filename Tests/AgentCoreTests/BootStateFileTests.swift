// SPDX-License-Identifier: Apache-2.0
// /run/ccagent/state.json: written byte for byte as before, and files of earlier agents still load.

import AgentBase
import AgentCore
import TestSupport
import Testing

@Suite("Boot state file")
struct BootStateFileTests {
    /// Written by the previous agent (FoundationEssentials' JSONEncoder, [.prettyPrinted, .sortedKeys]) for
    /// ``full``: slashes escaped, optionals left out, doubles in Swift's shortest form without ".0".
    static let fullFile = #"""
        {
          "boot_phase" : "initrd",
          "broker" : "https:\/\/kbs.example:8443\/kbs",
          "fallback" : "poweroff",
          "outcome" : "partial",
          "phases" : [
            {
              "duration_ms" : 0.412,
              "name" : "config",
              "outcome" : "ok"
            },
            {
              "duration_ms" : 0,
              "name" : "discover",
              "outcome" : "ok"
            },
            {
              "duration_ms" : 1500.25,
              "name" : "attest",
              "outcome" : "ok"
            },
            {
              "duration_ms" : 87.00000000000001,
              "error_code" : "header.mac-mismatch",
              "message" : "refusing '\/dev\/vdb': the header MAC does not verify (\"swapped\" token?)\ncheck the disk",
              "name" : "unlock",
              "outcome" : "failed"
            }
          ],
          "started_at" : "2026-12-01T21:31:00Z",
          "tee" : "snp",
          "total_ms" : 2100.125,
          "version" : 1,
          "volumes" : [
            {
              "device" : "\/dev\/vda2",
              "duration_ms" : 512.5,
              "measurement" : "9a0b7c",
              "name" : "root",
              "outcome" : "unlocked",
              "uuid" : "0f7e9d2a-9c1b-4c55-8d52-3a1e8e0b6c11"
            },
            {
              "device" : "\/dev\/vdb",
              "duration_ms" : 3,
              "error_code" : "header.mac-mismatch",
              "message" : "refusing '\/dev\/vdb': tab\there",
              "name" : "luks-data",
              "outcome" : "failed"
            }
          ]
        }
        """#

    /// The same encoder for ``empty``: empty arrays around a blank line, a double in exponent form.
    static let emptyFile = #"""
        {
          "boot_phase" : "host",
          "outcome" : "nothing-to-do",
          "phases" : [

          ],
          "started_at" : "2026-12-01T21:31:00Z",
          "total_ms" : 1e-05,
          "version" : 1,
          "volumes" : [

          ]
        }
        """#

    static let full = BootState(
        startedAt: "2026-12-01T21:31:00Z", bootPhase: "initrd", tee: "snp", broker: "https://kbs.example:8443/kbs",
        outcome: .partial,
        phases: [
            .init(name: "config", outcome: .ok, durationMilliseconds: 0.412),
            .init(name: "discover", outcome: .ok, durationMilliseconds: 0),
            .init(name: "attest", outcome: .ok, durationMilliseconds: 1500.25),
            .init(
                name: "unlock", outcome: .failed, durationMilliseconds: 87.00000000000001,
                errorCode: "header.mac-mismatch",
                message: "refusing '/dev/vdb': the header MAC does not verify (\"swapped\" token?)\ncheck the disk"),
        ],
        volumes: [
            .init(
                device: "/dev/vda2", name: "root", uuid: "0f7e9d2a-9c1b-4c55-8d52-3a1e8e0b6c11", outcome: .unlocked,
                durationMilliseconds: 512.5, measurement: "9a0b7c"),
            .init(
                device: "/dev/vdb", name: "luks-data", outcome: .failed, errorCode: "header.mac-mismatch",
                message: "refusing '/dev/vdb': tab\there", durationMilliseconds: 3),
        ],
        totalMilliseconds: 2100.125, fallback: "poweroff")

    static let empty = BootState(
        startedAt: "2026-12-01T21:31:00Z", bootPhase: "host", tee: nil, broker: nil, outcome: .nothingToDo, phases: [],
        volumes: [], totalMilliseconds: 1e-05)

    @Test("a state file written by the previous (Foundation) agent loads with every field")
    func readsPreviousFormat() throws {
        #expect(try BootState(json: Array(Self.fullFile.utf8)) == Self.full)
        #expect(try BootState(json: Array(Self.emptyFile.utf8)) == Self.empty)
    }

    @Test("the state is written byte for byte as the previous agent wrote it")
    func writesSameBytes() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-state")
        defer { Fixtures.removeTree(directory) }
        for (state, file) in [(Self.full, Self.fullFile), (Self.empty, Self.emptyFile)] {
            let path = directory + "/run/state.json"
            try state.write(to: path)
            #expect(String(decoding: try FileIO.read(path: path, limit: 1 << 20), as: UTF8.self) == file)
            #expect(try BootState.read(from: path) == state)
        }
        #expect(try BootState.read(from: directory + "/absent.json") == nil)
    }

    @Test(
        "a damaged state file is refused with the key and the problem named",
        arguments: [
            ("", "invalid JSON"),
            ("[]", "the state is not a JSON object"),
            (#"{"version":1}"#, "'phases' is missing"),
            (
                #"{"version":1,"started_at":"x","boot_phase":"initrd","outcome":"sideways","phases":[],"volumes":[],"total_ms":1}"#,
                "'outcome' has the unknown value 'sideways'"
            ),
            (
                #"{"version":"1","started_at":"x","boot_phase":"initrd","outcome":"failed","phases":[],"volumes":[],"total_ms":1}"#,
                "'version' is not an integer"
            ),
            (
                #"{"version":1,"started_at":"x","boot_phase":"initrd","outcome":"failed","phases":[{"name":"a"}],"volumes":[],"total_ms":1}"#,
                "a phase: 'outcome' is missing"
            ),
        ])
    func refusesDamage(text: String, problem: String) {
        #expect {
            try BootState(json: Array(text.utf8))
        } throws: { error in
            guard let error = error as? BootStateError else { return false }
            return error.errorCode == ErrorCode("state.unreadable") && "\(error)".contains(problem)
        }
    }
}
