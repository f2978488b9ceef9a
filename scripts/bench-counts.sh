#!/usr/bin/env bash
# `make bench-counts`: what a single verification costs the service beside a batch item
# (issue K7, BENCHMARKS.md "Single verification"), counted rather than timed:
# - instructions executed in user space, every thread (valgrind's callgrind): counts the
#   host's noise does not move (< 1 % between runs);
# - system calls by name (strace -c, the service running natively with strace attached):
#   these move with the writer's group sizes, which depend on timing.
#
# Starts the demo-seeded reference issuer and `kakunin serve` (release binaries, free
# loopback ports, a fresh SQLite file in a temporary directory, the rate limit lifted).
# Each phase warms the service, then sends COUNT_N single verifications over 16 keep-alive
# connections through the API, then one batch of COUNT_N items, reading the counters
# after each part. Every answer must be 201/200 with the outcome `verified`. Not part of
# `make test`: it needs a release build and takes about a minute.
#
# Both tools slow the service (callgrind ≈ 50×, strace ≈ 3×), which changes how many
# verifications the writer's groups hold: the per-request figures are for those groups.
# Callgrind runs the code paths of the CPU features valgrind reports (no SHA-NI, no
# AVX-512), so a hash may take another path than at full speed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/wait-for.sh
. scripts/wait-for.sh

N=${COUNT_N:-800}
BIN=${BIN:-target/release}
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 16 || N > 1000 || N % 16 != 0)); then
  echo "COUNT_N must be a multiple of 16 from 16 to 1000 (16 connections; a batch holds at most 1000), not $N" >&2
  exit 2
fi
for tool in valgrind callgrind_control strace python3; do
  command -v "$tool" > /dev/null || { echo "$tool is missing (make bench-counts installs it)" >&2; exit 2; }
done
for b in kakunin kakunin-issuer; do
  [ -x "$BIN/$b" ] || { echo "$BIN/$b is missing: cargo build --release --workspace --bins" >&2; exit 2; }
done

DIR=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" -eq 0 ]; then
    rm -rf "$DIR"
  else
    echo "logs kept in $DIR" >&2
  fi
}
trap cleanup EXIT

# Attaching to a running process needs CAP_SYS_PTRACE or a permissive Yama setting; find
# out now rather than after the callgrind phase.
sleep 5 &
probe=$!
attached=0
timeout 1 strace -p "$probe" -o /dev/null 2> "$DIR/strace-probe.log" || attached=$?
kill "$probe" 2>/dev/null || true
if [ "$attached" -ne 124 ]; then  # 124: strace was attached until timeout stopped it
  echo "strace cannot attach to a process here: $(head -n1 "$DIR/strace-probe.log")" >&2
  echo "(it needs CAP_SYS_PTRACE, or kernel.yama.ptrace_scope = 0)" >&2
  exit 2
fi

ISSUER_PORT=$(free_port)
SERVICE_PORT=$(free_port)
unset KAKUNIN_SECRET_KEY  # the file below is the one secret; both set is refused
export KAKUNIN_ISSUER_DATABASE_URL="$DIR/issuer.db" KAKUNIN_ISSUER_KEYS_DIR="$DIR/issuer-keys"
export KAKUNIN_ISSUER_BIND="127.0.0.1:$ISSUER_PORT"
export KAKUNIN_DATABASE_URL="$DIR/kakunin.db" KAKUNIN_AUDIT_SIGNING_KEY_FILE="$DIR/audit-signing.key"
export KAKUNIN_BIND="127.0.0.1:$SERVICE_PORT" KAKUNIN_ISSUERS_FILE="$DIR/issuers.toml"
export KAKUNIN_CONFIG="$DIR/site.toml" KAKUNIN_SECRET_KEY_FILE="$DIR/secret.key"
# The rate limit would otherwise be what is counted.
printf '[api]\nrate_per_minute = 100000000\n' > "$DIR/site.toml"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/secret.key")

# started PID PORT PATH LOG TRIES: PID answers 200 on PATH within TRIES tenths of a second.
started() {
  if wait_for "$2" "$3" "$5" && kill -0 "$1" 2>/dev/null; then
    return 0
  fi
  echo "did not start (port $2): $DIR/$4" >&2
  tail -n 5 "$DIR/$4" >&2 || true
  exit 1
}

"$BIN/kakunin-issuer" --demo demo-seed --out "$DIR" > "$DIR/seed.log" 2>&1
"$BIN/kakunin-issuer" serve --demo > "$DIR/issuer.log" 2>&1 &
pids+=($!)
started "$!" "$ISSUER_PORT" /healthz issuer.log 100
"$BIN/kakunin" key init > "$DIR/key-init.log" 2>&1
TOKEN=$("$BIN/kakunin" token create --name counts --office 440001 --office-name 本庁 2> "$DIR/token.log") || {
  cat "$DIR/token.log" >&2
  exit 1
}
export TOKEN SERVICE_PORT DIR

# drive single|batch COUNT: COUNT verifications of the demo's `verified` keys; fails
# unless every one is answered with its status and the outcome `verified`.
drive() {
  python3 - "$1" "$2" <<'PY'
import csv, http.client, json, os, sys, threading
phase, n = sys.argv[1], int(sys.argv[2])
port, token = int(os.environ["SERVICE_PORT"]), os.environ["TOKEN"]
keys = [{"certificate_number": r["certificate_number"], "auth_key": r["auth_key"]}
        for r in csv.DictReader(open(os.environ["DIR"] + "/demo-keys.csv"))
        if r["expected_outcome"] == "verified"]
head = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
failed = []

def post(conn, path, body, expect):
    conn.request("POST", path, json.dumps(body), head)
    res = conn.getresponse()
    answer = res.read()
    if res.status != expect:
        raise SystemExit(f"{path}: status {res.status}, expected {expect}: {answer[:300]!r}")
    return json.loads(answer)

def verified(v):
    if v.get("outcome") != "verified":
        raise SystemExit(f"outcome {v.get('outcome')!r}, expected 'verified': {json.dumps(v)[:300]}")

def singles(count, first):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for i in range(count):
            verified(post(conn, "/api/v1/verifications", keys[(first + i) % len(keys)], 201))
    except BaseException as e:
        failed.append(e)

if phase == "single":
    threads = [threading.Thread(target=singles, args=(n // 16, 7 * t)) for t in range(16)]
    for t in threads: t.start()
    for t in threads: t.join()
    if failed:
        raise SystemExit(f"single verifications: {failed[0]}")
else:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    answer = post(conn, "/api/v1/verifications/batch",
                  {"items": [keys[i % len(keys)] for i in range(n)]}, 200)
    for item in answer["results"]:
        verified(item)
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
  started "$served" "$SERVICE_PORT" /readyz "$log" "$tries"
  drive single 160
  drive batch 96
}

# callgrind CMD…: callgrind_control, which answers 0 even when it found no such process.
callgrind() {
  callgrind_control "$@" >> "$DIR/callgrind_control.log" 2>&1
}

echo "== instructions (callgrind), $N singles over 16 connections, then one batch of $N"
serve callgrind.log 1200 valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.%p" --dump-instr=no
vg=$served
callgrind -z "$vg"
drive single "$N"
callgrind -d single "$vg"
callgrind -z "$vg"
drive batch "$N"
callgrind -d batch "$vg"
kill -INT "$vg"
wait "$vg" 2>/dev/null || true
# The two dumps: cg.<pid>.1 the singles, cg.<pid>.2 the batch.
for part in 1 2; do
  [ -s "$DIR/cg.$vg.$part" ] || { echo "callgrind wrote no dump $part: $DIR/callgrind_control.log" >&2; exit 1; }
done
ir() { grep -h -m1 '^summary:' "$DIR/cg.$vg.$1" | awk '{print $2}'; }
awk -v s="$(ir 1)" -v b="$(ir 2)" -v n="$N" 'BEGIN {
  printf "per single: %.0f instructions; per batch item: %.0f; single ÷ item: %.2f\n", s / n, b / n, s / b }'

echo "== system calls (strace -c attached to the service, not under valgrind)"
serve serve.log 100
svc=$served
# strace_part NAME PHASE: system calls of every thread while PHASE runs, per request.
strace_part() {
  strace -c -f -p "$svc" -o "$DIR/strace.$1" 2> "$DIR/strace.err" &
  local st=$!
  sleep 0.5  # attached to every thread before the first request
  kill -0 "$st" 2>/dev/null || { echo "strace did not attach: $(head -n1 "$DIR/strace.err")" >&2; exit 1; }
  drive "$2" "$N"
  kill -INT "$st"
  wait "$st" 2>/dev/null || true
  # strace -c's table: calls in the 4th column, the call's name last; its `total` row.
  awk -v n="$N" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {
      printf "%.2f %s\n", $4 / n, $NF }' "$DIR/strace.$1" | sort -nr > "$DIR/calls.$1"
  printf '%s: %s calls a request; ' "$1" "$(awk '$2 == "total" {printf "%.1f", $1}' "$DIR/calls.$1")"
  awk '$2 != "total" && $1 >= 0.2 {printf "%s%s %.1f", sep, $2, $1; sep = ", "} END {print ""}' \
    "$DIR/calls.$1"
}
strace_part "per single" single
strace_part "per batch item" batch
