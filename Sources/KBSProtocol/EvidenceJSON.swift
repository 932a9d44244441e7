// SPDX-License-Identifier: Apache-2.0
// `tee-evidence.primary_evidence` shapes: SNP (the report as Trustee's serde JSON), TDX (base64 quote), sample.

import CanonicalJSON
import TEEEvidence

/// Encodes and decodes the evidence JSON Trustee's verifiers expect.
public enum EvidenceJSON {
    // MARK: SNP

    /// `{"attestation_report":{…serde JSON of the report, byte arrays as integers…},"cert_chain":[…]|null}`.
    public static func snp(report: SNPReport, certificates: SNPCertificateTable?) -> JSONValue {
        func bytes(_ value: [UInt8]) -> JSONValue { .array(value.map { .integer($0) }) }
        func tcb(_ raw: UInt64) -> JSONValue {
            let value = TCBVersion(raw: raw, turinEncoding: report.usesTurinTCBEncoding)
            return .object([
                ("fmc", value.fmc.map { .integer($0) } ?? .null), ("bootloader", .integer(value.bootloader)),
                ("tee", .integer(value.tee)), ("snp", .integer(value.snp)), ("microcode", .integer(value.microcode)),
            ])
        }
        func version(_ major: UInt8, _ minor: UInt8, _ build: UInt8) -> JSONValue {
            .object([("major", .integer(major)), ("minor", .integer(minor)), ("build", .integer(build))])
        }
        let hasCPUID = report.version >= 3
        let hasMitigation = report.version >= 5
        let object: JSONValue = .object([
            ("version", .integer(report.version)), ("guest_svn", .integer(report.guestSVN)),
            ("policy", .integer(report.policy.raw)), ("family_id", bytes(report.familyID)),
            ("image_id", bytes(report.imageID)), ("vmpl", .integer(report.vmpl)),
            ("sig_algo", .integer(report.signatureAlgorithm)), ("current_tcb", tcb(report.currentTCBRaw)),
            ("plat_info", .integer(report.platformInfo.raw)), ("key_info", .integer(report.keyInfo)),
            ("report_data", bytes(report.reportData)), ("measurement", bytes(report.measurement)),
            ("host_data", bytes(report.hostData)), ("id_key_digest", bytes(report.idKeyDigest)),
            ("author_key_digest", bytes(report.authorKeyDigest)), ("report_id", bytes(report.reportID)),
            ("report_id_ma", bytes(report.reportIDMA)), ("reported_tcb", tcb(report.reportedTCBRaw)),
            ("cpuid_fam_id", hasCPUID ? .integer(report.cpuidFamily) : .null),
            ("cpuid_mod_id", hasCPUID ? .integer(report.cpuidModel) : .null),
            ("cpuid_step", hasCPUID ? .integer(report.cpuidStepping) : .null),
            ("chip_id", bytes(report.chipID)), ("committed_tcb", tcb(report.committedTCBRaw)),
            ("current", version(report.currentMajor, report.currentMinor, report.currentBuild)),
            ("committed", version(report.committedMajor, report.committedMinor, report.committedBuild)),
            ("launch_tcb", tcb(report.launchTCBRaw)),
            ("launch_mit_vector", hasMitigation ? .integer(report.launchMitigationVector) : .null),
            ("current_mit_vector", hasMitigation ? .integer(report.currentMitigationVector) : .null),
            ("signature", .object([("r", bytes(report.signatureR)), ("s", bytes(report.signatureS))])),
        ])
        var chain: JSONValue = .null
        if let certificates, !certificates.entries.isEmpty {
            chain = .array(
                certificates.entries.compactMap { entry in
                    let type: String
                    switch entry.kind {
                    case .vcek: type = "VCEK"
                    case .vlek: type = "VLEK"
                    case .ask: type = "ASK"
                    case .ark: type = "ARK"
                    case .crl: type = "CRL"
                    default: return nil
                    }
                    return .object([("cert_type", .string(type)), ("data", bytes(entry.der))])
                })
        }
        return .object([("attestation_report", object), ("cert_chain", chain)])
    }

    /// Rebuilds the 1184 report bytes and the certificates from the SNP evidence JSON.
    public static func parseSNP(_ json: JSONValue) throws -> (report: SNPReport, certificates: [(String, [UInt8])]) {
        func fail(_ what: String) -> KBSError { KBSError(.evidence, "SNP evidence: \(what)") }
        guard let r = json["attestation_report"] else { throw fail("no 'attestation_report'") }
        func int<T: FixedWidthInteger>(_ key: String, _: T.Type) throws -> T {
            guard let value = r[key]?.uint64Value, let typed = T(exactly: value) else { throw fail("bad '\(key)'") }
            return typed
        }
        func optionalByte(_ key: String) throws -> UInt8? {
            guard let value = r[key], !value.isNull else { return nil }
            guard let byte = value.byteValue else { throw fail("bad '\(key)'") }
            return byte
        }
        func bytes(_ value: JSONValue?, _ count: Int, _ key: String) throws -> [UInt8] {
            guard let array = value?.arrayValue, array.count == count else {
                throw fail("'\(key)' must be \(count) bytes")
            }
            let result = array.compactMap(\.byteValue)
            guard result.count == count else { throw fail("'\(key)' holds non-byte values") }
            return result
        }
        let family = try optionalByte("cpuid_fam_id")
        let turin = family == 0x1A
        func tcb(_ key: String) throws -> UInt64 {
            guard let t = r[key], let bl = t["bootloader"]?.byteValue, let tee = t["tee"]?.byteValue,
                let snp = t["snp"]?.byteValue, let ucode = t["microcode"]?.byteValue
            else { throw fail("bad '\(key)'") }
            let fmc = t["fmc"]?.byteValue
            return TCBVersion(bootloader: bl, tee: tee, snp: snp, microcode: ucode, fmc: turin ? (fmc ?? 0) : nil).raw
        }
        func firmware(_ key: String) throws -> (UInt8, UInt8, UInt8) {
            guard let v = r[key], let major = v["major"]?.byteValue, let minor = v["minor"]?.byteValue,
                let build = v["build"]?.byteValue
            else { throw fail("bad '\(key)'") }
            return (build, minor, major)
        }
        var report = SNPReport(
            version: try int("version", UInt32.self), guestSVN: try int("guest_svn", UInt32.self),
            policy: try int("policy", UInt64.self), familyID: try bytes(r["family_id"], 16, "family_id"),
            imageID: try bytes(r["image_id"], 16, "image_id"), vmpl: try int("vmpl", UInt32.self),
            currentTCB: try tcb("current_tcb"), platformInfo: try int("plat_info", UInt64.self),
            keyInfo: try int("key_info", UInt32.self), reportData: try bytes(r["report_data"], 64, "report_data"),
            measurement: try bytes(r["measurement"], 48, "measurement"),
            hostData: try bytes(r["host_data"], 32, "host_data"),
            idKeyDigest: try bytes(r["id_key_digest"], 48, "id_key_digest"),
            authorKeyDigest: try bytes(r["author_key_digest"], 48, "author_key_digest"),
            reportID: try bytes(r["report_id"], 32, "report_id"),
            reportIDMA: try bytes(r["report_id_ma"], 32, "report_id_ma"), reportedTCB: try tcb("reported_tcb"),
            cpuid: (family ?? 0, try optionalByte("cpuid_mod_id") ?? 0, try optionalByte("cpuid_step") ?? 0),
            chipID: try bytes(r["chip_id"], 64, "chip_id"), committedTCB: try tcb("committed_tcb"),
            currentFirmware: try firmware("current"), committedFirmware: try firmware("committed"),
            launchTCB: try tcb("launch_tcb"), launchMitigationVector: r["launch_mit_vector"]?.uint64Value ?? 0,
            currentMitigationVector: r["current_mit_vector"]?.uint64Value ?? 0)
        report.signatureAlgorithm = try int("sig_algo", UInt32.self)
        guard let signature = r["signature"] else { throw fail("no 'signature'") }
        let sigR = try bytes(signature["r"], 72, "signature.r")
        let sigS = try bytes(signature["s"], 72, "signature.s")
        report.signatureR = sigR
        report.signatureS = sigS
        let parsed: SNPReport
        do {
            parsed = try SNPReport(parsing: report.serialize())
        } catch {
            throw fail("the report does not re-encode: \(error)")
        }
        var certificates: [(String, [UInt8])] = []
        if let chain = json["cert_chain"], !chain.isNull {
            guard let entries = chain.arrayValue, entries.count <= 8 else { throw fail("bad 'cert_chain'") }
            for entry in entries {
                guard let data = entry["data"]?.arrayValue, data.count <= 16384 else {
                    throw fail("bad 'cert_chain' entry")
                }
                let der = data.compactMap(\.byteValue)
                guard der.count == data.count else { throw fail("bad 'cert_chain' data") }
                // virtee/sev's CertType in serde's shape: "VCEK", "ASK", ..., "Empty", or {"OTHER": "<uuid>"}
                // for a GUID it does not know (e.g. the host's extra platform info). Those are skipped:
                // they certify nothing a verifier uses.
                switch entry["cert_type"] {
                case .string("Empty"):
                    continue
                case .string(let type):
                    certificates.append((type, der))
                case .object(let members) where members.count == 1 && members[0].0 == "OTHER":
                    guard case .string(let uuid) = members[0].1, uuid.utf8.count == 36 else {
                        throw fail("bad 'cert_chain' entry: OTHER needs a UUID")
                    }
                    continue
                default:
                    throw fail("bad 'cert_chain' entry")
                }
            }
        }
        return (parsed, certificates)
    }

    // MARK: TDX

    /// `{"cc_eventlog": null|"<base64>", "quote": "<base64>"}`.
    public static func tdx(quote: [UInt8], eventLog: [UInt8]?) -> JSONValue {
        .object([
            ("cc_eventlog", eventLog.map { .string(Base64.encode($0)) } ?? .null),
            ("quote", .string(Base64.encode(quote))),
        ])
    }

    public static func parseTDX(_ json: JSONValue) throws -> (quote: [UInt8], eventLog: [UInt8]?) {
        guard let text = json["quote"]?.stringValue, let quote = Base64.decode(text) else {
            throw KBSError(.evidence, "TDX evidence: no base64 'quote'")
        }
        var log: [UInt8]?
        if let value = json["cc_eventlog"], !value.isNull {
            guard let text = value.stringValue, let bytes = Base64.decode(text) else {
                throw KBSError(.evidence, "TDX evidence: 'cc_eventlog' is not base64")
            }
            log = bytes
        }
        return (quote, log)
    }

    // MARK: sample

    /// `{"svn":"1","report_data":"<base64 of the raw digest>"}`.
    public static func sample(digest: [UInt8]) -> JSONValue {
        .object([("svn", .string("1")), ("report_data", .string(Base64.encode(digest)))])
    }

    public static func parseSample(_ json: JSONValue) throws -> [UInt8] {
        guard let text = json["report_data"]?.stringValue, let digest = Base64.decode(text) else {
            throw KBSError(.evidence, "sample evidence: no base64 'report_data'")
        }
        return digest
    }
}
