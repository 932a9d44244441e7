#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Measures the Azure vTPM evidence path against swtpm (release build) and prints a markdown table.
# Usage: scripts/bench/azure.sh [ITERATIONS]   (needs swtpm: apt install swtpm swtpm-tools)
# Medians over ITERATIONS (default 50) after two warm-up runs. swtpm answers on a loopback socket in well
# under a millisecond per command; on a real Azure vTPM the TPM commands dominate, so the "agent" column
# is the figure that carries over. Each column is a median on its own, so they need not add up to the total;
# "agent" is total minus TPM, IMDS and simulated-paravisor time in the same run (it includes opening the TCTI,
# parsing, JSON). Do not run in a loop on a shared machine.
set -eu

cd "$(dirname "$0")/../.."
if ! command -v swtpm >/dev/null 2>&1; then
    echo "azure.sh: swtpm not found; apt install swtpm swtpm-tools (scripts/setup.sh does)" >&2
    exit 1
fi
iterations="${1:-50}"
# The Makefile's release flags (one word each, no spaces in them).
release_flags=$(make -s --no-print-directory release-flags)
# shellcheck disable=SC2086
swift build $release_flags --product AzureEvidenceBenchmark >&2
bin="$(swift build -c release --show-bin-path)/AzureEvidenceBenchmark"

echo "| TEE | runs | ESYS calls | total ms | TPM ms (ESYS round trips) | agent ms | IMDS ms (stand-in, HTTP) | paravisor ms (simulated) | broker verify ms |"
echo "|---|---|---|---|---|---|---|---|---|"
for tee in snp tdx; do
    "$bin" "$iterations" "$tee" | awk -F= '
        { v[$1] = $2 }
        END {
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v["tee"], v["iterations"], v["esys_calls"],
                v["total_ms"], v["tpm_ms"], v["agent_ms"], v["imds_ms"], v["paravisor_sim_ms"], v["broker_verify_ms"]
        }'
done
