#!/usr/bin/env bash
# `make bench-counts`: what a single verification costs the service beside a batch item,
# in counts that do not move with the host's noise (issue K7, BENCHMARKS.md "Single
# verification"): instructions executed in user space (valgrind's callgrind) and system
# calls by name (strace -c), per request.
#
# Starts the demo-seeded reference issuer and `kakunin serve` (release binaries, loopback,
# a fresh SQLite file under a temporary directory, the rate limit lifted). Each phase
# sends COUNT_N single verifications over 16 keep-alive connections through the API, then
# one batch of COUNT_N items; counters are zeroed after a warm-up and read after each part.
# The service runs under callgrind for the instruction counts (≈ 50× slower: groups of
# the writer are larger there than at full speed) and natively, strace attached, for the
# system calls. Not part of `make test`: it needs a release build and takes a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/wait-for.sh
. scripts/wait-for.sh

N=${COUNT_N:-800}
BIN=${BIN:-target/release}
ISSUER_PORT=${ISSUER_PORT:-18181}
SERVICE_PORT=${SERVICE_PORT:-18180}
DIR=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

export KAKUNIN_ISSUER_DATABASE_URL="$DIR/issuer.db" KAKUNIN_ISSUER_KEYS_DIR="$DIR/issuer-keys"
export KAKUNIN_ISSUER_BIND="127.0.0.1:$ISSUER_PORT"
export KAKUNIN_DATABASE_URL="$DIR/kakunin.db" KAKUNIN_AUDIT_SIGNING_KEY_FILE="$DIR/audit-signing.key"
export KAKUNIN_BIND="127.0.0.1:$SERVICE_PORT" KAKUNIN_ISSUERS_FILE="$DIR/issuers.toml"
export KAKUNIN_CONFIG="$DIR/site.toml" KAKUNIN_SECRET_KEY_FILE="$DIR/secret.key"
# The rate limit would otherwise be what is counted.
printf '[api]\nrate_per_minute = 100000000\n' > "$DIR/site.toml"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/secret.key")

"$BIN/kakunin-issuer" --demo demo-seed --out "$DIR" > "$DIR/seed.log" 2>&1
"$BIN/kakunin-issuer" serve --demo > "$DIR/issuer.log" 2>&1 &
pids+=($!)
wait_for "$ISSUER_PORT" /healthz 100 || { echo "the issuer did not start: $DIR/issuer.log" >&2; exit 1; }
"$BIN/kakunin" key init > /dev/null
TOKEN=$("$BIN/kakunin" token create --name counts --office 440001 --office-name 本庁 2>/dev/null)
export TOKEN SERVICE_PORT N DIR

# drive single|batch N: N verifications of the demo's `verified` keys.
drive() {
  python3 - "$1" "$2" <<'PY'
import csv, http.client, json, os, sys, threading
phase, n = sys.argv[1], int(sys.argv[2])
port, token = int(os.environ["SERVICE_PORT"]), os.environ["TOKEN"]
keys = [{"certificate_number": r["certificate_number"], "auth_key": r["auth_key"]}
        for r in csv.DictReader(open(os.environ["DIR"] + "/demo-keys.csv"))
        if r["expected_outcome"] == "verified"]
head = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

def post(conn, path, body, expect):
    conn.request("POST", path, json.dumps(body), head)
    res = conn.getresponse()
    res.read()
    assert res.status == expect, f"{path}: {res.status}, expected {expect}"

def singles(count, first):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for i in range(count):
        post(conn, "/api/v1/verifications", keys[(first + i) % len(keys)], 201)

if phase == "single":
    threads = [threading.Thread(target=singles, args=(n // 16, 7 * t)) for t in range(16)]
    for t in threads: t.start()
    for t in threads: t.join()
else:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    post(conn, "/api/v1/verifications/batch", {"items": [keys[i % len(keys)] for i in range(n)]}, 200)
PY
}

# serve LOG TRIES [WRAPPER…]: starts the service (under WRAPPER if given), waits up to TRIES
# tenths of a second for /readyz and warms it (connections, caches, SQLite pages); the
# service's pid is then in $served.
serve() {
  local log=$1 tries=$2
  shift 2
  "$@" "$BIN/kakunin" serve > "$DIR/$log" 2>&1 &
  served=$!
  pids+=("$served")
  wait_for "$SERVICE_PORT" /readyz "$tries" || { echo "the service did not start: $DIR/$log" >&2; exit 1; }
  drive single 160
  drive batch 100
}

echo "== instructions (callgrind), $N singles over 16 connections, then one batch of $N"
serve callgrind.log 1200 valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.%p" --dump-instr=no
vg=$served
callgrind_control -z "$vg" > /dev/null 2>&1
drive single "$N"
callgrind_control -d single "$vg" > /dev/null 2>&1
callgrind_control -z "$vg" > /dev/null 2>&1
drive batch "$N"
callgrind_control -d batch "$vg" > /dev/null 2>&1
kill -INT "$vg"
wait "$vg" 2>/dev/null || true
# The two dumps, cg.<pid>.1 (singles) and cg.<pid>.2 (batch): their total instructions.
ir() { grep -h -m1 '^summary:' "$DIR/cg.$vg.$1" | awk '{print $2}'; }
awk -v s="$(ir 1)" -v b="$(ir 2)" -v n="$N" 'BEGIN {
  printf "per single: %.0f instructions; per batch item: %.0f; single ÷ item: %.2f\n", s / n, b / n, s / b }'

echo "== system calls (strace -c), the service at full speed"
serve serve.log 100
svc=$served
# strace_part NAME PHASE: system calls of every thread while PHASE runs, per request.
strace_part() {
  strace -c -f -p "$svc" -o "$DIR/strace.$1" 2> "$DIR/strace.err" &
  local st=$!
  sleep 0.5  # attached to every thread before the first request
  if ! kill -0 "$st" 2>/dev/null; then
    echo "strace could not attach to the service: $(head -n1 "$DIR/strace.err")" >&2
    echo "(attaching to a process needs root, or kernel.yama.ptrace_scope = 0)" >&2
    exit 1
  fi
  drive "$2" "$N"
  kill -INT "$st"
  wait "$st" 2>/dev/null || true
  # strace -c's table: calls in the 4th column, the call's name last.
  awk -v n="$N" '$NF ~ /^[a-z_0-9]+$/ && $NF != "total" && $4 ~ /^[0-9]+$/ {
      printf "%.1f %s\n", $4 / n, $NF }' "$DIR/strace.$1" | sort -nr > "$DIR/calls.$1"
  printf '%s: %s calls a request; ' "$1" "$(awk '{t += $1} END {printf "%.1f", t}' "$DIR/calls.$1")"
  awk '$1 >= 0.2 {printf "%s%s %s", sep, $2, $1; sep = ", "} END {print ""}' "$DIR/calls.$1"
}
strace_part "per single" single
strace_part "per batch item" batch
