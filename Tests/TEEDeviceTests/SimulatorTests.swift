// SPDX-License-Identifier: Apache-2.0
// The simulator: faithful, verifiable SNP reports and MSG_KEY_REQ-like derived keys.

import AgentBase
import Cryptography
import EvidenceVerification
import FoundationEssentials
import SecureMemory
import TEEDevice
import TEEEvidence
import TEESimulator
import TestSupport
import Testing

/// One simulator per test process (RSA-4096 key generation is slow), and a second chip for contrast.
enum SharedSimulators {
    static let first: SimulatorState = make()
    static let second: SimulatorState = make()

    static func make() -> SimulatorState {
        do {
            return try SimulatorState.initialize(directory: Fixtures.temporaryDirectory("ccagent-sim") + "/state")
        } catch {
            fatalError("simulator initialisation failed: \(error)")
        }
    }
}

@Suite("SNP simulator")
struct SimulatorTests {
    @Test("its report verifies with the simulator's root passed, and is rejected without it")
    func reportVerifies() throws {
        let device = SimulatedSNPDevice(state: SharedSimulators.first)
        let reportData = Array(0..<64).map { UInt8($0) }
        let evidence = try device.evidence(reportData: reportData, vmpl: 0)
        let report = try SNPReport(parsing: evidence.bytes)
        #expect(report.version == 5)
        #expect(report.reportData == reportData)
        #expect(report.productName == "Genoa")
        let table = try #require(evidence.certificateTable)
        let certificates = try [table.certificate(.vcek), table.certificate(.ask)].compactMap { $0 }.map {
            try Certificate(der: $0)
        }
        let roots = try Certificate.parse(pemOrDER: Array(SharedSimulators.first.rootsPEM.utf8))
        let trusted = SNPVerifier.verify(report: report, certificates: certificates, extraRoots: roots, at: .now)
        #expect(trusted.failures == [])
        guard case .snp(let summary) = trusted.summary else { throw FixtureError(message: "not SNP") }
        #expect(summary.simulated)
        let untrusted = SNPVerifier.verify(
            report: report, certificates: certificates + [SharedSimulators.first.ark], at: .now)
        #expect(untrusted.failures.contains { $0.hasPrefix("ark:") })
        let otherChip = try Certificate.parse(pemOrDER: Array(SharedSimulators.second.rootsPEM.utf8))
        #expect(
            !SNPVerifier.verify(report: report, certificates: certificates, extraRoots: otherChip, at: .now).trusted)
    }

    @Test("an independent verifier (python cryptography) accepts the report and chain")
    func independentVerifier() throws {
        let state = SharedSimulators.first
        let evidence = try SimulatedSNPDevice(state: state).evidence(reportData: [7], vmpl: 0)
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        try Array(evidence.bytes).withUnsafeBytes { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/report.bin"))
        }
        try Data((state.vcek.pem + state.ask.pem + state.ark.pem).utf8).write(
            to: URL(fileURLWithPath: directory + "/chain.pem"))
        let script = Fixtures.repositoryRoot + "/scripts/testing/verify_snp_report.py"
        let result = try Subprocess.run(
            ["/usr/bin/env", "python3", script, directory + "/report.bin", directory + "/chain.pem"])
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.output.contains("OK"))
    }

    @Test("derived keys are stable for the same inputs, across device instances")
    func derivedKeyStable() throws {
        let request = DerivedKeyRequest(fields: [.measurement, .policy])
        let a = try SimulatedSNPDevice(state: SharedSimulators.first).derivedKey(request)
        let reloaded = try SimulatorState.load(directory: SharedSimulators.first.directory)
        let b = try SimulatedSNPDevice(state: reloaded).derivedKey(request)
        #expect(a.count == 32 && a.constantTimeEquals(b))
    }

    @Test("every input changes the key; another chip gives another key")
    func derivedKeyInputs() throws {
        let device = SimulatedSNPDevice(state: SharedSimulators.first)
        let base = DerivedKeyRequest(fields: [.measurement], vmpl: 1, guestSVN: 1)
        let reference = try device.derivedKey(base)
        var variants: [DerivedKeyRequest] = []
        for (_, field) in GuestFieldSelect.names {
            var request = base
            request.fields.formSymmetricDifference(field)
            variants.append(request)
        }
        var vmpl = base
        vmpl.vmpl = 2
        var svn = base
        svn.guestSVN = 0
        var root = base
        root.rootKey = .vmrk
        var tcb = base
        tcb.tcbVersion = TCBVersion(bootloader: 9, tee: 0, snp: 23, microcode: 84).raw
        variants += [vmpl, svn, root, tcb]
        var seen: [[UInt8]] = [reference.unsafeCopyToArray()]
        for variant in variants {
            let key = try device.derivedKey(variant).unsafeCopyToArray()
            #expect(!seen.contains(key), "\(variant) collided")
            seen.append(key)
        }
        let other = try SimulatedSNPDevice(state: SharedSimulators.second).derivedKey(base)
        #expect(!other.constantTimeEquals(reference))
    }

    @Test("requests the firmware would refuse are refused the same way")
    func refusals() throws {
        let device = SimulatedSNPDevice(state: SharedSimulators.first)
        #expect(throws: DeviceError(.firmware, "")) { _ = try device.derivedKey(DerivedKeyRequest(guestSVN: 99)) }
        #expect(throws: DeviceError(.invalidRequest, "")) {
            _ = try device.evidence(reportData: [UInt8](repeating: 0, count: 65), vmpl: 0)
        }
        #expect(throws: DeviceError(.simulatorState, "")) { _ = try SimulatorState.load(directory: "/nonexistent/sim") }
    }

    @Test("its certificates carry AMD's and Intel's common names exactly; SIMULATED is in O and OU only")
    func vendorCommonNames() {
        let state = SharedSimulators.first
        let expected = [
            (state.ark, "ARK-Genoa"), (state.ask, "SEV-Genoa"), (state.vcek, "SEV-VCEK"),
            (state.tdxRoot, "Intel SGX Root CA"), (state.pck, "Intel SGX PCK Certificate"),
        ]
        for (certificate, commonName) in expected {
            let parts = certificate.subject.split(separator: ",").map(String.init)
            #expect(parts.contains("CN=\(commonName)"), "subject \(certificate.subject)")
            #expect(parts.contains("OU=SIMULATED"), "subject \(certificate.subject)")
            #expect(parts.contains { $0.hasPrefix("O=") && $0.contains("SIMULATED") }, "subject \(certificate.subject)")
        }
    }
}

@Suite("TDX simulator")
struct TDXSimulatorTests {
    @Test("its quote verifies with the simulator's root (ours and an independent Python verifier), not without")
    func quoteVerifies() throws {
        let state = SharedSimulators.first
        let evidence = try SimulatedTDXDevice(state: state).evidence(reportData: [9, 8, 7], vmpl: 0)
        let quote = try TDXQuote(parsing: evidence.bytes)
        #expect(Array(quote.body.reportData.prefix(3)) == [9, 8, 7])
        #expect(quote.serialize() == evidence.bytes)
        let roots = try Certificate.parse(pemOrDER: Array(state.rootsPEM.utf8))
        #expect(TDXVerifier.verify(quote: quote, extraRoots: roots, at: .now).failures == [])
        #expect(!TDXVerifier.verify(quote: quote, at: .now).trusted)
        let directory = try Fixtures.temporaryDirectory()
        defer { Fixtures.removeTree(directory) }
        try Data(evidence.bytes).write(to: URL(fileURLWithPath: directory + "/quote.dat"))
        try Data(state.tdxRoot.pem.utf8).write(to: URL(fileURLWithPath: directory + "/root.pem"))
        let result = try Subprocess.run([
            "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/verify_tdx_quote.py",
            directory + "/quote.dat", directory + "/root.pem",
        ])
        #expect(result.exitCode == 0 && result.output.contains("OK"), "\(result.output)")
    }
}
