# keyprep — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/keyprep
PKGS := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 10s
BENCHTIME ?= 1s

# What `keyprep version` shows, stamped into every build: the version
# (scripts/version.sh), the commit and the commit's date, never the time of
# the build, so that one commit always builds to the same bytes. A source
# export without git passes them: make release VERSION=… COMMIT=… SOURCE_DATE_EPOCH=…
VERSION ?= $(shell scripts/version.sh)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
VERSION := $(VERSION)
COMMIT := $(COMMIT)
SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
DATE := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
LIBFIDO2 := $(shell pkg-config --modversion libfido2 2>/dev/null)
CLI := github.com/keyprep/keyprep/internal/cli
STAMP := -X $(CLI).Version=$(VERSION) -X $(CLI).Commit=$(COMMIT) -X $(CLI).Date=$(DATE) -X $(CLI).Libfido2=$(LIBFIDO2)

# Release build (make deb, make release): no file system paths (-trimpath),
# no build id (-buildid=), no VCS stamp of Go's own (it would differ between
# a clone and a source export: the version, commit and date are stamped
# instead), stripped (-s -w), position independent, and the C parts
# (libfido2 binding, SQLite is pure Go) with Debian's hardening flags.
# gen-docs is built with the same flags and environment so that it shares
# the compiled packages with the binary (the Graph SDK compiles once).
RELEASE_ENV := CGO_ENABLED=1 CGO_CPPFLAGS="-D_FORTIFY_SOURCE=2" \
	CGO_CFLAGS="-O2 -fstack-protector-strong -Wformat -Werror=format-security" \
	CGO_LDFLAGS="-Wl,-z,relro -Wl,-z,now"
RELEASE_FLAGS := -trimpath -buildvcs=false -buildmode=pie
RELEASE_BIN := bin/release/keyprep
DIST := dist
GOARCH := $(shell $(GO) env GOARCH)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what the build needs (libfido2-dev, pkg-config) when missing
	@scripts/deps.sh

.PHONY: build
build: deps ## build bin/keyprep
	$(GO) build -ldflags "$(STAMP)" -o $(BIN) ./cmd/keyprep

# Manual pages and completion files come from the command tree
# (scripts/gen-docs), never from the repository: they cannot drift from --help.
GEN_DOCS := $(RELEASE_ENV) $(GO) run $(RELEASE_FLAGS) ./scripts/gen-docs -version $(VERSION) -date $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%F)

.PHONY: man
man: deps ## manual pages (keyprep.1, one per command) from the command tree into bin/man
	@rm -rf bin/man
	$(GEN_DOCS) -man bin/man

.PHONY: completions
completions: deps ## bash, zsh and fish completion files from the command tree into bin/completions
	@rm -rf bin/completions
	$(GEN_DOCS) -completions bin/completions

.PHONY: release-bin
release-bin: deps
	$(RELEASE_ENV) $(GO) build $(RELEASE_FLAGS) -ldflags "-buildid= -s -w $(STAMP)" -o $(RELEASE_BIN) ./cmd/keyprep

.PHONY: deb
deb: release-bin ## dist/keyprep_VERSION_ARCH.deb: binary, unit, udev rule, man pages, completions (scripts/deb)
	@rm -rf bin/man bin/completions
	$(GEN_DOCS) -man bin/man -completions bin/completions
	@VERSION=$(VERSION) COMMIT=$(COMMIT) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
	  scripts/deb/build.sh $(RELEASE_BIN) bin/man bin/completions $(DIST)

.PHONY: release
# keyprep-windows-amd64.zip: keyprep.exe (make windows), README.md and the
# licence texts of the C libraries linked into it (scripts/windows/zip.sh),
# written entry by entry in name order with SOURCE_DATE_EPOCH as every
# time (scripts/windows/mkzip), then checked (scripts/windows/zip-test.sh).
WINDOWS_ZIP := keyprep-windows-amd64.zip
release: deb windows ## dist/: the .deb, the bare binary, keyprep-windows-amd64.zip and SHA256SUMS; the same commit gives the same bytes
	cp $(RELEASE_BIN) $(DIST)/keyprep_$(VERSION)_linux_$(GOARCH)
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GO=$(GO) scripts/windows/zip.sh $(WINDOWS_CACHE) bin/keyprep.exe $(DIST)/$(WINDOWS_ZIP)
	cd $(DIST) && sha256sum keyprep_$(VERSION)_* $(WINDOWS_ZIP) >SHA256SUMS && cat SHA256SUMS
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) scripts/windows/zip-test.sh $(DIST)/$(WINDOWS_ZIP) bin/keyprep.exe $(DIST)/SHA256SUMS

.PHONY: deb-test
# install-test.sh installs, upgrades and purges the package: only with
# CI=true (a throwaway machine) or KEYPREP_DEB_INSTALL_TEST=1; else it says
# that it skipped.
deb-test: deb ## lintian, contents, modes, the packaged binary run unpacked, systemd-analyze verify; install/upgrade/purge (CI); two builds identical
	scripts/deb/test.sh $(DIST)/keyprep_$(VERSION)_$(shell dpkg --print-architecture).deb
	scripts/deb/install-test.sh $(DIST)/keyprep_$(VERSION)_$(shell dpkg --print-architecture).deb
	scripts/deb/repro-test.sh

.PHONY: windows
# keyprep.exe for windows/amd64, cross-built here with Debian's mingw-w64:
# libcrypto (OpenSSL), libcbor and libfido2 are built statically from pinned,
# checksummed source tarballs (scripts/windows/pins) into a prefix cached
# under WINDOWS_CACHE and rebuilt only when a pin changes; the .exe must
# import nothing but Windows system DLLs (scripts/windows/check-imports.sh).
# docs/windows.md has the details.
# The cache is the machine's, outside the checkout (a fresh clone reuses
# it): $XDG_CACHE_HOME/keyprep/windows, else ~/.cache/keyprep/windows.
WINDOWS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/keyprep/windows
windows: ## bin/keyprep.exe for windows/amd64 (mingw-w64, libfido2 linked in statically; docs/windows.md)
	@scripts/windows/deps.sh
	KEYPREP_LDFLAGS="-X $(CLI).Version=$(VERSION) -X $(CLI).Commit=$(COMMIT) -X $(CLI).Date=$(DATE)" \
	  GO=$(GO) scripts/windows/build.sh bin/keyprep.exe $(WINDOWS_CACHE)

.PHONY: windows-test
# The Windows build under Debian's Wine 8.0 (scripts/windows/wine.sh, with a
# test-only stand-in for bcryptprimitives.dll that Wine lacks): the import
# check's self-test, keyprep.exe's version, the tests of these packages
# built for windows/amd64 (hid: real libfido2 through its I/O hooks against
# the in-process virtual key; real Windows HID is not exercised; tests that
# cannot run under Wine are skipped by name, scripts/windows/wine-skips),
# the manifest check's self-test, keyprep service install|uninstall under
# Wine's service control manager, Windows Hello never taken for a key (with
# a stand-in webauthn.dll for the run; docs/windows.md), and the simulated
# demo against keyprep.exe (scripts/windows/demo-test.sh).
# The store's tests run on SQLite only (no KEYPREP_TEST_POSTGRES here).
WINDOWS_TEST_PKGS := ./hid ./hid/ctaphid ./internal/enroll ./internal/webauthn ./internal/pin ./internal/elevate \
	./internal/store ./internal/escrow ./internal/bench/api
windows-test: windows ## bin/keyprep.exe, its packages' tests and the simulated demo under Wine (docs/windows.md)
	@scripts/windows/deps.sh --wine
	scripts/windows/check-imports-test.sh
	scripts/windows/wine.sh $(WINDOWS_CACHE) bin/keyprep.exe version >bin/windows-version.txt
	cat bin/windows-version.txt
	grep -Eq '^libfido2: +[0-9]+\.[0-9]+\.[0-9]+ \(linked into the executable\)$$' bin/windows-version.txt
	env -u KEYPREP_TEST_POSTGRES GO=$(GO) scripts/windows/test.sh $(WINDOWS_CACHE) $(WINDOWS_TEST_PKGS)
	scripts/windows/manifest-test.sh bin/keyprep.exe
	scripts/windows/service-test.sh $(WINDOWS_CACHE) bin/keyprep.exe
	GO=$(GO) scripts/windows/elevate-test.sh $(WINDOWS_CACHE)
	GO=$(GO) scripts/windows/winhello-test.sh $(WINDOWS_CACHE) bin/keyprep.exe
	scripts/windows/demo-test.sh $(WINDOWS_CACHE) bin/keyprep.exe

.PHONY: test
# Every package is tested once, under the race detector: one -race compile
# of everything (msgraph-sdk-go is most of it), and the race run executes
# every test. The no-cgo build is checked by
# internal/layering_test.go: only hid and internal/graph/tokencache have
# files that depend on cgo; it type-checks their no-cgo files against this
# build's export data and checks that their exported API is the same either
# way, so every other package type-checks the same without cgo, and nothing
# (the Graph SDK least of all) is compiled a second time for it. The no-cgo
# tests (hid's stubs: every operation says it was built without libfido2)
# run too, with CGO_ENABLED=0: hid and its subpackages are small and import
# no Graph SDK.
#
# Under -race, the generated Graph SDK (msgraph-sdk-go's request builders and
# models, kiota's serialisers) is compiled without race instrumentation: it
# is most of the compile and none of our concurrency. Every keyprep package
# and every other dependency stay instrumented. (modernc.org's SQLite must
# stay instrumented: without it the detector misses the ordering its locks
# give and reports false races in the store's callers.)
RACE_PLAIN := github.com/microsoftgraph/... github.com/microsoft/kiota-...
RACE := -race $(foreach p,$(RACE_PLAIN),-gcflags=$(p)=-race=false)
#
# The store's tests run on SQLite and on PostgreSQL: scripts/pg.sh starts a
# throwaway cluster (installing Debian's postgresql when missing), exports
# KEYPREP_TEST_POSTGRES for the run and removes the cluster afterwards.
# KEYPREP_TEST_POSTGRES=postgres://... uses that server instead (password
# in PGPASSWORD or ~/.pgpass); KEYPREP_TEST_POSTGRES=off skips PostgreSQL.
#
# go test runs go vet's high-confidence checks on every package it tests;
# the full go vet (and staticcheck) is make lint's, which make check and CI
# run too. Without a separate vet pass first, the small packages' tests run
# while the Graph SDK still compiles.
test: deps ## run every test under -race, the store's on SQLite and on a throwaway PostgreSQL (no key, no network)
	scripts/pg.sh $(GO) test -count=1 $(RACE) $(PKGS)
	CGO_ENABLED=0 $(GO) test -count=1 ./hid/...

.PHONY: e2e-vm
e2e-vm: ## boot a qemu VM where the virtual key is real kernel HID (uhid); keyprep and libfido2's tools use /dev/hidraw0
	@scripts/e2e-vm.sh

.PHONY: demo
demo: build ## run the main job on the built-in simulation (virtual keys, fresh state dir)
	@scripts/demo.sh $(BIN)

.PHONY: bench
# The store's and the fleet's benchmarks need PostgreSQL: scripts/pg.sh
# starts a throwaway cluster for them as for make test.
bench: deps ## benchmarks: µs per operation, HID reports per operation, the fleet's throughput (on a throwaway PostgreSQL)
	scripts/pg.sh $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./hid/... ./internal/...

.PHONY: fuzz
fuzz: deps ## run every fuzz target for FUZZTIME each (default 10s)
	@scripts/fuzz.sh $(FUZZTIME)

.PHONY: lint
lint: deps ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

.PHONY: check
check: lint test ## lint and test (what CI runs)

.PHONY: e2e-browser
e2e-browser: ## dashboard in headless chromium via chromedriver (installs chromium, chromium-driver); screenshots in artifacts/
	@KEYPREP_ARTIFACTS=$(CURDIR)/artifacts scripts/browser-test.sh

.PHONY: clean
clean: ## remove build output
	rm -rf bin $(DIST)
