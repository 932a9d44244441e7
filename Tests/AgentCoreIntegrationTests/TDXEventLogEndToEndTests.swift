// SPDX-License-Identifier: Apache-2.0
// `ccagent fetch --tee sim-tdx` against a real ccbroker: the event log it sends replays (an independent
// Python replay agrees), a policy on the kernel event digest is enforced, and an RTMR3 extension by the
// agent is explained by its runtime log at the next attestation.

import AgentBase
import AgentCore
import FoundationEssentials
import TEEDevice
import TEEEvidence
import TEESimulator
import TestSupport
import Testing

@Suite("TDX event log end to end", .serialized, .tags(.integration))
struct TDXEventLogEndToEndTests {
    @Test("fetch sends a replayable event log; the kernel policy allows the simulator's kernel, denies another")
    func fetchWithKernelPolicy() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-ccel-e2e")
        defer { Fixtures.removeTree(directory) }
        let pki = try TestPKI(directory: directory)
        let (simulator, roots) = try Binaries.initialiseSimulator(in: directory)

        // The simulator's kernel digest, as `simulator show` prints it for a policy.
        let show = try Subprocess.run([Binaries.ccagent, "simulator", "show", "--simulator-dir", simulator]).output
        let line = try #require(show.split(separator: "\n").first { $0.contains("TDX kernel") })
        let kernel = String(try #require(line.split(separator: " ").first { $0.count == 96 }))
        let state = try SimulatorState.load(directory: simulator)
        #expect(
            TDXBootDigests(try CCELEventLog(parsing: state.firmwareLog.bytes)).kernel.map { Hex.encode($0) } == kernel)

        let other = String(repeating: "ab", count: 48)
        let policy = #"""
            {"repositories": {"good": {"tdx": {"kernel": ["\#(kernel)"]}},
                              "bad": {"tdx": {"kernel": ["\#(other)"]}}}}
            """#
        try FileIO.writeAtomically(path: directory + "/policy.json", bytes: Array(policy.utf8))
        let broker = try BrokerProcess(
            pki: pki, directory: directory,
            extraArguments: ["--trust-simulator", roots, "--policy", directory + "/policy.json"])
        defer { broker.process.stop() }
        try broker.put("good/key/one", Array("released".utf8))
        try broker.put("bad/key/one", Array("withheld".utf8))

        func fetch(_ resource: String) throws -> Subprocess.Result {
            try Subprocess.run(
                [
                    Binaries.ccagent, "fetch", "--broker", broker.url, "--ca", pki.caPEM, "--resource", resource,
                    "--tee", "sim-tdx", "--simulator-dir", simulator, "--out", directory + "/out-\(resource.prefix(3))",
                ], environment: ["HOME": directory])
        }
        let good = try fetch("good/key/one")
        #expect(good.exitCode == 0, "\(good.output)")
        #expect(try Fixtures.readFile(directory + "/out-goo") == Array("released".utf8))
        let bad = try fetch("bad/key/one")
        #expect(bad.exitCode == 1)
        #expect(bad.output.contains("policy denied"), "\(bad.output)")
        #expect(
            broker.process.log.contains("rule=tdx.kernel: \(kernel) is not in the allowlist"), "\(broker.process.log)")

        // What the agent sends, written by the same device path, replayed independently.
        let quote = directory + "/quote.bin"
        let log = directory + "/log.bin"
        try Subprocess.run([
            Binaries.ccagent, "report", "generate", "--tee", "sim-tdx", "--simulator-dir", simulator, "--out", quote,
            "--event-log-out", log,
        ]).check()
        let replay = try PythonTCGReplay.run(quote: quote, log: log)
        #expect(replay.contains("replay matches RTMR0-3"), "\(replay)")
        // And `verify tdx --event-log` checks the same: the log passes, one flipped digest bit does not.
        func verify(_ arguments: [String]) throws -> Subprocess.Result {
            try Subprocess.run(
                [Binaries.ccagent, "verify", "tdx", "--quote", quote, "--trust-root", roots]
                    + arguments)
        }
        let verified = try verify(["--event-log", log])
        #expect(verified.exitCode == 0, "\(verified.output)")
        var tampered = try Fixtures.readFile(log)
        let kernelAt = try #require(CCELEventLog(parsing: tampered).events.firstIndex { $0.mrIndex == 2 })
        let offset =
            CCELEventLog.specIDHeader.count
            + (try CCELEventLog(parsing: tampered).events.prefix(kernelAt).map(\.encoded.count).reduce(0, +))
        tampered[offset + 14] ^= 0x01
        try FileIO.writeAtomically(path: directory + "/tampered.bin", bytes: tampered)
        let refusedLog = try verify(["--event-log", directory + "/tampered.bin"])
        #expect(refusedLog.exitCode == 2 && refusedLog.output.contains("event log"), "\(refusedLog.output)")

        // The agent extends RTMR3 (an unlock); the next fetch still replays thanks to the runtime log.
        // The measurer the boot unlock picks for --tee sim-tdx (none for SNP).
        #expect(RuntimeMeasurement.measurer(for: .simSNP, simulatorDirectory: simulator) == nil)
        let measurer = try #require(RuntimeMeasurement.measurer(for: .simTDX, simulatorDirectory: simulator))
        #expect(measurer.runtimeLogPath == state.runtimeLogPath)
        try RuntimeMeasurement.recordUnlock(uuid: "0b5e1d2c-uuid", measurement: "00ff", measurer: measurer)
        #expect(try state.rtmr3() != [UInt8](repeating: 0, count: 48))
        let again = try fetch("good/key/one")
        #expect(again.exitCode == 0, "\(again.output)")
        // `verify tdx --event-log <CCEL> --runtime-log <runtime log>` replays the two together.
        try Subprocess.run([
            Binaries.ccagent, "report", "generate", "--tee", "sim-tdx", "--simulator-dir", simulator, "--out", quote,
        ]).check()
        try FileIO.writeAtomically(path: directory + "/ccel.bin", bytes: state.firmwareLog.bytes + [0xFF, 0xFF])
        let withRuntime = try verify(["--event-log", directory + "/ccel.bin", "--runtime-log", state.runtimeLogPath])
        #expect(withRuntime.exitCode == 0, "\(withRuntime.output)")
        let withoutRuntime = try verify(["--event-log", directory + "/ccel.bin"])
        #expect(withoutRuntime.exitCode == 2, "\(withoutRuntime.output)")

        // A forged runtime log (an entry RTMR3 never saw) is refused at /attest with the rule named.
        var forged = try FileIO.read(path: state.runtimeLogPath, limit: 1 << 20)
        let extra = try RuntimeMeasurement.unlockEvent(uuid: "forged", measurement: "00")
        forged += extra.event(digest: [UInt8](repeating: 0x42, count: 48)).encoded
        try FileIO.writeAtomically(path: state.runtimeLogPath, bytes: forged)
        let refused = try fetch("good/key/one")
        #expect(refused.exitCode == 1)
        #expect(broker.process.log.contains("tdx.event_log.replay"), "\(broker.process.log)")
    }
}
