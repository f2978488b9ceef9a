# kakunin: the two commands a new user runs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test deps fmt lint bench demo-records clean

## make run: the demo — reference issuer with demo data + the service, URL and logins printed.
run:
	$(CARGO) build --bins
	./scripts/demo.sh

## make test: installs missing test packages, then fmt, clippy and every test.
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --all-targets --no-fail-fast
	$(CARGO) test --doc

deps:
	./scripts/install-test-deps.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --all-targets -- -D warnings

## make bench: criterion benchmarks (release build); figures go to BENCHMARKS.md.
bench:
	$(CARGO) bench --bench verify

clean:
	rm -rf data/demo
