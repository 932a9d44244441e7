#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Measures SNP report and TDX quote verification time over the real corpus (release build).
# Usage: scripts/bench/verify.sh [ITERATIONS]   (corpus: $CCAGENT_TESTVECTORS or ../shared/testvectors)
# Budgets: < 5 ms per SNP report, < 10 ms per TDX quote. Do not run in a loop on a shared machine.
set -eu

cd "$(dirname "$0")/../.."
corpus="${CCAGENT_TESTVECTORS:-$(pwd)/../shared/testvectors}"
if [ ! -r "$corpus/PROVENANCE.md" ]; then
    echo "verify.sh: evidence corpus not found at '$corpus'; set CCAGENT_TESTVECTORS" >&2
    exit 1
fi
# The Makefile's release flags (one word each, no spaces in them).
release_flags=$(make -s --no-print-directory release-flags)
# shellcheck disable=SC2086
swift build $release_flags --product VerifyBenchmark >&2
"$(swift build -c release --show-bin-path)/VerifyBenchmark" "$corpus" "${1:-200}"
