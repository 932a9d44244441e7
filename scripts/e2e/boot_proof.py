#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The boot proof: an encrypted root auto-unlocked at boot, in a real kernel under QEMU.

Builds a guest whose root filesystem lives in LUKS2, enrolled with ccagent (binding `broker`, SNP
simulator), an initramfs with the project's dracut module (and one with its initramfs-tools hook),
boots Debian's kernel under QEMU (TCG) with user-mode networking (`restrict=on`, one `guestfwd` to
ccbroker on 127.0.0.1) and asserts from the console and the guest's journal what happened:

  unlock        the agent attests, opens the root through libcryptsetup, the root mounts, the boot
                reaches a marker after switch-root, the journal holds the agent's entries, the active
                dm-crypt table matches the LUKS2 header
  initramfs-tools  the unlock with Debian's initramfs-tools and our hook
With ccagent.fallback=passphrase (development machines):
  policy-deny   the broker refuses by policy        -> passphrase prompt, answered, boot completes
  broker-absent nothing listens behind the guestfwd -> gives up at the deadline, prompt, boot completes
  tampered      the host rewrote the token          -> header refused, prompt, boot completes
Failing closed (the default fallback, poweroff): the reason on the console, no prompt, QEMU exits:
  poweroff      dracut, the broker refuses by policy -> `ccagent: powering off: ... broker.policy-deny`
  initramfs-tools-poweroff     the same with initramfs-tools
  initramfs-tools-dead-agent   the agent crashes (fallback=passphrase) -> local-top powers off
  dead-agent    the same in the systemd initrd -> the unit fails, FailureAction=poweroff-force

Usage: scripts/e2e/boot_proof.py [--work DIR] [--only NAME,...] [--results FILE] [--reuse] [--no-agent-poweroff]
The parts live in scripts/e2e/bootproof/ (images, broker, guest, scenarios, results).
Needs root (mke2fs -d, cpio ownership), qemu-system-x86_64, dracut-core, socat, cryptsetup.
Every process it starts is stopped; the kernel comes from scripts/e2e/kernel.sh's cache.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootproof import results  # noqa: E402
from bootproof.common import REPO, ProofFailure, log  # noqa: E402
from bootproof.scenarios import AGENT_POWEROFF, SCENARIOS, Proof  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / ".build/e2e")
    parser.add_argument("--only", help=f"comma-separated boots: {','.join(SCENARIOS)}")
    parser.add_argument("--results", type=Path, help="write the results (markdown) here")
    parser.add_argument("--reuse", action="store_true", help="keep the last run's disks and staged install")
    parser.add_argument("--agent-poweroff", action=argparse.BooleanOptionalAction, default=True,
                        help="with no --only, run the boots where the agent powers off: "
                        + ", ".join(sorted(AGENT_POWEROFF)))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("boot_proof: needs root (mke2fs -d with root-owned files, dracut)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    # A SIGTERM (CI's timeout, a developer's kill) still stops QEMU and the broker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    proof = Proof(args.work.resolve())
    started = time.monotonic()
    try:
        proof.run(set(args.only.split(",")) if args.only else None, args.reuse, args.agent_poweroff)
    except ProofFailure as failure:
        print(f"boot proof FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        proof.close()
    total = time.monotonic() - started
    if args.results:
        results.write(args.results, proof.results, proof.kernel.version, total)
    log(f"boot proof passed: {len(proof.results)} boots in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
