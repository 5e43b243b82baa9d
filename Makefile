# keyprep — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/keyprep
PKGS := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 10s
BENCHTIME ?= 1s

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what the build needs (libfido2-dev, pkg-config) when missing
	@scripts/deps.sh

.PHONY: build
build: deps ## build bin/keyprep
	$(GO) build -o $(BIN) ./cmd/keyprep

.PHONY: test
# Every package is tested once, under the race detector: one -race compile
# of everything (msgraph-sdk-go is most of it), and the race run executes
# every test. The no-cgo build is checked by
# internal/layering_test.go: only hid and internal/graph/tokencache have
# files that depend on cgo; it type-checks their no-cgo files against this
# build's export data and checks that their exported API is the same either
# way, so every other package type-checks the same without cgo, and nothing
# (the Graph SDK least of all) is compiled a second time for it.
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
	rm -rf bin
