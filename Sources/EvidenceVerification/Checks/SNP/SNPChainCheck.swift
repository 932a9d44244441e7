// SPDX-License-Identifier: Apache-2.0
// VCEK→ASK→ARK or VLEK→ASVK→ARK, the ARK pinned (AMD's) or passed explicitly, and of the report's product.

import TEEEvidence

/// The leaf was signed by an ASK/ASVK, which was signed by a self-signed ARK that is AMD's (pinned by
/// fingerprint, and of the product the report's CPUID names) or was passed explicitly.
public struct SNPChainCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ input: SNPVerification) -> CheckResult {
        let name = input.label.lowercased()
        guard input.intermediate != nil else {
            return .fail(
                .missingIntermediate,
                "\(name) chain: no \(input.signingKey == .vcek ? "ASK" : "ASVK") certificate signed the \(input.label)")
        }
        guard let root = input.root, let anchor = input.anchor else {
            return .fail(.missingRoot, "\(name) chain: no self-signed ARK certificate signed the intermediate")
        }
        switch anchor {
        case .amd(let product):
            var result = CheckResult.pass("\(name) chain to AMD ARK-\(product)")
            if let reportProduct = input.report.productName, reportProduct != product {
                result.fail(
                    .productMismatch,
                    "product: the report's CPUID says \(reportProduct) but the chain is ARK-\(product)")
            }
            return result
        case .explicit:
            return .pass("\(name) chain to an explicitly trusted root '\(root.subject)'")
        case .untrusted(let fingerprint):
            return .fail(
                .untrustedRoot,
                "ark: the root '\(root.subject)' is not a trusted AMD root (SPKI SHA-256 \(fingerprint)); "
                    + "pass --trust-root only for roots you trust, such as the simulator's")
        }
    }
}
