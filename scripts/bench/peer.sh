#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot-path unlock and peak RSS, ccagent against clevis + tang, on one LUKS2 image (one luksFormat,
# default argon2id slot 0, copied before each tool enrolls so neither pays for the other's keyslot).
# Usage: scripts/bench/peer.sh BIN_DIR BROKER_URL CA_PEM SIM_DIR RESOURCES_DIR WORKDIR
# Prints a Markdown section; writes WORKDIR/peer.json (timing and RSS samples).
# Tang runs on 127.0.0.1 under scripts/bench/tang_inetd.py (Debian's tangd is socket-activated).
# Repetitions: CCAGENT_BENCH_RUNS scales them (default 1).
set -euo pipefail
bin=$1 url=$2 ca=$3 sim=$4 res=$5 work=$6
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
inetd_pid=
cleanup() {
    if [[ -n $inetd_pid ]]; then kill "$inetd_pid" 2>/dev/null || true; wait "$inetd_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM
scale=${CCAGENT_BENCH_RUNS:-1}

# One LUKS2 image as `cryptsetup luksFormat` makes it by default (argon2id slot 0, benchmarked cost).
truncate -s 32M "$work/base.img"
printf 'correct horse battery staple' >"$work/pass"
cryptsetup luksFormat --batch-mode --type luks2 --key-file "$work/pass" "$work/base.img"
cryptsetup luksDump --dump-json-metadata "$work/base.img" >"$work/base.json"
cp "$work/base.img" "$work/ccagent.img"
cp "$work/base.img" "$work/clevis.img"
# A second image whose volume-key digest has 1000 PBKDF2 iterations instead of the benchmarked
# ~200k: every unlock verifies that digest, whoever unlocks, so this pair isolates the unlockers.
truncate -s 32M "$work/fast.img"
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$work/pass" \
    "$work/fast.img"
cp "$work/fast.img" "$work/ccagent-fast.img"
cp "$work/fast.img" "$work/clevis-fast.img"

# ccagent: its own keyslot (pbkdf2-sha512, 1000 it., priority prefer) and token; secret at the broker.
"$bin/ccagent" enroll "$work/ccagent.img" --broker "$url" --ca "$ca" --resource default/luks/bench --bind broker \
    --key-file "$work/pass" --secret-out "$work/volume-secret" >/dev/null 2>&1
"$bin/ccbroker" resource put --resources "$res" default/luks/bench --in "$work/volume-secret" >/dev/null
"$bin/ccagent" enroll "$work/ccagent-fast.img" --broker "$url" --ca "$ca" --resource default/luks/bench-fast \
    --bind broker --key-file "$work/pass" --secret-out "$work/volume-secret" >/dev/null 2>&1
"$bin/ccbroker" resource put --resources "$res" default/luks/bench-fast --in "$work/volume-secret" >/dev/null
rm -f "$work/volume-secret"

# tang on 127.0.0.1, and clevis bound to it (its keyslot: pbkdf2-sha256, 1000 it., priority normal).
mkdir -p "$work/tangdb"
/usr/libexec/tangd-keygen "$work/tangdb"
python3 "$here/tang_inetd.py" "$work/tang.port" "$work/tangdb" &
inetd_pid=$!
for _ in $(seq 1 100); do [[ -s $work/tang.port ]] && break; sleep 0.1; done
tang=http://127.0.0.1:$(cat "$work/tang.port")
clevis_slot() {
    cryptsetup luksDump --dump-json-metadata "$1" | python3 -c \
        'import json,sys; t=json.load(sys.stdin)["tokens"]; print(next(v["keyslots"][0] for v in t.values() if v["type"]=="clevis"))'
}
for img in clevis clevis-fast; do
    clevis luks bind -y -d "$work/$img.img" -k "$work/pass" tang "{\"url\":\"$tang\"}"
done
# clevis's best tuning: its keyslot tried first by every CRYPT_ANY_SLOT unlock.
cp "$work/clevis.img" "$work/clevis-prio.img"
cryptsetup config --priority prefer --key-slot "$(clevis_slot "$work/clevis-prio.img")" "$work/clevis-prio.img"
cryptsetup config --priority prefer --key-slot "$(clevis_slot "$work/clevis-fast.img")" "$work/clevis-fast.img"

cc_args=(--broker "$url" --ca "$ca" --tee sim-snp --simulator-dir "$sim" --verify-only)
clevis_script() { # what clevis-luks-askpass does per device: decrypt the token, answer the passphrase prompt
    echo ". clevis-luks-common-functions; clevis_luks_unlock_device $1 | cryptsetup open --test-passphrase -d - $1"
}
boot_script=$(clevis_script "$work/clevis.img")
prio_script=$(clevis_script "$work/clevis-prio.img")

# Median and spread on a shared machine: the commands take turns (scripts/bench/interleave.py), so
# load from other work hits every one alike; warm-up runs first; every run must succeed. bash is
# part of clevis's real path (clevis-luks-askpass is a bash script), so it is measured.
python3 - "$work/spec.json" "$scale" "$bin/ccagent" "$work" "$boot_script" "$prio_script" \
    "$(clevis_script "$work/clevis-fast.img")" "${cc_args[@]}" <<'PY'
import json, sys
out, scale, ccagent, work, boot, prio, prio_fast = sys.argv[1:8]
cc = sys.argv[8:]
scale = int(scale)
spec = [
    {"name": "ccagent", "argv": [ccagent, "unlock", f"{work}/ccagent.img", *cc], "runs": 30 * scale, "warmup": 3},
    {"name": "prio", "argv": ["bash", "-c", prio], "runs": 20 * scale, "warmup": 2},
    {"name": "boot", "argv": ["bash", "-c", boot], "runs": 8 * scale, "warmup": 1},
    {"name": "ccagent-fast", "argv": [ccagent, "unlock", f"{work}/ccagent-fast.img", *cc], "runs": 30 * scale,
     "warmup": 3},
    {"name": "prio-fast", "argv": ["bash", "-c", prio_fast], "runs": 20 * scale, "warmup": 2},
    # the floor every ccagent run pays: process start (dynamic loader, shared libraries, Swift runtime)
    {"name": "start", "argv": [ccagent, "--version"], "runs": 30 * scale, "warmup": 3},
]
json.dump(spec, open(out, "w"), indent=1)
PY
python3 "$here/interleave.py" "$work/spec.json" "$work/timings.json"

# Peak RSS (GNU time: ru_maxrss of the largest process in the tree, no cgroup needed). ru_maxrss counts
# the binary's mapped file pages, whose number depends on how they entered the page cache (a just-linked
# binary's written folios map differently from pages read at exec): drop ccagent's cached pages first
# and run it once, so every build is measured as read from disk, as at boot.
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' \
    "$bin/ccagent"
"$bin/ccagent" --version >/dev/null
rss() { # N COMMAND...
    local n=$1
    shift
    for _ in $(seq 1 "$n"); do
        /usr/bin/time -f '%M' -o "$work/rss.one" "$@" >/dev/null 2>&1
        cat "$work/rss.one"
    done
}
rss $((7 * scale)) "$bin/ccagent" unlock "$work/ccagent.img" "${cc_args[@]}" >"$work/rss-ccagent.txt"
rss $((5 * scale)) bash -c "$prio_script" >"$work/rss-prio.txt"
rss $((3 * scale)) bash -c "$boot_script" >"$work/rss-boot.txt"

python3 "$here/peer_report.py" "$work" "$(dpkg-query -W -f='${Version}' clevis)" "$(dpkg-query -W -f='${Version}' tang)" \
    "$(cryptsetup --version | awk '{print $2}')"
