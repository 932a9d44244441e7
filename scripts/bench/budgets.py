#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The issue #11 budgets, met or missed, from peer.json, initramfs.json and the stripped binary size.

Usage: budgets.py PEER_JSON INITRAMFS_JSON STRIPPED_BINARY BINARY — prints a Markdown section.
"""
import json
import subprocess
import sys

peer = json.load(open(sys.argv[1]))
ird = json.load(open(sys.argv[2]))
import os
binary = os.path.getsize(sys.argv[3])
def ldd(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if "=>" in line}
libs = ldd(sys.argv[4])
curl = next((l for l in libs if l.startswith("libcurl")), None)
via_curl = len(libs & ldd(f"/usr/lib/x86_64-linux-gnu/{curl}")) if curl else 0
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
    cpu = {k: t[k]["cpu_ms"] for k in t}
    digest = max(cpu["ccagent"] - cpu["ccagent-fast"], 0)
    print(f"- **Unlock time** ({cc:.0f} ms median wall, {cpu['ccagent']:.0f} ms of ccagent's own CPU). Where it goes:")
    print(f"  process start {start:.0f} ms (`ccagent --version`: the dynamic loader resolving {len(libs)} shared libraries,")
    print(f"  {via_curl} of which are in libcurl's own dependency tree, then the Swift runtime); the RCAR exchange (TLS")
    print("  handshake, P-256 key, simulated")
    print("  SNP report signed, the broker verifying it and its chain and wrapping the secret: see `ccagent fetch`")
    print(f"  above); and about {digest:.0f} ms of CPU in libcryptsetup verifying the volume-key digest (the CPU difference")
    print(f"  between the default image and the 1000-iteration one). On the 1000-iteration image ccagent takes {fast_cc:.0f} ms")
    print(f"  ({'within' if fast_cc < 50 else 'still above'} 50 ms) and clevis best tuning {fast_prio:.0f} ms "
          f"({fast_prio / fast_cc:.1f}x). The rest of the wall time is waiting:")
    print("  the broker (TLS, JWE) runs on the same 2 cores as the client, and any other work on the machine (see the")
    print("  load averages at the top and the bottom) competes for them; every process-level number here, ours and")
    print("  clevis's, is inflated by it.")
    print(f"- **Why 7x and 50x are out of reach on a default-formatted volume.** The digest check is a property of the")
    print("  volume, not of the unlocker: `luksFormat` benchmarks its PBKDF2 iterations (see the slot parameters above) and every unlock")
    print(f"  pays them, clevis too. With ~{digest:.0f} ms of it on both sides, 7x over clevis's best tuning ({prio:.0f} ms)")
    left = prio / 7 - digest
    if left > 0:
        print(f"  needs ccagent at ≤ {prio / 7:.0f} ms in total, leaving ≤ {left:.0f} ms for process start, attestation and")
        print("  the network.")
    else:
        print(f"  needs ccagent at ≤ {prio / 7:.0f} ms in total, which the digest check alone already exceeds: no")
        print("  unlocker that verifies this volume's digest can reach it.")
    print("  The boot-configuration ratio depends mostly on the argon2id cost cryptsetup benchmarked for slot 0 at")
    print("  format time, which varies from run to run on a shared machine (see the slot parameters above).")
    print("- **What would fix it.** (1) Cheaper volume digests on images enrolled for ccagent (`--pbkdf-force-iterations`")
    print("  when the volume key is created; the key is 256–512 random bits, so the digest's iterations add little")
    print("  against guessing — a passphrase guess still pays slot 0's argon2id). (2) A faster process start: a libcurl")
    print("  without LDAP/SSH/RTMP/IDN/GSSAPI/PSL, or HTTP/1.1 over OpenSSL directly, drops most of the libraries above.")
    print("  (3) Measuring on an idle machine, with the broker on another host as in production: the broker's own")
    print("  evidence verification is ~2 ms (first table), so most of the gap between ccagent's CPU and its wall time")
    print("  here is waiting for one of the 2 shared cores.")
if rss_cc * 1024 * 1024 >= 25 * MB:
    print(f"- **Peak RSS** ({rss_cc:.1f} MiB). Mostly mapped, touched pages of shared libraries (libcrypto, libcurl's")
    print("  dependency tree) and the statically linked Swift runtime and Foundation; libcryptsetup's own allocations")
    print("  on a pbkdf2 keyslot are small. The libcurl trim above would cut it; so would keeping Foundation out of")
    print("  the agent's targets. clevis's boot configuration peaks at "
          f"{r['boot']['median_kib'] / 1024:.0f} MiB (argon2id slot 0); its best tuning at "
          f"{r['prio']['median_kib'] / 1024:.1f} MiB.")
if binary >= 20 * MB:
    print(f"- **Binary size** ({binary / MB:.1f} MB): the static Swift stdlib and Foundation(Essentials) dominate.")
if grow_cc > grow_cl:
    print(f"- **Initramfs growth** ({grow_cc / 1024:,.0f} KiB compressed, {grow_cc_raw / 1024:,.0f} KiB uncompressed, against")
    print(f"  clevis's {grow_cl / 1024:,.0f} KiB and {grow_cl_raw / 1024:,.0f} KiB). clevis is shell scripts plus jose, curl and")
    print("  luksmeta, and its largest additions are curl's libraries (listed above); ccagent is one static-Swift binary")
    print(f"  of {binary / MB:.1f} MB plus the same libcurl/OpenSSL libraries and libstdc++. What would fix it: the binary-size work")
    print("  (no Foundation in the agent, `-Osize`, `--gc-sections`) and the libcurl trim (clevis's curl pulls the same")
    print("  gnutls/krb5/p11-kit libraries in, so a leaner libcurl would shrink both).")
