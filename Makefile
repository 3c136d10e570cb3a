# Conveyor — the two commands are `make run` and `make test` (see README.md).
# Everything else they need is installed by `make deps`, into bin/ and the
# npm folders (git-ignored), and from Debian packages when on Debian.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

export PATH := $(CURDIR)/bin:$(PATH)
export GOFLAGS := -buildvcs=false
export REDOCLY_TELEMETRY := off
export K6_NO_USAGE_REPORT := true

GO        ?= go
BIN       := $(CURDIR)/bin
# Pinned tool versions. oapi-codegen is pinned by the `tool` directive in
# go.mod; the npm tools by the package-lock.json files.
SQLC_VERSION      := v1.31.1
VERSITYGW_VERSION := v1.8.0
GOTESTSUM_VERSION := v1.13.0
# oasdiff v1.34+ needs a module the proxy does not serve (pb33f/go-yaml v0.1.1).
OASDIFF_VERSION   := v1.33.0
# staticcheck 2026.2.x (module v0.8.x) is a release that knows Go 1.26.
STATICCHECK_VERSION := v0.8.2
# deploy/check.sh reads these two pins from here. Helm v3.22.0 is served by
# the module proxy but not approved here (.library package list): v3.21.4.
HELM_VERSION        := v3.21.4
KUBECONFORM_VERSION := v0.8.0
# mailpit: the local SMTP server with a web UI (internal/devstack MailpitVersion).
MAILPIT_VERSION     := v1.33.1
APT_PACKAGES      := redis-server pgbouncer chromium nginx
NPM_CI            := npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
# -shuffle on: tests must not depend on the order they are written in
# (the seed is printed; rerun a failure with -shuffle SEED).
GO_TEST_FLAGS     ?= -count=1 -shuffle on -timeout 20m

.PHONY: help run run-full test deps deps-apt deps-go deps-npm generate check-generated lint breaking deploy-check build build-ts test-go test-short test-sdk test-ts test-console test-codesamples bench bench-smoke bench-go chaos clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: deps build ## bring up the local topology and serve the console, the API, the docs and a worker (Ctrl-C stops all)
	exec $(BIN)/conveyor dev

run-full: deps build ## the system's whole topology on loopback: nginx on CONVEYOR_HTTP_ADDR in front of 2 API processes, 2 workers, a primary and 2 replicas behind 2 PgBouncers, Redis, S3
	exec $(BIN)/conveyor dev --apis 2 --workers 2 --replicas 2

test: deps check-generated lint breaking deploy-check build-ts test-ts test-console test-codesamples test-sdk test-go ## everything CI checks

# --- dependencies -----------------------------------------------------------

deps: deps-apt deps-go deps-npm ## install what a fresh machine lacks

deps-apt:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	{ command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; } || missing="$$missing pgbouncer"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || missing="$$missing nginx"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "deps: please install:$$missing (Debian/Ubuntu: sudo apt-get install -y$$missing)"; \
		echo "      and the PostgreSQL server binaries (initdb, postgres, pg_basebackup), e.g. postgresql-15"; \
		exit 1; \
	fi

deps-go: $(BIN)/.sqlc-$(SQLC_VERSION) $(BIN)/.versitygw-$(VERSITYGW_VERSION) $(BIN)/.gotestsum-$(GOTESTSUM_VERSION) $(BIN)/.oasdiff-$(OASDIFF_VERSION) $(BIN)/.staticcheck-$(STATICCHECK_VERSION) $(BIN)/.helm-$(HELM_VERSION) $(BIN)/.kubeconform-$(KUBECONFORM_VERSION) $(BIN)/.mailpit-$(MAILPIT_VERSION)

$(BIN)/.mailpit-$(MAILPIT_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install mailpit $(MAILPIT_VERSION) (about a minute the first time)"
	GOBIN=$(BIN) $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)
	@rm -f $(BIN)/.mailpit-* && touch $@

$(BIN)/.helm-$(HELM_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install helm $(HELM_VERSION) (about 2 minutes the first time)"
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@rm -f $(BIN)/.helm-* && touch $@

$(BIN)/.kubeconform-$(KUBECONFORM_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install kubeconform $(KUBECONFORM_VERSION)"
	GOBIN=$(BIN) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	@rm -f $(BIN)/.kubeconform-* && touch $@

$(BIN)/.staticcheck-$(STATICCHECK_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install staticcheck $(STATICCHECK_VERSION)"
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@rm -f $(BIN)/.staticcheck-* && touch $@

$(BIN)/.oasdiff-$(OASDIFF_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install oasdiff $(OASDIFF_VERSION)"
	GOBIN=$(BIN) $(GO) install github.com/oasdiff/oasdiff@$(OASDIFF_VERSION)
	@rm -f $(BIN)/.oasdiff-* && touch $@

$(BIN)/.gotestsum-$(GOTESTSUM_VERSION):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)
	@rm -f $(BIN)/.gotestsum-* && touch $@

$(BIN)/.sqlc-$(SQLC_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install sqlc $(SQLC_VERSION) (about 2 minutes the first time)"
	GOBIN=$(BIN) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
	@rm -f $(BIN)/.sqlc-* && touch $@

$(BIN)/.versitygw-$(VERSITYGW_VERSION):
	@mkdir -p $(BIN) && echo "deps: go install versitygw $(VERSITYGW_VERSION)"
	GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@rm -f $(BIN)/.versitygw-* && touch $@

deps-npm: clients/ts/node_modules/.ok clients/console/node_modules/.ok tools/npm/node_modules/.ok

%/node_modules/.ok: %/package-lock.json %/package.json
	cd $* && $(NPM_CI)
	@touch $@

# --- generation -------------------------------------------------------------

generate: deps-go deps-npm ## regenerate gen/, the Go SDK, the TS types, the console's build, the docs and the API changelog from the spec and queries
	$(GO) tool oapi-codegen -config oapi-codegen.yaml openapi/v1/openapi.yaml
	$(GO) tool oapi-codegen -config clients/go/oapi-codegen.yaml openapi/v1/openapi.yaml
	$(BIN)/sqlc generate
	cd clients/ts && npm run --silent generate
	cd clients/console && node build.mjs
	$(BIN)/oasdiff changelog --format html openapi/v1/released.yaml openapi/v1/openapi.yaml > gen/docs/changelog.html
	cd tools/npm && node codesamples.mjs
	cd tools/npm && node build-docs.mjs

# gen/ includes gen/console, the console's build.
GENERATED := gen clients/go/client.gen.go clients/ts/src/schema.gen.ts

check-generated: generate ## fail when committed generated code is stale
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is stale: run 'make generate' and commit:"; git status --porcelain -- $(GENERATED); \
		git --no-pager diff --stat -- $(GENERATED); exit 1; fi
	@echo "generated code is fresh"

# --- checks -----------------------------------------------------------------

lint: deps-npm $(BIN)/.staticcheck-$(STATICCHECK_VERSION) ## go vet, staticcheck, gofmt, spec lint (Spectral), sqlc compile, TS typecheck
	$(GO) vet ./...
	cd clients/go && $(GO) vet ./...
	cd clients/go && $(GO) vet -tags live ./...
	$(BIN)/staticcheck ./...
	cd clients/go && $(BIN)/staticcheck ./...
	cd clients/go && $(BIN)/staticcheck -tags live ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/' | grep -v '\.gen\.go$$')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	cd tools/npm && npx --no-install spectral lint --quiet --ruleset .spectral.yaml --fail-severity error ../../openapi/v1/openapi.yaml
	$(BIN)/sqlc compile
	cd clients/ts && npm run --silent typecheck

breaking: deps-go deps-npm ## fail on a breaking change to a released API version (openapi/v*/released.yaml)
	tools/breaking/check.sh --self-test
	tools/breaking/check.sh

deploy-check: $(BIN)/.helm-$(HELM_VERSION) $(BIN)/.kubeconform-$(KUBECONFORM_VERSION) ## validate deploy/ offline: the Helm chart (helm lint, helm template + kubeconform with the CRDs' schemas, consistency), Prometheus rules, Grafana, compose
	deploy/check.sh

build: ## build bin/conveyor
	$(GO) build -o $(BIN)/conveyor ./cmd/conveyor

build-ts: deps-npm
	cd clients/ts && npm run --silent build

# deps-npm: the end-to-end tests run node (the TS client, the docs and the
# console in headless Chromium through Playwright).
test-go: deps-go deps-npm ## Go unit and integration tests (real PostgreSQL, Redis, S3 from devstack; the console's e2e flows)
	$(BIN)/gotestsum --format pkgname-and-test-fails --format-hide-empty-pkg -- $(GO_TEST_FLAGS) ./...

test-short: ## the fast lane: Go unit tests only (go test -short: no PostgreSQL, Redis or S3 is started), shuffled
	$(GO) test -short $(GO_TEST_FLAGS) ./...
	cd clients/go && $(GO) test -short $(GO_TEST_FLAGS) ./...

test-sdk:
	cd clients/go && $(GO) vet ./... && $(GO) test $(GO_TEST_FLAGS) ./...

test-ts: build-ts
	cd clients/ts && node --test test/client.test.mjs test/webhooks.test.mjs
	clients/ts/test/pack-check.sh

test-console: deps-npm ## the console's type check (vue-tsc) and component tests (vitest)
	cd clients/console && npm run --silent typecheck
	cd clients/console && npm run --silent test

test-codesamples: deps-npm ## the docs' code samples: Go compiles, TypeScript type-checks, curl parses (with negative controls)
	cd tools/npm && node check-codesamples.mjs

# BENCH_FLAGS: e.g. -duration 5s -conns 32 -job-conns 8,32 -only read,jobs (go run ./tools/bench -h).
BENCH_FLAGS ?=
bench: ## the benchmark table: each row next to its baseline, same run (README "Benchmarks"; BENCH_FLAGS=...)
	$(GO) build -o $(BIN)/bench ./tools/bench
	$(BIN)/bench $(BENCH_FLAGS)

bench-smoke: ## the benchmark at tiny sizes, a few seconds (make test runs it as internal/bench TestSmoke)
	$(GO) build -o $(BIN)/bench ./tools/bench
	$(BIN)/bench -smoke $(BENCH_FLAGS)

bench-go: ## the Go micro-benchmarks (go test -bench; ratios against their baselines are printed by each)
	$(GO) test -run '^$$' -bench . -benchmem ./...

# CHAOS_FLAGS: e.g. -clients 50 -duration 30s -outage 5s (go run ./tools/chaos -h).
chaos: ## load the local topology with 200 clients for 60 s while faults are injected, print the report, fail on a missed goal (README "Chaos"; CHAOS_FLAGS=...)
	$(GO) build -o $(BIN)/chaos ./tools/chaos
	$(BIN)/chaos $(CHAOS_FLAGS)

clean: ## remove build output and local state (.run/, bin/)
	rm -rf bin .run clients/ts/dist
