// SPDX-License-Identifier: Apache-2.0
// The TPM commands the Azure evidence path needs, as a protocol: the tpm2-tss TPM and the tests' fakes.

/// The raw answer of TPM2_Quote.
public struct RawQuote: Sendable, Equatable {
    /// The marshalled TPMS_ATTEST (TPM2B_ATTEST's bytes).
    public var attest: [UInt8]
    /// TPMT_SIGNATURE.sigAlg (TPM_ALG_RSASSA = 0x0014 expected).
    public var signatureAlgorithm: UInt16
    /// The signature's hash (TPM_ALG_SHA256 = 0x000B expected).
    public var hashAlgorithm: UInt16
    /// The RSA signature bytes.
    public var signature: [UInt8]

    public init(attest: [UInt8], signatureAlgorithm: UInt16, hashAlgorithm: UInt16, signature: [UInt8]) {
        self.attest = attest
        self.signatureAlgorithm = signatureAlgorithm
        self.hashAlgorithm = hashAlgorithm
        self.signature = signature
    }
}

/// An RSA public key read from the TPM (big-endian modulus and exponent).
public struct RSAPublicKey: Sendable, Equatable {
    public var modulus: [UInt8]
    public var exponent: [UInt8]

    public init(modulus: [UInt8], exponent: [UInt8]) {
        self.modulus = modulus
        self.exponent = exponent
    }
}

/// TPM 2.0 commands, one method each (TPM 2.0 Part 3). Owner authorisation is the empty password, as on
/// Azure's vTPM and as upstream's attesters use it. Implementations return what the TPM said; checking
/// it is ``AzureVTPM``'s job, so a fake can play a hostile TPM.
public protocol TPMCommands: AnyObject {
    /// TPM2_NV_ReadPublic: the data size and attributes of `index`, or nil when it is not defined.
    func nvReadPublic(index: UInt32) throws(VTPMError) -> (size: Int, attributes: UInt32)?
    /// TPM2_NV_DefineSpace with owner authorisation and an empty index password.
    func nvDefineSpace(index: UInt32, size: Int, attributes: UInt32) throws(VTPMError)
    /// TPM2_NV_UndefineSpace with owner authorisation.
    func nvUndefineSpace(index: UInt32) throws(VTPMError)
    /// TPM2_NV_Write with owner authorisation.
    func nvWrite(index: UInt32, data: [UInt8], offset: Int) throws(VTPMError)
    /// TPM2_NV_Read with owner authorisation: what the TPM returned (callers check its size).
    func nvRead(index: UInt32, size: Int, offset: Int) throws(VTPMError) -> [UInt8]
    /// TPM_PT_NV_BUFFER_MAX (TPM2_GetCapability): the most one NV_Read/NV_Write moves.
    func maxNVBuffer() throws(VTPMError) -> Int
    /// TPM2_Quote with the key at persistent `keyHandle`, its own scheme, over `pcrs` of the SHA-256 bank.
    func quote(keyHandle: UInt32, qualifyingData: [UInt8], pcrs: [Int]) throws(VTPMError) -> RawQuote
    /// TPM2_PCR_Read of the SHA-256 bank: the (index, value) pairs the TPM returned (it may return fewer).
    func pcrRead(pcrs: [Int]) throws(VTPMError) -> [(index: Int, value: [UInt8])]
}
