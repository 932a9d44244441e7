// SPDX-License-Identifier: Apache-2.0
// Azure's instance metadata service (IMDS): the VCEK for SNP, a TD quote for TDX. Its answers are untrusted.

import AgentBase
import CanonicalJSON
import HTTPClient

#if canImport(Glibc)
import Glibc
#endif

/// Why an IMDS request gave nothing usable. The message names the URL and what to check.
public struct IMDSError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No answer (connection refused, timeout, too large).
        case unreachable
        /// An HTTP error status.
        case status
        /// An answer that is not what IMDS returns.
        case malformed
        /// The configured URL is not one IMDS can have.
        case badURL = "bad-url"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The VCEK and AMD chain IMDS returns (`{"vcekCert": PEM, "certificateChain": PEM, …}`), PEM text.
public struct IMDSCertificates: Sendable, Equatable {
    public var vcek: String
    public var chain: String

    public init(vcek: String, chain: String) {
        self.vcek = vcek
        self.chain = chain
    }
}

/// A client for the two IMDS endpoints Azure CVM attestation uses (az-cvm-vtpm's `imds` modules):
/// `GET /metadata/THIM/amd/certification` and `POST /acc/tdquote`, both with `Metadata: true`.
///
/// IMDS is plain http on a link-local address that only the VM reaches; nothing it returns is trusted:
/// the VCEK must chain to AMD and sign the SNP report, the TD quote must chain to Intel and repeat the
/// HCL report's TDREPORT, which the verifier checks. Here answers are bounded and strictly parsed.
public struct IMDSClient: Sendable {
    /// Azure's IMDS address.
    public static let defaultBaseURL = "http://169.254.169.254"
    /// The largest answer read (a VCEK + chain is ~5 KiB, a TD quote ~5 KiB base64url).
    public static let maximumResponseBytes = 64 * 1024

    public let baseURL: String
    public var connectTimeout: Double
    public var totalTimeout: Double

    /// The base URL from `CCAGENT_IMDS_URL` when set (tests: a stand-in on 127.0.0.1), else Azure's.
    public static var configuredBaseURL: String {
        getenv("CCAGENT_IMDS_URL").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? defaultBaseURL
    }

    /// `baseURL` must be plain http on IMDS's link-local address or on the loopback (a stand-in).
    public init(
        baseURL: String = IMDSClient.configuredBaseURL, connectTimeout: Double = 3, totalTimeout: Double = 10
    )
        throws(IMDSError)
    {
        // Parsed as the requests parse it (HTTPURL: no credentials, a valid port), then the host compared.
        let allowedHosts = ["169.254.169.254", "127.0.0.1", "localhost", "::1"]
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        guard let url = try? HTTPURL(trimmed, allowHTTP: true), !url.isTLS, allowedHosts.contains(url.host) else {
            throw IMDSError(
                .badURL,
                "IMDS URL '\(baseURL)' is not http://169.254.169.254 or a loopback stand-in (CCAGENT_IMDS_URL)")
        }
        self.baseURL = trimmed
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
    }

    private func request(_ method: String, _ path: String, body: [UInt8]? = nil) throws(IMDSError) -> [UInt8] {
        let url = baseURL + path
        let transport = HTTPTransport(allowInsecureHTTP: true, maximumResponseBytes: IMDSClient.maximumResponseBytes)
        var headers = ["Metadata: true", "Accept: application/json"]
        if body != nil { headers.append("Content-Type: application/json") }
        let response: HTTPResponse
        do {
            response = try transport.perform(
                method: method, url: url, headers: headers, body: body, connectTimeout: connectTimeout,
                totalTimeout: totalTimeout)
        } catch {
            throw IMDSError(
                .unreachable,
                "IMDS \(url) did not answer: \(error.message) (is this an Azure confidential VM? set CCAGENT_IMDS_URL for a stand-in)"
            )
        }
        guard response.status == 200 else {
            throw IMDSError(.status, "IMDS \(url) answered HTTP \(response.status)")
        }
        return response.body
    }

    private static func object(_ body: [UInt8], _ url: String) throws(IMDSError) -> JSONValue {
        let json: JSONValue
        do {
            json = try JSONValue.parse(body, maxDepth: 4)
        } catch {
            throw IMDSError(.malformed, "IMDS \(url) answered something that is not JSON: \(error)")
        }
        guard case .object = json else {
            throw IMDSError(.malformed, "IMDS \(url) answered JSON that is not an object")
        }
        return json
    }

    /// The VCEK and the AMD chain (ASK, ARK) for this VM's chip and reported TCB.
    public func certificates() throws(IMDSError) -> IMDSCertificates {
        let path = "/metadata/THIM/amd/certification"
        let json = try IMDSClient.object(try request("GET", path), baseURL + path)
        func pem(_ key: String) throws(IMDSError) -> String {
            guard let text = json[key]?.stringValue else {
                throw IMDSError(.malformed, "IMDS \(baseURL + path): no string '\(key)' in the answer")
            }
            guard text.containsText("-----BEGIN CERTIFICATE-----"), text.containsText("-----END CERTIFICATE-----")
            else {
                throw IMDSError(.malformed, "IMDS \(baseURL + path): '\(key)' is not a PEM certificate")
            }
            return text
        }
        return IMDSCertificates(vcek: try pem("vcekCert"), chain: try pem("certificateChain"))
    }

    /// The TD quote the host's quoting enclave makes for `tdReport` (1024 bytes from the HCL report).
    public func tdQuote(for tdReport: [UInt8]) throws(IMDSError) -> [UInt8] {
        let path = "/acc/tdquote"
        let body = Array("{\"report\":\"\(Base64URL.encode(tdReport))\"}".utf8)
        let json = try IMDSClient.object(try request("POST", path, body: body), baseURL + path)
        guard let text = json["quote"]?.stringValue else {
            throw IMDSError(.malformed, "IMDS \(baseURL + path): no string 'quote' in the answer")
        }
        guard let quote = Base64URL.decode(text), !quote.isEmpty else {
            throw IMDSError(.malformed, "IMDS \(baseURL + path): 'quote' is not base64url")
        }
        return quote
    }
}

/// Base64url (RFC 4648 §5) without padding, as az-cvm-vtpm's `base64_url` writes it; decoding accepts padding.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * UInt32(offset)) }
            for position in 0..<(chunk.count + 1) {
                out.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var input = Array(text.utf8)
        while input.last == UInt8(ascii: "=") { input.removeLast() }
        guard input.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in input {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 6 | UInt32(value)) & 0xFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
