# kakunin: the two commands a new user runs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test deps fmt lint layers bench bench-api bench-pg bench-single bench-counts schemathesis fuzz clean

## make run: the demo — reference issuer with demo data + the service, URL and logins printed.
run:
	./scripts/install-run-deps.sh
	$(CARGO) build --workspace --bins
	./scripts/demo.sh

## make test: installs missing test packages, then fmt, clippy and every test of every crate;
## the service's integration suite runs twice: on SQLite, then on a private PostgreSQL
## cluster the tests start themselves (KAKUNIN_TEST_BACKEND=postgres).
## Benches are type-checked by clippy but not run here: they need a release build. Only
## the single-verification bench runs, one second a target against the debug binaries
## the tests just built, to check that every target still answers (no timing checked).
## Every cargo command selects the whole workspace, so all of them resolve the same
## features and share one build (scripts/check-features.sh); the PostgreSQL pass
## therefore also reruns the issuer's own `it` suite (≈ 12 s, SQLite only) rather than
## recompiling the tree for the service's package alone.
test: deps
	$(CARGO) fmt --all -- --check
	./scripts/check-layers.sh
	./scripts/check-features.sh
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	./scripts/check-schema.sh
	$(CARGO) test --workspace --doc
	$(CARGO) test --workspace --lib --bins --tests --no-fail-fast
	KAKUNIN_TEST_BACKEND=postgres $(CARGO) test --workspace --test it --no-fail-fast
	$(CARGO) test --workspace --bench single -- --smoke

deps:
	./scripts/install-test-deps.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## make layers: the protocol crate's dependencies and the module graph (ARCHITECTURE.md),
## and that `cargo build` and the test build resolve the same features.
layers:
	./scripts/check-layers.sh
	./scripts/check-features.sh

## make bench: every benchmark (release build); figures go to BENCHMARKS.md.
bench:
	$(CARGO) bench --workspace --bench verify
	$(MAKE) bench-pg
	$(CARGO) bench --workspace --bench audit

## make bench-api: API load (release binaries, issuer on loopback); the table goes to BENCHMARKS.md "API".
bench-api:
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench --workspace --bench api_load

## make bench-pg: the API load bench three times in a row, so the figures compare: SQLite,
## PostgreSQL with one node, PostgreSQL with two nodes on the same database (the testkit's
## private cluster, started and removed by the bench); the tables go to BENCHMARKS.md
## "PostgreSQL". BENCH_REQUESTS / BENCH_ROUNDS / BENCH_CONCURRENCY apply to all three.
bench-pg:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ./scripts/install-test-deps.sh
	$(CARGO) build --release --workspace --bins
	BENCH_BACKEND=sqlite BENCH_NODES=1 $(CARGO) bench --workspace --bench api_load
	BENCH_BACKEND=postgres BENCH_NODES=1 $(CARGO) bench --workspace --bench api_load
	BENCH_BACKEND=postgres BENCH_NODES=2 $(CARGO) bench --workspace --bench api_load

## make schemathesis: Schemathesis (PyPI, venv under target/) against the API of a running
## service with a token: no 5xx, no answer outside the schema. Not part of make test.
schemathesis:
	./scripts/schemathesis.sh

## make bench-single: the single verification beside a proxy hop (wrk, release binaries,
## loopback only); the tables go to BENCHMARKS.md "Single verification".
bench-single:
	command -v wrk >/dev/null 2>&1 || ./scripts/install-test-deps.sh
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench --workspace --bench single

## make bench-counts: instructions (callgrind: the host's noise does not move them) and
## system calls (strace) per single verification and per batch item; installs valgrind,
## strace and python3 if missing. BENCHMARKS.md "Single verification".
bench-counts:
	./scripts/install-bench-deps.sh
	$(CARGO) build --release --workspace --bins
	./scripts/bench-counts.sh

## make fuzz: every cargo-fuzz target for FUZZ_SECONDS (default 60) each, one at a time;
## installs a nightly toolchain and cargo-fuzz when missing. Not part of make test.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

clean:
	rm -rf data/demo
