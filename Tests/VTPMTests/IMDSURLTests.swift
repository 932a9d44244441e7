// SPDX-License-Identifier: Apache-2.0
// Where the agent may send IMDS requests: Azure's link-local address or a loopback stand-in, plain http.
// CCAGENT_IMDS_URL comes from the environment, which the host can reach (kernel command line): anything
// else is refused before a request is made.

import AzureIMDS
import Testing

@Suite("IMDS base URL")
struct IMDSURLTests {
    @Test(
        "IMDS's address and loopback stand-ins are accepted",
        arguments: [
            "http://169.254.169.254", "http://169.254.169.254/", "http://127.0.0.1:8080", "http://localhost:9/x",
            "http://[::1]:80",
        ])
    func accepted(url: String) throws {
        _ = try IMDSClient(baseURL: url)
    }

    @Test(
        "any other host, https, credentials or a look-alike name is refused as a bad URL",
        arguments: [
            "http://10.0.0.1", "https://169.254.169.254", "http://169.254.169.254.evil.example",
            "http://localhost:80@evil.example", "http://127.0.0.1:80@evil.example/", "http://169.254.169.254:0",
            "ftp://169.254.169.254", "",
        ])
    func refused(url: String) {
        #expect {
            _ = try IMDSClient(baseURL: url)
        } throws: { error in
            (error as? IMDSError)?.code == .badURL && "\(error)".contains("CCAGENT_IMDS_URL")
        }
    }
}
