# SPDX-License-Identifier: Apache-2.0
"""One QEMU boot (TCG, user-mode networking with restrict=on and one guestfwd to the broker): the
console driver, and the report the booted root writes to the second serial port."""

from __future__ import annotations

import codecs
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from .common import BROKER_GUEST_ADDR, BROKER_GUEST_PORT, DNS_GUEST_ADDR, ProofFailure


class Guest:
    """One QEMU boot: console on stdio (read by a thread, answered by send), report on ttyS1."""

    def __init__(self, name: str, work: Path, kernel: Path, initrd: Path, append: str, drives: list[Path],
                 forward_port: int | None, snapshot: bool, dns_port: int | None = None) -> None:
        self.name = name
        self.console_path = work / f"{name}.console.txt"
        self.report_path = work / f"{name}.report.txt"
        self.report_path.unlink(missing_ok=True)
        cmd = ["qemu-system-x86_64", "-nodefaults", "-machine", "pc", "-accel", "tcg", "-cpu", "max", "-m", "1024",
               "-smp", "1", "-display", "none", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
               "-append", append, "-serial", "stdio", "-serial", f"file:{self.report_path}"]
        for drive in drives:
            cmd += ["-drive", f"file={drive},format=raw,if=virtio,cache=unsafe" + (",snapshot=on" if snapshot else "")]
        if forward_port is not None:
            # Each guest connection to 10.0.2.100:8443 spawns socat to the broker on 127.0.0.1.
            forward = f"guestfwd=tcp:{BROKER_GUEST_ADDR}:{BROKER_GUEST_PORT}-cmd:socat - TCP:127.0.0.1:{forward_port}"
            if dns_port is not None:
                # DNS over TCP to the proof's server (restrict=on drops UDP).
                forward += f",guestfwd=tcp:{DNS_GUEST_ADDR}:53-cmd:socat - TCP:127.0.0.1:{dns_port}"
            cmd += ["-netdev", f"user,id=n0,restrict=on,{forward}", "-device", "virtio-net-pci,netdev=n0"]
        self.started = time.monotonic()
        self.process = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.console = ""
        self.lock = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.consumed = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        # Incremental: a character split across two reads is not garbled.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        with open(self.console_path, "wb") as transcript:
            while True:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                transcript.write(chunk)
                transcript.flush()
                with self.lock:
                    self.console += decoder.decode(chunk)
                    self.lock.notify_all()
        with self.lock:
            self.lock.notify_all()

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Waits for pattern on the console after what earlier expects consumed."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                match = regex.search(self.console, self.consumed)
                if match:
                    self.consumed = match.end()
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self.reader.is_alive()):
                    tail = self.console[-3000:]
                    raise ProofFailure(f"{self.name}: no {pattern!r} on the console within {timeout:.0f} s;\n"
                                       f"console tail:\n{tail}")
                self.lock.wait(min(remaining, 1.0))

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def wait_exit(self, timeout: float) -> float:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ProofFailure(f"{self.name}: QEMU did not power off within {timeout:.0f} s")
        self.reader.join(5)
        return time.monotonic() - self.started

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()



class Report:
    def __init__(self, path: Path) -> None:
        text = path.read_text(errors="replace") if path.exists() else ""
        # The serial line is a tty: CR before LF, and colours if a program thinks a person is reading.
        text = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r", "")
        self.text = text
        self.lines = text.splitlines()

    def section(self, name: str) -> list[str]:
        try:
            start = self.lines.index(f"{name}-begin")
        except ValueError:
            return []
        end = next((i for i in range(start, len(self.lines)) if self.lines[i].startswith(f"{name}-end")), len(self.lines))
        return self.lines[start + 1:end]

    def journal(self) -> list[dict]:
        entries = []
        for line in self.section("journal"):
            line = line.strip()
            if line.startswith("{"):
                entries.append(json.loads(line))
        return entries

    def state(self) -> dict:
        text = "\n".join(self.section("state")).strip()
        return json.loads(text) if text else {}




def events(entries: list[dict]) -> list[str]:
    return [e.get("CCAGENT_EVENT", "") for e in entries if e.get("CCAGENT_EVENT")]
