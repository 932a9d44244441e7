# SPDX-License-Identifier: Apache-2.0
# Build, test, lint, demo, benchmarks and install for ccagent. `make help` lists the targets.

SWIFT        ?= swift
PREFIX       ?= /usr
BINDIR       ?= $(PREFIX)/bin
LIBEXECDIR   ?= $(PREFIX)/libexec
SYSCONFDIR   ?= /etc
UNITDIR      ?= /usr/lib/systemd/system
DESTDIR      ?=
SWIFT_FLAGS  ?=
RELEASE_FLAGS = -c release --static-swift-stdlib -Xswiftc -gnone

.PHONY: help setup build release test check fmt lint demo bench e2e fuzz install clean

help:
	@echo "make demo     - the main job: broker + LUKS2 image + enroll + unlock on the simulator"
	@echo "make test     - setup, lint, build and run every test (what CI runs)"
	@echo "make build    - debug build";
	@echo "make release  - release build (static Swift stdlib)"
	@echo "make fmt      - format the sources with swift format"
	@echo "make bench    - benchmarks; writes BENCHMARKS.md"
	@echo "make install  - install into DESTDIR"

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build $(SWIFT_FLAGS)

release: setup
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS)

test: setup lint
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)
	scripts/demo.sh "$$($(SWIFT) build --show-bin-path)" >/dev/null

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests
	@files=$$(git ls-files '*.sh' 'initramfs/*' '.ci/run' | while read -r f; do \
		head -1 "$$f" | grep -qE '^#!.*(ba)?sh' && echo "$$f"; done); \
	if [ -n "$$files" ]; then shellcheck $$files; fi

fmt:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

demo: build
	scripts/demo.sh "$$($(SWIFT) build --show-bin-path)"

clean:
	rm -rf .build
