#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Initramfs growth: ccagent's dracut module against Debian's clevis dracut modules, same kernel, same
# fixed module list. Usage: scripts/bench/initramfs.sh WORKDIR STAGEDIR
#   STAGEDIR is a `make install DESTDIR=STAGEDIR` tree (ccagent's files are taken from there; nothing
#   is installed on the host). Prints a Markdown section; writes WORKDIR/initramfs.json.
# The images are built with dracut from dracut-core (never the `dracut` package), in a throwaway copy
# of /usr/lib/dracut to which the clevis modules (unpacked from clevis-dracut, not installed: it
# depends on the `dracut` package) and the staged 90ccagent module are added.
set -euo pipefail
work=$1
stage=$2
root_dir=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"

eval "$("$root_dir/scripts/e2e/kernel.sh" | sed -n 's/^\(KVER\|ROOT\)=\(.*\)$/\1="\2"/p')"
[[ -n ${KVER:-} && -d ${ROOT:-}/lib/modules/$KVER ]] || { echo "initramfs.sh: kernel.sh gave no kernel" >&2; exit 1; }

# clevis-dracut 19 (Debian 12), unpacked once into a cache.
cache=${CCAGENT_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ccagent-bench}
mkdir -p "$cache"
if [[ ! -d $cache/clevis-dracut/usr/lib/dracut/modules.d/60clevis ]]; then
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root clevis-dracut >/dev/null)
    dpkg-deb -x "$tmp"/clevis-dracut_*.deb "$tmp/root"
    rm -rf "$cache/clevis-dracut"
    mv "$tmp/root" "$cache/clevis-dracut"
    rm -rf "$tmp"
fi
clevis_version=$(dpkg-query -W -f='${Version}' clevis)

base=$work/dracutbase
rm -rf "$base"
cp -a /usr/lib/dracut "$base"
cp -a "$cache/clevis-dracut/usr/lib/dracut/modules.d/"60clevis* "$base/modules.d/"
cp -a "$stage/usr/lib/dracut/modules.d/90ccagent" "$base/modules.d/"
mkdir -p "$work/dracut.conf.d"
: >"$work/dracut.conf"

# ccagent's module takes its files from CCAGENT_DESTDIR when it supports it; older versions look
# the binary up on PATH and install the unit and configuration from host paths, which --include
# provides from the staged tree instead (nothing is copied onto the host).
ccagent_env=(CCAGENT_DESTDIR="$stage")
ccagent_args=()
if ! grep -q CCAGENT_DESTDIR "$base/modules.d/90ccagent/module-setup.sh"; then
    ccagent_env=(PATH="$stage/usr/bin:$PATH")
    ccagent_args=(--include "$stage/etc/ccagent" /etc/ccagent
        --include "$stage/usr/lib/systemd/system/ccagent-unlock.service" /usr/lib/systemd/system/ccagent-unlock.service)
fi

# A systemd initrd that can open LUKS2 and bring up the network, with virtio storage only
# (kernel-modules' no-hostonly set of every storage driver is left out; network drivers stay, as the
# network module requires them). Compressed as dracut does by default here (gzip -9).
modules="systemd systemd-initrd dracut-systemd crypt dm network base"
build() { # NAME EXTRA_MODULES [env and args...]
    local name=$1 extra=$2
    shift 2
    local envs=() args=()
    while (($#)) && [[ $1 != -- ]]; do envs+=("$1"); shift; done
    (($#)) && shift
    args=("$@")
    env dracutbasedir="$base" "${envs[@]}" dracut --conf "$work/dracut.conf" --confdir "$work/dracut.conf.d" \
        --no-hostonly --no-hostonly-cmdline --no-early-microcode --kmoddir "$ROOT/lib/modules/$KVER" --kver "$KVER" \
        -m "$modules $extra" -o kernel-modules --drivers "virtio_pci virtio_blk virtio_scsi dm_crypt" \
        --gzip --force --tmpdir "$work" "${args[@]}" "$work/$name.img" >"$work/$name.log" 2>&1 \
        || { tail -20 "$work/$name.log" >&2; echo "initramfs.sh: dracut failed for $name" >&2; exit 1; }
    grep -q "Including module: ${extra%% *}" "$work/$name.log" \
        || { tail -20 "$work/$name.log" >&2; echo "initramfs.sh: $name lacks module ${extra%% *}" >&2; exit 1; }
    # file list with sizes (regular files), for the added-files breakdown
    zcat "$work/$name.img" >"$work/$name.cpio"
    stat -c %s "$work/$name.cpio" >"$work/$name.raw"
    cpio -itv --quiet <"$work/$name.cpio" 2>/dev/null | awk '$1 ~ /^-/ {print $5, $9}' | sort -k2 >"$work/$name.files"
    rm -f "$work/$name.cpio"
}
must_have() { # NAME PATH...: the module really installed what it is measured for
    local name=$1 path
    shift
    for path in "$@"; do
        grep -q -- "/$path\$" "$work/$name.files" || { echo "initramfs.sh: $name image lacks $path" >&2; exit 1; }
    done
}
build base systemd
build ccagent ccagent "${ccagent_env[@]}" -- "${ccagent_args[@]}"
build clevis "clevis clevis-pin-tang"
must_have ccagent bin/ccagent ccagent/ccagent.conf systemd/system/ccagent-unlock.service
must_have clevis bin/clevis-decrypt-tang bin/jose libexec/clevis-luks-askpass

python3 - "$work" "$KVER" "$clevis_version" "$(dpkg-query -W -f='${Version}' dracut-core)" <<'PY'
import json, os, sys
work, kver, clevis_version, dracut_version = sys.argv[1:5]
def files(name):
    out = {}
    for line in open(f"{work}/{name}.files"):
        size, path = line.rstrip("\n").split(" ", 1)
        out[path] = int(size)
    return out
base = files("base")
res = {"kver": kver, "clevis_version": clevis_version, "images": {}}
for name in ("base", "ccagent", "clevis"):
    f = files(name)
    added = {p: s for p, s in f.items() if p not in base}
    res["images"][name] = {
        "compressed": os.path.getsize(f"{work}/{name}.img"),
        "uncompressed": int(open(f"{work}/{name}.raw").read()),
        "files": len(f),
        "added_files": len(added),
        "added_bytes": sum(added.values()),
        "largest_added": sorted(added.items(), key=lambda kv: -kv[1])[:6],
    }
json.dump(res, open(f"{work}/initramfs.json", "w"), indent=1)
img = res["images"]
kib = lambda n: f"{n / 1024:,.0f} KiB"
print(f"\n## Initramfs growth (dracut {dracut_version}, kernel {kver}, gzip -9)\n")
print("Same kernel and fixed module list for all three (`systemd systemd-initrd dracut-systemd crypt dm network base`,")
print("`--no-hostonly`, virtio storage drivers only); the peer adds Debian's `clevis clevis-pin-tang` modules")
print(f"(clevis-dracut {clevis_version}), ours adds `ccagent` from a staged `make install DESTDIR=` tree.\n")
print("| image | compressed | uncompressed | files | growth compressed | growth uncompressed | new files |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, label in (("base", "baseline"), ("ccagent", "+ ccagent"), ("clevis", "+ clevis, clevis-pin-tang")):
    i = img[name]
    gc = i["compressed"] - img["base"]["compressed"]
    gu = i["uncompressed"] - img["base"]["uncompressed"]
    print(f"| {label} | {kib(i['compressed'])} | {kib(i['uncompressed'])} | {i['files']} | "
          f"{'' if name == 'base' else kib(gc)} | {'' if name == 'base' else kib(gu)} | "
          f"{'' if name == 'base' else i['added_files']} |")
for name, label in (("ccagent", "ccagent"), ("clevis", "clevis")):
    big = ", ".join(f"`{p}` {s // 1024} KiB" for p, s in img[name]["largest_added"])
    print(f"\nLargest files {label} adds: {big}.")
PY
