// SPDX-License-Identifier: Apache-2.0
// Measures verification time per SNP report and per TDX quote of the real corpus (not a test).

import AgentBase
import EvidenceVerification

#if canImport(Glibc)
import Glibc
#endif

/// One corpus item: evidence, certificate files, a time inside every certificate's validity.
struct Item {
    var kind: String
    var evidence: String
    var certificates: [String] = []
    var at: String
}

let items: [Item] = [
    Item(
        kind: "snp", evidence: "snp/milan-v2-gosevguest-report.bin",
        certificates: ["snp/milan-v2-gosevguest-vcek.der", "certs/amd-milan-vcek-ask-ark.pem"],
        at: "2025-01-01T00:00:00Z"),
    Item(
        kind: "snp", evidence: "snp/milan-v3-aws-vlek-vmpl1-report.bin",
        certificates: ["snp/milan-v3-aws-vlek.der", "certs/amd-milan-vlek-asvk-ark.pem"], at: "2025-06-01T00:00:00Z"),
    Item(
        kind: "snp", evidence: "snp/milan-v2-azure-snp-report.bin",
        certificates: ["snp/milan-v2-azure-vcek-ask-ark.pem"], at: "2025-01-01T00:00:00Z"),
    Item(
        kind: "snp", evidence: "snp/milan-v5-gcp-report.bin",
        certificates: ["snp/milan-v5-gcp-vcek.pem", "certs/amd-milan-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
    Item(
        kind: "snp", evidence: "snp/genoa-v3-report.bin",
        certificates: ["snp/genoa-v3-vcek.pem", "certs/amd-genoa-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
    Item(
        kind: "snp", evidence: "snp/turin-v5-report.bin",
        certificates: ["snp/turin-v5-vcek.pem", "certs/amd-turin-vcek-ask-ark.pem"], at: "2026-06-01T00:00:00Z"),
    Item(kind: "tdx", evidence: "tdx/spr-e4-v4-quote.dat", at: "2024-01-01T00:00:00Z"),
    Item(kind: "tdx", evidence: "tdx/tdx15-v5-quote.dat", at: "2026-06-01T00:00:00Z"),
    Item(kind: "tdx", evidence: "tdx/azure-v4-quote.dat", at: "2024-06-01T00:00:00Z"),
    Item(kind: "tdx", evidence: "tdx/gcp-cos113-v4-quote.dat", at: "2024-09-01T00:00:00Z"),
    Item(kind: "tdx", evidence: "tdx/fmspc00a06d080000-v4-quote.dat", at: "2025-11-01T00:00:00Z"),
]

func fail(_ message: String) -> Never {
    FileHandleLite.standardError(message)
    exit(1)
}

/// Writes to stderr without Foundation's FileHandle.
enum FileHandleLite {
    static func standardError(_ message: String) {
        var line = message + "\n"
        _ = line.withUTF8 { write(2, $0.baseAddress, $0.count) }
    }
}

func read(_ path: String) -> [UInt8] {
    do {
        return try FileIO.read(path: path, limit: 64 << 20)
    } catch {
        fail("cannot read '\(path)': \(error)")
    }
}

/// A value with three decimals (no Foundation `String(format:)` in FoundationEssentials).
func fixed(_ value: Double) -> String {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: VerifyBenchmark CORPUS_DIR [ITERATIONS]") }
let corpus = arguments[1]
let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 200 : 200
let clock = ContinuousClock()
print("| evidence | median ms | p95 ms | min ms | iterations |")
print("|---|---:|---:|---:|---:|")
var medians: [String: [Double]] = [:]
for item in items {
    let evidence = read(corpus + "/" + item.evidence)
    let certificates = item.certificates.map { (name: $0, bytes: read(corpus + "/" + $0)) }
    guard let at = Timestamp(iso8601: item.at) else { fail("bad time \(item.at)") }
    // Everything from bytes: parse the evidence and the certificates, verify signatures, chain, TCB.
    let verify: () throws -> VerificationResult =
        item.kind == "snp"
        ? { try EvidenceVerifier.verifySNP(report: evidence, certificates: certificates, at: at) }
        : { try EvidenceVerifier.verifyTDX(quote: evidence, at: at) }
    do {
        let first = try verify()
        guard first.trusted else { fail("\(item.evidence) does not verify: \(first.failures)") }
        for _ in 0..<5 { _ = try verify() }
        var samples: [Double] = []
        for _ in 0..<iterations {
            let start = clock.now
            _ = try verify()
            samples.append(milliseconds(clock.now - start))
        }
        samples.sort()
        let median = samples[samples.count / 2]
        let p95 = samples[min(samples.count - 1, samples.count * 95 / 100)]
        medians[item.kind, default: []].append(median)
        print(
            "| \(item.evidence) | \(fixed(median)) | \(fixed(p95)) | "
                + "\(fixed(samples[0])) | \(iterations) |")
    } catch {
        fail("\(item.evidence): \(error)")
    }
}
for (kind, values) in medians.sorted(by: { $0.key < $1.key }) {
    let budget = kind == "snp" ? 5.0 : 10.0
    let worst = values.max() ?? 0
    print(
        "\(kind): worst median \(fixed(worst)) ms over \(values.count) items "
            + "(budget \(budget) ms): \(worst < budget ? "within" : "OVER") budget")
}
