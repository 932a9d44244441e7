#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Summarises scripts/bench/peer.sh's interleaved timings and GNU time samples as Markdown; writes peer.json.

Usage: peer_report.py WORKDIR CLEVIS_VERSION TANG_VERSION CRYPTSETUP_VERSION
"""
import json
import statistics
import sys

work, clevis_v, tang_v, cs_v = sys.argv[1:5]
TIMINGS = json.load(open(f"{work}/timings.json"))


def quantile(xs, q):
    """Linear-interpolation quantile of a sorted list."""
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def timing(name):
    x = TIMINGS[name]
    ms = x["wall_ms"]
    return {"median": statistics.median(ms), "p10": quantile(ms, 0.1), "p90": quantile(ms, 0.9),
            "min": min(ms), "max": max(ms), "runs": len(ms), "samples_ms": ms,
            "cpu_ms": statistics.median(x["cpu_ms"]), "maxrss_kib_median": statistics.median(x["maxrss_kib"])}


def rss(name):
    kib = [int(line) for line in open(f"{work}/rss-{name}.txt") if line.strip()]
    return {"median_kib": statistics.median(kib), "min_kib": min(kib), "max_kib": max(kib), "runs": len(kib),
            "samples_kib": kib}


rows = {
    "ccagent": ("ccagent `unlock --verify-only` (sim-snp evidence, ccbroker over TLS; its keyslot only)",),
    "prio": ("clevis + tang, best tuning (clevis keyslot priority prefer)",),
    "boot": ("clevis + tang, boot configuration (priority normal: argon2id slot 0 tried first)",),
}
extra = {
    "ccagent-fast": "ccagent `unlock --verify-only`, volume digest 1000 iterations",
    "prio-fast": "clevis + tang best tuning, volume digest 1000 iterations",
    "start": "`ccagent --version` (process start only)",
}
t = {k: timing(k) for k in list(rows) + list(extra)}
r = {k: rss(k) for k in rows}
json.dump({"timing": t, "rss": r}, open(f"{work}/peer.json", "w"), indent=1)

hdr = json.load(open(f"{work}/base.json"))
kdf = hdr["keyslots"]["0"]["kdf"]
dig = next(iter(hdr["digests"].values()))
slot0 = (f"{kdf['type']}, time cost {kdf.get('time')}, memory {kdf.get('memory', 0) // 1024} MiB, {kdf.get('cpus')} threads"
         if kdf["type"].startswith("argon2") else f"{kdf['type']}, {kdf.get('iterations')} iterations")
print("\n## Boot-path unlock, side by side with clevis + tang (process start included)\n")
print("One `cryptsetup luksFormat` image (LUKS2, 32 MiB, defaults: slot 0 is what cryptsetup benchmarked on this")
print(f"machine during this run — {slot0}; volume-key digest {dig['hash']}, {dig['iterations']} PBKDF2 iterations),")
print("copied before each tool enrolls its own keyslot. ccagent: `ccagent unlock IMG")
print("--verify-only --tee sim-snp` against ccbroker on 127.0.0.1 over TLS (one RCAR attestation, one resource,")
print("header MAC, libcryptsetup on the token's keyslot). clevis: what `clevis-luks-askpass` does per device,")
print("`bash -c '. clevis-luks-common-functions; clevis_luks_unlock_device IMG | cryptsetup open --test-passphrase")
print(f"-d - IMG'`, against tang on 127.0.0.1 (tangd under an inetd). clevis {clevis_v}, tang {tang_v},")
print(f"cryptsetup {cs_v}. Timed by `scripts/bench/interleave.py`: the commands take turns in shuffled rounds (so")
print("bursts of load from other work on this shared machine hit all of them alike), warm-up runs first, every run")
print("must succeed; wall time from spawn to exit.\n")
print("| path | median ms | p10–p90 ms | min–max ms | runs | CPU ms (median user+sys) | peak RSS (median, min–max) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k, (label,) in rows.items():
    x, m = t[k], r[k]
    print(f"| {label} | {x['median']:.1f} | {x['p10']:.1f}–{x['p90']:.1f} | {x['min']:.1f}–{x['max']:.1f} | "
          f"{x['runs']} | {x['cpu_ms']:.0f} | {m['median_kib'] / 1024:.1f} MiB ({m['min_kib'] / 1024:.1f}–{m['max_kib'] / 1024:.1f}, "
          f"{m['runs']} runs) |")
print("\n| pair | ratio of medians | conservative–optimistic (their p10 / our p90 – their p90 / our p10) |")
print("|---|---:|---:|")
for k, label in (("prio", "clevis best tuning / ccagent"), ("boot", "clevis boot configuration / ccagent")):
    a, b = t[k], t["ccagent"]
    print(f"| {label} | {a['median'] / b['median']:.1f}x | {a['p10'] / b['p90']:.1f}x – {a['p90'] / b['p10']:.1f}x |")
print("\nIsolating the unlockers from the volume: every unlock, whoever does it, verifies the LUKS2 volume-key")
print(f"digest, whose PBKDF2 cost `luksFormat` benchmarks ({dig['iterations']} iterations here). The same pair on an image")
print("formatted with `--pbkdf pbkdf2 --pbkdf-force-iterations 1000` (digest at 1000 iterations), and ccagent's")
print("bare process start:\n")
print("| path | median ms | p10–p90 ms | min–max ms | runs | CPU ms (median user+sys) |")
print("|---|---:|---:|---:|---:|---:|")
for k, label in extra.items():
    x = t[k]
    print(f"| {label} | {x['median']:.1f} | {x['p10']:.1f}–{x['p90']:.1f} | {x['min']:.1f}–{x['max']:.1f} | {x['runs']} | "
          f"{x['cpu_ms']:.0f} |")
a, b = t["prio-fast"], t["ccagent-fast"]
print(f"\nRatio of medians on that image, clevis best tuning / ccagent: {a['median'] / b['median']:.1f}x "
      f"({a['p10'] / b['p90']:.1f}x – {a['p90'] / b['p10']:.1f}x).")
print("\nCPU is the measured process tree's own (wait4 rusage): for ccagent it excludes the")
print("broker's work (evidence and chain verification, JWE), which runs on the same 2 cores and is on the critical")
print("path; for clevis it excludes tangd's. Wall time on a loaded machine also includes waiting for a core.")
print("\nPeak RSS is GNU time's maximum resident set of the largest single process in the tree (in clevis's boot")
print("configuration that is `cryptsetup` computing argon2id), not a sum over the pipeline's processes.")

# A picture: medians with p10–p90 bars, log scale, written next to this script for BENCHMARKS.md.
with open(f"{work}/unlock.dat", "w") as f:
    for i, (k, label) in enumerate((("ccagent", "ccagent"), ("prio", "clevis best tuning"),
                                    ("boot", "clevis boot config"))):
        x = t[k]
        f.write(f'{i} "{label}" {x["median"]:.2f} {x["p10"]:.2f} {x["p90"]:.2f}\n')
