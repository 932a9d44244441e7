# SPDX-License-Identifier: Apache-2.0
"""The guest's images: the plain root file system, the one-shot setup initramfs that writes it into the
LUKS2 volume, and the two initramfs images under test (dracut module, initramfs-tools hook), each
checked by listing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .common import GUEST_DRIVERS, MARK, PASSPHRASE, REPO, check, log, output, run

# A fixed module list (no host probing): a systemd initrd with LUKS, the network, and ccagent.
DRACUT_MODULES = ("base bash systemd systemd-initrd dracut-systemd systemd-ask-password systemd-journald "
                  "systemd-udevd systemd-tmpfiles udev-rules fs-lib rootfs-block dm crypt network ccagent")


def copy_with_libraries(stage: Path, binary: str, target: str | None = None) -> None:
    """Copies an executable (to target, default its own path) and the shared libraries ldd names."""
    binary_target = stage / (target or binary).lstrip("/")
    binary_target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(binary), binary_target)
    paths = []
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if ldd.returncode == 0:
        for line in ldd.stdout.splitlines():
            match = re.search(r"(/\S+) \(0x", line)
            if match:
                paths.append(match.group(1))
    for path in paths:
        target = stage / path.lstrip("/")
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(path), target)


def install_busybox(stage: Path, applets: list[str]) -> None:
    copy_with_libraries(stage, "/bin/busybox")
    (stage / "bin").mkdir(exist_ok=True)
    for applet in applets:
        link = stage / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")


def make_cpio(stage: Path, out: Path) -> None:
    files = output(["find", ".", "-mindepth", "1"], cwd=stage)
    with open(out, "wb") as sink:
        cpio = subprocess.Popen(
            ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=stage, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        gzip = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=sink)
        assert cpio.stdin is not None and cpio.stdout is not None
        cpio.stdout.close()
        cpio.stdin.write(files.encode())
        cpio.stdin.close()
        check(cpio.wait() == 0 and gzip.wait() == 0, f"cpio of {stage} failed")


class Kernel:
    def __init__(self) -> None:
        values = dict(line.split("=", 1) for line in output([REPO / "scripts/e2e/kernel.sh"]).split())
        self.version = values["KVER"]
        self.root = Path(values["ROOT"])
        self.vmlinuz = self.root / "boot" / f"vmlinuz-{self.version}"
        self.moddir = self.root / "lib" / "modules" / self.version

    def module_paths(self, names: list[str]) -> list[Path]:
        """Module files for names and their dependencies, in load order (modprobe --show-depends)."""
        paths: list[Path] = []
        for name in names:
            text = output(["modprobe", "-d", self.root, "-S", self.version, "--show-depends", name])
            for line in text.splitlines():
                if line.startswith("insmod "):
                    path = Path(line.split()[1])
                    if path not in paths:
                        paths.append(path)
        return paths


def build_setup_initramfs(kernel: Kernel, work: Path) -> Path:
    """A one-shot initramfs that writes the plain root file system into the opened LUKS2 volume."""
    stage = work / "setup-stage"
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("proc", "sys", "dev", "run", "etc", "tmp"):
        (stage / d).mkdir(parents=True)
    install_busybox(stage, ["sh", "mount", "insmod", "dd", "sync", "poweroff", "echo", "cat", "sleep", "ls"])
    copy_with_libraries(stage, "/usr/sbin/cryptsetup")
    modules = kernel.module_paths(["virtio_pci", "virtio_blk", "dm_crypt", "xts", "ecb", "aesni_intel"])
    for path in modules:
        target = stage / "modules" / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(path, target)
    (stage / "etc" / "setup.key").write_text(PASSPHRASE)
    insmods = "\n".join(f"insmod /modules/{p.name}" for p in modules)
    init = f"""#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
{insmods}
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vdb ] && break; sleep 0.5; done
cryptsetup open --key-file /etc/setup.key /dev/vda setup-root && \\
  dd if=/dev/vdb of=/dev/mapper/setup-root bs=1M conv=fsync 2>/dev/null && sync && \\
  cryptsetup close setup-root && echo "{MARK}: setup-done"
poweroff -f
"""
    (stage / "init").write_text(init)
    (stage / "init").chmod(0o755)
    out = work / "setup-initrd.img"
    make_cpio(stage, out)
    return out


def build_root_filesystem(ccagent: Path, work: Path) -> Path:
    """The guest's root: busybox, journalctl, dmsetup and ccagent, and an init that reports and powers off."""
    stage = work / "root-stage"
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("proc", "sys", "dev", "run", "etc", "tmp", "sbin", "var"):
        (stage / d).mkdir(parents=True)
    install_busybox(stage, ["sh", "mount", "cat", "grep", "ls", "poweroff", "echo", "sleep", "readlink", "timeout"])
    copy_with_libraries(stage, "/usr/bin/journalctl")
    copy_with_libraries(stage, "/usr/sbin/dmsetup")
    copy_with_libraries(stage, str(ccagent), "/usr/bin/ccagent")
    (stage / "etc" / "os-release").write_text('ID=ccagent-e2e\nNAME="ccagent boot proof root"\n')
    (stage / "etc" / "ccagent").mkdir()
    # The report goes to the second serial port so it never interleaves with console messages.
    init = f"""#!/bin/sh
exec </dev/console >/dev/console 2>&1
# RES_OPTIONS=use-vc is the test initramfs's (QEMU drops UDP); the root has no resolver configured.
unset RES_OPTIONS
report() {{ echo "$@" >/dev/ttyS1; }}
mount -t proc proc /proc 2>/dev/null; mount -t sysfs sysfs /sys 2>/dev/null
echo "{MARK}: switch-root reached"
report "{MARK}: switch-root reached"
report "root $(grep ' / ' /proc/mounts | grep -v rootfs)"
for d in /sys/block/dm-*; do
  [ -e "$d/dm/name" ] || continue
  name=$(cat "$d/dm/name")
  report "dm $name $(cat "$d/dm/uuid") slaves=$(ls "$d/slaves")"
  # The active table as the kernel has it; the key shows as its size and keyring name (no --showkeys).
  report "dmtable $name $(DM_DISABLE_UDEV=1 /usr/sbin/dmsetup table "$name" 2>&1)"
done
report "journal-begin"
SYSTEMD_COLORS=0 journalctl -D /run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=ccagent >/dev/ttyS1 2>&1
report "journal-end"
report "state-begin"
cat /run/ccagent/state.json >/dev/ttyS1 2>&1
report ""
report "state-end"
report "status-begin"
# Bounded, so that a status that hangs fails its check instead of hiding the report's end.
timeout 90 ccagent status --json >/dev/ttyS1 2>&1
report ""
report "status-end exit=$?"
report "{MARK}: done"
echo "{MARK}: done"
poweroff -f
"""
    (stage / "sbin" / "init").write_text(init)
    (stage / "sbin" / "init").chmod(0o755)
    image = work / "root.ext4"
    image.unlink(missing_ok=True)
    # 4 KiB blocks: the LUKS2 volume uses 4096-byte encryption sectors, which 1 KiB blocks cannot sit on.
    run(["mke2fs", "-q", "-t", "ext4", "-b", "4096", "-L", "root", "-d", stage, image, "96M"])
    return image


class InitramfsBuilder:
    """The two initramfs images under test, built from the staged `make install-agent DESTDIR=` tree."""

    def __init__(self, kernel: Kernel, work: Path, destdir: Path) -> None:
        self.kernel = kernel
        self.work = work
        self.destdir = destdir
        self.release_ccagent = destdir / "usr/bin/ccagent"

    def dracut(self, dead_agent: bool = False) -> Path:
        """dracut with the project's module, taken from a dracut base directory next to Debian's.

        dead_agent: a test image whose /usr/bin/ccagent dies of SIGSEGV, for the unit's fail-closed path."""
        w = self.work
        base = w / "dracut-base"
        shutil.rmtree(base, ignore_errors=True)
        (base / "modules.d").mkdir(parents=True)
        for entry in Path("/usr/lib/dracut").iterdir():
            if entry.name != "modules.d":
                (base / entry.name).symlink_to(entry)
        for entry in Path("/usr/lib/dracut/modules.d").iterdir():
            (base / "modules.d" / entry.name).symlink_to(entry)
        (base / "modules.d/90ccagent").symlink_to(REPO / "initramfs/dracut/90ccagent")
        out = w / ("initrd-dracut-dead-agent.img" if dead_agent else "initrd-dracut.img")
        env = dict(os.environ, dracutbasedir=str(base), CCAGENT_DESTDIR=str(self.destdir))
        log(f"dracut: building the initramfs with the ccagent module{' (dead agent)' if dead_agent else ''}")
        # Test data only: the simulator's state, which a real image never carries.
        include = ["--include", w / "sim", "/var/lib/ccagent/simulator"]
        # Test image only: QEMU's restrict=on drops UDP, so the resolver asks over TCP (RES_OPTIONS=use-vc).
        resolver = w / "resolver-overlay"
        shutil.rmtree(resolver, ignore_errors=True)
        (resolver / "etc/systemd/system/ccagent-unlock.service.d").mkdir(parents=True)
        (resolver / "etc/systemd/system/ccagent-unlock.service.d/e2e-resolver.conf").write_text(
            "[Service]\nEnvironment=RES_OPTIONS=use-vc\n")
        include += ["--include", resolver, "/"]
        if dead_agent:
            # dracut's --include never replaces a file a module installed: a drop-in points the unit at
            # the stand-in instead, and keeps everything else of the unit.
            overlay = w / "dead-agent-overlay"
            shutil.rmtree(overlay, ignore_errors=True)
            dropin = overlay / "etc/systemd/system/ccagent-unlock.service.d"
            dropin.mkdir(parents=True)
            (dropin / "e2e-dead-agent.conf").write_text(
                "[Service]\nExecStart=\nExecStart=/usr/lib/ccagent-e2e/dead-ccagent daemon\n")
            (overlay / "usr/lib/ccagent-e2e").mkdir(parents=True)
            shutil.copy2(self.dead_agent(), overlay / "usr/lib/ccagent-e2e/dead-ccagent")
            include += ["--include", overlay, "/"]
        run(["dracut", "--force", "--quiet", "--no-hostonly", "--no-hostonly-cmdline", "--kver", self.kernel.version,
             "--kmoddir", self.kernel.moddir, "--modules", DRACUT_MODULES,
             "--add-drivers", " ".join(GUEST_DRIVERS), *include, "--compress", "gzip -1 -n", out], env=env,
            stdout=subprocess.DEVNULL)
        self.check_listing(["lsinitrd"], out, [
            "usr/bin/ccagent", "etc/ccagent/ccagent.conf", "etc/ccagent/broker-ca.pem",
            "usr/lib/systemd/catalog/ccagent.catalog", "systemd/system/ccagent-unlock.service",
            "systemd/system/cryptsetup.target.wants/ccagent-unlock.service", "usr/lib/systemd/systemd-cryptsetup",
            "dm-crypt.ko", "etc/ssl/certs/ca-certificates.crt"], libraries=not dead_agent)
        return out

    def dead_agent(self) -> Path:
        """A stand-in for ccagent that dies of SIGSEGV at once: what the boot does when the agent crashes."""
        path = self.work / "dead-ccagent"
        path.write_text("#!/bin/sh\nkill -SEGV $$\n")
        path.chmod(0o755)
        return path

    def initramfs_tools(self, dead_agent: bool = False) -> Path:
        """mkinitramfs with the project's hook and local-top script, from a configuration directory.

        dead_agent: a test image whose /usr/bin/ccagent dies of SIGSEGV, for local-top's fail-closed path."""
        w = self.work
        conf = w / "initramfs-tools"
        shutil.rmtree(conf, ignore_errors=True)
        (conf / "hooks").mkdir(parents=True)
        (conf / "scripts" / "local-top").mkdir(parents=True)
        shutil.copy2(self.destdir / "usr/share/initramfs-tools/hooks/ccagent", conf / "hooks/ccagent")
        shutil.copy2(self.destdir / "usr/share/initramfs-tools/scripts/local-top/ccagent",
                     conf / "scripts/local-top/ccagent")
        # Test data only: the simulator's state, which a real image never carries.
        (conf / "hooks/zz-e2e-simulator").write_text(
            f"#!/bin/sh\n[ \"$1\" = prereqs ] && exit 0\nmkdir -p \"$DESTDIR/var/lib/ccagent\"\n"
            f"cp -a {w / 'sim'} \"$DESTDIR/var/lib/ccagent/simulator\"\n")
        (conf / "hooks/zz-e2e-simulator").chmod(0o755)
        if dead_agent:
            (conf / "hooks/zz-e2e-dead-agent").write_text(
                f"#!/bin/sh\n[ \"$1\" = prereqs ] && exit 0\ncp {self.dead_agent()} \"$DESTDIR/usr/bin/ccagent\"\n")
            (conf / "hooks/zz-e2e-dead-agent").chmod(0o755)
        # Test image only: QEMU's restrict=on drops UDP, so the resolver asks over TCP (init sources conf.d).
        (conf / "conf.d").mkdir()
        (conf / "conf.d/e2e-resolver").write_text("export RES_OPTIONS=use-vc\n")
        (conf / "initramfs.conf").write_text("MODULES=list\nBUSYBOX=y\nCOMPRESS=gzip\n")
        (conf / "modules").write_text("\n".join(GUEST_DRIVERS) + "\n")
        out = w / ("initrd-initramfs-tools-dead-agent.img" if dead_agent else "initrd-initramfs-tools.img")
        log(f"mkinitramfs: building the initramfs with the ccagent hook{' (dead agent)' if dead_agent else ''}")
        # mkinitramfs reads /lib/modules/KVER and /boot/config-KVER of the host; link them for the
        # build only, where this machine has no such kernel installed.
        links = [(Path(f"/lib/modules/{self.kernel.version}"), self.kernel.moddir),
                 (Path(f"/boot/config-{self.kernel.version}"), self.kernel.root / f"boot/config-{self.kernel.version}")]
        made = []
        try:
            for link, target in links:
                if not link.exists():
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(target)
                    made.append(link)
            env = dict(os.environ, CCAGENT_DESTDIR=str(self.destdir))
            run(["mkinitramfs", "-d", conf, "-o", out, self.kernel.version], env=env, stdout=subprocess.DEVNULL)
        finally:
            for link in made:
                link.unlink()
        self.check_listing(["lsinitramfs", "-l"], out, [
            "usr/bin/ccagent", "etc/ccagent/ccagent.conf", "etc/ccagent/broker-ca.pem", "scripts/local-top/ccagent",
            "scripts/local-top/cryptroot", "dm-crypt.ko", "etc/ssl/certs/ca-certificates.crt", "usr/bin/timeout"],
            libraries=not dead_agent)
        return out

    def check_listing(self, tool: list[str], image: Path, expected: list[str], libraries: bool = True) -> None:
        """The image contains ccagent, the libraries it links (unless libraries is False: the builder may
        resolve them from the binary it finds at the end), and its units, catalog and config."""
        listing = run([*tool, image], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, encoding="utf-8",
                      errors="replace").stdout
        # `ls -l` style lines; a symbolic link reads "NAME -> TARGET".
        paths = {line.split(" -> ")[0].split()[-1].lstrip("./") for line in listing.splitlines() if line.strip()}
        # Every library ccagent needs, by soname, under whichever lib directory the builder chose.
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                            output(["readelf", "-d", self.release_ccagent]))
        names = {Path(p).name for p in paths}
        missing = [p for p in expected if not any(q == p or q.endswith("/" + p) for q in paths)]
        missing += [lib for lib in needed if libraries and lib not in names]
        check(not missing, f"{image.name} lacks {missing}")
        # The resolver must come from the boot's network configuration, never from the build machine.
        check("etc/resolv.conf" not in paths, f"{image.name} carries a resolv.conf (the build machine's resolver)")
        log(f"{image.name}: {len(paths)} entries, ccagent" + (f" and its {len(needed)} libraries" if libraries else "")
            + ", units and config present")
