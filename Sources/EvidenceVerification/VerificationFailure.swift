// SPDX-License-Identifier: Apache-2.0
// A failed verification check as a value: a stable code (with the family of checks it belongs to) and a message.

/// One failed check. Tests and callers match ``code`` (or ``Code/family``) exactly; the ``message`` is for
/// people: `"<check>: <detail>"`, saying what failed, why, and what to do when there is something to do.
///
/// Equality compares codes only, so `failure == VerificationFailure(.tcbMismatch, "")` asks "is it a TCB
/// mismatch", whatever the component and values in the message.
public struct VerificationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The family of checks a failure belongs to (the check's subject: signature, chain, TCB, ...).
    public struct Family: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }

        /// KEY_INFO of an SNP report: which key signed it.
        public static let signingKey = Family(name: "signing-key")
        /// The signature of the evidence itself (SNP report, TDX quote).
        public static let evidenceSignature = Family(name: "evidence-signature")
        /// The TDX quoting enclave's report: its binding of the attestation key and its signature by the PCK.
        public static let qeReport = Family(name: "qe-report")
        /// The certificate chain from the signing key to a root: present, readable, each link signed.
        public static let chain = Family(name: "chain")
        /// The chain's root: AMD's pinned ARK, the Intel SGX Root CA, or a root passed explicitly.
        public static let trustAnchor = Family(name: "trust-anchor")
        /// The report's product (CPUID) against the product of the root it chains to.
        public static let product = Family(name: "product")
        /// A certificate's validity period at the verification time.
        public static let validity = Family(name: "validity")
        /// CRLs: their signatures, freshness, and the certificates they list.
        public static let revocation = Family(name: "revocation")
        /// The SNP report's REPORTED_TCB against the VCEK/VLEK's SPL extensions.
        public static let tcb = Family(name: "tcb")
        /// The SNP report's CHIP_ID against the VCEK's hwID extension.
        public static let chipID = Family(name: "chip-id")
        /// Intel PCS collateral: its signing chain, signatures, presence for this platform, freshness.
        public static let collateral = Family(name: "collateral")
        /// The TCB status the collateral gives: platform, quoting enclave, TDX module.
        public static let tcbStatus = Family(name: "tcb-status")
        /// The CCEL event log replayed against the quote's RTMRs.
        public static let eventLog = Family(name: "event-log")
        /// Azure: the vTPM quote (its attestation key, signature, nonce and PCR digest).
        public static let tpmQuote = Family(name: "tpm-quote")
        /// Azure: the HCL report binding the vTPM key and user data to the hardware report.
        public static let hclReport = Family(name: "hcl-report")
    }

    /// A stable code: its family and a name unique within the module (`"<family>.<name>"`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The family of checks this code belongs to.
        public let family: Family
        private let name: String
        public var description: String { "\(family).\(name)" }

        private init(_ family: Family, _ name: String) {
            self.family = family
            self.name = name
        }

        // MARK: SNP
        /// KEY_INFO says no key signed the report, or the chip key is masked.
        public static let unsignedReport = Code(.signingKey, "unsigned-report")
        /// No VCEK/VLEK certificate was given for the key that signed the report.
        public static let missingSigningCertificate = Code(.chain, "missing-signing-certificate")
        /// SIGNATURE_ALGO is not ECDSA P-384 with SHA-384.
        public static let unsupportedSignatureAlgorithm = Code(.evidenceSignature, "unsupported-algorithm")
        /// The SNP report's signature does not verify with the VCEK/VLEK.
        public static let reportSignatureMismatch = Code(.evidenceSignature, "report-signature-mismatch")
        /// No ASK/ASVK signed the VCEK/VLEK.
        public static let missingIntermediate = Code(.chain, "missing-intermediate")
        /// The report's CPUID names another product than the ARK the chain ends at.
        public static let productMismatch = Code(.product, "product-mismatch")
        /// A TCB component's SPL extension is missing from the VCEK/VLEK or unreadable.
        public static let missingTCBExtension = Code(.tcb, "missing-extension")
        /// A REPORTED_TCB component differs from the certificate's SPL.
        public static let tcbMismatch = Code(.tcb, "mismatch")
        /// CHIP_ID differs from the VCEK's hwID.
        public static let chipIDMismatch = Code(.chipID, "mismatch")

        // MARK: TDX
        /// The quote's signature does not verify with its attestation key.
        public static let quoteSignatureMismatch = Code(.evidenceSignature, "quote-signature-mismatch")
        /// The QE report's REPORTDATA is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
        public static let qeReportDataMismatch = Code(.qeReport, "report-data-mismatch")
        /// The QE report's signature does not verify with the PCK certificate.
        public static let qeReportSignatureMismatch = Code(.qeReport, "signature-mismatch")
        /// The quote's certification data holds no readable PCK certificate chain.
        public static let unreadablePCKChain = Code(.chain, "unreadable-pck-chain")
        /// A certificate on the way from the PCK to the root has no issuer in the chain.
        public static let brokenChain = Code(.chain, "broken")
        /// The collateral has no TCB signing chain rooted at the Intel SGX Root CA.
        public static let missingCollateralSigningChain = Code(.collateral, "missing-signing-chain")
        /// The PCK certificate has no readable SGX extension (FMSPC, TCB components).
        public static let unreadablePCKExtension = Code(.collateral, "unreadable-pck-extension")
        /// A collateral document's signature does not verify with the TCB signing certificate.
        public static let collateralSignatureMismatch = Code(.collateral, "signature-mismatch")
        /// The collateral has no TCB info for the platform's FMSPC.
        public static let missingTCBInfo = Code(.collateral, "missing-tcb-info")
        /// A collateral document is past its nextUpdate.
        public static let collateralExpired = Code(.collateral, "expired")
        /// The quoting enclave is not Intel's TD_QE (MRSIGNER/ISVPRODID against the QE identity).
        public static let qeIdentityMismatch = Code(.tcbStatus, "qe-identity-mismatch")
        /// The quoting enclave's TCB level is not UpToDate.
        public static let qeTCBNotUpToDate = Code(.tcbStatus, "qe-not-up-to-date")
        /// The platform's TCB level is not UpToDate (or no level matches).
        public static let platformTCBNotUpToDate = Code(.tcbStatus, "platform-not-up-to-date")
        /// TEE_TCB_SVN is too short to name the TDX module.
        public static let moduleSVNUnreadable = Code(.tcbStatus, "module-svn-unreadable")
        /// The TCB info has no identity for the TDX module.
        public static let missingModuleIdentity = Code(.tcbStatus, "missing-module-identity")
        /// MRSIGNERSEAM/SEAMATTRIBUTES do not match the TCB info's TDX module identity.
        public static let moduleIdentityMismatch = Code(.tcbStatus, "module-identity-mismatch")
        /// The TDX module's TCB level is not UpToDate (or no level matches).
        public static let moduleTCBNotUpToDate = Code(.tcbStatus, "module-not-up-to-date")
        /// Replaying the CCEL event log does not give RTMR0-3 of the quote.
        public static let rtmrMismatch = Code(.eventLog, "rtmr-mismatch")
        /// A runtime (AAEL) event's digest is not SHA-384 of its data: the text was changed after measuring.
        public static let runtimeEventMismatch = Code(.eventLog, "runtime-event-mismatch")

        // MARK: Azure (vTPM)
        /// The HCL variable data has no readable RSA attestation key `HCLAkPub`.
        public static let attestationKeyUnreadable = Code(.tpmQuote, "attestation-key-unreadable")
        /// The TPM quote's signature does not verify with `HCLAkPub` (RSASSA/RSAPSS, SHA-256).
        public static let tpmQuoteSignatureMismatch = Code(.tpmQuote, "signature-mismatch")
        /// The TPM quote's qualifying data (extraData) is not the expected report data.
        public static let tpmNonceMismatch = Code(.tpmQuote, "nonce-mismatch")
        /// The quote does not select exactly PCRs 0-23 of the SHA-256 bank, or the evidence does not carry
        /// 24 PCR values.
        public static let tpmPCRSelectionUnsupported = Code(.tpmQuote, "pcr-selection")
        /// SHA-256 of the PCR values is not the quote's pcrDigest.
        public static let tpmPCRDigestMismatch = Code(.tpmQuote, "pcr-digest-mismatch")
        /// SHA-256 of the HCL variable data is not REPORT_DATA[0:32] of the hardware report.
        public static let hclVariableDataMismatch = Code(.hclReport, "variable-data-mismatch")
        /// Evidence v2: the variable data's `user-data` does not start with the expected report data.
        public static let hclUserDataMismatch = Code(.hclReport, "user-data-mismatch")
        /// The SNP report was not issued at VMPL 0 (where Azure's paravisor runs).
        public static let hclVMPLNotZero = Code(.hclReport, "vmpl-not-zero")
        /// A field of the HCL report's TDREPORT differs from the TD quote's body.
        public static let hclTDReportMismatch = Code(.hclReport, "tdreport-mismatch")

        // MARK: Both
        /// No self-signed root signed the chain's top certificate.
        public static let missingRoot = Code(.chain, "missing-root")
        /// The chain's root is neither a pinned vendor root nor one passed explicitly.
        public static let untrustedRoot = Code(.trustAnchor, "untrusted-root")
        /// A certificate of the chain is not valid at the verification time.
        public static let certificateNotValid = Code(.validity, "not-valid-at-time")
        /// A CRL does not verify with the certificate of its issuer.
        public static let crlSignatureMismatch = Code(.revocation, "crl-signature-mismatch")
        /// A certificate of the chain is listed in its issuer's CRL.
        public static let revoked = Code(.revocation, "revoked")
        /// A CRL is past its nextUpdate.
        public static let crlExpired = Code(.revocation, "crl-expired")
        /// A CRL was required (`--kds-crl`) but could not be had from AMD KDS or its cache.
        public static let crlUnavailable = Code(.revocation, "crl-unavailable")
    }

    /// What failed, as a stable code.
    public var code: Code
    /// `"<check>: <detail>"`, e.g. `"tcb mismatch: snp (report 22, certificate 21)"`.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
