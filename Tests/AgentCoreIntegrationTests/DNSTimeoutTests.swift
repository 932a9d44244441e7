// SPDX-License-Identifier: Apache-2.0
// A DNS server that swallows queries must not hold the agent past its deadline: glibc's resolver waits
// 5 s per attempt on its own, so name resolution is bounded by the connect deadline (HTTPClient.Resolver).
// The real ccagent binary runs in a private mount namespace whose /etc/resolv.conf names a UDP+TCP
// listener on 127.0.0.9:53 that reads every query and answers none (needs root for unshare and port 53).

import HTTPClient
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Name resolution against a DNS server that never answers", .serialized, .tags(.integration))
struct DNSTimeoutTests {
    static let isRoot = getuid() == 0

    @Test(
        "ccagent fetch gives up at its deadline, saying it was resolving the broker's name",
        .enabled(if: isRoot, "needs root: unshare -m and a listener on port 53"))
    func silentDNS() throws {
        let directory = try Fixtures.temporaryDirectory()
        let resolvConf = directory + "/resolv.conf"
        _ = try Subprocess.run([
            "/bin/sh", "-c", "printf 'nameserver 127.0.0.9\\noptions timeout:5 attempts:2\\n' > \"$0\"", resolvConf,
        ])
        // The silent server: bound before ccagent starts (the script prints 'ready'), killed afterwards.
        let server = try BackgroundProcess(
            [
                "/usr/bin/python3", "-c",
                """
                import socket, sys, time
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.9", 53))
                t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("127.0.0.9", 53)); t.listen(16)
                print("ready", flush=True)
                held = []
                t.setblocking(False); u.setblocking(False)
                while True:
                    try: u.recvfrom(4096)
                    except BlockingIOError: pass
                    try: held.append(t.accept()[0])
                    except BlockingIOError: pass
                    time.sleep(0.01)
                """,
            ], logPath: directory + "/dns.log")
        defer { server.stop() }
        _ = try server.waitFor("ready", seconds: 10)

        let deadline = 2.0
        let start = monotonicNow()
        let result = try Subprocess.run([
            "/usr/bin/unshare", "-m", "/bin/sh", "-c",
            "mount --bind \"$0\" /etc/resolv.conf && exec \"$1\" fetch --broker https://kbs.silent-dns.test:8443 "
                + "--resource default/dns/key --tee sample --deadline \(deadline) --out \"$2\"",
            resolvConf, Binaries.ccagent, directory + "/out",
        ])
        let elapsed = monotonicNow() - start
        #expect(result.exitCode != 0, "fetch must fail: \(result.output)")
        #expect(result.output.contains("resolving kbs.silent-dns.test"), "the error names the lookup: \(result.output)")
        // Without the bound one lookup alone takes 10 s (timeout:5 attempts:2); with it the whole fetch,
        // retries included, ends at its 2 s deadline plus process start and teardown.
        #expect(elapsed < deadline + 3, "fetch took \(elapsed) s against a deadline of \(deadline) s")
        #expect(access(directory + "/out", F_OK) != 0, "nothing is written on failure")
    }
}
