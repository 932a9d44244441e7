#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Broker load: N concurrent sample attest+resource flows against a broker on 127.0.0.1 (TLS).
# Prints attestations per second and p50/p99 flow latency. Usage: load.py URL CA RESOURCE N
import base64
import hashlib
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def flow(url, context, resource, results, errors):
    start = time.monotonic()
    try:
        parsed = urllib.parse.urlparse(url)
        connection = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context, timeout=60)
        body = json.dumps({"version": "0.4.0", "tee": "sample", "extra-params": {"supported-hash-algorithms": ["sha384"]}})
        connection.request("POST", "/kbs/v0/auth", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        challenge = json.loads(response.read())
        cookie = response.getheader("Set-Cookie").split(";")[0]
        key = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
        jwk = {"alg": "ECDH-ES+A256KW", "crv": "P-256", "kty": "EC", "x": b64u(key.x.to_bytes(32, "big")), "y": b64u(key.y.to_bytes(32, "big"))}
        runtime = json.dumps({"additional-evidence": "", "nonce": challenge["nonce"], "tee-pubkey": jwk},
                             sort_keys=True, separators=(",", ":")).encode()
        evidence = {"svn": "1", "report_data": base64.b64encode(hashlib.sha384(runtime).digest()).decode()}
        attest = {"init-data": None, "runtime-data": {"nonce": challenge["nonce"], "tee-pubkey": jwk},
                  "tee-evidence": {"primary_evidence": evidence, "additional_evidence": ""}}
        connection.request("POST", "/kbs/v0/attest", json.dumps(attest), {"Content-Type": "application/json", "Cookie": cookie})
        response = connection.getresponse()
        token = json.loads(response.read())["token"]
        connection.request("GET", "/kbs/v0/resource/" + resource, headers={"Authorization": "Bearer " + token})
        response = connection.getresponse()
        data = json.loads(response.read())
        if response.status != 200 or "ciphertext" not in data:
            raise RuntimeError(f"resource status {response.status}")
        results.append(time.monotonic() - start)
    except Exception as error:  # noqa: BLE001 — every failure is counted and reported
        errors.append(str(error))


def main():
    url, ca, resource, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    context = ssl.create_default_context(cafile=ca)
    results, errors = [], []
    threads = [threading.Thread(target=flow, args=(url, context, resource, results, errors)) for _ in range(count)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.monotonic() - start
    results.sort()
    p50 = results[len(results) // 2] * 1000 if results else 0
    p99 = results[min(len(results) - 1, int(len(results) * 0.99))] * 1000 if results else 0
    print(json.dumps({"flows": count, "ok": len(results), "errors": len(errors), "first_error": errors[:1],
                      "seconds": round(elapsed, 3), "attestations_per_second": round(len(results) / elapsed, 1),
                      "p50_ms": round(p50, 1), "p99_ms": round(p99, 1)}))


if __name__ == "__main__":
    main()
