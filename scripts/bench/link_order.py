#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A linker symbol-ordering file from callgrind profiles of ccagent's boot-path commands.

Usage: link_order.py BINARY_NAME PROFILE... > scripts/bench/ccagent.order

Each PROFILE is `valgrind --tool=callgrind --demangle=no --callgrind-out-file=PROFILE BINARY ARGS...` of a
release ccagent built with symbols (strip -g only: valgrind cannot read the Swift DWARF). The output lists,
once each and in first-seen order, the functions of BINARY_NAME that ran. Linked with lld's
--symbol-ordering-file, they sit together at the start of .text, so the pages the kernel maps around each
code fault (fault-around, 64 KiB) hold code that runs instead of code that does not: fewer resident pages.
A stale file only loses that benefit (unknown names are ignored: --no-warn-symbol-ordering).
"""
import re
import sys

binary, profiles = sys.argv[1], sys.argv[2:]
seen, order = set(), []
for path in profiles:
    objects, functions, current = {}, {}, None
    for line in open(path, errors="replace"):
        match = re.match(r"^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not match:
            continue
        kind, number, name = match.groups()
        if kind in ("ob", "cob"):
            if name is not None:
                objects[number] = name
            if kind == "ob":
                current = objects.get(number)
            continue
        if name is not None:
            functions[number] = name
        if kind == "fn" and current and current.endswith("/" + binary):
            function = functions.get(number)
            if function and not function.startswith("0x") and function not in seen:
                seen.add(function)
                order.append(function)
for function in order:
    print(function)
