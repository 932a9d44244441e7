#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetches Debian's current amd64 kernel package with apt once and unpacks it into a cache shared by
# the QEMU boot proof, the initramfs listing test and the benchmarks. Prints two lines:
#   KVER=<kernel version>   ROOT=<directory holding boot/vmlinuz-KVER and lib/modules/KVER>
# Cache: $CCAGENT_E2E_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/ccagent-e2e.
set -euo pipefail

cache=${CCAGENT_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ccagent-e2e}
mkdir -p "$cache"
exec 9>"$cache/.kernel.lock"
flock 9

if [[ -f $cache/kernel/KVER ]]; then
    kver=$(cat "$cache/kernel/KVER")
else
    # linux-image-amd64 is the metapackage; its dependency names the real image package.
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
    if [[ -z $pkg ]]; then
        apt-get update -qq
        pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
    fi
    [[ -n $pkg ]] || { echo "kernel.sh: apt knows no linux-image-amd64; check /etc/apt/sources.list" >&2; exit 1; }
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
    mkdir -p "$tmp/root"
    dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"
    kver=${pkg#linux-image-}
    [[ -f $tmp/root/boot/vmlinuz-$kver ]] || { echo "kernel.sh: $pkg has no boot/vmlinuz-$kver" >&2; exit 1; }
    # dracut and mkinitramfs want modules.dep; the package leaves it to its postinst.
    depmod -b "$tmp/root" "$kver"
    echo "$kver" >"$tmp/root/KVER"
    rm -rf "$cache/kernel"
    mv "$tmp/root" "$cache/kernel"
fi
echo "KVER=$kver"
echo "ROOT=$cache/kernel"
