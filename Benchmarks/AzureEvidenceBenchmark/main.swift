// SPDX-License-Identifier: Apache-2.0
// Measures the Azure evidence path (NV write, HCL report read, quote, PCR read, IMDS) against swtpm (not a test).
//
// Usage: AzureEvidenceBenchmark [ITERATIONS] [snp|tdx]. Prints one `key=value` line per figure (milliseconds,
// medians over the iterations), which scripts/bench/azure.sh turns into a table. On a real Azure vTPM the
// TPM commands dominate (tens of ms each through the paravisor); swtpm answers in well under a millisecond
// over a loopback socket, so these figures bound the agent's own share, not Azure's end-to-end time.

import AgentBase
import AzureIMDS
import EvidenceVerification
import TEEDevice
import TEEEvidence
import TEESimulator
import VTPM

#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1_000_000
}

/// Accumulates the wall time spent in TPM commands (the round trips to swtpm).
final class Meter: @unchecked Sendable {
    var tpm = 0.0
    var commands = 0
    var paravisor = 0.0
    var imds = 0.0
}

/// A TPM that times every command.
final class TimedTPM: TPMCommands {
    let base: TPM
    let meter: Meter
    init(_ base: TPM, _ meter: Meter) {
        self.base = base
        self.meter = meter
    }
    func timed<T>(_ body: () throws(VTPMError) -> T) throws(VTPMError) -> T {
        let start = now()
        defer {
            meter.tpm += now() - start
            meter.commands += 1
        }
        return try body()
    }
    func nvReadPublic(index: UInt32) throws(VTPMError) -> (size: Int, attributes: UInt32)? {
        try timed { () throws(VTPMError) in try base.nvReadPublic(index: index) }
    }
    func nvDefineSpace(index: UInt32, size: Int, attributes: UInt32) throws(VTPMError) {
        try timed { () throws(VTPMError) in try base.nvDefineSpace(index: index, size: size, attributes: attributes) }
    }
    func nvUndefineSpace(index: UInt32) throws(VTPMError) {
        try timed { () throws(VTPMError) in try base.nvUndefineSpace(index: index) }
    }
    func nvWrite(index: UInt32, data: [UInt8], offset: Int) throws(VTPMError) {
        try timed { () throws(VTPMError) in try base.nvWrite(index: index, data: data, offset: offset) }
    }
    func nvRead(index: UInt32, size: Int, offset: Int) throws(VTPMError) -> [UInt8] {
        try timed { () throws(VTPMError) in try base.nvRead(index: index, size: size, offset: offset) }
    }
    func maxNVBuffer() throws(VTPMError) -> Int { try timed { () throws(VTPMError) in try base.maxNVBuffer() } }
    func quote(keyHandle: UInt32, qualifyingData: [UInt8], pcrs: [Int]) throws(VTPMError) -> RawQuote {
        try timed { () throws(VTPMError) in
            try base.quote(keyHandle: keyHandle, qualifyingData: qualifyingData, pcrs: pcrs)
        }
    }
    func pcrRead(pcrs: [Int]) throws(VTPMError) -> [(index: Int, value: [UInt8])] {
        try timed { () throws(VTPMError) in try base.pcrRead(pcrs: pcrs) }
    }
}

/// IMDS answers, timed (the stand-in's HTTP round trip and the simulated signing behind it).
struct TimedIMDS: AzureCollateralSource {
    let base: any AzureCollateralSource
    let meter: Meter
    func certificates() throws(IMDSError) -> IMDSCertificates {
        let start = now()
        defer { meter.imds += now() - start }
        return try base.certificates()
    }
    func tdQuote(for tdReport: [UInt8]) throws(IMDSError) -> [UInt8] {
        let start = now()
        defer { meter.imds += now() - start }
        return try base.tdQuote(for: tdReport)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func run() throws {
    let arguments = CommandLine.arguments
    let iterations = arguments.count > 1 ? max(1, Int(arguments[1]) ?? 50) : 50
    let kind: TEEKind = arguments.count > 2 && arguments[2] == "tdx" ? .simAzTDX : .simAzSNP
    var template = Array("/tmp/ccagent-azbench-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw VTPMError(.unavailable, "mkdtemp failed") }
    let directory = String(cString: made)
    defer { Fixtures.removeTree(directory) }
    let state = try SimulatorState.initialize(directory: directory + "/sim")
    let software = try SoftwareTPM.start(stateDirectory: directory + "/swtpm")
    defer { software.stop() }
    let paravisor = SimulatedParavisor(state: state, kind: kind)
    try paravisor.provision(try TPM(tcti: software.tcti))
    let standIn = try StandInIMDS(source: SimulatedIMDS(state: state))
    defer { standIn.stop() }
    let meter = Meter()
    let tcti = software.tcti
    let url = standIn.url
    let device = AzureVTPMDevice(
        kind: kind, openTPM: { () throws(VTPMError) in TimedTPM(try TPM(tcti: tcti), meter) },
        collateral: { () throws(IMDSError) in TimedIMDS(base: try IMDSClient(baseURL: url), meter: meter) },
        afterReportDataWrite: { (tpm: any TPMCommands) throws(VTPMError) in
            guard let timed = tpm as? TimedTPM else { return }
            let start = now()
            defer { meter.paravisor += now() - start }
            try paravisor.refresh(timed.base)
        }, settleSeconds: 1)
    var totals: [Double] = []
    var tpmTimes: [Double] = []
    var paravisorTimes: [Double] = []
    var imdsTimes: [Double] = []
    var agentTimes: [Double] = []
    var verifyTimes: [Double] = []
    var commands = 0
    let roots = [(name: "roots.pem", bytes: Array(state.rootsPEM.utf8))]
    for iteration in 0..<(iterations + 2) {
        meter.tpm = 0
        meter.commands = 0
        meter.paravisor = 0
        meter.imds = 0
        let digest = (0..<48).map { UInt8(truncatingIfNeeded: $0 &+ iteration) }
        let start = now()
        let evidence = try device.evidence(reportData: digest, vmpl: 0)
        let total = now() - start
        let verifyStart = now()
        let result = try EvidenceVerifier.verifyAzure(
            evidence: evidence.bytes, reportData: digest, trustRoots: roots, at: .now)
        let verify = now() - verifyStart
        guard result.trusted else { throw VTPMError(.badAnswer, "not trusted: \(result.failures)") }
        guard iteration >= 2 else { continue }  // warm-up
        totals.append(total)
        tpmTimes.append(meter.tpm)
        paravisorTimes.append(meter.paravisor)
        imdsTimes.append(meter.imds)
        agentTimes.append(total - meter.tpm - meter.paravisor - meter.imds)
        verifyTimes.append(verify)
        commands = meter.commands
    }
    func line(_ key: String, _ value: Double) { print("\(key)=\((value * 1000).rounded() / 1000)") }
    print("tee=\(kind.protocolName)")
    print("iterations=\(iterations)")
    print("esys_calls=\(commands)")
    line("total_ms", median(totals))
    line("tpm_ms", median(tpmTimes))
    line("paravisor_sim_ms", median(paravisorTimes))
    line("imds_ms", median(imdsTimes))
    line("agent_ms", median(agentTimes))
    line("broker_verify_ms", median(verifyTimes))
}

enum Fixtures {
    static func removeTree(_ path: String) {
        guard path.hasPrefix("/tmp/ccagent-azbench-") else { return }
        let words: [String] = ["/bin/rm", "-rf", path]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        if posix_spawn(&pid, "/bin/rm", nil, nil, argv, environ) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

do {
    try run()
} catch {
    var message = "AzureEvidenceBenchmark: \(error)\n"
    _ = message.withUTF8 { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
