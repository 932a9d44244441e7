// SPDX-License-Identifier: Apache-2.0
// The ccbroker command line: a reference Trustee-KBS-compatible key broker.

import ArgumentParser
import Broker
import Cryptography
import EvidenceVerification
import Foundation
import KBSProtocol
import Logging
import SecureMemory

@main
struct CCBroker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccbroker",
        abstract: "Reference key broker speaking the Trustee KBS protocol (RCAR 0.4.0).",
        version: "0.1.0",
        subcommands: [Serve.self, Resource.self]
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve /kbs/v0 (auth, attest, resource).")

    @Option(help: "HOST:PORT to listen on (port 0 picks a free port, printed when ready).")
    var listen: String = "127.0.0.1:8080"
    @Option(help: "Directory of resources (<repo>/<type>/<tag> files).")
    var resources: String
    @Option(help: "Appraisal policy file (JSON; see docs/broker.md). Required unless --allow-any-measurement.")
    var policy: String?
    @Flag(
        help: ArgumentHelp(
            "Serve without a policy: release every resource to any genuine, non-debug guest (testing only).",
            discussion: "The choice is logged at start and named in every audit line."))
    var allowAnyMeasurement = false
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for HTTPS.")
    var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for HTTPS.")
    var tlsKey: String?
    @Flag(help: "Accept the 'sample' TEE (testing only: it proves nothing).")
    var allowSample = false
    @Option(name: .customLong("trust-simulator"), help: "PEM roots of a ccagent simulator to trust (repeatable).")
    var trustSimulator: [String] = []
    @Option(name: .customLong("cert-dir"), help: "Directory of extra certificates (VCEK/VLEK/ASK/ARK, PEM or DER).")
    var certificateDirectory: String?
    @Option(
        name: .customLong("tdx-collateral"),
        help: "Directory of Intel PCS collateral (TCB info, QE identity, signing chain).")
    var tdxCollateral: String?
    @OptionGroup var kds: KDSOptions

    func validate() throws {
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard parsedListen != nil else { throw ValidationError("--listen must be HOST:PORT, got '\(listen)'") }
        guard policy != nil || allowAnyMeasurement else {
            throw ValidationError(
                "no appraisal policy: without one, every genuine guest anywhere would be released every resource. "
                    + "Pass --policy FILE with the measurements you trust (docs/broker.md), or --allow-any-measurement "
                    + "to accept that on purpose (testing only)")
        }
        guard policy == nil || !allowAnyMeasurement else {
            throw ValidationError("--policy and --allow-any-measurement exclude each other")
        }
    }

    var parsedListen: (String, Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        return (String(listen[..<colon]), port)
    }

    func run() async throws {
        var logger = Logger(label: "ccbroker")
        logger.logLevel = .info
        let roots = try trustSimulator.flatMap {
            try Certificate.parse(pemOrDER: Array(Data(contentsOf: URL(fileURLWithPath: $0))))
        }
        var extra: [Certificate] = []
        if let certificateDirectory {
            for name in try FileManager.default.contentsOfDirectory(atPath: certificateDirectory).sorted() {
                let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: certificateDirectory + "/" + name)))
                extra += (try? Certificate.parse(pemOrDER: bytes)) ?? []
            }
        }
        var configuration = BrokerConfiguration(
            resources: ResourceStore(directory: resources), allowSample: allowSample, trustedSimulatorRoots: roots,
            certificates: extra)
        if let policy { configuration.policy = try AppraisalPolicy(contentsOf: policy) }
        configuration.allowAnyMeasurement = allowAnyMeasurement
        if let tdxCollateral { configuration.tdxCollateral = try TDXCollateral(directory: tdxCollateral) }
        configuration.kds = try kds.client()
        configuration.kdsRevocation = kds.revocation
        let broker = try KBSBroker(configuration: configuration)
        guard let (host, port) = parsedListen else { throw ValidationError("bad --listen") }
        if allowAnyMeasurement {
            FileHandle.standardError.write(
                Data(
                    ("ccbroker: WARNING: --allow-any-measurement: no appraisal policy; any genuine, non-debug guest "
                        + "is released every resource\n").utf8))
        }
        if !roots.isEmpty {
            FileHandle.standardError.write(
                Data("ccbroker: trusting \(roots.count) SIMULATED root certificate(s)\n".utf8))
        }
        let tls = tlsCertificate.flatMap { certificate in tlsKey.map { (certificate: certificate, key: $0) } }
        try await BrokerServer.run(broker: broker, host: host, port: port, tls: tls, logger: logger) { url in
            FileHandle.standardOutput.write(Data("ccbroker: listening on \(url)\n".utf8))
        }
    }
}

struct Resource: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the resources the broker serves.", subcommands: [Put.self, Get.self, List.self, Remove.self])

    struct Common: ParsableArguments {
        @Option(help: "Directory of resources.")
        var resources: String
    }

    static func path(_ text: String) throws -> ResourcePath {
        guard let path = ResourcePath(text) else {
            throw ValidationError("'\(text)' is not REPO/TYPE/TAG (letters, digits, '_', '-', '.'; no '..')")
        }
        return path
    }

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a resource from a file or stdin (0600).")
        @OptionGroup var common: Common
        @Argument(help: "REPO/TYPE/TAG") var resource: String
        @Option(name: .customLong("in"), help: "Read the value from this file (default: stdin).")
        var input: String?

        func run() throws {
            let path = try Resource.path(resource)
            var bytes = Array(
                try input.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
                    ?? FileHandle.standardInput.readDataToEndOfFile())
            let value = SecretBytes(consuming: &bytes)
            guard value.count > 0, value.count <= 1 << 20 else {
                throw ValidationError("the value must be 1 byte to 1 MiB")
            }
            try ResourceStore(directory: common.resources).put(path, value: value)
            print("stored \(path) (\(value.count) bytes)")
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a resource to a file (0600) or stdout.")
        @OptionGroup var common: Common
        @Argument(help: "REPO/TYPE/TAG") var resource: String
        @Option(name: .customLong("out"), help: "Write to this file (0600); '-' for stdout when it is not a terminal.")
        var output: String = "-"

        func run() throws {
            let path = try Resource.path(resource)
            guard let value = try ResourceStore(directory: common.resources).get(path) else {
                throw ValidationError("no resource \(path) in \(common.resources)")
            }
            var bytes = value.unsafeCopyToArray()
            defer { bytes.withUnsafeMutableBytes { SecretBytes.zeroize($0) } }
            if output == "-" {
                guard isatty(1) == 0 else {
                    throw ValidationError("refusing to print a secret to a terminal; use --out FILE")
                }
                FileHandle.standardOutput.write(Data(bytes))
            } else {
                guard
                    FileManager.default.createFile(
                        atPath: output, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
                else { throw ValidationError("failed to write '\(output)'") }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored resources.")
        @OptionGroup var common: Common
        func run() throws {
            for path in ResourceStore(directory: common.resources).list() { print(path) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a resource.")
        @OptionGroup var common: Common
        @Argument(help: "REPO/TYPE/TAG") var resource: String
        func run() throws {
            let path = try Resource.path(resource)
            guard try ResourceStore(directory: common.resources).remove(path) else {
                throw ValidationError("no resource \(path) in \(common.resources)")
            }
            print("removed \(path)")
        }
    }
}
