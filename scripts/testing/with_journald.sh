#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs a command with a real, private systemd-journald (own mount namespace, tmpfs /run), then
# writes every entry as JSON lines to OUT. Usage: with_journald.sh OUT COMMAND [ARGS...]
# Needs root (unshare -m). The journal lives and dies with the namespace.
set -euo pipefail
out=$1
shift
if [[ ${CCAGENT_IN_PRIVATE_NS:-} != 1 ]]; then
    exec env CCAGENT_IN_PRIVATE_NS=1 unshare -m "$0" "$out" "$@"
fi
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal /run/log/journal
/lib/systemd/systemd-journald >/dev/null 2>&1 &
journald=$!
trap 'kill "$journald" 2>/dev/null || true; wait "$journald" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    [[ -S /run/systemd/journal/socket ]] && break
    sleep 0.05
done
status=0
"$@" || status=$?
journalctl --sync >/dev/null 2>&1 || sleep 0.3
journalctl -D /run/log/journal -o json --no-pager >"$out"
exit "$status"
