#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# What a hostile host can do to a LUKS2 header: rewrite its JSON metadata and fix the checksums of
# both header copies, so libcryptsetup loads it without complaint. Used by the tamper tests.
#
# Usage: luks2_tamper.py IMAGE EDIT   where EDIT is one of:
#   token-broker URL | token-resource PATH | segment-cipher NAME | area-cipher SLOT NAME |
#   digest-replace | token-drop-mac | token-copy-from OTHER_IMAGE | config-flag NAME |
#   config-requirement NAME | segment-flag NAME | dump
import hashlib
import json
import struct
import sys

HEADER_SIZE = 4096


def read_header(data, offset):
    magic = data[offset:offset + 6]
    if magic not in (b"LUKS\xba\xbe", b"SKUL\xba\xbe"):
        raise SystemExit(f"no LUKS2 header at {offset}")
    hdr_size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
    area = data[offset + HEADER_SIZE:offset + hdr_size]
    metadata = json.loads(area.split(b"\0", 1)[0])
    return hdr_size, metadata


def write_header(data, offset, hdr_size, metadata):
    text = json.dumps(metadata, separators=(",", ":")).encode()
    if len(text) >= hdr_size - HEADER_SIZE:
        raise SystemExit("metadata too large")
    area = text + b"\0" * (hdr_size - HEADER_SIZE - len(text))
    data[offset + HEADER_SIZE:offset + hdr_size] = area
    data[offset + 0x1C0:offset + 0x1C0 + 64] = b"\0" * 64  # csum field
    seqid = struct.unpack(">Q", data[offset + 16:offset + 24])[0] + 1
    data[offset + 16:offset + 24] = struct.pack(">Q", seqid)
    digest = hashlib.sha256(bytes(data[offset:offset + hdr_size])).digest()
    data[offset + 0x1C0:offset + 0x1C0 + 32] = digest


def ccagent_token(metadata):
    for token in metadata["tokens"].values():
        if token.get("type") == "ccagent":
            return token
    raise SystemExit("no ccagent token")


def main():
    image, edit, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = bytearray(open(image, "rb").read())
    hdr_size, metadata = read_header(data, 0)
    if edit == "dump":
        print(json.dumps(metadata, indent=2))
        return
    if edit == "token-broker":
        ccagent_token(metadata)["broker"] = args[0]
    elif edit == "token-resource":
        ccagent_token(metadata)["resource"] = args[0]
    elif edit == "token-drop-mac":
        del ccagent_token(metadata)["mac"]
    elif edit == "segment-cipher":
        for segment in metadata["segments"].values():
            segment["encryption"] = args[0]
    elif edit == "area-cipher":
        metadata["keyslots"][args[0]]["area"]["encryption"] = args[1]
    elif edit == "digest-replace":
        for digest in metadata["digests"].values():
            digest["salt"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    elif edit == "config-flag":
        metadata["config"].setdefault("flags", []).append(args[0])
    elif edit == "segment-flag":
        for segment in metadata["segments"].values():
            segment.setdefault("flags", []).append(args[0])
    elif edit == "config-requirement":
        metadata["config"].setdefault("requirements", {}).setdefault("mandatory", []).append(args[0])
    elif edit == "token-copy-from":
        _, other = read_header(bytearray(open(args[0], "rb").read()), 0)
        token = ccagent_token(other)
        metadata["tokens"] = {k: v for k, v in metadata["tokens"].items() if v.get("type") != "ccagent"}
        metadata["tokens"]["0"] = token
    else:
        raise SystemExit(f"unknown edit {edit}")
    write_header(data, 0, hdr_size, metadata)
    write_header(data, hdr_size, hdr_size, metadata)
    open(image, "wb").write(data)


if __name__ == "__main__":
    main()
