// SPDX-License-Identifier: Apache-2.0
// A stand-in for AMD KDS (scripts/testing/stub_kds.py) over TLS on 127.0.0.1, with its own test CA.

#if canImport(Glibc)
import Glibc
#endif

/// The corpus reports signed with a VCEK, with the product KDS files them under and their VCEK.
public enum CorpusVCEK {
    public struct Entry: Sendable, CustomStringConvertible {
        public var product: String
        public var report: String
        public var vcek: String
        public var description: String { report }
    }

    /// Every VCEK-signed report of the corpus (Milan v2/v5, Genoa, Genoa-class family 19h model A0h, Turin).
    public static let all: [Entry] = [
        Entry(product: "Milan", report: "snp/milan-v2-gosevguest-report.bin", vcek: "snp/milan-v2-gosevguest-vcek.der"),
        Entry(
            product: "Milan", report: "snp/milan-v2-azure-snp-report.bin", vcek: "snp/milan-v2-azure-vcek-ask-ark.pem"),
        Entry(product: "Milan", report: "snp/milan-v5-gcp-report.bin", vcek: "snp/milan-v5-gcp-vcek.pem"),
        Entry(
            product: "Milan", report: "snp/milan-v5-gcp-vmpl1-x25519-bound-report.bin",
            vcek: "snp/milan-v5-gcp-vcek.pem"
        ),
        Entry(product: "Genoa", report: "snp/genoa-v3-report.bin", vcek: "snp/genoa-v3-vcek.pem"),
        Entry(
            product: "Genoa", report: "snp/genoa-fam19-modA0-v3-report.bin", vcek: "snp/genoa-fam19-modA0-v3-vcek.der"),
        Entry(product: "Turin", report: "snp/turin-v5-report.bin", vcek: "snp/turin-v5-vcek.pem"),
    ]

    /// A time inside every corpus VCEK's validity.
    public static let time = "2026-06-01T00:00:00Z"
}

/// The KDS stand-in in one mode: `normal`, `wrong-vcek`, `truncated`, `oversized`, `hang`, `status-500`.
/// It answers only the exact AMD URL of each served report (it decodes the reports itself) and logs every
/// request as "STATUS PATH[ note]".
public final class StubKDS: @unchecked Sendable {
    public let directory: String
    public let pki: TestPKI
    public let url: String
    public var logPath: String { directory + "/requests.log" }
    private let process: BackgroundProcess

    /// `crls`: product → DER file served at `/vcek/v1/{product}/crl`.
    public init(
        mode: String = "normal", serving entries: [CorpusVCEK.Entry] = CorpusVCEK.all, crls: [String: String] = [:]
    ) throws {
        directory = try Fixtures.temporaryDirectory("ccagent-stubkds")
        pki = try TestPKI(directory: directory)
        var arguments = [
            "/usr/bin/env", "python3", Fixtures.repositoryRoot + "/scripts/testing/stub_kds.py", "--cert",
            pki.serverCertificate, "--key", pki.serverKey, "--mode", mode, "--log", directory + "/requests.log",
            // Another chip's VCEK, for wrong-vcek.
            "--wrong", Fixtures.testVectors + "/snp/milan-v2-gosevguest-vcek.der",
        ]
        for entry in entries {
            arguments += [
                "--serve",
                "\(entry.product),\(Fixtures.testVectors)/\(entry.report),\(Fixtures.testVectors)/\(entry.vcek)",
            ]
        }
        for (product, file) in crls.sorted(by: { $0.key < $1.key }) { arguments += ["--crl", "\(product),\(file)"] }
        process = try BackgroundProcess(arguments, logPath: directory + "/stub.log")
        let log = try process.waitFor("listening on https://", seconds: 60)
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) else {
            throw FixtureError(message: log)
        }
        url = String(line.dropFirst("listening on ".count))
    }

    /// The requests so far, one "STATUS PATH[ note]" line each.
    public var requests: [String] {
        ((try? Fixtures.readFile(logPath)) ?? []).split(separator: UInt8(ascii: "\n")).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    public func stop() { process.stop() }

    deinit {
        process.stop()
        Fixtures.removeTree(directory)
    }
}
