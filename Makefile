# The README's two commands are `make up` and `make test`.
.PHONY: up down test unit integration e2e build bench-control-plane bench bench-data-path bench-cold-start bench-parallel-cold-start bench-load-ramp

up:
	./hack/up.sh

down:
	go run ./cmd/csclr dev down

test:
	./hack/test.sh all

unit integration e2e:
	./hack/test.sh $@

build:
	go build ./...

# Control-plane scale (BENCHMARKS.md): SERVICES Knative Services at
# initial-scale 0 on the running `csclr dev` cluster; run on the node, on an
# idle machine. Extra flags: BENCH_FLAGS="--state-dir /tmp/csclr-e2e".
SERVICES ?= 1000
bench-control-plane:
	go run ./cmd/csclr bench control-plane --services $(SERVICES) $(BENCH_FLAGS)

# The benchmarks of BENCHMARKS.md that print tables (run on an idle machine;
# they never fail on a number): warm data path on loopback, then cold
# starts on the running `csclr dev` cluster (on its node). Quick look:
# make bench DATA_PATH_FLAGS="--rounds 3 --duration 1.5s" COLD_START_FLAGS="--services 3"
# Add --write-benchmarks BENCHMARKS.md to either to rewrite its section.
BENCH_STATE_DIR ?=
DATA_PATH_FLAGS ?=
COLD_START_FLAGS ?=
bench: bench-data-path bench-cold-start

bench-data-path:
	./hack/build-cli.sh
	bin/csclr bench data-path $(DATA_PATH_FLAGS)

bench-cold-start:
	./hack/build-cli.sh
	bin/csclr bench cold-start $(if $(BENCH_STATE_DIR),--state-dir $(BENCH_STATE_DIR)) $(COLD_START_FLAGS)

# Cold starts of N Services at zero hit at once (default 25), and an
# open-loop 0 → 3000 rps ramp through the activator onto a Service at zero
# while KEDA scales it; both on the running `csclr dev` cluster (on its
# node), on an idle machine, not part of `make bench`. Quick look:
# make bench-parallel-cold-start BENCH_STATE_DIR=/tmp/csclr-e2e PARALLEL_COLD_START_FLAGS="--services 5"
# make bench-load-ramp BENCH_STATE_DIR=/tmp/csclr-e2e LOAD_RAMP_FLAGS="--max-rps 200 --ramp 15s --hold 5s --target 30"
PARALLEL_COLD_START_FLAGS ?=
LOAD_RAMP_FLAGS ?=
bench-parallel-cold-start:
	./hack/build-cli.sh
	bin/csclr bench parallel-cold-start $(if $(BENCH_STATE_DIR),--state-dir $(BENCH_STATE_DIR)) $(PARALLEL_COLD_START_FLAGS)

bench-load-ramp:
	./hack/build-cli.sh
	bin/csclr bench load-ramp $(if $(BENCH_STATE_DIR),--state-dir $(BENCH_STATE_DIR)) $(LOAD_RAMP_FLAGS)
