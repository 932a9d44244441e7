// SPDX-License-Identifier: Apache-2.0
// AMD Key Distribution Service: a report's VCEK (and the product CRL) by URL, checked, cached on disk.

import AgentBase
import Cryptography
import EvidenceVerification
import HTTPClient
import TEEEvidence

/// Where and how to ask AMD KDS, and where to keep what it answered.
public struct KDSConfiguration: Sendable {
    /// AMD's service.
    public static let defaultURL = "https://kdsintf.amd.com"

    /// The base URL (`https://kdsintf.amd.com` or a mirror/stand-in); paths are appended.
    public var baseURL: String
    /// TLS trust for `baseURL` (system CAs by default).
    public var trust: TLSTrust
    /// The on-disk cache (nil: no cache).
    public var cacheDirectory: String?
    /// Use the cache only; never touch the network.
    public var offline: Bool
    public var connectTimeoutSeconds: Double
    /// The whole request, connection included.
    public var totalTimeoutSeconds: Double
    /// A VCEK is about 1.4 KB and a KDS CRL a few KB: anything beyond this cap is abandoned.
    public var maximumResponseBytes: Int
    /// Told when a checked certificate could not be written to the cache (it is still used: a cache
    /// that cannot be written costs a fetch next time, not this verification).
    public var cacheWarning: (@Sendable (String) -> Void)?
    /// Bounds the network fetches (a broker's, on behalf of unverified evidence); nil: unbounded.
    public var gate: KDSFetchGate?

    public init(
        baseURL: String = KDSConfiguration.defaultURL, trust: TLSTrust = .systemCAs, cacheDirectory: String? = nil,
        offline: Bool = false, connectTimeoutSeconds: Double = 5, totalTimeoutSeconds: Double = 10,
        maximumResponseBytes: Int = 64 * 1024, cacheWarning: (@Sendable (String) -> Void)? = nil,
        gate: KDSFetchGate? = nil
    ) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.trust = trust
        self.cacheDirectory = cacheDirectory
        self.offline = offline
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.totalTimeoutSeconds = totalTimeoutSeconds
        self.maximumResponseBytes = maximumResponseBytes
        self.cacheWarning = cacheWarning
        self.gate = gate
    }
}

/// Fetches the VCEK of an SNP report from AMD KDS (`GET /vcek/v1/{product}/{hwid}?…SPL=…`), or from the
/// cache, and the product's CRL (`/vcek/v1/{product}/crl`).
///
/// Everything KDS or the cache returns is untrusted input: a VCEK is returned (and cached) only when it
/// is signed by AMD's ASK of the product, whose ARK is pinned (``TrustAnchors/amdARK``) — or chains to an
/// explicitly trusted root — and its hwID and SPL extensions are the report's CHIP_ID and REPORTED_TCB.
/// A cached file is checked the same way each time it is read. A stand-in for KDS can therefore deny
/// service but never make a report verify that AMD's own VCEK would not.
///
/// Blocking (libcurl): callers on Swift concurrency or NIO threads run it off their executor.
public struct KDSClient: Sendable {
    public let configuration: KDSConfiguration
    private let transport: HTTPTransport

    public init(configuration: KDSConfiguration) throws(KDSError) {
        let base = configuration.baseURL
        guard base.hasPrefix("https://") else {
            throw KDSError(
                .insecureURL,
                "the KDS URL '\(base)' is not https: certificates would be fetched unprotected "
                    + "(they are verified anyway, but a plain-http KDS is refused)")
        }
        self.configuration = configuration
        self.transport = HTTPTransport(
            trust: configuration.trust, allowInsecureHTTP: false,
            maximumResponseBytes: configuration.maximumResponseBytes)
    }

    // MARK: URLs

    /// The KDS product lines the report may belong to, most likely first: the CPUID of a v3+ report; for
    /// a v2 report, Turin when only the first 8 bytes of CHIP_ID are set, else Milan then Genoa.
    public static func products(for report: SNPReport) -> [String] {
        if let product = report.productName { return [product] }
        if report.version >= 3 { return [] }
        if report.chipID.dropFirst(8).allSatisfy({ $0 == 0 }) { return ["Turin"] }
        return ["Milan", "Genoa"]
    }

    /// The hwID path component: CHIP_ID in lower-case hex, only its first 8 bytes on Turin.
    public static func hardwareID(_ report: SNPReport, product: String) -> String {
        Hex.encode(product == "Turin" ? Array(report.chipID.prefix(8)) : report.chipID)
    }

    /// `{base}/vcek/v1/{product}/{hwid}?[fmcSPL=..&]blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..`, the SPLs of
    /// REPORTED_TCB as two-digit decimals (Trustee's and snpguest's form; Turin adds fmcSPL first).
    public func vcekURL(for report: SNPReport, product: String) -> String {
        let tcb = report.reportedTCB
        func spl(_ name: String, _ value: UInt8) -> String {
            name + "SPL=" + (value < 10 ? "0" : "") + String(value)
        }
        var query: [String] = []
        if product == "Turin" { query.append(spl("fmc", tcb.fmc ?? 0)) }
        query += [spl("bl", tcb.bootloader), spl("tee", tcb.tee), spl("snp", tcb.snp), spl("ucode", tcb.microcode)]
        return configuration.baseURL + "/vcek/v1/\(product)/\(KDSClient.hardwareID(report, product: product))?"
            + query.joined(separator: "&")
    }

    /// `{base}/{vcek|vlek}/v1/{product}/crl`.
    public func crlURL(product: String, kind: AMDCertificates.KeyKind = .vcek) -> String {
        configuration.baseURL + "/\(kind.rawValue)/v1/\(product)/crl"
    }

    // MARK: VCEK

    /// The VCEK of `report`, from the cache or KDS, checked against the report (see the type's
    /// documentation). `extraCertificates`/`extraRoots` are intermediates and roots trusted besides AMD's
    /// (the broker's --cert-dir and --trust-simulator).
    public func vcek(
        for report: SNPReport, extraCertificates: [Certificate] = [], extraRoots: [Certificate] = []
    ) throws(KDSError) -> Certificate {
        switch report.signingKey {
        case .vlek:
            throw KDSError(
                .notFetchable,
                "the report is signed with a VLEK, which AMD KDS gives only to the cloud provider: it comes from "
                    + "the host's certificate table; pass the VLEK with --cert (ccagent) or --cert-dir (ccbroker)")
        case .none:
            throw KDSError(.notFetchable, "the report is not signed (KEY_INFO names no signing key)")
        case .vcek:
            break
        }
        guard !report.chipID.allSatisfy({ $0 == 0 }) else {
            throw KDSError(
                .notFetchable,
                "CHIP_ID is all zeros (the guest policy or the host masks it), so KDS cannot be asked for the "
                    + "VCEK; pass the VCEK with --cert or --cert-dir")
        }
        let products = KDSClient.products(for: report)
        guard !products.isEmpty else {
            throw KDSError(
                .notFetchable,
                "CPUID family \(report.cpuidFamily) model \(report.cpuidModel) is not a product KDS serves "
                    + "(Milan, Genoa, Turin); pass the VCEK with --cert or --cert-dir")
        }
        var firstFailure: KDSError?
        for product in products {
            let url = vcekURL(for: report, product: product)
            do {
                return try certificate(url: url) { der throws(KDSError) in
                    try KDSClient.checkVCEK(
                        der, for: report, extraCertificates: extraCertificates, extraRoots: extraRoots, url: url)
                }
            } catch {
                // A v2 report names no product: a 404 (or, offline, a cache miss) for one line means try the next.
                guard error.code == .status || error.code == .notCached else { throw error }
                if firstFailure == nil { firstFailure = error }
            }
        }
        throw firstFailure ?? KDSError(.notFetchable, "no product line to ask")
    }

    /// Accepts `der` only as the VCEK AMD issued for this report's chip and TCB: it parses, is signed by
    /// an ASK that chains to a pinned AMD ARK (or a given extra root), and its hwID and SPL extensions
    /// match CHIP_ID and REPORTED_TCB. The report's own signature is not required (the certificate is
    /// AMD's either way; verification checks it).
    public static func checkVCEK(
        _ der: [UInt8], for report: SNPReport, extraCertificates: [Certificate] = [], extraRoots: [Certificate] = [],
        url: String? = nil
    ) throws(KDSError) -> Certificate {
        let vcek: Certificate
        do {
            vcek = try Certificate(der: der)
        } catch {
            throw KDSError(
                .invalidResponse, "the body (\(der.count) bytes) is not a DER certificate (truncated or not a VCEK)",
                url: url)
        }
        let intermediates = extraCertificates.filter { $0 !== vcek && $0.publicKey.ecCoordinates?.curve != .p384 }
        let input: SNPVerification
        do {
            input = try SNPVerification(
                report: report, certificates: [vcek] + intermediates, extraRoots: extraRoots,
                shippedCertificates: true, at: .now)
        } catch {
            throw KDSError(.invalidResponse, "the certificate is not a VCEK for this report: \(error)", url: url)
        }
        guard input.leaf === vcek else {
            throw KDSError(.invalidResponse, "the certificate is not a P-384 VCEK", url: url)
        }
        let checks: [any VerificationCheck<SNPVerification>] = [
            SNPChainCheck(), SNPReportedTCBCheck(), SNPChipIDCheck(),
        ]
        let result = checks.evaluate(input)
        guard result.failures.isEmpty else {
            throw KDSError(
                .invalidResponse,
                "the certificate is not AMD's VCEK for this report ("
                    + result.failures.map(\.message).joined(separator: "; ") + "); nothing was cached",
                url: url)
        }
        return vcek
    }

    // MARK: CRL

    /// The CRL of `product` (signed by its ARK, pinned; or by a given extra root), from the cache while
    /// it is current, else from KDS.
    public func revocationList(
        product: String, kind: AMDCertificates.KeyKind = .vcek, extraRoots: [Certificate] = []
    ) throws(KDSError) -> CertificateRevocationList {
        let url = crlURL(product: product, kind: kind)
        let roots = (AMDCertificates.chain(product: product, kind: kind).map { [$0.root] } ?? []) + extraRoots
        return try certificate(url: url, acceptStale: configuration.offline) { bytes throws(KDSError) in
            guard let crl = try? CertificateRevocationList.parse(pemOrDER: bytes) else {
                throw KDSError(.invalidResponse, "the body (\(bytes.count) bytes) is not a CRL", url: url)
            }
            guard roots.contains(where: { crl.isSignature(issuedBy: $0) }) else {
                throw KDSError(
                    .invalidResponse, "the CRL is not signed by AMD's ARK-\(product); nothing was cached", url: url)
            }
            return crl
        } isStale: { crl in
            crl.nextUpdate.map { $0 < .now } ?? false
        }
    }

    // MARK: Fetch and cache

    /// The cache file of `url`: SHA-256 of the URL, so any URL maps to one safe file name.
    public func cachePath(for url: String) -> String? {
        configuration.cacheDirectory.map {
            $0 + "/" + Hex.encode(DigestAlgorithm.sha256.hash(Array(url.utf8))) + ".der"
        }
    }

    private func certificate<T>(
        url: String, acceptStale: Bool = true, check: ([UInt8]) throws(KDSError) -> T,
        isStale: (T) -> Bool = { _ in false }
    ) throws(KDSError) -> T {
        var cacheProblem: String?
        if let path = cachePath(for: url),
            let bytes = try? FileIO.read(path: path, limit: configuration.maximumResponseBytes)
        {
            do {
                let value = try check(bytes)
                if acceptStale || !isStale(value) { return value }
                cacheProblem = "the cached copy '\(path)' is out of date"
            } catch {
                cacheProblem = "the cached copy '\(path)' is not usable (\(error.message))"
            }
        }
        guard !configuration.offline else {
            throw KDSError(
                .notCached,
                (cacheProblem ?? "nothing cached in '\(configuration.cacheDirectory ?? "(no cache)")'")
                    + " and --kds-offline forbids fetching; run once online, or pass the certificate (--cert, "
                    + "--cert-dir)",
                url: url)
        }
        try configuration.gate?.enter(url)
        var failed = true
        defer { configuration.gate?.leave(url, failed: failed) }
        let response: HTTPResponse
        do {
            response = try transport.perform(
                method: "GET", url: url, headers: ["Accept: */*"],
                connectTimeout: configuration.connectTimeoutSeconds, totalTimeout: configuration.totalTimeoutSeconds)
        } catch {
            throw KDSError(transport: error, configuration: configuration)
        }
        guard response.status == 200 else {
            throw KDSError(
                .status,
                "answered HTTP \(response.status)"
                    + (response.status == 404
                        ? " (no such certificate: check the product and that the report is a real one)"
                        : response.status == 429 ? " (rate limited: try again later; the cache avoids repeats)" : ""),
                url: url)
        }
        let value = try check(response.body)
        failed = false
        if let path = cachePath(for: url), let directory = configuration.cacheDirectory {
            do {
                try FileIO.makeDirectory(directory, mode: 0o755)
                try FileIO.writeAtomically(path: path, mode: 0o644, bytes: response.body)
            } catch {
                configuration.cacheWarning?(
                    "failed to cache the certificate from '\(url)' in '\(directory)': \(error); check --kds-cache "
                        + "(it was checked and is used; the next verification fetches it again)")
            }
        }
        return value
    }
}

extension KDSError {
    /// A transport failure with a hint about the KDS options.
    init(transport error: HTTPError, configuration: KDSConfiguration) {
        switch error.code {
        case .timeout:
            self.init(
                .timeout,
                "\(error.message): no answer within \(configuration.totalTimeoutSeconds) s; check the network, "
                    + "or use --kds-offline with a filled cache", url: error.url)
        case .tooLarge:
            self.init(.tooLarge, error.message + "; this is not a certificate", url: error.url)
        case .tls:
            self.init(
                .tls, "\(error.message); the server's certificate does not match --kds-ca (or the system CAs)",
                url: error.url)
        case .insecureURL:
            self.init(.insecureURL, error.message, url: error.url)
        default:
            self.init(
                .unreachable,
                "\(error.message); check --kds-url and the network, or use --kds-offline with a filled cache",
                url: error.url)
        }
    }
}
