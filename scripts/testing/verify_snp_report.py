#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# An independent SNP report verifier (python cryptography), written from AMD's spec and tee-abi.md,
# used to show the simulator's reports are faithful. Usage: verify_snp_report.py REPORT CHAIN_PEM
# CHAIN_PEM holds the VCEK, then the ASK, then the ARK. Prints OK and exits 0 when everything verifies.
import sys
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

warnings.simplefilter("ignore")  # AMD VCEKs have serial number 0


def main(report_path, chain_path):
    report = open(report_path, "rb").read()
    if len(report) != 0x4A0:
        sys.exit(f"report is {len(report)} bytes")
    vcek, ask, ark = x509.load_pem_x509_certificates(open(chain_path, "rb").read())
    r = int.from_bytes(report[0x2A0:0x2A0 + 72], "little")
    s = int.from_bytes(report[0x2E8:0x2E8 + 72], "little")
    vcek.public_key().verify(encode_dss_signature(r, s), report[:0x2A0], ec.ECDSA(hashes.SHA384()))
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
    for child, parent in ((vcek, ask), (ask, ark), (ark, ark)):
        parent.public_key().verify(child.signature, child.tbs_certificate_bytes, pss, hashes.SHA384())
    tcb = int.from_bytes(report[0x180:0x188], "little")
    expected = {"1.3.6.1.4.1.3704.1.3.1": tcb & 0xFF, "1.3.6.1.4.1.3704.1.3.2": (tcb >> 8) & 0xFF,
                "1.3.6.1.4.1.3704.1.3.3": (tcb >> 48) & 0xFF, "1.3.6.1.4.1.3704.1.3.8": (tcb >> 56) & 0xFF}
    for ext in vcek.extensions:
        oid = ext.oid.dotted_string
        if oid in expected:
            raw = ext.value.value
            if raw[0] != 0x02 or int.from_bytes(raw[2:], "big") != expected[oid]:
                sys.exit(f"SPL {oid} does not match the report")
        if oid == "1.3.6.1.4.1.3704.1.4" and ext.value.value != report[0x1A0:0x1E0]:
            sys.exit("hwID does not match CHIP_ID")
    print("OK")


if __name__ == "__main__":
    main(*sys.argv[1:3])
