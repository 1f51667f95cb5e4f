# The README's two commands are `make up` and `make test`.
.PHONY: up down test unit integration e2e build bench-control-plane

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
