#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# An independent check of Azure vTPM evidence (az-snp-vtpm / az-tdx-vtpm), written from Trustee's rules
# (deps/verifier/src/az_snp_vtpm, az_tdx_vtpm) with python cryptography; the hardware report's own chain
# is left to verify_snp_report.py / verify_tdx_quote.py.
# Usage: verify_azure_evidence.py EVIDENCE_JSON REPORT_DATA_HEX
# Prints one JSON line {"ok", "failures", "pcr00", "tee"}; exits 0 when every check passes, 1 otherwise.
import base64
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def field(evidence, *names):
    for name in names:
        if name in evidence:
            return evidence[name]
    raise KeyError(names[0])


def main(path, report_data_hex):
    evidence = json.load(open(path))
    expected = bytes.fromhex(report_data_hex)
    version = evidence.get("version", 0)
    quote = field(evidence, "tpm_quote", "quote")
    if version == 0:
        signature, message = bytes(quote["signature"]), bytes(quote["message"])
        pcrs = [bytes(p) for p in quote["pcrs"]]
        hcl = bytes(field(evidence, "hcl_report", "report"))
        td_quote = bytes(evidence["td_quote"]) if "td_quote" in evidence else None
    else:
        signature, message = bytes.fromhex(quote["signature"]), bytes.fromhex(quote["message"])
        pcrs = [bytes.fromhex(p) for p in quote["pcrs"]]
        hcl = b64url(evidence["hcl_report"])
        td_quote = b64url(evidence["td_quote"]) if "td_quote" in evidence else None
    failures = []
    # HCL report: IGVM request data at 0x4C0 (data size, version, report type, hash type, var data size).
    _, _, report_type, _, var_size = struct.unpack_from("<5I", hcl, 0x4C0)
    var_data = hcl[0x4D4:0x4D4 + var_size]
    keys = json.loads(var_data)["keys"]
    ak = next(k for k in keys if k.get("kid") == "HCLAkPub")
    public = rsa.RSAPublicNumbers(int.from_bytes(b64url(ak["e"]), "big"), int.from_bytes(b64url(ak["n"]), "big"))
    try:
        public.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        failures.append("signature")
    # TPMS_ATTEST: magic, type, TPM2B qualifiedSigner, TPM2B extraData, clockInfo (17), firmware (8),
    # TPML_PCR_SELECTION, TPM2B pcrDigest.
    offset = 6
    size = struct.unpack_from(">H", message, offset)[0]
    offset += 2 + size
    size = struct.unpack_from(">H", message, offset)[0]
    nonce = message[offset + 2:offset + 2 + size]
    offset += 2 + size + 17 + 8
    count = struct.unpack_from(">I", message, offset)[0]
    offset += 4
    for _ in range(count):
        offset += 3 + message[offset + 2]
    size = struct.unpack_from(">H", message, offset)[0]
    pcr_digest = message[offset + 2:offset + 2 + size]
    if nonce != expected:
        failures.append("nonce")
    if hashlib.sha256(b"".join(pcrs)).digest() != pcr_digest:
        failures.append("pcrs")
    if report_type == 2:
        hardware_report_data = hcl[0x20 + 0x50:0x20 + 0x90]
    else:
        hardware_report_data = td_quote[48 + 520:48 + 584]  # v4 header, then REPORTDATA at body offset 520
    if hashlib.sha256(var_data).digest() != hardware_report_data[:32]:
        failures.append("var_data")
    if version >= 2:
        user_data = bytes.fromhex(json.loads(var_data)["user-data"])
        if user_data[:len(expected)] != expected:
            failures.append("user_data")
    tee = "az-snp-vtpm" if report_type == 2 else "az-tdx-vtpm"
    print(json.dumps({"ok": not failures, "failures": failures, "pcr00": pcrs[0].hex(), "tee": tee}))
    sys.exit(0 if not failures else 1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
