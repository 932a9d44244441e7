#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Connects to a credential socket the way systemd's LoadCredential= does: binds its own socket to the
# abstract address "\0<random>/unit/<unit>/<credential>" first, then reads until EOF and prints it.
# Usage: loadcredential_client.py SOCKET UNIT CREDENTIAL abstract|plain
import os
import socket
import sys

path, unit, credential, mode = sys.argv[1:5]
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if mode == "abstract":
    client.bind("\0" + os.urandom(8).hex() + f"/unit/{unit}/{credential}")
client.settimeout(5)
client.connect(path)
data = b""
while True:
    chunk = client.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
