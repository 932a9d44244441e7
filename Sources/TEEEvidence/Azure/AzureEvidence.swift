// SPDX-License-Identifier: Apache-2.0
// The `az-snp-vtpm` / `az-tdx-vtpm` evidence JSON (versions 0, 1, 2, as Trustee's verifier reads them).

import AgentBase
import CanonicalJSON

/// The vTPM quote of Azure evidence: the TPMS_ATTEST message, its signature, and the PCR values it covers.
public struct AzureTPMQuote: Sendable, Equatable {
    /// The signature as sent: the raw RSASSA-PKCS1-v1_5 signature (upstream), or a marshalled TPMT_SIGNATURE.
    public var signature: [UInt8]
    public var message: TPMQuoteInfo
    /// The SHA-256 PCR values, PCR 0 first.
    public var pcrs: [[UInt8]]
}

/// Azure confidential-VM evidence (Trustee TEEs `az-snp-vtpm` and `az-tdx-vtpm`). The shapes, all read
/// here (unknown members are ignored, as serde does):
///
/// - v0, SNP: `{"quote":{"signature":[u8],"message":[u8],"pcrs":[[u8;32]]},"report":[u8],"vcek":"<PEM>"}`
/// - v0, TDX: `{"tpm_quote":{…same…},"hcl_report":[u8],"td_quote":[u8]}`
/// - v1/v2: `{"version":1|2,"tpm_quote":{"signature":"<hex>","message":"<hex>","pcrs":["<hex>"]},`
///   `"hcl_report":"<base64url>","vcek":"<base64url DER>"}` (SNP) or `…,"td_quote":"<base64url>"}` (TDX).
///
/// Version 2 also puts the report data into the HCL variable data's `user-data`.
public struct AzureEvidence: Sendable, Equatable {
    /// The Trustee TEE name.
    public enum TEE: String, Sendable, CaseIterable {
        case snp = "az-snp-vtpm"
        case tdx = "az-tdx-vtpm"
    }

    /// The largest evidence document accepted.
    public static let maxSize = 256 * 1024

    public var tee: TEE
    /// 0 (no `version` member), 1 or 2.
    public var version: Int
    public var tpmQuote: AzureTPMQuote
    public var hclReport: HCLReport
    /// SNP: the VCEK as sent (PEM text in v0, DER in v1/v2).
    public var vcek: [UInt8]?
    /// TDX: the TD quote, parsed.
    public var tdQuote: TDXQuote?

    /// Parses evidence JSON text; `tee` when the caller knows it (the broker's session), else from the
    /// HCL report's type. A TEE that disagrees with the HCL report is an error.
    public init(parsing bytes: [UInt8], tee: TEE? = nil) throws(EvidenceError) {
        guard bytes.count <= AzureEvidence.maxSize else {
            throw EvidenceError(
                .malformed, "failed to read Azure evidence: \(bytes.count) bytes (at most \(AzureEvidence.maxSize))")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes, maxDepth: 8)
        } catch {
            throw EvidenceError(.malformed, "failed to read Azure evidence: \(error)")
        }
        try self.init(json: json, tee: tee)
    }

    public init(json: JSONValue, tee expectedTEE: TEE? = nil) throws(EvidenceError) {
        func fail(_ what: String) -> EvidenceError {
            EvidenceError(.malformed, "failed to read Azure evidence: \(what)")
        }
        guard case .object = json else { throw fail("it is not a JSON object") }
        let version: Int
        if let value = json["version"] {
            guard let number = value.uint64Value, number == 1 || number == 2 else {
                throw EvidenceError(
                    .unsupportedVersion, "failed to read Azure evidence: 'version' must be 1 or 2 (or absent for v0)")
            }
            version = Int(number)
        } else {
            version = 0
        }
        self.version = version
        let legacy = version == 0
        // v0 SNP used "quote"/"report"; v0 TDX and v1+ use "tpm_quote"/"hcl_report".
        let quoteKey = legacy && json["quote"] != nil ? "quote" : "tpm_quote"
        let reportKey = legacy && json["report"] != nil ? "report" : "hcl_report"
        guard let quote = json[quoteKey] else { throw fail("no '\(quoteKey)'") }
        let signature = try AzureEvidence.bytes(quote["signature"], legacy: legacy, max: 1024, "\(quoteKey).signature")
        let message = try AzureEvidence.bytes(quote["message"], legacy: legacy, max: 2048, "\(quoteKey).message")
        guard let pcrList = quote["pcrs"]?.arrayValue, pcrList.count <= 64 else {
            throw fail("'\(quoteKey).pcrs' must be a list of at most 64 PCR values")
        }
        var pcrs: [[UInt8]] = []
        for (index, value) in pcrList.enumerated() {
            let pcr = try AzureEvidence.bytes(value, legacy: legacy, max: 32, "\(quoteKey).pcrs[\(index)]")
            guard pcr.count == 32 else { throw fail("'\(quoteKey).pcrs[\(index)]' is not 32 bytes (SHA-256)") }
            pcrs.append(pcr)
        }
        tpmQuote = AzureTPMQuote(signature: signature, message: try TPMQuoteInfo(parsing: message), pcrs: pcrs)
        hclReport = try HCLReport(
            parsing: AzureEvidence.bytes(json[reportKey], legacy: legacy, max: 16 * 1024, reportKey, base64: true))
        let tee: TEE = hclReport.reportType == .snp ? .snp : .tdx
        if let expectedTEE, expectedTEE != tee {
            throw EvidenceError(
                .unknownFormat,
                "failed to read Azure evidence: the HCL report holds a \(tee == .snp ? "SNP" : "TDX") report, "
                    + "not the one of '\(expectedTEE.rawValue)'")
        }
        self.tee = tee
        switch tee {
        case .snp:
            guard let vcek = json["vcek"] else { throw fail("no 'vcek' (az-snp-vtpm evidence carries the VCEK)") }
            if legacy {
                guard let pem = vcek.stringValue, pem.utf8.count <= 16 * 1024 else {
                    throw fail("'vcek' must be a PEM string of at most 16 KiB")
                }
                self.vcek = Array(pem.utf8)
            } else {
                self.vcek = try AzureEvidence.bytes(vcek, legacy: false, max: 16 * 1024, "vcek", base64: true)
            }
            tdQuote = nil
        case .tdx:
            let quote = try AzureEvidence.bytes(
                json["td_quote"], legacy: legacy, max: 64 * 1024, "td_quote", base64: true)
            tdQuote = try TDXQuote(parsing: quote)
            vcek = nil
        }
    }

    /// A byte string: a JSON list of integers 0-255 in v0; hex (or base64url with `base64`) in v1/v2.
    private static func bytes(
        _ value: JSONValue?, legacy: Bool, max: Int, _ key: String, base64: Bool = false
    ) throws(EvidenceError) -> [UInt8] {
        func fail(_ what: String) -> EvidenceError {
            EvidenceError(.malformed, "failed to read Azure evidence: '\(key)' \(what)")
        }
        guard let value else { throw fail("is missing") }
        if legacy {
            guard let array = value.arrayValue else { throw fail("must be a list of bytes (evidence v0)") }
            guard array.count <= max else { throw fail("holds \(array.count) bytes (at most \(max))") }
            let result = array.compactMap(\.byteValue)
            guard result.count == array.count else { throw fail("holds values that are not bytes") }
            return result
        }
        guard let text = value.stringValue else { throw fail("must be a \(base64 ? "base64url" : "hex") string") }
        guard text.utf8.count <= 2 * max + 4 else { throw fail("is longer than \(max) bytes") }
        guard let decoded = base64 ? AzureBase64.decode(text) : Hex.decode(text) else {
            throw fail("is not \(base64 ? "base64url" : "hex")")
        }
        guard decoded.count <= max else { throw fail("holds \(decoded.count) bytes (at most \(max))") }
        return decoded
    }
}

/// Base64 with the URL-safe alphabet (RFC 4648 §5), padding optional: serde_with's `Base64<UrlSafe>` and JWK
/// members. Non-canonical trailing bits are refused, so one text has one decoding.
enum AzureBase64 {
    static func decode(_ text: String) -> [UInt8]? {
        var input = Array(text.utf8)
        if input.count % 4 == 0 {
            var padding = 0
            while padding < 2, input.last == UInt8(ascii: "=") {
                input.removeLast()
                padding += 1
            }
        }
        guard input.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for character in input {
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = (buffer << 6 | value) & 0xFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
