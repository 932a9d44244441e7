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

.PHONY: help setup build release test check fmt lint demo bench e2e fuzz install install-agent e2e-run clean units verify-units

help:
	@echo "make demo     - the main job: broker + LUKS2 image + enroll + unlock on the simulator"
	@echo "make test     - setup, lint, build and run every test (what CI runs)"
	@echo "make build    - debug build";
	@echo "make release  - release build (static Swift stdlib)"
	@echo "make fmt      - format the sources with swift format"
	@echo "make bench    - benchmarks; writes BENCHMARKS.md"
	@echo "make e2e      - the QEMU boot proof alone; writes BOOTPROOF.md"
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
	scripts/fuzz.sh 10
	$(MAKE) --no-print-directory e2e-run

lint: verify-units
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests
	@files=$$(git ls-files '*.sh' 'initramfs/*' '.ci/run' | while read -r f; do \
		head -1 "$$f" | grep -qE '^#!.*(ba)?sh' && echo "$$f"; done); \
	if [ -n "$$files" ]; then shellcheck $$files; fi

units:
	@mkdir -p .build/units
	@for unit in systemd/*.service.in; do \
		sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@docdir@|$(PREFIX)/share/doc/ccagent|g' "$$unit" \
			> ".build/units/$$(basename "$$unit" .in)"; \
	done

# Checks the units as they would be installed, with ExecStart pointing at the freshly built binary.
verify-units: build
	@mkdir -p .build/units-check
	@for unit in systemd/*.service.in; do \
		sed -e "s|@bindir@|$$($(SWIFT) build --show-bin-path)|g" -e 's|@docdir@|/usr/share/doc/ccagent|g' "$$unit" \
			> ".build/units-check/$$(basename "$$unit" .in)"; \
	done
	systemd-analyze verify --man=no .build/units-check/*.service

# install-agent is what a guest image needs (the e2e boot proof stages it); install adds the broker.
install: install-agent
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product ccbroker
	install -D -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/ccbroker" "$(DESTDIR)$(BINDIR)/ccbroker"

install-agent: setup units
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product ccagent
	install -D -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/ccagent" "$(DESTDIR)$(BINDIR)/ccagent"
	install -D -m 0644 .build/units/ccagent-unlock.service "$(DESTDIR)$(UNITDIR)/ccagent-unlock.service"
	install -D -m 0644 .build/units/ccagent.service "$(DESTDIR)$(UNITDIR)/ccagent.service"
	install -D -m 0644 systemd/ccagent.catalog "$(DESTDIR)$(PREFIX)/lib/systemd/catalog/ccagent.catalog"
	install -D -m 0644 systemd/ccagent.conf "$(DESTDIR)$(SYSCONFDIR)/ccagent/ccagent.conf"
	install -D -m 0755 initramfs/dracut/90ccagent/module-setup.sh "$(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90ccagent/module-setup.sh"
	install -D -m 0755 initramfs/initramfs-tools/hooks/ccagent "$(DESTDIR)$(PREFIX)/share/initramfs-tools/hooks/ccagent"
	install -D -m 0755 initramfs/initramfs-tools/scripts/local-top/ccagent "$(DESTDIR)$(PREFIX)/share/initramfs-tools/scripts/local-top/ccagent"
	install -D -m 0644 README.md "$(DESTDIR)$(PREFIX)/share/doc/ccagent/README.md"

fmt:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

# The QEMU boot proof (scripts/e2e/boot_proof.py): `make e2e` also writes BOOTPROOF.md.
e2e: E2E_FLAGS = --results BOOTPROOF.md
e2e: e2e-run

e2e-run:
	CCAGENT_SETUP_E2E=1 scripts/setup.sh
	$(SWIFT) build $(SWIFT_FLAGS)
	python3 scripts/e2e/boot_proof.py $(E2E_FLAGS)

fuzz: setup
	CCAGENT_FUZZ_RESULTS=FUZZING.md scripts/fuzz.sh 160

# The clevis + tang peer, GNU time and gnuplot come from setup.sh's bench block.
bench:
	@CCAGENT_SETUP_BENCH=1 scripts/setup.sh
	scripts/bench/run.sh

demo: build
	scripts/demo.sh "$$($(SWIFT) build --show-bin-path)"

clean:
	rm -rf .build
