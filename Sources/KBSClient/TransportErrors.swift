// SPDX-License-Identifier: Apache-2.0
// HTTPClient's transport failures as the broker.* codes and hints the agent has always reported.

import HTTPClient
import KBSProtocol

extension KBSError {
    /// The same code and message a KBS exchange reported before the transport moved to HTTPClient.
    init(transport error: HTTPError) {
        let code: KBSError.Code
        let hint: String
        switch error.code {
        case .timeout:
            code = .timeout
            hint = "; the broker did not answer in time"
        case .tls:
            code = .tls
            hint = "; the broker's certificate does not match the configured trust — check --ca or --pin"
        case .tooLarge:
            code = .responseTooLarge
            hint = ""
        case .insecureURL:
            code = .insecureURL
            hint = ""
        default:
            code = .unreachable
            hint =
                error.handshakeIncomplete
                ? "; the TLS handshake did not complete — check that the broker (not only a proxy in front of it) is running"
                : "; check the URL, the network, and that the broker is running"
        }
        self.init(code, error.message + hint, url: error.url)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
