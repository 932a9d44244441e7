#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# An independent TDX quote v4 verifier (python cryptography), written from Intel's DCAP layout in
# tee-abi.md, to show the simulator's quotes are faithful. Usage: verify_tdx_quote.py QUOTE ROOT_PEM
# Checks the quote signature, the QE report binding, the QE report signature by the PCK, and the PCK
# chain up to ROOT_PEM. Prints OK and exits 0 when everything verifies.
import hashlib
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def ecdsa(key, signature, data):
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
    key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))


def main(quote_path, root_path):
    quote = open(quote_path, "rb").read()
    version, key_type, tee_type = struct.unpack_from("<HHI", quote, 0)
    if (version, key_type, tee_type) != (4, 2, 0x81):
        sys.exit(f"not a TDX v4 ECDSA-P256 quote: {version} {key_type} {tee_type:#x}")
    signed = quote[:48 + 584]
    offset = len(signed)
    (signature_length,) = struct.unpack_from("<I", quote, offset)
    offset += 4
    signature, attestation_key = quote[offset:offset + 64], quote[offset + 64:offset + 128]
    offset += 128
    cert_type, cert_size = struct.unpack_from("<HI", quote, offset)
    offset += 6
    if cert_type != 6:
        sys.exit("certification data is not type 6")
    qe_report, qe_signature = quote[offset:offset + 384], quote[offset + 384:offset + 448]
    offset += 448
    (auth_size,) = struct.unpack_from("<H", quote, offset)
    auth = quote[offset + 2:offset + 2 + auth_size]
    offset += 2 + auth_size
    inner_type, chain_size = struct.unpack_from("<HI", quote, offset)
    chain = quote[offset + 6:offset + 6 + chain_size].rstrip(b"\0")
    if inner_type != 5:
        sys.exit("inner certification data is not type 5")
    x, y = int.from_bytes(attestation_key[:32], "big"), int.from_bytes(attestation_key[32:], "big")
    ecdsa(ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key(), signature, signed)
    if qe_report[320:384] != hashlib.sha256(attestation_key + auth).digest() + b"\0" * 32:
        sys.exit("QE report data does not bind the attestation key")
    certificates = x509.load_pem_x509_certificates(chain)
    pck = certificates[0]
    ecdsa(pck.public_key(), qe_signature, qe_report)
    root = x509.load_pem_x509_certificates(open(root_path, "rb").read())[-1]
    for child, parent in zip(certificates, certificates[1:] + [root]):
        parent.public_key().verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
    print("OK")


if __name__ == "__main__":
    main(*sys.argv[1:3])
