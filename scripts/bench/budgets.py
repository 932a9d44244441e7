#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The footprint and start-up targets (issue #19), each met or missed, with clevis + tang beside them.

Usage: budgets.py PEER_JSON INITRAMFS_JSON STRIPPED_BINARY BINARY — prints a Markdown section.
Every figure comes from this run: peer.json (scripts/bench/peer.sh, interleaved timings and RSS),
initramfs.json (scripts/bench/initramfs.sh), the binary itself (size, ldd).
"""
import json
import os
import subprocess
import sys

peer = json.load(open(sys.argv[1]))
ird = json.load(open(sys.argv[2]))
binary = os.path.getsize(sys.argv[3])
libs = [line.split()[0] for line in subprocess.run(["ldd", sys.argv[4]], capture_output=True, text=True)
        .stdout.splitlines() if "=>" in line]
t, r = peer["timing"], peer["rss"]
cc, prio, boot = t["ccagent"]["median"], t["prio"]["median"], t["boot"]["median"]
fast_cc, fast_prio, start = t["ccagent-fast"]["median"], t["prio-fast"]["median"], t["start"]["median"]
rss_cc, rss_prio = r["ccagent"]["median_kib"] / 1024, r["prio"]["median_kib"] / 1024
img = ird["images"]
grow_cc = (img["ccagent"]["compressed"] - img["base"]["compressed"]) / 1024 / 1024
grow_cl = (img["clevis"]["compressed"] - img["base"]["compressed"]) / 1024 / 1024
MiB = 1024 * 1024


def verdict(ok):
    return "**met**" if ok else "**missed**"


rows = [
    ("initramfs growth, dracut, gzip -9", f"+{grow_cc:.1f} MiB", f"+{grow_cl:.1f} MiB", "≤ clevis's",
     verdict(grow_cc <= grow_cl)),
    ("peak RSS of the boot-path unlock", f"{rss_cc:.1f} MiB", f"{rss_prio:.1f} MiB (best tuning)", "≤ 10 MiB",
     verdict(rss_cc <= 10)),
    ("binary (release, stripped)", f"{binary / MiB:.1f} MiB", "shell + jose", "≤ 10 MiB", verdict(binary <= 10 * MiB)),
    ("process start (`ccagent --version`)", f"{start:.1f} ms, {len(libs)} shared libraries", "—", "≤ 6 ms",
     verdict(start <= 6)),
    ("boot-path unlock, default-formatted image", f"{cc:.1f} ms ({prio / cc:.1f}x clevis tuned, {boot / cc:.1f}x boot config)",
     f"{prio:.0f} ms / {boot:.0f} ms", "≥ 4x / ≥ 25x", verdict(prio / cc >= 4 and boot / cc >= 25)),
    ("same, image with a 1000-iteration digest", f"{fast_cc:.1f} ms ({fast_prio / fast_cc:.1f}x)", f"{fast_prio:.0f} ms",
     "≥ 8x", verdict(fast_prio / fast_cc >= 8)),
]
print("\n## Targets (issue #19): footprint and start-up against clevis + tang\n")
print("| measure | ccagent | clevis + tang | target | verdict |")
print("|---|---:|---:|---:|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
print()
print(f"Shared libraries at start: {', '.join(sorted(libs))}.")
print()
print("The default-formatted image's unlock includes libcryptsetup verifying the volume-key digest, a cost of the")
print("volume that every unlocker pays (clevis too): the 1000-iteration row isolates the unlockers. Wall times")
print("are medians of interleaved runs on a shared 2-core machine with the broker (or tangd) on the same cores.")
