#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) and runs each for SECONDS.
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]   (make fuzz: 160 s each; make test: a short pass; default: every
# target). With CCAGENT_FUZZ_RESULTS=FILE the table in FILE gets a fresh row for each target run; the rows of
# targets not run this time are kept as they were (each row carries the date it was measured).
# A crash fails the run and leaves the input in .build/fuzz/<target>/crash-*: commit it under
# Tests/Regression/fuzz/<target>/ as a regression input (scripts/fuzz.sh replays those first).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}
all_targets=(evidence json config luks kbs http)
if (($# > 1)); then
    shift
    targets=("$@")
    for target in "${targets[@]}"; do
        [[ " ${all_targets[*]} " == *" $target "* ]] || { echo "fuzz: no target '$target' (${all_targets[*]})" >&2; exit 64; }
    done
else
    targets=("${all_targets[@]}")
fi
selected() { [[ " ${targets[*]} " == *" $1 "* ]]; }
out=.build/fuzz
# libFuzzer reports a crash and saves its input; Swift's own backtracer would race it (and, under ASan, hang).
export SWIFT_BACKTRACE=enable=no
corpus_root=${CCAGENT_TESTVECTORS:-$(pwd)/../shared/testvectors}
mkdir -p "$out"

build() { # target, sources...
    local target=$1
    shift
    rm -f "$out/$target/fuzz-$target"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz${target}" "$@" "Fuzz/${target}.swift" \
        -o "$out/$target/fuzz-$target" 2>&1 | grep -v 'Cannot export local symbol' >&2 || true
    [[ -x $out/$target/fuzz-$target ]] || { echo "fuzz: the '$target' target did not build" >&2; exit 1; }
}

# A library module as in the package (one object, instrumented too), for targets that import it.
module() { # name, swiftc arguments and sources...
    local name=$1
    shift
    swiftc -sanitize=fuzzer,address -parse-as-library -O -wmo -module-name "$name" -emit-module \
        -emit-module-path "$out/modules/$name.swiftmodule" -I "$out/modules" "$@" -c -o "$out/modules/$name.o"
}

run() { # target, seed directories...
    local target=$1
    shift
    mkdir -p "$out/$target/corpus"
    local regressions=Tests/Regression/fuzz/$target
    if [[ -d $regressions ]] && compgen -G "$regressions/*" >/dev/null; then
        "$out/$target/fuzz-$target" -runs=0 "$regressions"/* >/dev/null 2>&1 ||
            { echo "fuzz: a committed regression input of '$target' fails again" >&2; exit 1; }
    fi
    (cd "$out/$target" && "./fuzz-$target" -max_total_time="$seconds" -print_final_stats=1 corpus "$@") 2>"$out/$target/log" ||
        { tail -30 "$out/$target/log" >&2; echo "fuzz: '$target' found a crash (input in $out/$target)" >&2; exit 1; }
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$target/log")
    echo "fuzz: $target: $runs executions in ${seconds}s, no finding"
    results+=("| $target | $runs | $seconds | none | $(date -u +%Y-%m-%d) |")
}
results=()

# Modules start from nothing each run, so a module left by an earlier run cannot stand in for one not built here.
rm -rf "$out/modules"
mkdir -p "$out/modules"
for target in "${targets[@]}"; do mkdir -p "$out/$target" "$out/seeds-$target"; done
# The bottom modules every other one imports.
module SecureMemory Sources/SecureMemory/*.swift
module CanonicalJSON Sources/CanonicalJSON/*.swift
module AgentBase Sources/AgentBase/*.swift
if selected evidence; then
    cp "$corpus_root"/snp/*report.bin "$corpus_root"/tdx/*quote.dat "$corpus_root"/tdx/azure-tdreport.bin "$out/seeds-evidence/"
    head -c 20000 "$corpus_root/tdx/gcp-cos113-ccel-data.dat" >"$out/seeds-evidence/ccel.bin"
    # Azure: HCL reports, a TPMS_ATTEST, and the evidence JSON (v0 TDX, v1, v2).
    for file in snp-vtpm/evidence-v1.json snp-vtpm/evidence-v2.json tdx-vtpm/evidence-v0.json snp-vtpm/tpm-quote.msg \
        tdx-vtpm/hcl-report.bin; do
        cp "$corpus_root/azure/$file" "$out/seeds-evidence/azure-${file//\//-}"
    done
    build evidence -I "$out/modules" "$out/modules/AgentBase.o" "$out/modules/SecureMemory.o" "$out/modules/CanonicalJSON.o" \
        Sources/TEEEvidence/*.swift \
        Sources/TEEEvidence/*/*.swift
fi
if selected json; then
    cp "$corpus_root"/collateral/*.json "$out/seeds-json/"
    build json Sources/CanonicalJSON/*.swift
fi
# The configuration, LUKS and KBS targets import their dependencies as modules of their own, as in the
# package; Cryptography reaches OpenSSL through the COpenSSL module map (-lcrypto).
if selected config || selected luks || selected kbs; then
    module Cryptography -I Sources/COpenSSL Sources/Cryptography/*.swift
fi
if selected config; then
    module LUKSBinding -I Sources/COpenSSL Sources/LUKSBinding/*.swift
    build config -I "$out/modules" -I Sources/COpenSSL "$out/modules/AgentBase.o" "$out/modules/CanonicalJSON.o" \
        "$out/modules/SecureMemory.o" "$out/modules/Cryptography.o" "$out/modules/LUKSBinding.o" -lcrypto \
        Sources/AgentCore/Configuration/AgentConfiguration.swift
fi
if selected luks; then
    build luks -I "$out/modules" "$out/modules/AgentBase.o" "$out/modules/SecureMemory.o" "$out/modules/CanonicalJSON.o" \
        Sources/LUKSBinding/CCAgentToken.swift Sources/LUKSBinding/BindingError.swift \
        Sources/LUKSBinding/HeaderPolicy.swift
    printf '%s' '{"type":"ccagent","keyslots":["1"],"version":1,"binding":"broker","keyslot":1,"state":"enrolled","broker":"https://kbs:8443","resource":"default/luks/root","mac":"0000000000000000000000000000000000000000000000000000000000000000"}' \
        >"$out/seeds-luks/token.json"
    truncate -s 20M "$out/seed.img"
    printf 'seed' >"$out/seed.pass"
    cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$out/seed.pass" "$out/seed.img"
    cryptsetup luksDump --dump-json-metadata "$out/seed.img" >"$out/seeds-luks/header.json"
    rm -f "$out/seed.img" "$out/seed.pass"
fi
if selected kbs; then
    # KBSProtocol and what it imports.
    module TEEEvidence Sources/TEEEvidence/*.swift Sources/TEEEvidence/*/*.swift
    module KBSProtocol -I Sources/COpenSSL Sources/KBSProtocol/*.swift
    build kbs -I "$out/modules" -I Sources/COpenSSL "$out/modules/AgentBase.o" "$out/modules/CanonicalJSON.o" \
        "$out/modules/SecureMemory.o" "$out/modules/TEEEvidence.o" "$out/modules/Cryptography.o" \
        "$out/modules/KBSProtocol.o" -lcrypto
    # Seeds produced by the code itself: JWEs sealed to the target's fixed keys, every message kind, and the
    # kbs-protocol.md §4 vector.
    CCAGENT_FUZZ_SEEDS="$out/seeds-kbs" "$out/kbs/fuzz-kbs" >/dev/null 2>&1 ||
        { echo "fuzz: the kbs target could not write its seeds" >&2; exit 1; }
fi
if selected http; then
    # The HTTP/1.1 response parser alone (pure Swift, no imports); seeds are written by the target.
    build http Sources/HTTPClient/ResponseParser.swift
    CCAGENT_FUZZ_SEEDS="$out/seeds-http" "$out/http/fuzz-http" >/dev/null 2>&1 ||
        { echo "fuzz: the http target could not write its seeds" >&2; exit 1; }
fi
for target in "${targets[@]}"; do
    if [[ $target == config ]]; then run config; else run "$target" "$(pwd)/$out/seeds-$target"; fi
done

if [[ ${CCAGENT_FUZZ_RESULTS:-} != "" ]]; then
    kept=()
    if [[ -f $CCAGENT_FUZZ_RESULTS ]]; then
        for target in "${all_targets[@]}"; do
            if selected "$target"; then continue; fi
            row=$(grep "^| $target |" "$CCAGENT_FUZZ_RESULTS" || true)
            if [[ -n $row ]]; then kept+=("$row"); fi
        done
    fi
    {
        echo "# Fuzzing"
        echo
        echo "Written by \`make fuzz\` (every target) or \`scripts/fuzz.sh SECONDS TARGET...\` with"
        echo "CCAGENT_FUZZ_RESULTS=FUZZING.md (those targets; the other rows are kept), on $(nproc) cores; libFuzzer +"
        echo "AddressSanitizer, seeded with the real evidence corpus, the PCS collateral, a real LUKS2 header and KBS"
        echo "messages, JWEs and HTTP/1.1 responses produced by the code (with the kbs-protocol.md §4 vector). Targets are in Fuzz/."
        echo
        echo "| target | executions | seconds | findings | measured |"
        echo "|---|---|---|---|---|"
        for target in "${all_targets[@]}"; do
            for row in "${kept[@]}" "${results[@]}"; do
                if [[ $row == "| $target |"* ]]; then echo "$row"; fi
            done
        done
    } >"$CCAGENT_FUZZ_RESULTS.new"
    mv "$CCAGENT_FUZZ_RESULTS.new" "$CCAGENT_FUZZ_RESULTS"
fi
