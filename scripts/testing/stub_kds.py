#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A stand-in for AMD KDS over TLS on 127.0.0.1, written from AMD's URL scheme (as Trustee and snpguest
# use it), for the KDS client's tests. For each --serve PRODUCT,REPORT,VCEK it decodes the report
# itself (CHIP_ID, REPORTED_TCB, Milan/Genoa or Turin layout) and answers only the exact URL
#   /vcek/v1/{PRODUCT}/{hwid}?[fmcSPL=NN&]blSPL=NN&teeSPL=NN&snpSPL=NN&ucodeSPL=NN
# (hwid = CHIP_ID hex, its first 8 bytes on Turin); anything else is 404 and logged as unexpected.
# --crl PRODUCT,FILE serves FILE at /vcek/v1/PRODUCT/crl. Modes: normal, wrong-vcek (serves --wrong instead), truncated, oversized, hang, status-500.
# Every request is appended to --log as "STATUS PATH". Exits after 120 s.
import argparse
import http.server
import os
import socketserver
import ssl
import sys
import threading
import time
from urllib.parse import parse_qsl, urlsplit


def der(path):
    data = open(path, "rb").read()
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return data
    import base64
    body = data.split(b"-----BEGIN CERTIFICATE-----")[1].split(b"-----END CERTIFICATE-----")[0]
    return base64.b64decode(b"".join(body.split()))


def expected_url(product, report):
    version = int.from_bytes(report[0:4], "little")
    family = report[0x188] if version >= 3 else None
    tcb = report[0x180:0x188]
    chip = report[0x1A0:0x1E0]
    if product == "Turin":
        assert family in (None, 0x1A), "a Turin report has CPUID family 1Ah"
        hwid = chip[:8].hex()
        spl = [("fmcSPL", tcb[0]), ("blSPL", tcb[1]), ("teeSPL", tcb[2]), ("snpSPL", tcb[3]), ("ucodeSPL", tcb[7])]
    else:
        hwid = chip.hex()
        spl = [("blSPL", tcb[0]), ("teeSPL", tcb[1]), ("snpSPL", tcb[6]), ("ucodeSPL", tcb[7])]
    return f"/vcek/v1/{product}/{hwid}", spl


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status, note=""):
        with self.server.lock:
            with open(self.server.log, "a") as log:
                log.write(f"{status} {self.path}{' ' + note if note else ''}\n")

    def reply(self, status, body):
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path in self.server.crls and not parts.query:
            return self.reply(200, self.server.crls[parts.path])
        entry = self.server.served.get(parts.path)
        if entry is None:
            self.record(404, "unexpected path")
            return self.reply_raw(404, b"not found")
        spl, vcek = entry
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
        # The exact parameter names in order, each a two-digit decimal equal to the report's SPL.
        if [name for name, _ in query] != [name for name, _ in spl] or any(
                value != f"{expected:02d}" for (_, value), (_, expected) in zip(query, spl)):
            self.record(400, f"unexpected query (want {'&'.join(f'{n}={v:02d}' for n, v in spl)})")
            return self.reply_raw(400, b"bad query")
        mode = self.server.mode
        if mode == "hang":
            time.sleep(60)
            return
        if mode == "status-500":
            return self.reply(500, b"internal error")
        if mode == "wrong-vcek":
            return self.reply(200, self.server.wrong)
        if mode == "truncated":
            return self.reply(200, vcek[: len(vcek) // 2])
        if mode == "oversized":
            return self.reply(200, vcek + b"\0" * (1 << 20))
        self.reply(200, vcek)

    def reply_raw(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--serve", action="append", default=[], help="PRODUCT,REPORT,VCEK")
    parser.add_argument("--wrong")
    parser.add_argument("--crl", action="append", default=[], help="PRODUCT,FILE served at /vcek/v1/PRODUCT/crl")
    parser.add_argument("--mode", default="normal")
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.mode = args.mode
    server.log = args.log
    server.lock = threading.Lock()
    server.wrong = der(args.wrong) if args.wrong else b""
    server.served = {}
    server.crls = {}
    for item in args.crl:
        product, path = item.split(",")
        server.crls[f"/vcek/v1/{product}/crl"] = open(path, "rb").read()
    for item in args.serve:
        product, report, vcek = item.split(",")
        path, spl = expected_url(product, open(report, "rb").read()[:0x4A0])
        server.served[path] = (spl, der(vcek))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Timer(120, lambda: os._exit(0)).start()
    print(f"listening on https://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
