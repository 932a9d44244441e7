#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny inetd for Debian's socket-activated tang: one tangd process per connection on 127.0.0.1.

Usage: tang_inetd.py PORTFILE DBDIR — binds 127.0.0.1:0, writes the port to PORTFILE, and for every
accepted connection runs /usr/libexec/tangd DBDIR with the socket as stdin and stdout (what systemd's
tangd.socket with Accept=yes does). Stops on SIGTERM.
"""
import os
import signal
import socket
import subprocess
import sys

TANGD = "/usr/libexec/tangd"


def main() -> None:
    portfile, db = sys.argv[1], sys.argv[2]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.getsockname()[1]}\n")
    os.replace(tmp, portfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # reap tangd children automatically
    while True:
        conn, _ = server.accept()
        try:
            subprocess.Popen([TANGD, db], stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.DEVNULL,
                             close_fds=True)
        finally:
            conn.close()


if __name__ == "__main__":
    main()
