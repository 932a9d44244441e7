// SPDX-License-Identifier: Apache-2.0
// With Intel PCS collateral: its signatures, the QE identity, and the TCB status of the platform and module.

/// When collateral is given and the chain has a root: the TCB signing chain is rooted at the Intel SGX
/// Root CA and signs the TCB info and QE identity, which are current; the quoting enclave is Intel's and
/// up to date; the platform and TDX module TCB levels are UpToDate (see ``TDXCollateral``).
public struct TDXCollateralCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: TDXVerification) -> CheckResult {
        guard let collateral = input.collateral, input.root != nil else { return CheckResult() }
        return collateral.evaluate(quote: input.quote, pck: input.pck, at: input.time)
    }
}
