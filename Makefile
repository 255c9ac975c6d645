# gameday — build, test and try it out. Needs only Go (see go.mod for the version).
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build gameday test test-edge test-browser browser-tools test-race test-servers test-interrupts tools demo lint vulncheck bench bench-vegeta bench-peers bench-memory bench-refapp fuzz clean kube-tools test-k8s

all: build

## build: bin/gameday, bin/refapp (the reference backend gameday starts for local targets) and bin/notes (examples/notes)
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gameday ./cmd/gameday
	$(GO) build -o $(BIN)/refapp ./reference-app/cmd/refapp
	$(GO) build -o $(BIN)/notes ./examples/notes/cmd/notes

## test: the whole test suite, end-to-end runs against the reference backend included
test:
	$(GO) test -count=1 -timeout 9m ./...

## test-edge: the bundled edge game days, whole, against the reference backend (about 2 min): the quickstart over HTTPS, region-failover
test-edge:
	GAMEDAY_SLOW_PATTERNS=1 $(GO) test -count=1 -timeout 9m -v -run '^(TestPatternQuickstartOverTLS|TestPatternRegionFailoverGameDay)$$' ./target/local

## browser-tools: install headless Chromium (Debian package chromium) when there is none on PATH
browser-tools:
	@if ! command -v chromium >/dev/null 2>&1; then \
		sudo=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi; \
		echo "$$sudo apt-get install chromium"; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi
	chromium --version

## test-browser: render report.html in headless Chromium (file://, no network) and check its charts through the DOM; screenshots under BROWSER_OUT
BROWSER_OUT ?= $(BIN)/test-browser
test-browser: browser-tools
	@mkdir -p $(BROWSER_OUT)
	GAMEDAY_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 5m -run 'Browser' -artifacts -outputdir $(abspath $(BROWSER_OUT)) ./reports

## test-race: the test suite under the race detector (slower)
test-race:
	$(GO) test -count=1 -race -timeout 20m ./...

## test-interrupts: TRIALS (default 50) short game days of examples/notes with faults of every kind applied, each ended at a random moment by SIGINT, SIGTERM or a panic; none may leave a toxic, a gameday proxy or a process (prints the tally)
TRIALS ?= 50
test-interrupts:
	GAMEDAY_INTERRUPT_TRIALS=$(TRIALS) $(GO) test -count=1 -timeout 30m -v -run '^TestInterruptTrials$$' ./cmd/gameday

# The real servers some tests play against live in TOOLS, outside the
# repository, so that a clean clone, `git clean` and `make clean` keep them.
TOOLS             ?= $(HOME)/.cache/gameday/tools
TOXIPROXY_VERSION := 2.12.0
TOXIPROXY_SERVER  := $(abspath $(TOOLS))/toxiproxy-server-v$(TOXIPROXY_VERSION)
PROMETHEUS        := $(abspath $(TOOLS))/prometheus

## tools: install the real Toxiproxy server (built from the module proxy) and Prometheus (Debian package) in TOOLS
tools: $(TOXIPROXY_SERVER) $(PROMETHEUS)

## test-servers: the tests that need the real servers: every test with `Servers` in its name (TestServers...), run against TOOLS
test-servers: tools
	GAMEDAY_TOXIPROXY_SERVER=$(TOXIPROXY_SERVER) GAMEDAY_PROMETHEUS=$(PROMETHEUS) GAMEDAY_REQUIRE_SERVERS=1 \
	$(GO) test -count=1 -timeout 9m -run 'Servers' ./...

# Toxiproxy's server at an exact version, built in a scratch module (the
# module proxy refuses to list its versions, so name the version). The
# version is stamped as the release builds do, so GET /version tells it.
$(TOXIPROXY_SERVER):
	@mkdir -p $(@D)
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && cd $$d && $(GO) mod init scratch >/dev/null 2>&1 && \
	$(GO) get github.com/Shopify/toxiproxy/v2@v$(TOXIPROXY_VERSION) && \
	$(GO) build -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$(TOXIPROXY_VERSION)" \
		-o $@.tmp github.com/Shopify/toxiproxy/v2/cmd/server && mv $@.tmp $@

# Prometheus from the Debian package, installed only when no `prometheus` is on
# PATH (with sudo when not root and sudo exists); TOOLS holds a link to it.
# Make follows the link: a link whose binary is gone is made again.
$(PROMETHEUS):
	@mkdir -p $(@D)
	@if ! command -v prometheus >/dev/null 2>&1; then \
		sudo=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi; \
		echo "$$sudo apt-get install prometheus"; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; \
	fi
	ln -sfn "$$(command -v prometheus)" $@
	$@ --version 2>&1 | head -1

# A real Kubernetes control plane for the tests with `Kube` in their name:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from
# the module proxy, kwok standing in for the kubelets, all on 127.0.0.1
# (hack/kube-testenv.sh; costs in docs/benchmarks.md). The binaries are
# cached outside the repository, in GAMEDAY_KUBE_TOOLS (default
# ~/.cache/gameday/kube), one folder per set of versions.
KUBE_TESTENV := hack/kube-testenv.sh

## kube-tools: build the control plane's five binaries once (10-15 min cold on 2 cores; nothing when cached)
kube-tools:
	@for c in openssl curl; do \
		if ! command -v $$c >/dev/null 2>&1; then \
			sudo=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi; \
			echo "$$sudo apt-get install $$c"; \
			$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$c; \
		fi; \
	done
	$(KUBE_TESTENV) build

## test-k8s: start the control plane in a temporary folder, run every test with `Kube` in its name against it, stop it (its logs are kept when something fails)
test-k8s: kube-tools
	@d=$$(mktemp -d) && \
	trap 'rc=$$?; $(KUBE_TESTENV) stop "$$d"; if [ $$rc -eq 0 ]; then rm -rf "$$d"; else echo "control plane logs kept in $$d/logs"; fi; exit $$rc' EXIT && \
	$(KUBE_TESTENV) start "$$d" && \
	GAMEDAY_KUBECONFIG="$$d/kubeconfig" GAMEDAY_REQUIRE_KUBE=1 \
	$(GO) test -count=1 -timeout 15m -run 'Kube' ./...

## demo: build, then run the quickstart game day against the local reference backend
demo: build
	$(BIN)/gameday run scenarios/quickstart.yaml

## gameday: play every bundled game day of the local target at full length (about 10 minutes), each run directory and its reports under runs/; exit 1 if any failed (kube-pod-loss needs a cluster: make test-k8s plays it)
gameday: build
	@failed=""; for s in $$($(BIN)/gameday list | cut -d' ' -f1); do \
		if grep -q '^  kubernetes:' scenarios/$$s.yaml; then echo "$$s: skipped, its target is a Kubernetes cluster (make test-k8s plays it)"; continue; fi; \
		$(BIN)/gameday run -q $$s --out runs || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "game days that failed:$$failed"; exit 1; fi; echo "every bundled game day passed"

# Tools built from the module proxy, cached outside the repository, one file
# per version so that a version bump installs anew.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(TOOLS)/golangci-lint-$(GOLANGCI_LINT_VERSION)

## lint: formatting, go vet, and golangci-lint with .golangci.yml (installed into $(TOOLS) when missing)
lint: $(GOLANGCI_LINT)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: not formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS)
	d=$$(mktemp -d) && GOBIN=$$d $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) && \
	mv $$d/golangci-lint $@ && rm -rf $$d

# govulncheck's database cannot be downloaded here (vuln.go.dev is not
# reachable), but golang.org/x/vulndb is served as a module: its data/osv
# holds every report as OSV JSON, and its cmd/indexdb writes the database
# govulncheck reads with -db file://. VULNDB_VERSION dates the database.
GOVULNCHECK_VERSION := v1.9.0
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
GOVULNCHECK         := $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)
VULNDB              := $(TOOLS)/vulndb-$(VULNDB_VERSION)

## vulncheck: govulncheck against a database built offline from the golang.org/x/vulndb module
vulncheck: $(GOVULNCHECK) $(VULNDB)/index/db.json
	$(GOVULNCHECK) -db file://$(VULNDB) ./...

$(GOVULNCHECK):
	@mkdir -p $(TOOLS)
	d=$$(mktemp -d) && GOBIN=$$d $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) && \
	mv $$d/govulncheck $@ && rm -rf $$d

$(VULNDB)/index/db.json:
	@mkdir -p $(TOOLS)
	d=$$(mktemp -d) && GOBIN=$$d $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) && \
	src=$$(cd $$d && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
	rm -rf $(VULNDB) && $$d/indexdb -vulns $$src/data/osv -out $(VULNDB) && rm -rf $$d

## bench: the Go benchmarks (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-vegeta: gameday's load generator side by side with Vegeta's library and CLI (docs/benchmarks.md)
bench-vegeta: $(BIN)/vegeta
	VEGETA=$(CURDIR)/$(BIN)/vegeta $(GO) test ./load -run '^$$' -bench BenchmarkSideBySide -benchtime 40000x -count 3

## bench-peers: the highest rate gameday, Vegeta's library, the Vegeta CLI and wrk sustain against one target process, pinned and unpinned, with CPU per request (docs/benchmarks.md; needs wrk: apt-get install -y wrk)
bench-peers: $(BIN)/vegeta
	@command -v wrk >/dev/null 2>&1 || { echo "bench-peers needs wrk, the Debian package: apt-get update && apt-get install -y wrk"; exit 1; }
	@command -v taskset >/dev/null 2>&1 || { echo "bench-peers needs taskset (util-linux) to pin the generator and the target"; exit 1; }
	$(GO) build -o $(BIN)/peerbench ./load/internal/peerbench
	$(BIN)/peerbench peers -vegeta $(CURDIR)/$(BIN)/vegeta -wrk "$$(command -v wrk)"

## bench-memory: gameday's peak RSS for a 1-minute and a 10-minute run at 2000/s against one target process (docs/benchmarks.md; 11 minutes)
bench-memory:
	$(GO) build -o $(BIN)/peerbench ./load/internal/peerbench
	$(BIN)/peerbench memory -rate 2000 -durations 1m,10m

## bench-refapp: throughput of the whole reference backend through the gateway: cached reads, async and sync writes
bench-refapp:
	$(GO) test ./run/local -run '^$$' -bench BenchmarkGatewayThroughput -benchtime 100000x -count 3

# The Vegeta CLI at the version gameday uses, built from source in a scratch
# module (the module proxy refuses `go install ...@v12.12.0`).
$(BIN)/vegeta:
	@mkdir -p $(BIN)
	d=$$(mktemp -d) && cd $$d && $(GO) mod init scratch >/dev/null 2>&1 && \
	$(GO) get github.com/tsenart/vegeta/v12@v12.12.0 && \
	$(GO) build -o $(CURDIR)/$(BIN)/vegeta github.com/tsenart/vegeta/v12 && rm -rf $$d

## fuzz: fuzz the scenario decoder, the request-template check and the results decoder for FUZZTIME each (default 60s); findings go to testdata/fuzz/
FUZZTIME ?= 60s
# The default minute of minimising each new input stalls short runs.
FUZZMINIMIZETIME ?= 5s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./scenarios
	$(GO) test -run '^$$' -fuzz '^FuzzTemplate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./scenarios
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeResults$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./load

clean:
	rm -rf $(BIN)
