# SPDX-License-Identifier: Apache-2.0
"""The boots of the proof and what each asserts; Proof.run picks them by name (--only)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import catalog
from .broker import Broker
from .common import (BROKER_GUEST_ADDR, BROKER_HOSTNAME, BROKER_NAMED_URL, BROKER_URL, DNS_GUEST_ADDR, MARK, PASSPHRASE, REPO, check,
                     log, output, run, strip_ansi)
from .dns import DNSServer
from .guest import Guest, Report, events
from .images import InitramfsBuilder, Kernel, build_root_filesystem, build_setup_initramfs

SCENARIOS = ("unlock", "initramfs-tools", "dns", "initramfs-tools-dns", "policy-deny", "broker-absent", "tampered", "poweroff",
             "initramfs-tools-poweroff", "initramfs-tools-dead-agent", "dead-agent")
# The boots that need the agent's own fallback (issue #16: `ccagent: powering off:`); a run without
# --only leaves them out when boot_proof.py is given --no-agent-poweroff.
AGENT_POWEROFF = {"poweroff", "initramfs-tools-poweroff"}
# ccbroker appraises this at resource time: the attestation passes, the resource is denied.
DENY_POLICY = {"repositories": {"default": {"snp": {"measurements": ["00" * 48]}}}}
# The passphrase prompts of systemd-cryptsetup (dracut) and cryptroot (initramfs-tools).
PROMPT = re.compile(r"Please enter passphrase|Please unlock disk")
# From the agent's power-off line to QEMU's exit.
POWEROFF_WITHIN = 60


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

    # The guest's files come from the built package (make deb), unpacked as an image pipeline installs
    # it: every boot of the proof is also a proof of the package.
    def stage_install(self) -> Path:
        stage = self.work / "destdir"
        shutil.rmtree(stage, ignore_errors=True)
        log("make deb (release build, static Swift stdlib, lintian), then the ccagent package unpacked")
        run(["make", "-s", "deb"], cwd=REPO, stdout=subprocess.DEVNULL)
        debs = sorted((REPO / ".build/deb").glob("ccagent_*_amd64.deb"))
        check(len(debs) == 1, f"expected one ccagent package in .build/deb, found {debs}")
        fields = output(["dpkg-deb", "--field", debs[0], "Package", "Version", "Depends"])
        log(f"installing {debs[0].name}: {' '.join(fields.split())[:160]}")
        run(["dpkg-deb", "--extract", debs[0], stage])
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
            self.luks_header = json.loads(output(["cryptsetup", "luksDump", "--dump-json-metadata", self.disk]))
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
        self.luks_header = json.loads(output(["cryptsetup", "luksDump", "--dump-json-metadata", disk]))
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
             snapshot: bool = True, dns_port: int | None = None) -> Guest:
        guest = Guest(name, self.work, self.kernel.vmlinuz, initrd, append, drives, port, snapshot, dns_port)
        self.guests.append(guest)
        return guest

    @staticmethod
    def network(named_broker: bool) -> str:
        """ip= for both builders; named_broker: the DNS server comes from ip= (its 8th field) and the broker
        is named by host name (ccagent.broker=), so the name must be resolved with the boot's own resolver."""
        if not named_broker:
            return "ip=10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off net.ifnames=0 "
        return (f"ip=10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off:{DNS_GUEST_ADDR} net.ifnames=0 "
                f"ccagent.broker={BROKER_NAMED_URL} ")

    def cmdline(self, deadline: int, fallback: str | None = None, named_broker: bool = False) -> str:
        """dracut's command line; fallback None leaves the agent's default (poweroff)."""
        return (f"console=ttyS0 root=/dev/mapper/luks-{self.uuid} rootfstype=ext4 rd.luks.uuid={self.uuid} "
                f"rd.neednet=1 {self.network(named_broker)}"
                f"ccagent.tee=sim-snp ccagent.timeout={deadline} panic=-1 systemd.show_status=1 "
                "systemd.journald.forward_to_console=1" + (f" ccagent.fallback={fallback}" if fallback else ""))

    def cmdline_initramfs_tools(self, deadline: int, fallback: str | None = None, named_broker: bool = False) -> str:
        return (f"console=ttyS0 root=/dev/mapper/luks-{self.uuid} rootfstype=ext4 "
                f"cryptopts=target=luks-{self.uuid},source=UUID={self.uuid},luks {self.network(named_broker)}"
                f"ccagent.tee=sim-snp ccagent.timeout={deadline} panic=-1" +
                (f" ccagent.fallback={fallback}" if fallback else ""))

    def named_broker_disk(self) -> Path:
        """A copy of the root disk enrolled for the broker by host name (the token names its broker, and the
        agent refuses a token that names another than the configured one), with its own resource."""
        disk = self.work / "disk-named.img"
        if getattr(self, "named_disk", None) == disk:
            return disk
        disk.unlink(missing_ok=True)
        ccagent = self.bin / "ccagent"
        run(["cp", "--sparse=always", self.disk, disk])
        run([ccagent, "unenroll", disk], stdout=subprocess.DEVNULL)
        secret = self.work / "volume-named.secret"
        secret.unlink(missing_ok=True)
        run([ccagent, "enroll", disk, "--broker", BROKER_NAMED_URL, "--ca", self.broker.ca_pem, "--resource",
             f"default/luks/{self.uuid}-named", "--bind", "broker", "--key-file", self.work / "passphrase",
             "--secret-out", secret], stdout=subprocess.DEVNULL)
        run([self.bin / "ccbroker", "resource", "put", "--resources", self.broker.resources,
             f"default/luks/{self.uuid}-named", "--in", secret], stdout=subprocess.DEVNULL)
        secret.unlink()
        self.named_disk = disk
        return disk

    def unlock_boot(self, variant: str, initrd: Path, append: str, dns: DNSServer | None = None) -> None:
        name = f"{variant}-unlock" + ("-named-broker" if dns else "")
        log(f"{name}: boot, expecting the agent to unlock the root" +
            (f" from {BROKER_NAMED_URL}, a name only the boot's DNS server knows" if dns else ""))
        disk = self.named_broker_disk() if dns else self.disk
        guest = self.boot(name, initrd, append, [disk], self.broker.port, dns_port=dns.port if dns else None)
        guest.expect(f"{MARK}: switch-root reached", 420)
        guest.expect(f"{MARK}: done", 120)
        seconds = guest.wait_exit(60)
        report = Report(guest.report_path)
        mapper = f"luks-{self.uuid}"
        self.check_root_on_mapping(name, report, mapper)
        dm_table = self.check_dm_table(name, report, mapper)
        state = report.state()
        check(state.get("outcome") == "unlocked", f"{name}: state.json outcome {state.get('outcome')}: {state}")
        check([v.get("name") for v in state.get("volumes", [])] == [mapper] and state["volumes"][0]["outcome"]
              == "unlocked", f"{name}: state.json volumes {state.get('volumes')}")
        # `ccagent status` after switch-root tells the operator how this boot went.
        status = json.loads("\n".join(report.section("status")) or "{}")
        last_boot = {f["label"]: f["value"] for f in status.get("last_boot", {}).get("facts", [])}
        check(last_boot.get("Outcome") == "unlocked" and status["last_boot"]["health"] == "ok",
              f"{name}: ccagent status after switch-root says {status.get('last_boot')}")
        if dns:
            check(dns.resolved(), f"{name}: the guest never asked the boot's DNS server for {BROKER_HOSTNAME}: "
                  f"{dns.questions}")
        result = {"boot": name, "passed": True, "boot_seconds": round(seconds, 1),
                  "agent_start_to_volume_active_ms": round(state["total_ms"], 1),
                  "phases_ms": {p["name"]: round(p["duration_ms"], 1) for p in state.get("phases", [])
                                if "duration_ms" in p}, "dm_table": dm_table}
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

    def check_dm_table(self, name: str, report: Report, mapper: str) -> str:
        """The active dm-crypt table matches the LUKS2 header: cipher, key size, sector size, IV and data
        offsets, size, and no allow_discards. Returns the table as dmsetup printed it (no key)."""
        line = next((x for x in report.lines if x.startswith(f"dmtable {mapper} ")), "")
        table = line.split(" ", 2)[2] if line.count(" ") >= 2 else ""
        fields = table.split()
        check(len(fields) >= 8 and fields[2] == "crypt", f"{name}: dmsetup table {mapper}: {table!r}")
        start, length, _, cipher, key, iv_offset, _device, offset = fields[:8]
        options = fields[9:9 + int(fields[8])] if len(fields) > 8 else []
        # Without --showkeys the key is a keyring reference (:SIZE:logon:NAME) or zeros.
        check(key.startswith(":") or set(key) == {"0"}, f"{name}: the table shows a key: {key[:8]}...")
        header = self.luks_header
        segments = [seg for seg in header["segments"].values() if seg["type"] == "crypt"]
        check(len(segments) == 1, f"{name}: the header has {len(segments)} crypt segments")
        segment = segments[0]
        key_sizes = {slot["key_size"] for slot in header["keyslots"].values()}
        check(len(key_sizes) == 1, f"{name}: the keyslots hold volume keys of sizes {key_sizes}")
        if segment["size"] == "dynamic":
            data_bytes = self.disk.stat().st_size - int(segment["offset"])
        else:
            data_bytes = int(segment["size"])
        key_bytes = int(key.split(":")[1]) if key.startswith(":") else len(key) // 2
        expected = {"start": "0", "cipher": segment["encryption"], "key bytes": key_sizes.pop(),
                    "iv offset": segment["iv_tweak"], "offset (512-byte sectors)": str(int(segment["offset"]) // 512),
                    "size (512-byte sectors)": str(data_bytes // 512), "sector size": segment["sector_size"],
                    "allow_discards": False}
        actual = {"start": start, "cipher": cipher, "key bytes": key_bytes, "iv offset": iv_offset,
                  "offset (512-byte sectors)": offset, "size (512-byte sectors)": length,
                  "sector size": next((int(o.split(":")[1]) for o in options if o.startswith("sector_size:")), 512),
                  "allow_discards": "allow_discards" in options}
        differ = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
        check(not differ, f"{name}: the dm-crypt table differs from the LUKS2 header (table, header): {differ}")
        check("allow-discards" not in header.get("config", {}).get("flags", []), f"{name}: the header allows discards")
        return table

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

    def poweroff_boot(self, name: str, initrd: Path, append: str, port: int | None, reason: str,
                      announce: str = "ccagent: powering off:", by_agent: bool = False) -> None:
        """Fail closed: the VM powers off with `reason` on the console in a line starting with `announce`;
        no passphrase prompt ever appears and QEMU (-no-reboot) exits by itself. by_agent: the agent
        itself powered off, so its line is in the journal or kmsg too."""
        log(f"{name}: boot, expecting the VM to power off with {reason!r} and no prompt")
        guest = self.boot(name, initrd, append, [self.disk], port)
        line = strip_ansi(guest.expect(re.escape(announce) + r"[^\r\n]*[\r\n]", 420).group(0))
        said = time.monotonic()
        check(reason in line, f"{name}: the power-off line does not say {reason!r}: {line!r}")
        seconds = guest.wait_exit(POWEROFF_WITHIN)
        console = [strip_ansi(x) for x in guest.console.splitlines()]
        prompts = [x for x in console if PROMPT.search(x)]
        check(not prompts, f"{name}: a passphrase prompt appeared: {prompts}")
        check(not any(f"{MARK}: switch-root reached" in x for x in console), f"{name}: the boot went on to the root")
        if by_agent:
            # The agent's own line goes to the journal (dracut: forwarded to the console) or /dev/kmsg too.
            logged = re.compile(r"^\[\s*\d+\.\d+\] ccagent(\[\d+\])?: ccagent: powering off:")
            check(any(logged.search(x) for x in console), f"{name}: the power-off line is not in the journal or kmsg")
        # -no-reboot turns a panic's reboot into an exit too: the kernel must have powered down.
        check(any("reboot: Power down" in x for x in console) and not any("Kernel panic" in x for x in console),
              f"{name}: QEMU exited but the kernel did not power down:\n" + "\n".join(console[-15:]))
        shows = re.compile(r"ccagent\[|ccagent: |ccagent-unlock|[Pp]ower(ing)? (off|down)|reboot: ")
        excerpt = [x for x in console if shows.search(x) and "command line" not in x.lower()]
        self.results.append({"boot": name, "passed": True, "boot_seconds": round(seconds, 1),
                             "poweroff": line, "poweroff_to_exit_s": round(time.monotonic() - said, 1),
                             "console_excerpt": excerpt[-12:]})
        log(f"{name}: passed — {line!r}, no prompt, QEMU exited {time.monotonic() - said:.0f} s later "
            f"(boot {seconds:.0f} s)")

    def run(self, only: set[str] | None, reuse: bool, agent_poweroff: bool = True) -> None:
        unknown = (only or set()) - set(SCENARIOS)
        check(not unknown, f"unknown boots {sorted(unknown)}; known: {', '.join(SCENARIOS)}")

        def wanted(name: str) -> bool:
            if only is None:
                return agent_poweroff or name not in AGENT_POWEROFF
            return name in only

        self.prepare(reuse)
        initrd = self.images.dracut()
        tools: list[Path] = []  # the initramfs-tools image, built once when a boot needs it

        def tools_initrd() -> Path:
            tools[:] = tools or [self.images.initramfs_tools()]
            return tools[0]

        if wanted("unlock"):
            self.unlock_boot("dracut", initrd, self.cmdline(90))
        if wanted("initramfs-tools"):
            self.unlock_boot("initramfs-tools", tools_initrd(), self.cmdline_initramfs_tools(90))
        # The passphrase fallback, allowed explicitly: the default is to power off.
        # The broker by host name: resolved through the boot's network configuration (ip=...:DNS), never a
        # resolv.conf copied from the build machine.
        if wanted("dns") or wanted("initramfs-tools-dns"):
            dns = DNSServer(BROKER_HOSTNAME, BROKER_GUEST_ADDR)
            try:
                if wanted("dns"):
                    self.unlock_boot("dracut", initrd, self.cmdline(90, named_broker=True), dns)
                if wanted("initramfs-tools-dns"):
                    self.unlock_boot("initramfs-tools", tools_initrd(),
                                     self.cmdline_initramfs_tools(90, named_broker=True), dns)
            finally:
                dns.stop()
        if wanted("policy-deny"):
            self.broker.start(policy=DENY_POLICY)
            # ccbroker appraises at resource time: the attestation passes, the resource is denied.
            self.fallback_boot("dracut-policy-deny", initrd, self.cmdline(60, "passphrase"), self.disk,
                               self.broker.port, "volume-failed", "broker.policy-deny")
            check("rule=snp.measurements" in self.broker.log_path.read_text(), "the broker did not log the rule")
            self.broker.start()
        if wanted("broker-absent"):
            port = self.broker.port
            self.broker.stop()
            self.fallback_boot("dracut-broker-absent", initrd, self.cmdline(15, "passphrase"), self.disk, port,
                               "broker-unreachable", "broker.")
            self.broker.start()
        if wanted("tampered"):
            self.fallback_boot("dracut-tampered", initrd, self.cmdline(60, "passphrase"), self.tampered,
                               self.broker.port, "header-rejected", "token.broker-mismatch")
        # Fail closed (the default fallback): the VM powers off, no prompt.
        if wanted("poweroff") or wanted("initramfs-tools-poweroff"):
            self.broker.start(policy=DENY_POLICY)
            if wanted("poweroff"):
                self.poweroff_boot("dracut-poweroff", initrd, self.cmdline(60), self.broker.port,
                                   "broker.policy-deny", by_agent=True)
            if wanted("initramfs-tools-poweroff"):
                self.poweroff_boot("initramfs-tools-poweroff", tools_initrd(), self.cmdline_initramfs_tools(60),
                                   self.broker.port, "broker.policy-deny", by_agent=True)
            self.broker.start()
        if wanted("initramfs-tools-dead-agent"):
            # Even with the passphrase allowed, an agent that dies never leads to the prompt.
            self.poweroff_boot("initramfs-tools-dead-agent", self.images.initramfs_tools(dead_agent=True),
                               self.cmdline_initramfs_tools(60, "passphrase"), self.broker.port, "the agent died")
        if wanted("dead-agent"):
            # systemd: the unit fails (its log line on the console says why) and its
            # FailureAction=poweroff-force powers off before systemd-cryptsetup can prompt.
            self.poweroff_boot("dracut-dead-agent", self.images.dracut(dead_agent=True), self.cmdline(60, "passphrase"),
                               self.broker.port, "'signal'", announce="ccagent-unlock.service: Failed with result")
