# The README's two commands are `make up` and `make test`.
.PHONY: up down test unit integration e2e build

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
