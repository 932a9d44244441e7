#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Interleaved process timing for a shared machine: round-robin over the commands, shuffled per round.

Usage: interleave.py SPEC_JSON OUT_JSON
  SPEC_JSON: [{"name": ..., "argv": [...], "runs": N, "warmup": W}, ...]
Every run is one fork+exec measured from spawn to exit (time.monotonic), with the child's rusage
from wait4: user+sys CPU and ru_maxrss (the peak resident set of the largest process in its tree,
what GNU time's %M reports; no cgroup). Commands take turns, so a burst of load from other work on
the machine hits all of them alike instead of whichever happened to be running. A run that exits
non-zero aborts the benchmark. OUT_JSON: {name: {"wall_ms": [...], "cpu_ms": [...], "maxrss_kib": [...]}}.
"""
import json
import os
import random
import subprocess
import sys
import time


def run_once(argv):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # stderr is small for these commands; read it so the child never blocks, then reap with wait4
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.monotonic() - start) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"interleave.py: {argv!r} exited {proc.returncode}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss


def main():
    spec = json.load(open(sys.argv[1]))
    out = {c["name"]: {"wall_ms": [], "cpu_ms": [], "maxrss_kib": []} for c in spec}
    rng = random.Random(11)
    for c in spec:  # warm-up: page cache, broker and tang code paths
        for _ in range(c.get("warmup", 1)):
            run_once(c["argv"])
    rounds = max(c["runs"] for c in spec)
    for i in range(rounds):
        # a command with fewer runs is spread evenly over the rounds
        todo = [c for c in spec if (i + 1) * c["runs"] // rounds > i * c["runs"] // rounds]
        rng.shuffle(todo)
        for c in todo:
            wall, cpu, rss = run_once(c["argv"])
            out[c["name"]]["wall_ms"].append(wall)
            out[c["name"]]["cpu_ms"].append(cpu)
            out[c["name"]]["maxrss_kib"].append(rss)
        print(f"interleave.py: round {i + 1}/{rounds}", file=sys.stderr)
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
