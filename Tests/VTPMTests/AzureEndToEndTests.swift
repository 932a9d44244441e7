// SPDX-License-Identifier: Apache-2.0
// ccagent fetch --tee sim-az-snp / sim-az-tdx against a real ccbroker on 127.0.0.1: swtpm, IMDS, RCAR.

import AgentBase
import TEESimulator
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A broker trusting a simulator of its own, over TLS with a test CA.
final class AzureBrokerEnvironment: @unchecked Sendable {
    let directory: String
    let pki: TestPKI
    let simulator: String
    let broker: BrokerProcess

    init() throws {
        directory = try Fixtures.temporaryDirectory("ccagent-az-e2e")
        pki = try TestPKI(directory: directory)
        let initialised = try Binaries.initialiseSimulator(in: directory)
        simulator = initialised.simulator
        broker = try BrokerProcess(
            pki: pki, directory: directory, extraArguments: ["--trust-simulator", initialised.roots])
    }

    deinit {
        broker.process.stop()
        Fixtures.removeTree(directory)
    }

    func ccagent(_ arguments: [String]) throws -> Subprocess.Result {
        try Subprocess.run([Binaries.ccagent] + arguments, environment: ["HOME": directory])
    }
}

@Suite(
    "Azure end to end with ccbroker", .serialized, .tags(.integration),
    .enabled(if: SoftwareTPMRequirement.present, SoftwareTPMRequirement.reason))
struct AzureEndToEndIntegrationTests {
    @Test(
        "ccagent fetch completes the RCAR exchange and gets the exact bytes", arguments: ["sim-az-snp", "sim-az-tdx"])
    func fetch(tee: String) throws {
        let environment = try AzureBrokerEnvironment()
        let secret = Array("secret for \(tee)".utf8)
        try environment.broker.put("default/test/\(tee)", secret)
        let out = environment.directory + "/out"
        let result = try environment.ccagent([
            "fetch", "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource",
            "default/test/\(tee)", "--tee", tee, "--simulator-dir", environment.simulator, "--out", out,
        ])
        #expect(result.exitCode == 0, "\(result.output)\n\(environment.broker.process.log)")
        #expect(result.output.contains("SIMULATED evidence (\(tee))"))
        #expect(try Fixtures.readFile(out) == secret)
        #expect(environment.broker.process.log.contains(tee == "sim-az-snp" ? "az-snp-vtpm" : "az-tdx-vtpm"))
    }

    @Test("a broker that does not trust this simulator refuses its Azure evidence")
    func untrusted() throws {
        let environment = try AzureBrokerEnvironment()
        let other = environment.directory + "/other-sim"
        try Subprocess.run([Binaries.ccagent, "simulator", "init", "--simulator-dir", other]).check()
        try environment.broker.put("default/test/x", [1])
        let result = try environment.ccagent([
            "fetch", "--broker", environment.broker.url, "--ca", environment.pki.caPEM, "--resource", "default/test/x",
            "--tee", "sim-az-snp", "--simulator-dir", other, "--out", environment.directory + "/out",
        ])
        #expect(result.exitCode != 0)
        #expect(
            environment.broker.process.log.contains("az-snp-vtpm evidence not trusted"),
            "\(environment.broker.process.log)")
    }

    @Test("status names the simulated Azure TEE, its evidence, and broker sealing")
    func status() throws {
        let environment = try AzureBrokerEnvironment()
        let result = try environment.ccagent([
            "status", "--tee", "sim-az-snp", "--simulator-dir", environment.simulator, "--broker",
            environment.broker.url, "--ca", environment.pki.caPEM, "--state-file", environment.directory + "/state",
        ])
        #expect(result.output.contains("az-snp-vtpm evidence v2 (SIMULATED)"), "\(result.output)")
        #expect(result.output.contains("Azure's paravisor gives no TEE-derived key"), "\(result.output)")
        #expect(result.output.contains("RUNNING ON THE SIMULATOR (sim-az-snp)"))
        #expect(result.output.contains("Azure CVM, SNP via paravisor vTPM (SIMULATED on swtpm)"), "\(result.output)")
    }
}
