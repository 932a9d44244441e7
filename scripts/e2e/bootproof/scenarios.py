# SPDX-License-Identifier: Apache-2.0
"""The boots of the proof and what each asserts; Proof.run picks them by name (--only)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import catalog
from .broker import Broker
from .common import BROKER_URL, MARK, PASSPHRASE, REPO, check, log, output, run, strip_ansi
from .guest import Guest, Report, events
from .images import InitramfsBuilder, Kernel, build_root_filesystem, build_setup_initramfs


class Proof:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.results: list[dict] = []
        self.kernel = Kernel()
        self.message_ids = catalog.load()
        self.bin = Path(output(["swift", "build", "--show-bin-path"], cwd=REPO).strip())
        self.broker: Broker | None = None
        self.guests: list[Guest] = []

    def close(self) -> None:
        for guest in self.guests:
            guest.kill()
        if self.broker:
            self.broker.stop()

    # The staged install (make install DESTDIR=...) the initramfs builders take ccagent from.
    def stage_install(self) -> Path:
        stage = self.work / "destdir"
        shutil.rmtree(stage, ignore_errors=True)
        log("make install DESTDIR=... (release build, static Swift stdlib)")
        run(["make", "-s", "install-agent", f"DESTDIR={stage}"], cwd=REPO, stdout=subprocess.DEVNULL)
        conf = stage / "etc/ccagent/ccagent.conf"
        conf.write_text(f"broker = {BROKER_URL}\nca = /etc/ccagent/broker-ca.pem\n"
                        "simulator-dir = /var/lib/ccagent/simulator\n")
        shutil.copy2(self.broker.ca_pem, stage / "etc/ccagent/broker-ca.pem")
        return stage

    def prepare(self, reuse: bool) -> None:
        w = self.work
        ccagent = self.bin / "ccagent"
        log(f"kernel {self.kernel.version}; work {w}")
        if reuse and (w / "disk.img").exists() and (w / "destdir").exists():
            # Developer iteration: keep the CA, simulator, staged install and disks of the last run.
            log("reusing the guest disks, CA, simulator and staged install of the last run")
            self.broker = Broker(self.bin, w, w / "sim-roots.pem", reuse=True)
            self.broker.start()
            self.destdir = w / "destdir"
            self.images = InitramfsBuilder(self.kernel, w, self.destdir)
            self.disk = w / "disk.img"
            self.uuid = output(["cryptsetup", "luksUUID", self.disk]).strip()
            self.make_tampered_copy()
            return
        shutil.rmtree(w / "sim", ignore_errors=True)
        run([ccagent, "simulator", "init", "--simulator-dir", w / "sim"], stdout=subprocess.DEVNULL)
        (w / "sim-roots.pem").write_text(output([ccagent, "simulator", "roots", "--simulator-dir", w / "sim"]))
        self.broker = Broker(self.bin, w, w / "sim-roots.pem")
        self.broker.start()
        self.destdir = self.stage_install()
        self.images = InitramfsBuilder(self.kernel, w, self.destdir)

        # The disk: LUKS2 formatted and enrolled here (file image, no device-mapper needed); its
        # contents are written by a setup boot of the guest, which has dm-crypt.
        disk = w / "disk.img"
        disk.unlink(missing_ok=True)
        run(["truncate", "-s", "128M", disk])
        key = w / "passphrase"
        key.write_text(PASSPHRASE)
        key.chmod(0o600)
        # pbkdf2 at 1000 iterations for the human slot too: TCG is ~50x slower than the host and the
        # proof is about the agent's path, not the KDF cost of the fallback.
        run(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
             "--pbkdf-force-iterations", "1000", "--key-file", key, disk])
        self.uuid = output(["cryptsetup", "luksUUID", disk]).strip()
        secret = w / "volume.secret"
        secret.unlink(missing_ok=True)
        run([ccagent, "enroll", disk, "--broker", BROKER_URL, "--ca", self.broker.ca_pem, "--resource",
             f"default/luks/{self.uuid}", "--bind", "broker", "--key-file", key, "--secret-out", secret],
            stdout=subprocess.DEVNULL)
        run([self.bin / "ccbroker", "resource", "put", "--resources", self.broker.resources,
             f"default/luks/{self.uuid}", "--in", secret])
        secret.unlink()
        root = build_root_filesystem(self.images.release_ccagent, w)
        setup = build_setup_initramfs(self.kernel, w)
        log("setup boot: writing the root file system into the LUKS2 volume")
        guest = self.boot("setup", setup, "console=ttyS0 panic=-1 quiet", [disk, root], None, snapshot=False)
        guest.expect(f"{MARK}: setup-done", 240)
        guest.wait_exit(60)
        self.disk = disk
        self.make_tampered_copy()

    def make_tampered_copy(self) -> None:
        """The host's side of the tamper case: the token names the host's own broker.

        (Downgrading our keyslot's area cipher is refused by the agent too, but libcryptsetup then
        fails the passphrase as well — it tries the preferred slot first — so that boot cannot
        complete; the unit tests cover it.)
        """
        self.tampered = self.work / "disk-tampered.img"
        run(["cp", "--sparse=always", self.disk, self.tampered])
        run([sys.executable, REPO / "scripts/testing/luks2_tamper.py", self.tampered, "token-broker",
             "https://kbs.attacker.example:8443"], stdout=subprocess.DEVNULL)

    def boot(self, name: str, initrd: Path, append: str, drives: list[Path], port: int | None,
             snapshot: bool = True) -> Guest:
        guest = Guest(name, self.work, self.kernel.vmlinuz, initrd, append, drives, port, snapshot)
        self.guests.append(guest)
        return guest

    def cmdline(self, deadline: int) -> str:
        return (f"console=ttyS0 root=/dev/mapper/luks-{self.uuid} rootfstype=ext4 rd.luks.uuid={self.uuid} "
                "rd.neednet=1 ip=10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off net.ifnames=0 "
                f"ccagent.tee=sim-snp ccagent.timeout={deadline} panic=-1 systemd.show_status=1 "
                "systemd.journald.forward_to_console=1")

    def cmdline_initramfs_tools(self, deadline: int) -> str:
        return (f"console=ttyS0 root=/dev/mapper/luks-{self.uuid} rootfstype=ext4 "
                f"cryptopts=target=luks-{self.uuid},source=UUID={self.uuid},luks "
                "ip=10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off net.ifnames=0 "
                f"ccagent.tee=sim-snp ccagent.timeout={deadline} panic=-1")

    def unlock_boot(self, variant: str, initrd: Path, append: str) -> None:
        name = f"{variant}-unlock"
        log(f"{name}: boot, expecting the agent to unlock the root")
        guest = self.boot(name, initrd, append, [self.disk], self.broker.port)
        guest.expect(f"{MARK}: switch-root reached", 420)
        guest.expect(f"{MARK}: done", 120)
        seconds = guest.wait_exit(60)
        report = Report(guest.report_path)
        mapper = f"luks-{self.uuid}"
        self.check_root_on_mapping(name, report, mapper)
        state = report.state()
        check(state.get("outcome") == "unlocked", f"{name}: state.json outcome {state.get('outcome')}: {state}")
        check([v.get("name") for v in state.get("volumes", [])] == [mapper] and state["volumes"][0]["outcome"]
              == "unlocked", f"{name}: state.json volumes {state.get('volumes')}")
        # `ccagent status` after switch-root tells the operator how this boot went.
        status = json.loads("\n".join(report.section("status")) or "{}")
        last_boot = {f["label"]: f["value"] for f in status.get("last_boot", {}).get("facts", [])}
        check(last_boot.get("Outcome") == "unlocked" and status["last_boot"]["health"] == "ok",
              f"{name}: ccagent status after switch-root says {status.get('last_boot')}")
        result = {"boot": name, "passed": True, "boot_seconds": round(seconds, 1),
                  "agent_start_to_volume_active_ms": round(state["total_ms"], 1),
                  "phases_ms": {p["name"]: round(p["duration_ms"], 1) for p in state.get("phases", [])
                                if "duration_ms" in p}}
        console = [strip_ansi(line) for line in guest.console.splitlines()]
        if variant == "dracut":
            # systemd initrd: the journal carries the agent's entries with MESSAGE_ID and CCAGENT_*.
            entries = report.journal()
            seen = events(entries)
            for event in ("unlock-started", "attestation-succeeded", "volume-unlocked"):
                check(event in seen, f"{name}: journal lacks {event}; has {seen}")
            check("fallback-to-passphrase" not in seen, f"{name}: the agent fell back: {seen}")
            unlocked = next(e for e in entries if e.get("CCAGENT_EVENT") == "volume-unlocked")
            check(unlocked.get("MESSAGE_ID") == self.message_ids["volume-unlocked"], f"{name}: MESSAGE_ID {unlocked}")
            check(unlocked.get("CCAGENT_VOLUME") == mapper, f"{name}: CCAGENT_VOLUME {unlocked.get('CCAGENT_VOLUME')}")
            started = next(e for e in entries if e.get("CCAGENT_EVENT") == "unlock-started")
            result["journal_unlock_started_to_volume_unlocked_ms"] = round(
                (int(unlocked["__MONOTONIC_TIMESTAMP"]) - int(started["__MONOTONIC_TIMESTAMP"])) / 1000, 1)
            result["journal_events"] = seen
        else:
            # initramfs-tools has no journald: the agent writes to /dev/kmsg, which the console shows.
            check(any("ccagent" in line and "unlocked" in line for line in console),
                  f"{name}: the console shows no ccagent unlock line")
        # What shows the unlock on the console: the agent's lines, cryptsetup's, the root mount, the marker.
        shows = re.compile(r"ccagent\[|ccagent: |systemd-cryptsetup\[|cryptsetup: |Mounted sysroot|"
                           r"Starting ccagent-unlock|switch-root reached")
        result["console_excerpt"] = [line for line in console if shows.search(line) and "command line" not in line.lower()][:12]
        self.results.append(result)
        log(f"{name}: passed — agent start to volume active {state['total_ms']:.0f} ms (guest, TCG), "
            f"boot {seconds:.0f} s")

    def check_root_on_mapping(self, name: str, report: Report, mapper: str) -> None:
        check(f"{MARK}: switch-root reached" in report.text, f"{name}: no report from the booted root")
        dm = [line for line in report.lines if line.startswith(f"dm {mapper} CRYPT-LUKS2-")]
        check(len(dm) == 1 and "slaves=vda" in dm[0], f"{name}: no dm-crypt mapping {mapper}: {report.lines[:6]}")
        check(any(line.startswith(f"root /dev/mapper/{mapper} / ext4") for line in report.lines),
              f"{name}: the root is not mounted from /dev/mapper/{mapper}: {report.lines[:4]}")

    def fallback_boot(self, name: str, initrd: Path, append: str, disk: Path, port: int | None,
                      expected: str, code: str) -> None:
        """The agent gives up with event `expected` and an error code starting with `code`."""
        log(f"{name}: boot, expecting the agent to give up and the passphrase prompt")
        guest = self.boot(name, initrd, append, [disk], port)
        guest.expect(r"Please enter passphrase for disk", 420)
        guest.send(PASSPHRASE + "\n")
        guest.expect(f"{MARK}: switch-root reached", 240)
        guest.expect(f"{MARK}: done", 120)
        seconds = guest.wait_exit(60)
        report = Report(guest.report_path)
        self.check_root_on_mapping(name, report, f"luks-{self.uuid}")
        entries = report.journal()
        seen = events(entries)
        check(expected in seen, f"{name}: journal lacks {expected}; has {seen}")
        codes = [e.get("CCAGENT_ERROR_CODE", "") for e in entries if e.get("CCAGENT_EVENT") == expected]
        check(any(c.startswith(code) for c in codes), f"{name}: {expected} carries error codes {codes}, not {code}*")
        check("volume-unlocked" not in seen, f"{name}: the agent unlocked although it should not have: {seen}")
        check("fallback-to-passphrase" in seen, f"{name}: no fallback-to-passphrase event: {seen}")
        state = report.state()
        check(state.get("outcome") not in (None, "unlocked"), f"{name}: state.json outcome {state.get('outcome')}")
        self.results.append({"boot": name, "passed": True, "boot_seconds": round(seconds, 1),
                             "event": f"{expected} ({', '.join(sorted(set(codes)))})",
                             "state_outcome": state.get("outcome")})
        log(f"{name}: passed — {expected}, prompt answered, boot completed in {seconds:.0f} s")

    def run(self, only: set[str] | None, reuse: bool) -> None:
        def wanted(name: str) -> bool:
            return only is None or name in only

        self.prepare(reuse)
        initrd = self.images.dracut()
        if wanted("unlock"):
            self.unlock_boot("dracut", initrd, self.cmdline(90))
        if wanted("initramfs-tools"):
            self.unlock_boot("initramfs-tools", self.images.initramfs_tools(), self.cmdline_initramfs_tools(90))
        if wanted("policy-deny"):
            self.broker.start(policy={"repositories": {"default": {"snp": {"measurements": ["00" * 48]}}}})
            # ccbroker appraises at resource time: the attestation passes, the resource is denied.
            self.fallback_boot("dracut-policy-deny", initrd, self.cmdline(60), self.disk, self.broker.port,
                               "volume-failed", "broker.policy-deny")
            check("rule=snp.measurements" in self.broker.log_path.read_text(), "the broker did not log the rule")
            self.broker.start()
        if wanted("broker-absent"):
            port = self.broker.port
            self.broker.stop()
            self.fallback_boot("dracut-broker-absent", initrd, self.cmdline(15), self.disk, port, "broker-unreachable",
                               "broker.")
            self.broker.start()
        if wanted("tampered"):
            self.fallback_boot("dracut-tampered", initrd, self.cmdline(60), self.tampered, self.broker.port,
                               "header-rejected", "token.broker-mismatch")

