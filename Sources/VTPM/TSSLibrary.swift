// SPDX-License-Identifier: Apache-2.0
// libtss2-esys and libtss2-tctildr, loaded with dlopen on first use (as systemd loads its optional libraries).

import AgentBase
import CTSS2

#if canImport(Glibc)
import Glibc
#endif

/// The tpm2-tss functions the agent calls, resolved with dlsym. ccagent never links libtss2: a machine
/// that is not an Azure CVM never loads it (start-up time and initramfs size are budgeted, issue #19), and an
/// image built without it fails only on Azure, with ``VTPMError/Code/libraryMissing`` saying what to install.
struct TSSLibrary: @unchecked Sendable {
    typealias Context = OpaquePointer
    typealias Out<T> = UnsafeMutablePointer<UnsafeMutablePointer<T>?>

    let tctiInitialize: @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?) -> TSS2_RC
    let tctiFinalize: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Void
    let initialize:
        @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, OpaquePointer?, UnsafeMutablePointer<TSS2_ABI_VERSION>?)
            -> TSS2_RC
    let finalize: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Void
    let free: @convention(c) (UnsafeMutableRawPointer?) -> Void
    let trFromTPMPublic:
        @convention(c) (Context?, TPM2_HANDLE, ESYS_TR, ESYS_TR, ESYS_TR, UnsafeMutablePointer<ESYS_TR>?) -> TSS2_RC
    let trClose: @convention(c) (Context?, UnsafeMutablePointer<ESYS_TR>?) -> TSS2_RC
    let nvReadPublic:
        @convention(c) (Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, Out<TPM2B_NV_PUBLIC>?, Out<TPM2B_NAME>?) ->
            TSS2_RC
    let nvDefineSpace:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, UnsafePointer<TPM2B_AUTH>?, UnsafePointer<TPM2B_NV_PUBLIC>?,
            UnsafeMutablePointer<ESYS_TR>?
        ) -> TSS2_RC
    let nvUndefineSpace: @convention(c) (Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR) -> TSS2_RC
    let nvWrite:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, UnsafePointer<TPM2B_MAX_NV_BUFFER>?, UInt16
        ) -> TSS2_RC
    let nvRead:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, UInt16, UInt16, Out<TPM2B_MAX_NV_BUFFER>?
        ) -> TSS2_RC
    let quote:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, UnsafePointer<TPM2B_DATA>?, UnsafePointer<TPMT_SIG_SCHEME>?,
            UnsafePointer<TPML_PCR_SELECTION>?, Out<TPM2B_ATTEST>?, Out<TPMT_SIGNATURE>?
        ) -> TSS2_RC
    let pcrRead:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, UnsafePointer<TPML_PCR_SELECTION>?, UnsafeMutablePointer<UInt32>?,
            Out<TPML_PCR_SELECTION>?, Out<TPML_DIGEST>?
        ) -> TSS2_RC
    let pcrExtend:
        @convention(c) (Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, UnsafePointer<TPML_DIGEST_VALUES>?) -> TSS2_RC
    let getCapability:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, TPM2_CAP, UInt32, UInt32, UnsafeMutablePointer<TPMI_YES_NO>?,
            Out<TPMS_CAPABILITY_DATA>?
        ) -> TSS2_RC
    let readPublic:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, Out<TPM2B_PUBLIC>?, Out<TPM2B_NAME>?, Out<TPM2B_NAME>?
        )
            -> TSS2_RC
    let createPrimary:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, UnsafePointer<TPM2B_SENSITIVE_CREATE>?,
            UnsafePointer<TPM2B_PUBLIC>?, UnsafePointer<TPM2B_DATA>?, UnsafePointer<TPML_PCR_SELECTION>?,
            UnsafeMutablePointer<ESYS_TR>?, Out<TPM2B_PUBLIC>?, Out<TPM2B_CREATION_DATA>?, Out<TPM2B_DIGEST>?,
            Out<TPMT_TK_CREATION>?
        ) -> TSS2_RC
    let evictControl:
        @convention(c) (
            Context?, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, TPMI_DH_PERSISTENT, UnsafeMutablePointer<ESYS_TR>?
        ) -> TSS2_RC
    let flushContext: @convention(c) (Context?, ESYS_TR) -> TSS2_RC

    /// The sonames Debian 12 ships (libtss2-esys-3.0.2-0, libtss2-tctildr0).
    static let defaultLibraries = (esys: "libtss2-esys.so.0", tctildr: "libtss2-tctildr.so.0")

    /// What to install, for the error message.
    static let installHint =
        "Azure vTPM support needs libtss2-esys (apt install libtss2-esys-3.0.2-0 libtss2-tctildr0; "
        + "in the initramfs, build it for Azure as docs/azure.md says)"

    /// The process-wide library, loaded on first use (never at start-up).
    static let shared: Result<TSSLibrary, VTPMError> = Result { () throws(VTPMError) in try load() }

    /// Loads the libraries by soname (tests pass a missing one to see the error).
    static func load(
        esys: String = defaultLibraries.esys, tctildr: String = defaultLibraries.tctildr
    ) throws(VTPMError) -> TSSLibrary {
        func open(_ name: String) throws(VTPMError) -> DynamicLibrary {
            do {
                return try DynamicLibrary(name)
            } catch {
                throw VTPMError(.libraryMissing, "\(installHint): cannot load \(name): \(error.reason)")
            }
        }
        // tpm2-tss logs every TPM error to stderr, including the expected "no such handle" of a lookup;
        // errors reach the caller as VTPMError instead. TSS2_LOG set by the user still wins.
        setenv("TSS2_LOG", "all+NONE", 0)
        let esysHandle = try open(esys)
        let tctiHandle = try open(tctildr)
        func symbol<T>(_ library: DynamicLibrary, _ name: String) throws(VTPMError) -> T {
            guard let function = library.function(name, as: T.self) else {
                throw VTPMError(.libraryMissing, "\(installHint): the library lacks \(name) (tpm2-tss too old?)")
            }
            return function
        }
        return TSSLibrary(
            tctiInitialize: try symbol(tctiHandle, "Tss2_TctiLdr_Initialize"),
            tctiFinalize: try symbol(tctiHandle, "Tss2_TctiLdr_Finalize"),
            initialize: try symbol(esysHandle, "Esys_Initialize"),
            finalize: try symbol(esysHandle, "Esys_Finalize"),
            free: try symbol(esysHandle, "Esys_Free"),
            trFromTPMPublic: try symbol(esysHandle, "Esys_TR_FromTPMPublic"),
            trClose: try symbol(esysHandle, "Esys_TR_Close"),
            nvReadPublic: try symbol(esysHandle, "Esys_NV_ReadPublic"),
            nvDefineSpace: try symbol(esysHandle, "Esys_NV_DefineSpace"),
            nvUndefineSpace: try symbol(esysHandle, "Esys_NV_UndefineSpace"),
            nvWrite: try symbol(esysHandle, "Esys_NV_Write"),
            nvRead: try symbol(esysHandle, "Esys_NV_Read"),
            quote: try symbol(esysHandle, "Esys_Quote"),
            pcrRead: try symbol(esysHandle, "Esys_PCR_Read"),
            pcrExtend: try symbol(esysHandle, "Esys_PCR_Extend"),
            getCapability: try symbol(esysHandle, "Esys_GetCapability"),
            readPublic: try symbol(esysHandle, "Esys_ReadPublic"),
            createPrimary: try symbol(esysHandle, "Esys_CreatePrimary"),
            evictControl: try symbol(esysHandle, "Esys_EvictControl"),
            flushContext: try symbol(esysHandle, "Esys_FlushContext"))
    }
}
