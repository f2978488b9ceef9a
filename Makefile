# kakunin: the two commands a new user runs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test deps fmt lint layers bench bench-api fuzz clean

## make run: the demo — reference issuer with demo data + the service, URL and logins printed.
run:
	./scripts/install-run-deps.sh
	$(CARGO) build --workspace --bins
	./scripts/demo.sh

## make test: installs missing test packages, then fmt, clippy and every test of every crate.
## Benches are type-checked by clippy but not run here: they need a release build.
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	./scripts/check-layers.sh
	./scripts/check-schema.sh
	$(CARGO) test --workspace --doc
	$(CARGO) test --workspace --lib --bins --tests --no-fail-fast

deps:
	./scripts/install-test-deps.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## make layers: the protocol crate's dependencies and the module graph (ARCHITECTURE.md).
layers:
	./scripts/check-layers.sh

## make bench: every benchmark (release build); figures go to BENCHMARKS.md.
bench:
	$(CARGO) bench --bench verify
	$(CARGO) bench --bench api_load
	$(CARGO) bench --bench audit

## make bench-api: API load (release binaries, issuer on loopback); the table goes to BENCHMARKS.md "API".
bench-api:
	$(CARGO) bench --bench api_load

## make fuzz: every cargo-fuzz target for FUZZ_SECONDS (default 60) each, one at a time;
## installs a nightly toolchain and cargo-fuzz when missing. Not part of make test.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

clean:
	rm -rf data/demo
