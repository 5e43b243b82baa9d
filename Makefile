# keyprep — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/keyprep
PKGS := ./...
# Packages with goroutines and shared state: always tested under -race.
RACE_PKGS := ./hid/... ./internal/softkey/... ./internal/simkeys/... ./internal/graph/... ./internal/entrasim/... ./internal/cli/... ./internal/store/... ./internal/escrow/... ./internal/bench/...
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
test: deps ## run every test (no key, no network, no root needed); -race where there is concurrency
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)
	$(GO) test -count=1 -race $(RACE_PKGS)
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/keyprep

.PHONY: e2e-vm
e2e-vm: ## boot a qemu VM where the virtual key is real kernel HID (uhid); keyprep and libfido2's tools use /dev/hidraw0
	@scripts/e2e-vm.sh

.PHONY: demo
demo: build ## run the main job on the built-in simulation (virtual keys, fresh state dir)
	@scripts/demo.sh $(BIN)

.PHONY: bench
bench: deps ## benchmarks: µs per operation and HID reports per operation
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./hid/... ./internal/...

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
