# SPDX-License-Identifier: Apache-2.0
"""The key broker the guest reaches: ccbroker on 127.0.0.1 only, behind QEMU's guestfwd (socat)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

from .common import BROKER_GUEST_ADDR, BROKER_HOSTNAME, ProofFailure, run


class Broker:
    """ccbroker on 127.0.0.1 with a test CA whose certificate names the guestfwd address."""

    def __init__(self, bin_dir: Path, work: Path, sim_roots: Path, reuse: bool = False) -> None:
        self.ccbroker = bin_dir / "ccbroker"
        self.work = work
        self.sim_roots = sim_roots
        self.resources = work / "resources"
        self.resources.mkdir(mode=0o700, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0
        self.log_path = work / "broker-0.log"
        ca = work / "ca"
        ca.mkdir(exist_ok=True)
        self.ca_pem = ca / "ca.pem"
        if reuse:
            return
        ssl = ["openssl"]
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        run(ssl + ["req", "-x509", *ec, "-days", "2", "-subj", "/CN=ccagent e2e CA", "-keyout", ca / "ca.key",
                   "-out", self.ca_pem], capture_output=True)
        run(ssl + ["req", *ec, "-subj", f"/CN={BROKER_GUEST_ADDR}", "-keyout", ca / "broker.key", "-out",
                   ca / "broker.csr"], capture_output=True)
        (ca / "ext").write_text(f"subjectAltName=IP:{BROKER_GUEST_ADDR},IP:127.0.0.1,DNS:{BROKER_HOSTNAME}\n"
                               "basicConstraints=CA:FALSE\n")
        run(ssl + ["x509", "-req", "-in", ca / "broker.csr", "-CA", self.ca_pem, "-CAkey", ca / "ca.key",
                   "-CAcreateserial", "-days", "2", "-extfile", ca / "ext", "-out", ca / "broker.pem"],
            capture_output=True)

    def start(self, policy: dict | None = None) -> None:
        self.stop()
        cmd = [self.ccbroker, "serve", "--listen", "127.0.0.1:0", "--resources", self.resources,
               "--tls-cert", self.work / "ca/broker.pem", "--tls-key", self.work / "ca/broker.key",
               "--trust-simulator", self.sim_roots]
        if policy is not None:
            policy_path = self.work / "policy.json"
            policy_path.write_text(json.dumps(policy))
            cmd += ["--policy", policy_path]
        else:
            cmd += ["--allow-any-measurement"]
        self.starts += 1
        self.log_path = self.work / f"broker-{self.starts}.log"
        with open(self.log_path, "w") as log_file:
            self.process = subprocess.Popen([str(c) for c in cmd], stdout=log_file, stderr=log_file)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"listening on https://127\.0\.0\.1:(\d+)", self.log_path.read_text())
            if match:
                self.port = int(match.group(1))
                return
            if self.process.poll() is not None:
                raise ProofFailure(f"ccbroker exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        raise ProofFailure("ccbroker did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

