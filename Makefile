# kubectl infer-hpa — build, test and release.
BIN      := kubectl-infer_hpa
PKG      := github.com/infer-hpa/kubectl-infer-hpa
# The version has one source, the VERSION file, for build and dist alike
# (override on the command line: make build VERSION=v0.3.0-rc1). The commit
# is abbreviated to a fixed length and the date is the commit time, so the
# release archives are reproducible; build marks a dirty tree in the commit.
VERSION  := $(shell cat VERSION)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DIRTY    := $(shell git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo -dirty)
DATE     ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/pkg/version.version=$(VERSION) -X $(PKG)/pkg/version.commit=$(COMMIT)$(DIRTY) -X $(PKG)/pkg/version.date=$(DATE)

.PHONY: help build test unit vet lint fmt clean demo-render bench e2e dist krew-manifest demo bench-watch bench-load bench-scaling

help: ## This list of targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/kubectl-infer_hpa
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/$(BIN) ./cmd/kubectl-infer-hpa

test: ## The test command (what .ci/run calls)
	./hack/test.sh

unit: ## The plugin's own tests only: fast, no twin, no e2e
	go test ./...

vet: ## go vet of the plugin module
	go vet ./...

lint: ## staticcheck (pinned in tools/go.mod, checks in staticcheck.conf) on the plugin and test/twin
	./hack/lint.sh all

fmt: ## gofmt -w every Go file
	gofmt -l -w .

clean: ## Remove build outputs (bin/, dist/, the twin's links); the twin's cache in ~/.cache stays
	rm -rf bin dist test/twin/.bin

demo-render: build ## The main job, offline: render the tutorial's setup
	./bin/$(BIN) render --deployment vllm-gemma-deployment -n default --pod-label app=gemma-server \
		--metrics-port 8081 --metric running=4 --min 1 --max 5 --behavior tutorial --wi-mode gsa --project my-project

bench: ## Benchmarks, ratios printed against the tools a user would otherwise run
	./hack/bench-render.sh

e2e: ## setup/diff/cleanup end to end on the local twin (builds the twin if needed)
	./hack/ci-e2e.sh

demo: ## The tutorial on the local twin: setup, a load stepping up and down, and watch on this terminal (q quits, cleans up)
	./hack/demo-watch.sh

bench-load: ## load's own speed: streamed requests/s and latency overhead against a loopback server, vs a net/http loop and wrk
	./hack/bench-load.sh

bench-scaling: ## The tutorial's HPA against tune's (gpu preset) on one load step on the twin: time to scale, TTFT, replica-minutes, flaps (~25 min; not in CI)
	./hack/bench-scaling.sh

bench-watch: ## watch on the twin: frame delay, idle CPU, peak RSS, LIST requests (needs tmux; not in CI)
	./hack/bench-watch.sh

# Release archives: VERSION, COMMIT and DATE as above (hack/ci-krew.sh pins
# DIST_COMMIT and DATE while it runs).
DIST_COMMIT     := $(COMMIT)
DIST_DIR        := dist
DIST_FLAGS      :=

dist: ## Release archives and checksums.txt for every platform in dist/ (reproducible)
	go run ./hack/dist -version $(VERSION) -commit $(DIST_COMMIT) -date $(DATE) -out $(DIST_DIR) $(DIST_FLAGS)

krew-manifest: ## Rewrite krew-manifest.yaml from the archives of the release commit (see docs/RELEASE.md)
	./hack/krew-manifest.sh
