// SPDX-License-Identifier: Apache-2.0
// Intel PCS collateral (TDX TCB info, QE identity): signatures and the TCB status of a quote.

import AgentBase
import CanonicalJSON
import Cryptography
import TEEEvidence

/// TCB info and QE identity as Intel PCS serves them, with the signing chain.
public struct TDXCollateral: Sendable {
    struct Signed {
        var value: JSONValue
        var signedBytes: [UInt8]
        var signature: [UInt8]
    }

    let tcbInfos: [Signed]
    let qeIdentity: Signed?
    let signingChain: [Certificate]
    let revocationLists: [CertificateRevocationList]

    /// Loads `*tcbinfo*.json`, `*qeidentity*.json`, the TCB signing chain (`*tcb-signing*.pem`) and
    /// CRLs (`*crl*.der`/`.pem`/`.crl`: PCK Platform/Processor CA, Root CA) from a directory.
    public init(directory: String) throws {
        var infos: [Signed] = []
        var identity: Signed?
        var chain: [Certificate] = []
        var crls: [CertificateRevocationList] = []
        for name in try FileIO.listDirectory(directory) {
            let path = directory + "/" + name
            let lower = name.lowercased()
            if lower.hasSuffix(".json") && lower.containsText("tcbinfo") {
                infos.append(try TDXCollateral.signed(path: path, key: "tcbInfo"))
            } else if lower.hasSuffix(".json") && lower.containsText("qeidentity") {
                identity = try TDXCollateral.signed(path: path, key: "enclaveIdentity")
            } else if lower.hasSuffix(".pem") && lower.containsText("tcb-signing") {
                chain = try Certificate.parse(pemOrDER: FileIO.read(path: path, limit: TDXCollateral.fileLimit))
            } else if lower.containsText("crl") && [".der", ".pem", ".crl"].contains(where: lower.hasSuffix) {
                crls.append(
                    try CertificateRevocationList.parse(
                        pemOrDER: FileIO.read(path: path, limit: TDXCollateral.fileLimit)))
            }
        }
        revocationLists = crls
        tcbInfos = infos
        qeIdentity = identity
        signingChain = chain
    }

    /// The largest collateral file read (PCS documents and CRLs are kilobytes; a bigger file is not one).
    static let fileLimit = 16 << 20

    /// PCS signs the exact bytes of the value of `key` in the file: `{"<key>":<value>,"signature":"…"}`.
    static func signed(path: String, key: String) throws -> Signed {
        let bytes = try FileIO.read(path: path, limit: fileLimit)
        let prefix = Array("{\"\(key)\":".utf8)
        let marker = Array(",\"signature\":\"".utf8)
        guard bytes.starts(with: prefix), let markerIndex = lastIndex(of: marker, in: bytes) else {
            throw EvidenceError(.malformed, "collateral '\(path)' is not a PCS '\(key)' document")
        }
        let signedBytes = Array(bytes[prefix.count..<markerIndex])
        let json = try JSONValue.parse(bytes)
        guard let value = json[key], let signatureHex = json["signature"]?.stringValue,
            let signature = Hex.decode(signatureHex), signature.count == 64
        else { throw EvidenceError(.malformed, "collateral '\(path)' has no '\(key)' or signature") }
        return Signed(value: value, signedBytes: signedBytes, signature: signature)
    }

    static func lastIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var index = bytes.count - pattern.count
        while index >= 0 {
            if Array(bytes[index..<index + pattern.count]) == pattern { return index }
            index -= 1
        }
        return nil
    }

    /// Checks the collateral's signatures and computes the quote's TCB status (the CRLs are checked by
    /// ``RevocationCheck``).
    func evaluate(quote: TDXQuote, pck: Certificate, at time: Timestamp) -> CheckResult {
        // The signer chains to the pinned Intel root.
        guard let signer = signingChain.first(where: { !$0.isSignature(issuedBy: $0) }),
            let root = signingChain.first(where: { $0.isSignature(issuedBy: $0) }),
            signer.isSignature(issuedBy: root), Hex.encode(root.spkiSHA256) == TrustAnchors.intelSGXRootCA
        else {
            return .fail(
                .missingCollateralSigningChain,
                "collateral: no Intel TCB signing chain (intel-tcb-signing-chain.pem) rooted at the Intel SGX Root CA")
        }
        func verified(_ document: Signed) -> Bool {
            signer.publicKey.verifyECDSA(
                .sha256, r: Array(document.signature[0..<32]), s: Array(document.signature[32...]),
                data: document.signedBytes)
        }
        guard let sgx = PCKExtension(pck) else {
            return .fail(
                .unreadablePCKExtension, "collateral: the PCK certificate has no readable SGX extension (FMSPC, TCB)")
        }
        var result = CheckResult()
        // QE identity.
        if let identity = qeIdentity {
            if !verified(identity) {
                result.fail(.collateralSignatureMismatch, "collateral signature: QE identity")
            } else {
                let value = identity.value
                let qe = quote.qeReport
                if value["mrsigner"]?.stringValue?.lowercased() != Hex.encode(qe.mrSigner)
                    || value["isvprodid"]?.uint64Value != UInt64(qe.isvProdID)
                {
                    result.fail(
                        .qeIdentityMismatch,
                        "qe identity: the quoting enclave is not Intel's TD_QE (MRSIGNER/ISVPRODID)")
                } else {
                    let levels = value["tcbLevels"]?.arrayValue ?? []
                    let level = levels.first { ($0["tcb"]?["isvsvn"]?.uint64Value ?? .max) <= UInt64(qe.isvSVN) }
                    let status = level?["tcbStatus"]?.stringValue ?? "no matching level"
                    if status == "UpToDate" {
                        result.passed.append("QE identity: UpToDate")
                    } else {
                        result.fail(.qeTCBNotUpToDate, "qe tcb status: \(status)")
                    }
                    if let nextUpdate = value["nextUpdate"]?.stringValue,
                        let date = Timestamp(iso8601: nextUpdate), date < time
                    {
                        result.fail(
                            .collateralExpired,
                            "collateral: QE identity expired at \(nextUpdate) (refresh it from Intel PCS)")
                    }
                }
            }
        }
        // TCB info for this platform.
        guard
            let info = tcbInfos.first(where: {
                $0.value["fmspc"]?.stringValue?.lowercased() == Hex.encode(sgx.fmspc)
            })
        else {
            result.fail(.missingTCBInfo, "collateral: no TCB info for FMSPC \(Hex.encode(sgx.fmspc))")
            return result
        }
        guard verified(info) else {
            result.fail(.collateralSignatureMismatch, "collateral signature: TCB info")
            return result
        }
        result.passed.append("collateral signatures")
        let teeSVN = quote.body.teeTCBSVN
        let hasModuleIdentities = info.value["tdxModuleIdentities"] != nil
        let level = (info.value["tcbLevels"]?.arrayValue ?? []).first { level in
            guard let tcb = level["tcb"], let sgxComponents = tcb["sgxtcbcomponents"]?.arrayValue,
                let tdxComponents = tcb["tdxtcbcomponents"]?.arrayValue, let pcesvn = tcb["pcesvn"]?.uint64Value
            else { return false }
            let sgxOK = zip(sgx.components, sgxComponents).allSatisfy { UInt64($0) >= ($1["svn"]?.uint64Value ?? .max) }
            let tdxOK = zip(teeSVN, tdxComponents).enumerated().allSatisfy { index, pair in
                (hasModuleIdentities && index < 2) || UInt64(pair.0) >= (pair.1["svn"]?.uint64Value ?? .max)
            }
            return sgxOK && tdxOK && UInt64(sgx.pceSVN) >= pcesvn
        }
        let status = level?["tcbStatus"]?.stringValue ?? "no matching TCB level"
        if status == "UpToDate" {
            result.passed.append("TCB status: UpToDate")
        } else {
            result.fail(.platformTCBNotUpToDate, "tcb status: \(status)")
        }
        result += Self.evaluateModule(info: info.value, body: quote.body)
        if let nextUpdate = info.value["nextUpdate"]?.stringValue, let date = Timestamp(iso8601: nextUpdate),
            date < time
        {
            result.fail(.collateralExpired, "collateral: TCB info expired at \(nextUpdate) (refresh it from Intel PCS)")
        }
        return result
    }
}

extension TDXCollateral {
    /// The TDX module: MRSIGNERSEAM and masked SEAMATTRIBUTES against `tdxModule` (or the matching
    /// `tdxModuleIdentities` entry), and for TDX 1.5 TCB info the module's own TCB level: the identity
    /// "TDX_<TEE_TCB_SVN[1] as 2 hex digits>", first level whose isvsvn ≤ TEE_TCB_SVN[0].
    static func evaluateModule(info: JSONValue, body: TDReportBody) -> CheckResult {
        let svn = body.teeTCBSVN
        guard svn.count >= 2 else { return .fail(.moduleSVNUnreadable, "tdx module: TEE_TCB_SVN is too short") }
        func matches(_ identity: JSONValue) -> Bool {
            guard let signer = identity["mrsigner"]?.stringValue.flatMap(Hex.decode),
                let attributes = identity["attributes"]?.stringValue.flatMap(Hex.decode),
                let mask = identity["attributesMask"]?.stringValue.flatMap(Hex.decode),
                attributes.count == body.seamAttributes.count, mask.count == body.seamAttributes.count
            else { return false }
            let masked = zip(body.seamAttributes, mask).map { $0 & $1 }
            return signer == body.mrSignerSeam && masked == attributes
        }
        guard let identities = info["tdxModuleIdentities"]?.arrayValue else {
            guard let module = info["tdxModule"] else { return CheckResult() }
            return matches(module)
                ? .pass("TDX module identity")
                : .fail(
                    .moduleIdentityMismatch,
                    "tdx module: MRSIGNERSEAM/SEAMATTRIBUTES do not match the TCB info's tdxModule")
        }
        let digits = Array("0123456789ABCDEF")
        let id = "TDX_" + String([digits[Int(svn[1] >> 4)], digits[Int(svn[1] & 0x0F)]])
        guard let identity = identities.first(where: { $0["id"]?.stringValue == id }) else {
            return .fail(.missingModuleIdentity, "tdx module: the TCB info has no identity '\(id)' for this module")
        }
        guard matches(identity) else {
            return .fail(.moduleIdentityMismatch, "tdx module: MRSIGNERSEAM/SEAMATTRIBUTES do not match '\(id)'")
        }
        let level = (identity["tcbLevels"]?.arrayValue ?? []).first {
            ($0["tcb"]?["isvsvn"]?.uint64Value ?? .max) <= UInt64(svn[0])
        }
        let status = level?["tcbStatus"]?.stringValue ?? "no matching level"
        return status == "UpToDate"
            ? .pass("TDX module \(id) TCB status: UpToDate")
            : .fail(.moduleTCBNotUpToDate, "tdx module tcb status: \(id) \(status)")
    }
}

/// The SGX extension (1.2.840.113741.1.13.1) of a PCK certificate: FMSPC, TCB component SVNs, PCESVN.
struct PCKExtension {
    var fmspc: [UInt8] = []
    var components: [Int] = Array(repeating: 0, count: 16)
    var pceSVN = 0

    init?(_ certificate: Certificate) {
        guard let raw = certificate.extensionValue(oid: "1.2.840.113741.1.13.1"),
            let outer = DERNode.sequence(raw)?.first, let entries = outer.children
        else { return nil }
        for entry in entries {
            guard let pair = entry.children, pair.count == 2, let oid = pair[0].oid else { continue }
            switch oid {
            case "1.2.840.113741.1.13.1.4": fmspc = pair[1].content
            case "1.2.840.113741.1.13.1.2":
                for component in pair[1].children ?? [] {
                    guard let item = component.children, item.count == 2, let id = item[0].oid,
                        let number = Int(id.split(separator: ".").last ?? ""), let value = item[1].integer
                    else { continue }
                    if (1...16).contains(number) { components[number - 1] = value }
                    if number == 17 { pceSVN = value }
                }
            default: continue
            }
        }
        guard fmspc.count == 6 else { return nil }
    }
}
