#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The issue #11 budgets, met or missed, from peer.json, initramfs.json and the stripped binary size.

Usage: budgets.py PEER_JSON INITRAMFS_JSON STRIPPED_BINARY_BYTES — prints a Markdown section.
"""
import json
import sys

peer = json.load(open(sys.argv[1]))
ird = json.load(open(sys.argv[2]))
binary = int(sys.argv[3])
t, r = peer["timing"], peer["rss"]
cc, prio, boot = t["ccagent"]["median"], t["prio"]["median"], t["boot"]["median"]
fast_cc, fast_prio, start = t["ccagent-fast"]["median"], t["prio-fast"]["median"], t["start"]["median"]
rss_cc = r["ccagent"]["median_kib"] / 1024
img = ird["images"]
grow_cc = img["ccagent"]["compressed"] - img["base"]["compressed"]
grow_cl = img["clevis"]["compressed"] - img["base"]["compressed"]
grow_cc_raw = img["ccagent"]["uncompressed"] - img["base"]["uncompressed"]
grow_cl_raw = img["clevis"]["uncompressed"] - img["base"]["uncompressed"]
MB = 1000 * 1000


def verdict(ok, miss):
    return "**met**" if ok else f"**missed** {miss}"


rows = [
    ("boot-path unlock < 50 ms", f"{cc:.1f} ms", verdict(cc < 50, f"by {cc - 50:.0f} ms ({cc / 50:.1f}x the budget)")),
    ("≥ 7x faster than clevis best tuning", f"{prio / cc:.1f}x", verdict(prio / cc >= 7, f"(needs ccagent ≤ {prio / 7:.0f} ms)")),
    ("≥ 50x faster than clevis boot configuration", f"{boot / cc:.1f}x",
     verdict(boot / cc >= 50, f"(needs ccagent ≤ {boot / 50:.0f} ms)")),
    ("peak RSS < 25 MB (`ccagent unlock`)", f"{rss_cc:.1f} MiB = {rss_cc * 1024 * 1024 / MB:.1f} MB",
     verdict(rss_cc * 1024 * 1024 < 25 * MB, f"by {rss_cc * 1024 * 1024 / MB - 25:.1f} MB")),
    ("binary < 20 MB (release, stripped, static Swift stdlib)", f"{binary / MB:.1f} MB",
     verdict(binary < 20 * MB, f"by {binary / MB - 20:.1f} MB")),
    ("initramfs growth ≤ clevis's (compressed)", f"{grow_cc / 1024:,.0f} KiB vs {grow_cl / 1024:,.0f} KiB",
     verdict(grow_cc <= grow_cl, f"by {(grow_cc - grow_cl) / 1024:,.0f} KiB ({grow_cc / grow_cl:.1f}x clevis's)")),
]
print("\n## Budgets (issue #11)\n")
print("| budget | measured (median) | verdict |")
print("|---|---:|---|")
for b, m, v in rows:
    print(f"| {b} | {m} | {v} |")

print("\n### Why, and what would fix the misses\n")
if cc >= 50 or prio / cc < 7 or boot / cc < 50:
    print(f"- **Unlock time.** The {cc:.0f} ms are roughly: process start {start:.0f} ms (`ccagent --version`: the dynamic")
    print("  loader resolving 49 shared libraries, mostly libcurl's dependencies, plus the Swift runtime); the RCAR")
    print("  exchange (TLS handshake, P-256 key, simulated SNP report, broker's chain check: see `ccagent fetch` above);")
    print(f"  and libcryptsetup verifying the volume-key digest. That digest step is a property of the volume,")
    print("  not of the unlocker: `luksFormat` benchmarks it (~200k PBKDF2-SHA256 iterations here) and every unlock")
    print(f"  pays it, clevis included. On an image whose digest has 1000 iterations ccagent takes {fast_cc:.0f} ms")
    print(f"  ({'within' if fast_cc < 50 else 'still above'} 50 ms) and clevis best tuning {fast_prio:.0f} ms, "
          f"{fast_prio / fast_cc:.1f}x. So the 7x and")
    print("  50x ratios are bounded by the shared digest cost on a default-formatted volume: with ~60–80 ms of it on")
    print(f"  both sides the best achievable best-tuning ratio is about (clevis {prio:.0f}) / (digest + our exchange).")
    print("  What would fix it: (1) images built for ccagent formatted with a cheaper digest (`--pbkdf-force-iterations`")
    print("  at `luksFormat`; the volume key is random, so the digest's PBKDF2 guards nothing a passphrase slot does not);")
    print("  (2) a smaller process start: link against a libcurl without LDAP/SSH/RTMP/IDN/GSSAPI (or talk HTTP/1.1 over")
    print("  OpenSSL directly) to drop ~40 of the 49 libraries; (3) overlapping header load and digest-independent work")
    print("  with the network round trip. The machine is also shared (2 cores, QEMU jobs from other work), which inflates")
    print("  every process-level number here, ours and clevis's alike.")
if rss_cc * 1024 * 1024 >= 25 * MB:
    print(f"- **Peak RSS** ({rss_cc:.1f} MiB). Mostly mapped, touched pages of shared libraries (libcrypto, libcurl's")
    print("  dependency tree) and the statically linked Swift runtime and Foundation; libcryptsetup's own allocations")
    print("  on a pbkdf2 keyslot are small. The same libcurl trim as above would cut it; so would dropping Foundation")
    print("  from the agent's targets. clevis's boot configuration peaks at "
          f"{r['boot']['median_kib'] / 1024:.0f} MiB (argon2id slot 0); its best tuning at "
          f"{r['prio']['median_kib'] / 1024:.1f} MiB.")
if binary >= 20 * MB:
    print(f"- **Binary size** ({binary / MB:.1f} MB): the static Swift stdlib and Foundation(Essentials) dominate.")
if grow_cc > grow_cl:
    print(f"- **Initramfs growth** ({grow_cc / 1024:,.0f} KiB compressed, {grow_cc_raw / 1024:,.0f} KiB uncompressed, against")
    print(f"  clevis's {grow_cl / 1024:,.0f} KiB and {grow_cl_raw / 1024:,.0f} KiB). clevis is shell scripts plus jose, curl and")
    print("  luksmeta (a few hundred KiB of its own, plus curl's libraries); ccagent is one static-Swift binary of")
    print(f"  {binary / MB:.1f} MB plus the same kind of libcurl/OpenSSL libraries. What would fix it: the binary-size work")
    print("  above (no Foundation in the agent, `-Osize`, dead-stripping with `--gc-sections`), and sharing libcurl's")
    print("  dependencies that the base image already has (`network` pulls some of them in).")
