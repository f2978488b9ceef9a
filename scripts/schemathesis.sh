#!/usr/bin/env bash
# `make schemathesis`: the reference issuer with its demo data and the service, each on
# a free loopback port with a temporary database, then Schemathesis (from PyPI, in a
# venv under target/) against /api/openapi.json with an API token: no 5xx, and no
# answer outside the documented schema. Not part of `make test`.
#
# ST_MAX_EXAMPLES (default 50) bounds the examples per operation, ST_MAX_TIME (default
# 300) the seconds of each run; ST_SCOPES (default "verify audit") the tokens it runs
# with, one run each.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/schemathesis-venv
BIN=target/debug
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-50}
MAX_TIME=${ST_MAX_TIME:-300}
SCOPES=${ST_SCOPES:-verify audit}

if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis>=4,<5"
fi
cargo build --quiet --workspace --bins

WORK=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# shellcheck source=scripts/wait-for.sh
. scripts/wait-for.sh  # the cwd is the project root (cd above)
started() {
  wait_for "$1" "$2" 300 && return 0
  echo "起動に失敗しました: 127.0.0.1:$1 （ログ: $WORK/*.log）" >&2
  cat "$WORK"/*.log >&2 || true
  exit 1
}

ISSUER_PORT=$(free_port)
SERVICE_PORT=$(free_port)
export KAKUNIN_ISSUER_DATABASE_URL="$WORK/issuer.db"
export KAKUNIN_ISSUER_KEYS_DIR="$WORK/issuer-keys"
export KAKUNIN_ISSUER_BIND="127.0.0.1:$ISSUER_PORT"
"$BIN/kakunin-issuer" --demo demo-seed --out "$WORK" > "$WORK/seed.log" 2>&1
"$BIN/kakunin-issuer" serve --demo > "$WORK/issuer.log" 2>&1 &
pids+=($!)

export KAKUNIN_DATABASE_URL="$WORK/kakunin.db"
export KAKUNIN_BIND="127.0.0.1:$SERVICE_PORT"
export KAKUNIN_ISSUERS_FILE="$WORK/issuers.toml"
export KAKUNIN_AUDIT_SIGNING_KEY_FILE="$WORK/audit-signing.key"
export KAKUNIN_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# Fuzzing sends many requests: the per-token limit must not hide the answers.
printf '[api]\nrate_per_minute = 100000000\n' > "$WORK/extra.toml"
export KAKUNIN_CONFIG="$WORK/extra.toml"
"$BIN/kakunin" key init > "$WORK/key.log" 2>&1
"$BIN/kakunin" serve > "$WORK/kakunin.log" 2>&1 &
pids+=($!)
started "$ISSUER_PORT" /healthz
started "$SERVICE_PORT" /readyz

status=0
for scope in $SCOPES; do
  token=$("$BIN/kakunin" token create --name "schemathesis-$scope" --office 44201 \
    --office-name "大分市" --scope "$scope")
  echo "== schemathesis（scope: $scope、1操作あたり最大 $MAX_EXAMPLES 例）"
  # Run from target/, where its cache (.schemathesis/) stays out of the work tree.
  (cd target && "../$VENV/bin/schemathesis" run "http://127.0.0.1:$SERVICE_PORT/api/openapi.json" \
    --url "http://127.0.0.1:$SERVICE_PORT" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --seed 1) \
    || status=$?
done
if grep -q '"level":"ERROR"\|ERROR' "$WORK/kakunin.log"; then
  echo "== サービスのログにエラーがあります:"
  grep 'ERROR' "$WORK/kakunin.log" | head -20
fi
exit $status
