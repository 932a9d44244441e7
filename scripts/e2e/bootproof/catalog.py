# SPDX-License-Identifier: Apache-2.0
"""The agent's journal events and their MESSAGE_IDs, read from systemd/ccagent.catalog.

Each catalog entry is `-- MESSAGE_ID`, then `Event: NAME` (the agent's CCAGENT_EVENT), then the usual
headers. The catalog is the one place the IDs are written down besides the agent's source; before using
it, the proof has journalctl compile it (`--update-catalog` in a scratch root) so a malformed catalog
fails here, not on an operator's machine.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from .common import REPO, ProofFailure, output, run

CATALOG = REPO / "systemd/ccagent.catalog"


def parse(text: str) -> dict[str, str]:
    """{event name: MESSAGE_ID} from the catalog text."""
    events: dict[str, str] = {}
    for match in re.finditer(r"^-- ([0-9a-f]{32})\n((?:[A-Za-z-]+: .*\n)*)", text, re.M):
        names = re.findall(r"^Event: (\S+)$", match.group(2), re.M)
        if len(names) != 1:
            raise ProofFailure(f"{CATALOG}: entry {match.group(1)} has {len(names)} Event: headers, not one")
        if names[0] in events:
            raise ProofFailure(f"{CATALOG}: event {names[0]} appears twice")
        events[names[0]] = match.group(1)
    if not events:
        raise ProofFailure(f"{CATALOG}: no entries")
    return events


def load(path: Path = CATALOG) -> dict[str, str]:
    """The events of the catalog, after checking that journalctl compiles it and lists every ID."""
    events = parse(path.read_text())
    root = Path(tempfile.mkdtemp(prefix="ccagent-catalog."))
    try:
        target = root / "usr/lib/systemd/catalog" / path.name
        target.parent.mkdir(parents=True)
        shutil.copy2(path, target)
        run(["journalctl", "--root", root, "--update-catalog"], capture_output=True)
        listed = {line.split()[0] for line in output(["journalctl", "--root", root, "--list-catalog"]).splitlines()}
    finally:
        shutil.rmtree(root)
    missing = set(events.values()) - listed
    if missing:
        raise ProofFailure(f"journalctl --update-catalog did not take the entries {sorted(missing)} of {path}")
    return events
