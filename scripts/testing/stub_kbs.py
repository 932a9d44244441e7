#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# An independent Trustee-KBS-style server (RCAR 0.4.0, `sample` TEE) written from kbs-protocol.md,
# with hostile modes for the client's robustness tests. Listens on 127.0.0.1 only, exits after 120 s.
# Usage: stub_kbs.py --cert F --key F --resource REPO/TYPE/TAG=VALUE [--mode MODE]
import argparse
import base64
import hashlib
import http.server
import json
import os
import socketserver
import ssl
import sys
import threading
import time

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "https://github.com/confidential-containers/kbs/errors/"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jcs(value):
    # All our values are strings and objects: sorted keys, compact, no escaping of '/'.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def concat_kdf(z, alg):
    other = len(alg).to_bytes(4, "big") + alg.encode() + b"\0" * 8 + (256).to_bytes(4, "big")
    return hashlib.sha256((1).to_bytes(4, "big") + z + other).digest()


def encrypt(value, jwk, mode):
    cek, iv = os.urandom(32), os.urandom(12)
    if jwk["kty"] == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-521": ec.SECP521R1()}[jwk["crv"]]
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(jwk["x"]), "big"),
                                             int.from_bytes(unb64u(jwk["y"]), "big"), curve).public_key()
        if mode == "wrong-curve-epk":
            other = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
            epk = {"crv": "P-384", "kty": "EC", "x": b64u(other.x.to_bytes(48, "big")), "y": b64u(other.y.to_bytes(48, "big"))}
            wrapped = keywrap.aes_key_wrap(os.urandom(32), cek)
        else:
            eph = ec.generate_private_key(curve)
            size = (curve.key_size + 7) // 8
            numbers = eph.public_key().public_numbers()
            epk = {"crv": jwk["crv"], "kty": "EC", "x": b64u(numbers.x.to_bytes(size, "big")), "y": b64u(numbers.y.to_bytes(size, "big"))}
            wrapped = keywrap.aes_key_wrap(concat_kdf(eph.exchange(ec.ECDH(), peer), "ECDH-ES+A256KW"), cek)
        header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "epk": epk}
    else:
        peer = rsa.RSAPublicNumbers(int.from_bytes(unb64u(jwk["e"]), "big"), int.from_bytes(unb64u(jwk["n"]), "big")).public_key()
        wrapped = peer.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
        header = {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
    protected = b64u(json.dumps(header).encode())
    sealed = AESGCM(cek).encrypt(iv, value, protected.encode())
    ciphertext, tag = sealed[:-16], bytearray(sealed[-16:])
    if mode == "bad-gcm-tag":
        tag[0] ^= 1
    return {"protected": protected, "encrypted_key": b64u(wrapped), "iv": b64u(iv), "ciphertext": b64u(ciphertext), "tag": b64u(bytes(tag))}


class State:
    sessions = {}
    connections = 0
    lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json", cookie=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", f"kbs-session-id={cookie}; Expires=Fri, 01 Jan 2100 00:00:00 GMT")
        self.end_headers()
        self.wfile.write(data)

    def error(self, variant, detail, status=401):
        self.reply(status, {"type": PREFIX + variant, "detail": detail})

    def cookie(self):
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "kbs-session-id":
                return value
        return None

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        mode = self.server.mode
        with State.lock:
            State.connections += 1
            count = State.connections
        if mode == "fail-first-N" and count <= 3:
            return self.reply(503, b"busy", "text/plain")
        if self.path == "/kbs/v0/auth":
            request = json.loads(self.body())
            if mode == "slow":
                time.sleep(30)
            if mode == "close-mid-body":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"nonce":"')
                self.wfile.flush()
                self.connection.close()
                return
            if mode == "huge-body":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(64 << 20))
                self.end_headers()
                chunk = b" " * (1 << 20)
                try:
                    for _ in range(64):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                return
            if mode == "invalid-json":
                return self.reply(200, b"{not json")
            if mode == "html-500":
                return self.reply(500, b"<html><body>Internal Server Error</body></html>", "text/html")
            if mode == "version-mismatch" or request.get("version") != "0.4.0":
                return self.error("AttestationError", "Attestation error: RCAR handshake Auth failed: KBS Client Protocol "
                                  f"Version Mismatch: expect =0.5.0 while the request is {request.get('version')}")
            session = os.urandom(16).hex()
            nonce = base64.b64encode(os.urandom(32)).decode()
            State.sessions[session] = {"nonce": nonce, "tee": request.get("tee")}
            return self.reply(200, {"nonce": nonce, "extra-params": ""}, cookie=session)
        if self.path == "/kbs/v0/attest":
            session = State.sessions.get(self.cookie())
            if session is None or mode == "unknown-cookie":
                return self.error("AttestationError", "Attestation error: RCAR handshake Attest failed")
            attestation = json.loads(self.body())
            runtime = attestation["runtime-data"]
            expected = hashlib.sha384(jcs({"additional-evidence": "", "nonce": runtime["nonce"],
                                           "tee-pubkey": runtime["tee-pubkey"]})).digest()
            evidence = attestation["tee-evidence"]["primary_evidence"]
            if session.get("tee") == "snp":
                # SNP: the report (Trustee's serde JSON, bytes as integers) must carry the digest,
                # zero-padded to 64 bytes. (This stub checks the binding, not AMD's signatures.)
                reported = bytes(evidence["attestation_report"]["report_data"])
                bound = reported == expected + b"\0" * 16
            else:
                bound = base64.b64decode(evidence["report_data"]) == expected
            if runtime["nonce"] != session["nonce"] or not bound:
                return self.error("AttestationError", "Attestation error: RCAR handshake Attest failed")
            session["jwk"] = runtime["tee-pubkey"]
            token = b64u(b'{"alg":"none"}') + "." + b64u(json.dumps({"jwk": runtime["tee-pubkey"]}).encode()) + ".sig"
            session["token"] = token
            return self.reply(200, {"token": token}, cookie=self.cookie())
        self.error("PluginNotFound", "Plugin not found", 404)

    def do_GET(self):
        if not self.path.startswith("/kbs/v0/resource/"):
            return self.error("PluginNotFound", "Plugin not found", 404)
        session = State.sessions.get(self.cookie())
        auth = self.headers.get("Authorization", "")
        if session is None and auth.startswith("Bearer "):
            session = next((s for s in State.sessions.values() if s.get("token") == auth[7:]), None)
        if session is None or "jwk" not in session:
            return self.error("TokenNotFound", "Attestation Token not found")
        if self.server.mode == "policy-deny":
            return self.error("PolicyDeny", "Access denied by policy")
        value = self.server.resources.get(self.path[len("/kbs/v0/resource/"):])
        if value is None:
            return self.error("PluginInternalError", "Plugin internal error")
        self.reply(200, encrypt(value, session["jwk"], self.server.mode))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self):
        # TLS per connection, so that "handshake-cut-first-N" can drop the first three before it,
        # the way a port forward or proxy does when its backend is down.
        sock, address = self.socket.accept()
        self.accepted += 1
        if self.mode == "handshake-cut-first-N" and self.accepted <= 3:
            sock.close()
            raise OSError("closed before the TLS handshake")
        return self.context.wrap_socket(sock, server_side=True), address


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--resource", action="append", default=[])
    parser.add_argument("--mode", default="normal")
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.mode = args.mode
    server.resources = dict((r.split("=", 1)[0], r.split("=", 1)[1].encode()) for r in args.resource)
    server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.context.load_cert_chain(args.cert, args.key)
    threading.Timer(120, lambda: os._exit(0)).start()
    print(f"listening on https://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
