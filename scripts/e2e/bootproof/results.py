# SPDX-License-Identifier: Apache-2.0
"""The results of a run as markdown (`make e2e` writes BOOTPROOF.md)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def write(path: Path, results: list[dict], kernel_version: str, total_seconds: float) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    lines = [
        "# Boot proof: an encrypted root auto-unlocked at boot under QEMU",
        "",
        f"Written by `make e2e` (scripts/e2e/boot_proof.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};"
        f" {os.cpu_count()} cores ({cpu}), QEMU TCG (no KVM), one guest vCPU, 1 GiB; Debian kernel"
        f" {kernel_version}; the whole run took {total_seconds:.0f} s.",
        "",
        "The agent's time is measured inside the guest (state.json `total_ms`: from the agent's start to the"
        " last volume active; for dracut also the journal's monotonic timestamps of `unlock-started` and"
        " `volume-unlocked`). Under TCG every instruction is emulated, so these are 10-50x the figures on"
        " hardware; `make bench` has the native ones.",
        "",
        "The default fallback is `poweroff`: a boot that cannot unlock powers the VM off with the reason on"
        " the console and never shows a passphrase prompt (QEMU runs with -no-reboot, so it exits when the"
        " guest powers off; the proof also requires the kernel's `reboot: Power down` and no panic). The"
        " passphrase boots set `ccagent.fallback=passphrase` on the kernel command line.",
        "",
        "| boot | result | agent start → volume active (guest) | phases (ms) | whole boot (host s) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        agent = f"{r['agent_start_to_volume_active_ms']:.0f} ms" if "agent_start_to_volume_active_ms" in r else "—"
        if "journal_unlock_started_to_volume_unlocked_ms" in r:
            agent += f" (journal: {r['journal_unlock_started_to_volume_unlocked_ms']:.0f} ms)"
        phases = ", ".join(f"{k} {v:.0f}" for k, v in r.get("phases_ms", {}).items()) or "—"
        if "poweroff" in r:
            outcome = (f"`{r['poweroff']}` → no prompt, the VM powered off (QEMU exited {r['poweroff_to_exit_s']:.0f} s"
                       " after that line)")
        elif "event" in r:
            outcome = f"{r['event']} (ccagent.fallback=passphrase) → passphrase prompt answered, boot completed"
        else:
            outcome = "unlocked by ccagent; dm-crypt table matches the LUKS2 header"
        lines.append(f"| {r['boot']} | {outcome} | {agent} | {phases} | {r['boot_seconds']:.0f} |")
    tables = [r for r in results if r.get("dm_table")]
    if tables:
        lines += ["", "The active dm-crypt table after switch-root (`dmsetup table`, no keys), compared with"
                  " `cryptsetup luksDump --dump-json-metadata` of the disk on the host: cipher, key size, IV"
                  " offset, data offset, size, sector size, no `allow_discards`.", ""]
        lines += [f"- {r['boot']}: `{r['dm_table']}`" for r in tables]
    for r in results:
        if r.get("console_excerpt"):
            lines += ["", f"Console excerpt, {r['boot']}:", "", "```", *r["console_excerpt"], "```"]
    path.write_text("\n".join(lines) + "\n")

