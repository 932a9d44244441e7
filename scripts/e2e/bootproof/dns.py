# SPDX-License-Identifier: Apache-2.0
"""A DNS server for the broker's host name, over TCP on 127.0.0.1 only (RFC 1035 §4.2.2 framing).

QEMU's user-mode network with restrict=on drops UDP, so the guest reaches this server through a TCP
guestfwd, with its resolver told to use TCP (RES_OPTIONS=use-vc). It knows one name: A queries for it
answer the broker's guestfwd address, AAAA queries answer no records, and any other name is NXDOMAIN.
Every question is recorded, so the proof can show the name was resolved here, at boot."""

from __future__ import annotations

import socket
import struct
import threading


class DNSServer:
    def __init__(self, name: str, address: str) -> None:
        self.name = name.lower().rstrip(".")
        self.address = socket.inet_aton(address)
        self.questions: list[tuple[str, int]] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(connection,), daemon=True).start()

    def _connection(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(30)
            try:
                while True:
                    header = self._read(connection, 2)
                    if header is None:
                        return
                    query = self._read(connection, struct.unpack("!H", header)[0])
                    if query is None:
                        return
                    answer = self.answer(query)
                    if answer is None:
                        return
                    connection.sendall(struct.pack("!H", len(answer)) + answer)
            except (OSError, ValueError):
                return

    @staticmethod
    def _read(connection: socket.socket, count: int) -> bytes | None:
        data = b""
        while len(data) < count:
            chunk = connection.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def answer(self, query: bytes) -> bytes | None:
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1 or flags & 0x8000:
            return None
        labels, offset = [], 12
        while offset < len(query) and query[offset] != 0:
            length = query[offset]
            if length > 63:
                return None
            labels.append(query[offset + 1:offset + 1 + length].decode("ascii", "replace"))
            offset += 1 + length
        offset += 1
        if offset + 4 > len(query):
            return None
        qtype, qclass = struct.unpack("!HH", query[offset:offset + 4])
        question = query[12:offset + 4]
        name = ".".join(labels).lower()
        self.questions.append((name, qtype))
        known = name == self.name
        rcode = 0 if known else 3
        answers = b""
        if known and qtype == 1 and qclass == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + self.address
        # QR, opcode 0, AA, RD copied, RA; the question echoed.
        response_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        return struct.pack("!HHHHHH", ident, response_flags, 1, 1 if answers else 0, 0, 0) + question + answers

    def resolved(self) -> bool:
        """Whether the guest asked for the broker's address (an A question for the name)."""
        return (self.name, 1) in self.questions

    def stop(self) -> None:
        self.listener.close()
