# SPDX-License-Identifier: Apache-2.0
"""What every part of the proof shares: constants, logging, subprocess helpers, the failure type."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PASSPHRASE = "e2e human passphrase 7f3a"  # slot 0: what a person would type at the prompt
BROKER_GUEST_ADDR = "10.0.2.100"  # QEMU user-mode: the guestfwd address, never routed anywhere
BROKER_GUEST_PORT = 8443
BROKER_URL = f"https://{BROKER_GUEST_ADDR}:{BROKER_GUEST_PORT}"
# The broker by host name, as real images name it: only the proof's DNS server (dns.py) knows the name,
# reached at this guestfwd address over TCP.
BROKER_HOSTNAME = "kbs.ccagent.test"
BROKER_NAMED_URL = f"https://{BROKER_HOSTNAME}:{BROKER_GUEST_PORT}"
DNS_GUEST_ADDR = "10.0.2.53"
MARK = "CCAGENT-E2E"
# The kernel modules the guest needs beyond what the builders add: virtio disk and network, the root
# file system, dm-crypt with AES-XTS.
GUEST_DRIVERS = ["virtio_pci", "virtio_blk", "virtio_net", "ext4", "dm_crypt", "xts", "aesni_intel"]


class ProofFailure(Exception):
    pass


def log(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    return subprocess.run([str(c) for c in cmd], **kwargs)


def output(cmd: list, **kwargs) -> str:
    return run(cmd, capture_output=True, text=True, **kwargs).stdout


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ProofFailure(message)


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).strip()
