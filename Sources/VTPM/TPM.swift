// SPDX-License-Identifier: Apache-2.0
// A TPM reached through tpm2-tss (ESYS over a TCTI): the only file that calls into libtss2.

import CTSS2

#if canImport(Glibc)
import Glibc
#endif

/// ESYS resource handles (tss2_esys.h defines them as macros Swift does not import).
enum ESYSHandle {
    static let none: ESYS_TR = 0xFFF
    static let password: ESYS_TR = 0x0FF
    static let owner: ESYS_TR = 0x101
    static let pcr0: ESYS_TR = 0
}

/// A TPM opened through a TCTI. Not thread-safe: one flow uses one TPM.
public final class TPM: TPMCommands {
    /// `device:/dev/tpmrm0` (the kernel's resource manager), as upstream's attesters use.
    public static let defaultTCTI = "device:/dev/tpmrm0"

    /// The TCTI to use: `CCAGENT_TCTI` when set (tests: `swtpm:host=127.0.0.1,port=N`), else the default.
    public static var configuredTCTI: String {
        getenv("CCAGENT_TCTI").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? defaultTCTI
    }

    private let library: TSSLibrary
    private var tcti: OpaquePointer?
    private var context: OpaquePointer?
    public let tctiName: String

    /// Opens `tcti` (loading libtss2 on first use).
    public init(tcti: String = TPM.configuredTCTI) throws(VTPMError) {
        library = try TSSLibrary.shared.get()
        tctiName = tcti
        var tctiContext: OpaquePointer?
        let rc = library.tctiInitialize(tcti, &tctiContext)
        guard rc == 0, let tctiContext else {
            throw VTPMError(
                .unavailable,
                "cannot open the TPM through TCTI '\(tcti)' (tpm2-tss error \(TPM.hex(rc))): "
                    + "is /dev/tpmrm0 present and readable (root, or group tss)? Set CCAGENT_TCTI to use another TPM",
                returnCode: rc)
        }
        self.tcti = tctiContext
        var esys: OpaquePointer?
        let initRC = library.initialize(&esys, tctiContext, nil)
        guard initRC == 0, let esys else {
            library.tctiFinalize(&self.tcti)
            throw VTPMError(
                .unavailable, "cannot start an ESYS context on '\(tcti)' (\(TPM.hex(initRC)))", returnCode: initRC)
        }
        context = esys
    }

    deinit {
        if context != nil { library.finalize(&context) }
        if tcti != nil { library.tctiFinalize(&tcti) }
    }

    static func hex(_ rc: UInt32) -> String { "0x" + String(rc, radix: 16) }

    private func check(_ rc: TSS2_RC, _ what: String) throws(VTPMError) {
        guard rc == 0 else {
            throw VTPMError(.commandFailed, "\(what) failed: TPM/TSS return code \(TPM.hex(rc))", returnCode: rc)
        }
    }

    /// An ESYS handle for a TPM handle (NV index or persistent object); nil when the TPM has no such handle.
    private func resource(_ handle: UInt32, _ what: String) throws(VTPMError) -> ESYS_TR? {
        var object: ESYS_TR = ESYSHandle.none
        let rc = library.trFromTPMPublic(context, handle, ESYSHandle.none, ESYSHandle.none, ESYSHandle.none, &object)
        if rc != 0 {
            let error = VTPMError(
                .commandFailed, "\(what): looking up handle 0x\(String(handle, radix: 16)) failed (\(TPM.hex(rc)))",
                returnCode: rc)
            if error.isHandleAbsent { return nil }
            throw error
        }
        return object
    }

    private func close(_ object: ESYS_TR) {
        var handle = object
        _ = library.trClose(context, &handle)
    }

    private func required(_ handle: UInt32, _ what: String) throws(VTPMError) -> ESYS_TR {
        guard let object = try resource(handle, what) else {
            throw VTPMError(
                .unavailable, "\(what): the TPM has no handle 0x\(String(handle, radix: 16))", returnCode: nil)
        }
        return object
    }

    public func nvReadPublic(index: UInt32) throws(VTPMError) -> (size: Int, attributes: UInt32)? {
        guard let object = try resource(index, "TPM2_NV_ReadPublic") else { return nil }
        defer { close(object) }
        var info: UnsafeMutablePointer<TPM2B_NV_PUBLIC>?
        try check(
            library.nvReadPublic(context, object, ESYSHandle.none, ESYSHandle.none, ESYSHandle.none, &info, nil),
            "TPM2_NV_ReadPublic")
        guard let info else { throw VTPMError(.badAnswer, "TPM2_NV_ReadPublic returned nothing") }
        defer { library.free(info) }
        return (Int(info.pointee.nvPublic.dataSize), info.pointee.nvPublic.attributes)
    }

    public func nvDefineSpace(index: UInt32, size: Int, attributes: UInt32) throws(VTPMError) {
        guard size > 0, size <= Int(UInt16.max) else {
            throw VTPMError(.invalidArgument, "NV index size \(size) is out of range")
        }
        var info = TPM2B_NV_PUBLIC()
        info.nvPublic.nvIndex = index
        info.nvPublic.nameAlg = 0x000B
        info.nvPublic.attributes = attributes
        info.nvPublic.dataSize = UInt16(size)
        var auth = TPM2B_AUTH()
        var object: ESYS_TR = ESYSHandle.none
        try check(
            library.nvDefineSpace(
                context, ESYSHandle.owner, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none, &auth, &info, &object
            ), "TPM2_NV_DefineSpace of 0x\(String(index, radix: 16))")
        close(object)
    }

    public func nvUndefineSpace(index: UInt32) throws(VTPMError) {
        let object = try required(index, "TPM2_NV_UndefineSpace")
        try check(
            library.nvUndefineSpace(
                context, ESYSHandle.owner, object, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none),
            "TPM2_NV_UndefineSpace of 0x\(String(index, radix: 16))")
    }

    public func nvWrite(index: UInt32, data: [UInt8], offset: Int) throws(VTPMError) {
        let object = try required(index, "TPM2_NV_Write")
        defer { close(object) }
        var buffer = TPM2B_MAX_NV_BUFFER()
        guard data.count <= MemoryLayout.size(ofValue: buffer.buffer), offset <= Int(UInt16.max) else {
            throw VTPMError(.invalidArgument, "TPM2_NV_Write of \(data.count) bytes at \(offset) is too large")
        }
        buffer.size = UInt16(data.count)
        withUnsafeMutableBytes(of: &buffer.buffer) { $0.copyBytes(from: data) }
        try check(
            library.nvWrite(
                context, ESYSHandle.owner, object, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none, &buffer,
                UInt16(offset)), "TPM2_NV_Write of 0x\(String(index, radix: 16))")
    }

    public func nvRead(index: UInt32, size: Int, offset: Int) throws(VTPMError) -> [UInt8] {
        guard size > 0, size <= Int(UInt16.max), offset <= Int(UInt16.max) else {
            throw VTPMError(.invalidArgument, "TPM2_NV_Read of \(size) bytes at \(offset) is out of range")
        }
        let object = try required(index, "TPM2_NV_Read")
        defer { close(object) }
        var data: UnsafeMutablePointer<TPM2B_MAX_NV_BUFFER>?
        try check(
            library.nvRead(
                context, ESYSHandle.owner, object, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none,
                UInt16(size), UInt16(offset), &data), "TPM2_NV_Read of 0x\(String(index, radix: 16)) at \(offset)")
        guard let data else { throw VTPMError(.badAnswer, "TPM2_NV_Read returned nothing") }
        defer { library.free(data) }
        let count = Int(data.pointee.size)
        return withUnsafeBytes(of: data.pointee.buffer) { Array($0.prefix(count)) }
    }

    public func maxNVBuffer() throws(VTPMError) -> Int {
        var more: TPMI_YES_NO = 0
        var data: UnsafeMutablePointer<TPMS_CAPABILITY_DATA>?
        // TPM2_CAP_TPM_PROPERTIES (6), TPM2_PT_NV_BUFFER_MAX (0x100 + 44).
        try check(
            library.getCapability(
                context, ESYSHandle.none, ESYSHandle.none, ESYSHandle.none, 6, 0x12C, 1, &more, &data),
            "TPM2_GetCapability(TPM_PT_NV_BUFFER_MAX)")
        guard let data else { throw VTPMError(.badAnswer, "TPM2_GetCapability returned nothing") }
        defer { library.free(data) }
        let properties = data.pointee.data.tpmProperties
        guard properties.count >= 1, properties.tpmProperty.0.property == 0x12C else {
            throw VTPMError(.badAnswer, "TPM2_GetCapability did not return TPM_PT_NV_BUFFER_MAX")
        }
        return Int(properties.tpmProperty.0.value)
    }

    /// A TPML_PCR_SELECTION of `pcrs` in the SHA-256 bank.
    private static func selection(_ pcrs: [Int]) -> TPML_PCR_SELECTION {
        var list = TPML_PCR_SELECTION()
        list.count = 1
        list.pcrSelections.0.hash = 0x000B
        list.pcrSelections.0.sizeofSelect = 3
        withUnsafeMutableBytes(of: &list.pcrSelections.0.pcrSelect) { bitmap in
            for pcr in pcrs where pcr >= 0 && pcr < 24 { bitmap[pcr / 8] |= UInt8(1 << (pcr % 8)) }
        }
        return list
    }

    public func quote(keyHandle: UInt32, qualifyingData: [UInt8], pcrs: [Int]) throws(VTPMError) -> RawQuote {
        let key = try required(keyHandle, "TPM2_Quote (attestation key)")
        defer { close(key) }
        var data = TPM2B_DATA()
        guard qualifyingData.count <= MemoryLayout.size(ofValue: data.buffer) else {
            throw VTPMError(.invalidArgument, "qualifying data of \(qualifyingData.count) bytes is too large")
        }
        data.size = UInt16(qualifyingData.count)
        withUnsafeMutableBytes(of: &data.buffer) { $0.copyBytes(from: qualifyingData) }
        var scheme = TPMT_SIG_SCHEME()
        scheme.scheme = 0x0010  // TPM_ALG_NULL: the key's own scheme (RSASSA-SHA256 on Azure)
        var selection = TPM.selection(pcrs)
        var attest: UnsafeMutablePointer<TPM2B_ATTEST>?
        var signature: UnsafeMutablePointer<TPMT_SIGNATURE>?
        try check(
            library.quote(
                context, key, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none, &data, &scheme, &selection,
                &attest, &signature), "TPM2_Quote")
        defer {
            library.free(attest)
            library.free(signature)
        }
        guard let attest, let signature else { throw VTPMError(.badAnswer, "TPM2_Quote returned nothing") }
        let attestBytes = withUnsafeBytes(of: attest.pointee.attestationData) {
            Array($0.prefix(Int(attest.pointee.size)))
        }
        let rsa = signature.pointee.signature.rsassa
        let signatureBytes = withUnsafeBytes(of: rsa.sig.buffer) { Array($0.prefix(Int(rsa.sig.size))) }
        return RawQuote(
            attest: attestBytes, signatureAlgorithm: signature.pointee.sigAlg, hashAlgorithm: rsa.hash,
            signature: signatureBytes)
    }

    public func pcrRead(pcrs: [Int]) throws(VTPMError) -> [(index: Int, value: [UInt8])] {
        var selection = TPM.selection(pcrs)
        var counter: UInt32 = 0
        var selected: UnsafeMutablePointer<TPML_PCR_SELECTION>?
        var digests: UnsafeMutablePointer<TPML_DIGEST>?
        try check(
            library.pcrRead(
                context, ESYSHandle.none, ESYSHandle.none, ESYSHandle.none, &selection, &counter, &selected, &digests),
            "TPM2_PCR_Read")
        defer {
            library.free(selected)
            library.free(digests)
        }
        guard let selected, let digests else { throw VTPMError(.badAnswer, "TPM2_PCR_Read returned nothing") }
        // The indices the TPM read, in order, from its SHA-256 selection.
        var indices: [Int] = []
        let count = min(Int(selected.pointee.count), 16)
        withUnsafeBytes(of: selected.pointee.pcrSelections) { raw in
            for item in raw.bindMemory(to: TPMS_PCR_SELECTION.self).prefix(count) where item.hash == 0x000B {
                let size = min(Int(item.sizeofSelect), 4)
                withUnsafeBytes(of: item.pcrSelect) { bitmap in
                    for byte in 0..<size {
                        for bit in 0..<8 where bitmap[byte] >> bit & 1 == 1 { indices.append(byte * 8 + bit) }
                    }
                }
            }
        }
        let valueCount = min(Int(digests.pointee.count), 8)
        let values: [[UInt8]] = withUnsafeBytes(of: digests.pointee.digests) { raw in
            raw.bindMemory(to: TPM2B_DIGEST.self).prefix(valueCount).map { digest in
                withUnsafeBytes(of: digest.buffer) { Array($0.prefix(min(Int(digest.size), 64))) }
            }
        }
        guard values.count == indices.count else {
            throw VTPMError(
                .badAnswer, "TPM2_PCR_Read returned \(values.count) values for \(indices.count) selected PCRs")
        }
        return zip(indices, values).map { (index: $0, value: $1) }
    }

    // MARK: Provisioning (the simulated paravisor; never called by the agent on Azure).

    /// Creates an RSA-2048 restricted signing key (RSASSA-SHA256) under the owner hierarchy and makes it
    /// persistent at `handle` (replacing whatever is there): the simulator's HCLAkPub.
    public func provisionAttestationKey(at handle: UInt32) throws(VTPMError) -> RSAPublicKey {
        if let existing = try resource(handle, "TPM2_EvictControl") {
            var gone: ESYS_TR = ESYSHandle.none
            try check(
                library.evictControl(
                    context, ESYSHandle.owner, existing, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none, handle,
                    &gone), "TPM2_EvictControl (remove 0x\(String(handle, radix: 16)))")
        }
        var template = TPM2B_PUBLIC()
        template.publicArea.type = 0x0001  // TPM_ALG_RSA
        template.publicArea.nameAlg = 0x000B
        // fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | sign
        template.publicArea.objectAttributes = 0x2 | 0x10 | 0x20 | 0x40 | 0x400 | 0x10000 | 0x40000
        template.publicArea.parameters.rsaDetail.symmetric.algorithm = 0x0010
        template.publicArea.parameters.rsaDetail.scheme.scheme = 0x0014  // RSASSA
        template.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = 0x000B
        template.publicArea.parameters.rsaDetail.keyBits = 2048
        template.publicArea.parameters.rsaDetail.exponent = 0
        var sensitive = TPM2B_SENSITIVE_CREATE()
        var outside = TPM2B_DATA()
        var creationPCRs = TPML_PCR_SELECTION()
        var object: ESYS_TR = ESYSHandle.none
        var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
        var creationData: UnsafeMutablePointer<TPM2B_CREATION_DATA>?
        var creationHash: UnsafeMutablePointer<TPM2B_DIGEST>?
        var ticket: UnsafeMutablePointer<TPMT_TK_CREATION>?
        try check(
            library.createPrimary(
                context, ESYSHandle.owner, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none, &sensitive, &template,
                &outside, &creationPCRs, &object, &outPublic, &creationData, &creationHash, &ticket),
            "TPM2_CreatePrimary (attestation key)")
        defer {
            library.free(outPublic)
            library.free(creationData)
            library.free(creationHash)
            library.free(ticket)
            _ = library.flushContext(context, object)
        }
        guard let outPublic else { throw VTPMError(.badAnswer, "TPM2_CreatePrimary returned no public key") }
        var persistent: ESYS_TR = ESYSHandle.none
        try check(
            library.evictControl(
                context, ESYSHandle.owner, object, ESYSHandle.password, ESYSHandle.none, ESYSHandle.none, handle,
                &persistent), "TPM2_EvictControl (persist at 0x\(String(handle, radix: 16)))")
        close(persistent)
        return TPM.rsaKey(outPublic.pointee)
    }

    /// TPM2_ReadPublic of the RSA key at persistent `handle`.
    public func readRSAPublicKey(at handle: UInt32) throws(VTPMError) -> RSAPublicKey {
        let object = try required(handle, "TPM2_ReadPublic")
        defer { close(object) }
        var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
        try check(
            library.readPublic(
                context, object, ESYSHandle.none, ESYSHandle.none, ESYSHandle.none, &outPublic, nil, nil),
            "TPM2_ReadPublic of 0x\(String(handle, radix: 16))")
        guard let outPublic else { throw VTPMError(.badAnswer, "TPM2_ReadPublic returned nothing") }
        defer { library.free(outPublic) }
        guard outPublic.pointee.publicArea.type == 0x0001 else {
            throw VTPMError(.badAnswer, "the key at 0x\(String(handle, radix: 16)) is not an RSA key")
        }
        return TPM.rsaKey(outPublic.pointee)
    }

    private static func rsaKey(_ key: TPM2B_PUBLIC) -> RSAPublicKey {
        let unique = key.publicArea.unique.rsa
        let modulus = withUnsafeBytes(of: unique.buffer) { Array($0.prefix(min(Int(unique.size), 512))) }
        let exponent = key.publicArea.parameters.rsaDetail.exponent
        let e: UInt32 = exponent == 0 ? 65537 : exponent
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: e >> (24 - 8 * $0)) }
        return RSAPublicKey(modulus: modulus, exponent: Array(bytes.drop { $0 == 0 }))
    }

    /// TPM2_PCR_Extend of SHA-256 PCR `index` (the simulator's boot measurements).
    public func extendPCR(_ index: Int, digest: [UInt8]) throws(VTPMError) {
        guard (0..<24).contains(index), digest.count == 32 else {
            throw VTPMError(.invalidArgument, "PCR \(index) / digest of \(digest.count) bytes")
        }
        var values = TPML_DIGEST_VALUES()
        values.count = 1
        values.digests.0.hashAlg = 0x000B
        withUnsafeMutableBytes(of: &values.digests.0.digest) { $0.copyBytes(from: digest) }
        try check(
            library.pcrExtend(
                context, ESYSHandle.pcr0 + ESYS_TR(index), ESYSHandle.password, ESYSHandle.none, ESYSHandle.none,
                &values), "TPM2_PCR_Extend of PCR \(index)")
    }
}
