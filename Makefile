# SPDX-License-Identifier: Apache-2.0
# Build, test, lint, demo, benchmarks and install for ccagent. `make help` lists the targets.

SWIFT        ?= swift
PREFIX       ?= /usr
BINDIR       ?= $(PREFIX)/bin
LIBEXECDIR   ?= $(PREFIX)/libexec
SYSCONFDIR   ?= /etc
UNITDIR      ?= /usr/lib/systemd/system
MANDIR       ?= $(PREFIX)/share/man
DESTDIR      ?=
# Generated manual pages carry the date of the last commit, so a rebuild of the same tree is identical.
DOC_DATE     ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
GEN          = .build/generated
SWIFT_FLAGS  ?=
# Release link layout (scripts/bench/footprint-steps.md measures each): lld; packed relative relocations
# (glibc >= 2.36); no exported symbols; the functions the boot path runs first in .text, so the unlock
# touches fewer pages. A stale order file loses only the benefit, never the build.
LINK_FLAGS    = -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic \
	-Xlinker --symbol-ordering-file=$(CURDIR)/scripts/bench/ccagent.order -Xlinker --no-warn-symbol-ordering
RELEASE_FLAGS = -c release --static-swift-stdlib -Xswiftc -gnone $(LINK_FLAGS)

.PHONY: help setup release-flags build release test check fmt lint demo bench e2e fuzz install install-agent install-docs e2e-run clean \
	units verify-units docs deb deb-test

help:
	@echo "make demo     - the main job: broker + LUKS2 image + enroll + unlock on the simulator"
	@echo "make test     - setup, lint, build and run every test (what CI runs)"
	@echo "make build    - debug build";
	@echo "make release  - release build (static Swift stdlib)"
	@echo "make fmt      - format the sources with swift format"
	@echo "make bench    - benchmarks; writes BENCHMARKS.md"
	@echo "make e2e      - the QEMU boot proof alone; writes BOOTPROOF.md"
	@echo "make install  - install into DESTDIR"
	@echo "make deb      - Debian packages ccagent and ccbroker in .build/deb (lintian-checked)"
	@echo "make deb-test - make deb, then install both into a fresh debootstrap root and check them"

setup:
	@scripts/setup.sh

# The release flags, for the bench scripts (one definition).
release-flags:
	@echo $(RELEASE_FLAGS)

build: setup
	$(SWIFT) build $(SWIFT_FLAGS)

release: setup
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product ccagent
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product ccbroker

test: setup lint
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)
	scripts/demo.sh "$$($(SWIFT) build --show-bin-path)" >/dev/null
	scripts/fuzz.sh 10
	$(MAKE) --no-print-directory deb-test
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
install: install-agent install-docs
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product ccbroker
	install -D -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/ccbroker" "$(DESTDIR)$(BINDIR)/ccbroker"
	install -D -m 0644 .build/units/ccbroker.service "$(DESTDIR)$(UNITDIR)/ccbroker.service"
	install -D -m 0644 systemd/ccbroker.sysusers "$(DESTDIR)$(PREFIX)/lib/sysusers.d/ccbroker.conf"
	install -D -m 0644 docs/broker.md "$(DESTDIR)$(PREFIX)/share/doc/ccbroker/broker.md"

install-agent: setup units
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS) --product ccagent
	install -D -s -m 0755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/ccagent" "$(DESTDIR)$(BINDIR)/ccagent"
	install -D -m 0644 .build/units/ccagent-unlock.service "$(DESTDIR)$(UNITDIR)/ccagent-unlock.service"
	install -D -m 0644 .build/units/ccagent.service "$(DESTDIR)$(UNITDIR)/ccagent.service"
	install -D -m 0644 systemd/ccagent.catalog "$(DESTDIR)$(PREFIX)/lib/systemd/catalog/ccagent.catalog"
	install -D -m 0644 systemd/ccagent.conf "$(DESTDIR)$(SYSCONFDIR)/ccagent/ccagent.conf"
	install -D -m 0755 initramfs/dracut/90ccagent/module-setup.sh "$(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90ccagent/module-setup.sh"
	install -D -m 0755 initramfs/dracut/90ccagent/ccagent-resolv.sh "$(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90ccagent/ccagent-resolv.sh"
	install -D -m 0755 initramfs/initramfs-tools/hooks/ccagent "$(DESTDIR)$(PREFIX)/share/initramfs-tools/hooks/ccagent"
	install -D -m 0755 initramfs/initramfs-tools/scripts/local-top/ccagent "$(DESTDIR)$(PREFIX)/share/initramfs-tools/scripts/local-top/ccagent"
	install -D -m 0644 README.md "$(DESTDIR)$(PREFIX)/share/doc/ccagent/README.md"
	for doc in docs/*.md docs/status.schema.json; do \
		install -D -m 0644 "$$doc" "$(DESTDIR)$(PREFIX)/share/doc/ccagent/$$(basename "$$doc")"; done

# Manual pages generated from the commands' own definitions, so they never drift from --help: ccagent(8) by
# ccagent itself (--generate-manual), ccbroker(8) by swift-argument-parser's plugin (which skips ccagent, not
# an ArgumentParser tool); ccagent.conf(5) written by hand. Bash, zsh and fish completions from each tool.
docs: build
	$(SWIFT) package plugin generate-manual --configuration debug --section 8 --date $(DOC_DATE) \
		--authors "ccagent developers" >/dev/null
	rm -rf $(GEN) && mkdir -p $(GEN)/man $(GEN)/completions
	cp .build/plugins/GenerateManual/outputs/ccbroker/ccbroker.8 $(GEN)/man/
	"$$($(SWIFT) build --show-bin-path)/ccagent" --generate-manual --date $(DOC_DATE) \
		--authors "ccagent developers" > $(GEN)/man/ccagent.8
	for tool in ccagent ccbroker; do \
		for shell in bash zsh fish; do \
			"$$($(SWIFT) build --show-bin-path)/$$tool" --generate-completion-script $$shell \
				> "$(GEN)/completions/$$tool.$$shell"; \
		done; \
	done
	cp docs/man/ccagent.conf.5 $(GEN)/man/

install-docs: docs
	for page in $(GEN)/man/*.[0-9]; do \
		section=$${page##*.}; install -d "$(DESTDIR)$(MANDIR)/man$$section"; \
		gzip -9nc "$$page" > "$(DESTDIR)$(MANDIR)/man$$section/$$(basename "$$page").gz"; \
	done
	for tool in ccagent ccbroker; do \
		install -D -m 0644 "$(GEN)/completions/$$tool.bash" "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$tool"; \
		install -D -m 0644 "$(GEN)/completions/$$tool.zsh" "$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$tool"; \
		install -D -m 0644 "$(GEN)/completions/$$tool.fish" \
			"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$tool.fish"; \
	done

# Debian packages, built by debhelper from this tree (debian/), into .build/deb; lintian must report no errors.
deb:
	@CCAGENT_SETUP_DEB=1 scripts/setup.sh
	rm -rf .build/deb && mkdir -p .build/deb
	# dpkg-buildpackage writes into the parent directory; the results are moved to .build/deb at once.
	dpkg-buildpackage --build=binary --no-sign --no-check-builddeps >.build/deb/build.log 2>&1 \
		|| { tail -n 40 .build/deb/build.log; exit 1; }
	mv ../ccagent_*.deb ../ccbroker_*.deb ../ccagent_*.buildinfo ../ccagent_*.changes .build/deb/
	lintian --fail-on error --info .build/deb/*.changes

deb-test: deb
	scripts/testing/deb_install_test.sh .build/deb

fmt:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

# The QEMU boot proof (scripts/e2e/boot_proof.py): `make e2e` also writes BOOTPROOF.md.
e2e: E2E_FLAGS = --results BOOTPROOF.md
e2e: e2e-run

e2e-run:
	CCAGENT_SETUP_E2E=1 CCAGENT_SETUP_DEB=1 scripts/setup.sh
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
