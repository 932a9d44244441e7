#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages that building, testing and the demo need. Idempotent: installs only
# what is missing, so a second run costs a dpkg query.
set -euo pipefail

packages=(
    # build: the C libraries behind our system-library targets
    pkg-config libssl-dev libsystemd-dev libcryptsetup-dev
    # build: tpm2-tss headers for the VTPM module's types (the libraries are dlopened, never linked)
    libtss2-dev
    # tests and demo: real LUKS2 images, a real journald, openssl for test CAs, lint
    cryptsetup-bin systemd openssl shellcheck curl ca-certificates
    # tests and demo: the software TPM behind sim-az-snp / sim-az-tdx (VTPMTests)
    swtpm swtpm-tools
)
if [[ "${CCAGENT_SETUP_E2E:-0}" == 1 ]]; then
    # the QEMU boot proof: kernel, initramfs builders, emulator; dmsetup for the guest's dm-crypt table
    packages+=(qemu-system-x86 dracut-core dracut-network initramfs-tools-core cryptsetup-initramfs busybox cpio kmod
        e2fsprogs socat dmsetup)
fi
if [[ "${CCAGENT_SETUP_DEB:-0}" == 1 ]]; then
    # make deb and its install test: debhelper, lintian, a minimal Debian root, manual pages
    packages+=(debhelper dpkg-dev lintian debootstrap man-db)
fi
if [[ "${CCAGENT_SETUP_BENCH:-0}" == 1 ]]; then
    # make bench: the clevis + tang peer, GNU time, gnuplot, initramfs builder for the size
    # comparison. Never the `dracut` package (it conflicts with initramfs-tools): clevis-dracut, which
    # depends on it, is unpacked into a cache by scripts/bench/initramfs.sh instead.
    packages+=(clevis clevis-luks clevis-systemd tang jose time gnuplot-nox
        dracut-core dracut-network cpio kmod cryptsetup-bin)
fi

# Python modules the test servers and validators use (stub KBS, JSON schema checks).
for module in cryptography jsonschema; do
    python3 -c "import $module" 2>/dev/null || python3 -m pip install --quiet "$module"
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
echo "setup: installing ${missing[*]}" >&2
SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
