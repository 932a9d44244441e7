// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the agent-side decoding of the broker's KBS messages (challenge, error body, the
// attestation messages, tee-pubkey JWKs) and of the resource response: the flattened JWE, its header
// checks, ECDH-ES+A256KW (P-256, P-521) or RSA-OAEP-256 unwrap and A256GCM decryption, with fixed test
// keys so that mutated but well-formed JWEs reach the cryptography.
//
// Properties: every decoded message re-encodes to one that decodes to the same value; base64 decoding
// is canonical; a JWE that decrypts carries the plaintext the seeds were sealed with (nothing the
// fuzzer made up is authentic), opens with at most one of the keys, its header names that key's
// algorithm, and it stops opening when a bit of its IV, ciphertext or tag, or its protected header,
// changes. (The agent parses the flattened JSON serialization only, as Trustee sends it: there is no
// compact-serialization parser to fuzz.)
//
// `CCAGENT_FUZZ_SEEDS=DIR ./fuzz-kbs` writes seed messages produced by this code (JWEs sealed to the
// fixed keys, every message kind) into DIR and exits.

import CanonicalJSON
import Cryptography
import KBSProtocol
import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

/// The plaintext every JWE seed is sealed with (that of the kbs-protocol.md §4 vector).
let sealedPlaintext = Array("my-luks-passphrase".utf8)

/// The kbs-protocol.md §4 test vector, sealed to the §2.1 P-256 key.
let protocolVectorJWE = """
    {"protected":"eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00iLCJlcGsiOnsiY3J2IjoiUC0yNTYiLCJrdHkiOiJFQyIsIngiOiJOQ1dKeTl1RHBoelBwbkpaSXYySUpsRFlUZnJTblpJV3Fab1hLUTFMeFlzIiwieSI6IjBjRHdjZGVKTTN3V0RVcm93cVVPcGRyQTRVVWllNm1RNlhLLUwxc1ZrUFUifX0","encrypted_key":"etkf4b5MFJqlSM8WQPeMWI9-gr96T18u4tkDcKtbQZWT2CSeTnx3cQ","iv":"HQ5FdPhS3i4b5JKU","ciphertext":"h6coaLFE5_FuIxzLDiMnr8GR","tag":"zzAnzdqnY3ARkuc0BJ7yTw"}
    """

/// Fixed test keys (never used anywhere but in this fuzzer and its seeds).
enum FixedKeys {
    static func pair(pem: String, type: TEEKeyType) -> TEEKeyPair {
        guard let key = try? PrivateKey(pem: SecretBytes(copying: Array(pem.utf8))),
            let pair = try? TEEKeyPair(privateKey: key, type: type)
        else { fatalError("fixed \(type) test key did not load") }
        return pair
    }

    /// kbs-protocol.md §2.1: P-256 scalar a9cc…0d90 as SEC1 DER (OpenSSL derives the public point).
    static let p256: TEEKeyPair = {
        let scalar: [UInt8] = [
            0xa9, 0xcc, 0x69, 0x68, 0x97, 0xfd, 0xe1, 0xd3, 0xc3, 0x35, 0x0d, 0x28, 0x9c, 0x36, 0xd4, 0x37,
            0x34, 0xc4, 0x12, 0x49, 0x7b, 0x3a, 0xa4, 0x50, 0x7d, 0x87, 0x80, 0x48, 0xc4, 0x99, 0x0d, 0x90,
        ]
        let der: [UInt8] =
            [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20] + scalar
            + [0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        return pair(
            pem: "-----BEGIN EC PRIVATE KEY-----\n\(Base64.encode(der))\n-----END EC PRIVATE KEY-----\n", type: .p256)
    }()

    static let p521 = pair(
        pem: """
            -----BEGIN PRIVATE KEY-----
            MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIAZeN9sDvmSsydrhcS
            F6yePziVNwSCGQduQYPiLk9jnmBWwx5BX3JjdnJUlckGzfk0bxYfld5E2w7mQ3Sr
            Salgry2hgYkDgYYABAAQcc2mIv01GDSNv3u11s830/rKAqtKjt1B1fJgdoqR+0bk
            paFiHyuT2jTRKW4FblBc3rwgk98T1NKIUjr4hKNSmQCMqg34i0Wx9l3yvlezY+jr
            eD++SX1FVi/wYmb4xpI/dDSunJdvsol05b3YZqYQ4jrzQmrcl14IAiOuvwSo82F1
            fg==
            -----END PRIVATE KEY-----
            """, type: .p521)

    static let rsa = pair(
        pem: """
            -----BEGIN PRIVATE KEY-----
            MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCemk+KVDVw3UFV
            smNLOwRuJxkNZblUhAf8V3O05Lb60DUMoTPEATURgYEJ5p2AHF9hjoc7wmvI4Ho6
            pERp3k3oOgENuDe7xnaucHpRqL1kqcUWUHV2N7qHA626+N3j66M1orMCo+EDvj3J
            okqG38sF2+6XiHQ//sPHXNep1sinZwD26AKd2xgDZ0xLrQnViqXIuX0m1/jABaDD
            72/MiXw0WIQ2ipNCJofrAEJj2u2Uo+PEbO6NGxTRfbvNK7ZTnhI4UizDY8jkedNP
            ujnrtn2T5iGUh4FO2Q4emFMg5/sM9wDOeeaxTczjCWfWXE+BI8L0rtmvVZOCrfvJ
            kjeAbGWZAgMBAAECggEADIPPTvJXcoZ4R1OCM5zT5qqTIX7WDEM21hntzr0AFfPO
            m9EvN9eDNn8U4uZy+yRB/9Kyp8Eu/B9/xZd8sSs809xFL6308o412IyWOlH++oMi
            7XXVLvTgH73nPDUIXURqEStmG16PEi/gHu79bn3DlBIcq5G1ipncck4d07sCWPh5
            x/67miEW0jhs8NlAQVahiUVTsqoVo6Vyx/HbIuV9ep2T3/AeH/fyBglCRnGpnzkl
            Mg1YSNx4aFHbWqlQNP19JoOb92wsh58LD3pkDlL4CE8Ofan5cSQicGbgJ5XYE17S
            N/fw+bwbpF3xQ9+8iE1T/GeWlB18oj8bmfcfPQjx4QKBgQDf98Og0lEx200Ovwk0
            uxK3oDeZCF/WlSaf6inoCDKGtply1OAuNs/xTC8UIjrtXCDE6HsgAuoSGv/7jLqo
            Ni81pJdRPT8T0KX5+Rw7xlQ70R840hS/C83fsxjCDuDSIwrIwSx9dntuogtHsfMO
            ASv0AzM+KuS3t1yPykdsUPwthQKBgQC1SU5hjewAVCpBUIhzpqbqXijeWBG+rawG
            wVF5JILEgqT4wK4WfoNn9LEnJHym58AOKqlh/Aunr50WIaZ54s2BdQh0mrJsFg9R
            ks7LHzHTGzxTSe7s4Ps6mrFW/w03TwflNbCA8QpneJbhDPZ8eS0ouSK/zT2zYSED
            ydNMWWAaBQKBgQDOBd6BC7cBA9ionfbb+NJI9CrwrRFsFRvIsuEFvrSr00DorwXh
            vS4fq5MLFEncmojSWYEZe1TSft/HCDeUEPPwho1jf9GMaryjbBIasmA9/iqYXDgV
            Xcht5RP7PzB0XSPIdFp2twzoQkvaEcmhslY6Ss9SeqaWkSemZc65xu2S+QKBgHdU
            aJ64b8eLn0DdBOSzpx2Qm3A4In4UDa9oovuN9/HoWTVQh4dRAah1HgM49kBbPkVU
            +agA458ebtV5kv6aN1HmuokepyGUp8K3Ux3LS929CMl+WiJcuaJK3z73pjho8jaD
            T8qgX4vaid5bzQgEL6CltOTx8ZJY9gVrXYXdMvANAoGACc//FC56HDZ+3woC6sUC
            PWTypW/4JmhOX4vFQQg52cBnPp8s10DzhydgrBcocKw/cxubQIeBpFgEMtxiFa6Q
            5pI9OZRfkU1PVevtEbxAG87X2nL8TM7rMwF6x8AuuIV5SeX5WhW5sO6bYzPfSfwo
            bDAcwtB0b+nmC+R4/mLux/w=
            -----END PRIVATE KEY-----
            """, type: .rsa)

    static let all = [p256, p521, rsa]
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKBS(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkBase64(String(decoding: bytes, as: UTF8.self))
    if let info = ErrorInformation(body: bytes) {
        precondition(ErrorInformation(body: info.json.serializedBytes()) == info, "an error body did not round-trip")
    }
    guard let json = try? JSONValue.parse(bytes) else { return 0 }
    if let challenge = try? Challenge(json: json) {
        let again = try? Challenge(
            json: .object([
                ("nonce", .string(challenge.nonce)),
                ("extra-params", .object([("selected-hash-algorithm", .string(challenge.selectedHash.rawValue))])),
            ]))
        precondition(again == challenge, "a challenge did not round-trip")
    }
    if let request = try? AuthRequest(json: json) {
        precondition((try? AuthRequest(json: request.json)) == request, "an auth request did not round-trip")
    }
    if let request = try? AttestationRequest(json: json) {
        precondition(
            (try? AttestationRequest(json: request.json)) == request, "an attestation request did not round-trip")
    }
    for candidate in [json, json["runtime-data"]?["tee-pubkey"], json["epk"]].compactMap({ $0 }) {
        if let jwk = try? TEEPublicJWK(json: candidate) {
            precondition((try? TEEPublicJWK(json: jwk.json)) == jwk, "a tee-pubkey JWK did not round-trip")
        }
    }
    if let jwe = try? JWE(json: json) { checkJWE(jwe, selector: bytes.reduce(0) { $0 &+ Int($1) }) }
    return 0
}

/// Strict base64 has one encoding per byte string: whatever decodes re-encodes to the same text.
func checkBase64(_ text: String) {
    if let decoded = Base64.decodeURL(text) {
        precondition(Base64.encodeURL(decoded) == text, "base64url decoding is not canonical")
    }
    if let decoded = Base64.decode(text) {
        precondition(Base64.encode(decoded) == text, "base64 decoding is not canonical")
    }
}

/// `selector` picks which one-bit change is tried on a JWE that opens (one per execution keeps the rate up;
/// the fuzzer's many variants of each JWE cover them all).
func checkJWE(_ jwe: JWE, selector: Int) {
    guard let reparsed = try? JWE(json: JSONValue.parse(jwe.json.serializedBytes())) else {
        preconditionFailure("an accepted JWE did not re-parse from its own serialization")
    }
    precondition(reparsed == jwe, "the JWE round trip changed it")
    _ = try? jwe.header()
    var opened = 0
    for key in FixedKeys.all {
        guard let plaintext = try? key.decrypt(jwe) else { continue }
        opened += 1
        precondition(plaintext.unsafeCopyToArray() == sealedPlaintext, "a JWE the seeds never sealed decrypted")
        let header = try? jwe.header()
        precondition(
            header?["enc"]?.stringValue == "A256GCM" && header?["alg"]?.stringValue == key.type.jweAlgorithm,
            "a JWE decrypted although its header names another algorithm")
        let changes = tamperings(of: jwe)
        precondition((try? key.decrypt(changes[selector % changes.count])) == nil, "a tampered JWE still decrypted")
    }
    precondition(opened <= 1, "one JWE opened with two different keys")
}

/// One-bit changes of each authenticated part.
func tamperings(of jwe: JWE) -> [JWE] {
    var result: [JWE] = []
    for (index, bit) in [(0, 1), (11, 0x80)] {
        var copy = jwe
        copy.iv[index] ^= UInt8(bit)
        result.append(copy)
    }
    for index in [0, 15] {
        var copy = jwe
        copy.tag[index] ^= 0x01
        result.append(copy)
    }
    if !jwe.ciphertext.isEmpty {
        var copy = jwe
        copy.ciphertext[jwe.ciphertext.count / 2] ^= 0x20
        result.append(copy)
    }
    // The AAD is the protected string itself: append a member to the header and re-encode it.
    if var header = try? jwe.header(), case .object(var members) = header {
        members.append(("zip", .string("DEF")))
        header = .object(members)
        var copy = jwe
        copy.protected = Base64.encodeURL(header.serializedBytes())
        result.append(copy)
    }
    return result
}

// LeakSanitizer cannot follow Swift's tagged enum payload pointers, so the long-lived fixed keys (their JWK
// JSON) are created once, before fuzzing, with leak tracking off; every allocation an input makes is
// still checked.
@_silgen_name("__lsan_disable") func lsanDisable()
@_silgen_name("__lsan_enable") func lsanEnable()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    lsanDisable()
    _ = FixedKeys.all
    lsanEnable()
    guard let directory = getenv("CCAGENT_FUZZ_SEEDS").map({ String(cString: $0) }) else { return 0 }
    do {
        try writeSeeds(to: directory)
    } catch {
        fatalError("failed to write the seeds: \(error)")
    }
    // _exit: the files are written and closed; an exit-time leak check would misread the tagged pointers of
    // the Swift strings still in this frame.
    _exit(0)
}

func writeSeeds(to directory: String) throws {
    func write(_ name: String, _ bytes: [UInt8]) {
        let fd = open(directory + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(directory)/\(name)")
        precondition(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count)
        close(fd)
    }
    let secret = SecretBytes(copying: sealedPlaintext)
    write("jwe-protocol-vector.json", Array(protocolVectorJWE.utf8))
    for key in FixedKeys.all {
        let jwe = try JWE.encrypt(secret, to: key.publicJWK)
        let opened = try key.decrypt(jwe).unsafeCopyToArray()
        precondition(opened == sealedPlaintext, "a seed JWE does not open")
        write("jwe-\(key.type).json", jwe.json.serializedBytes())
        write("jwk-\(key.type).json", key.publicJWK.json.serializedBytes())
    }
    let nonce = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    write("challenge.json", Challenge(nonce: nonce).json.serializedBytes())
    write(
        "challenge-sha512.json",
        Array(#"{"nonce":"\#(nonce)","extra-params":{"selected-hash-algorithm":"SHA512"}}"#.utf8))
    write(
        "error-policy-deny.json",
        ErrorInformation(variant: "PolicyDeny", detail: "Access denied by policy").json.serializedBytes())
    write("auth-request.json", AuthRequest(tee: "snp").json.serializedBytes())
    let runtime = RuntimeData(nonce: nonce, teePubKey: FixedKeys.p256.publicJWK)
    let evidence = EvidenceJSON.sample(digest: runtime.digest(.sha384))
    write(
        "attestation-request.json",
        AttestationRequest(runtimeData: runtime, primaryEvidence: evidence).json.serializedBytes())
    write("attestation-response.json", Array(#"{"token":"eyJhbGciOiJFUzI1NiJ9.eyJqd2siOnt9fQ.c2ln"}"#.utf8))
}
