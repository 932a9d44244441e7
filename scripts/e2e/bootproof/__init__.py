# SPDX-License-Identifier: Apache-2.0
"""The QEMU boot proof (scripts/e2e/boot_proof.py), by concern:

  common     constants, logging, subprocess helpers, ProofFailure
  catalog    the journal MESSAGE_IDs, read from systemd/ccagent.catalog
  images     the guest's disks and initramfs images (root fs, setup initrd, dracut, initramfs-tools)
  broker     ccbroker on 127.0.0.1 (QEMU's guestfwd reaches it through socat)
  guest      one QEMU boot: console driver and the report from the booted root
  scenarios  the boots and what each asserts
  results    BOOTPROOF.md
"""
