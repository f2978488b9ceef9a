#!/usr/bin/env bash
# `make run`: the reference issuer with demo data and the verification service, side by
# side on loopback. Everything lives under data/demo and is recreated on each run.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/debug
DEMO=data/demo
ISSUER_PORT=${ISSUER_PORT:-8081}
SERVICE_PORT=${SERVICE_PORT:-8080}

rm -rf "$DEMO"
mkdir -p "$DEMO"

export KAKUNIN_ISSUER_DATABASE_URL="$DEMO/issuer.db"
export KAKUNIN_ISSUER_KEYS_DIR="$DEMO/issuer-keys"
export KAKUNIN_ISSUER_BIND="127.0.0.1:$ISSUER_PORT"
export KAKUNIN_DATABASE_URL="$DEMO/kakunin.db"
# The audit signing key, and the receipt keys beside it, belong to the demo's database.
export KAKUNIN_AUDIT_SIGNING_KEY_FILE="$DEMO/audit-signing.key"
export KAKUNIN_BIND="127.0.0.1:$SERVICE_PORT"
export KAKUNIN_ISSUERS_FILE="$DEMO/issuers.toml"

echo "== 保証事業会社（参照実装）のデモデータを作成しています（$DEMO を毎回作り直します）"
# Both streams to the log: the banner below is what a person reads.
"$BIN/kakunin-issuer" --demo demo-seed --out "$DEMO" > "$DEMO/seed.log" 2>&1 || {
  echo "デモデータを作成できませんでした（ログ: $DEMO/seed.log）" >&2
  exit 1
}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo
  echo "停止しました。"
}
# Ctrl-C or a TERM is how the demo is meant to end: exit 0, cleaning up once (EXIT).
trap cleanup EXIT
trap 'exit 0' INT TERM

"$BIN/kakunin-issuer" serve --demo > "$DEMO/issuer.log" 2>&1 &
pids+=($!)
"$BIN/kakunin" serve --demo > "$DEMO/kakunin.log" 2>&1 &
pids+=($!)

# Plain bash (/dev/tcp) rather than curl, which a fresh Debian may not have.
# shellcheck source=scripts/wait-for.sh
. scripts/wait-for.sh  # the cwd is the project root (cd above)
started() {
  wait_for "$1" "$2" 200 && return 0
  echo "起動に失敗しました: 127.0.0.1:$1 （ログ: $DEMO/*.log）" >&2
  exit 1
}
started "$ISSUER_PORT" /healthz
started "$SERVICE_PORT" /readyz

cat <<MSG

== kakunin デモ
  照会サービス:       http://127.0.0.1:$SERVICE_PORT/
  保証事業会社（参照）: http://127.0.0.1:$ISSUER_PORT/   （受注者ページ）

  データは起動のたびに空から作り直します（前回の照会・監査ログは残りません）。
  ポートは SERVICE_PORT（照会サービス）と ISSUER_PORT（保証事業会社）で変えられます
  （例: SERVICE_PORT=9080 ISSUER_PORT=9081 make run）。

  ログイン（照会サービス）
    契約担当者 officer    / officer-demo-pass
    監督者     supervisor / supervisor-demo-pass
    管理者     admin      / admin-demo-pass

  ログイン（保証事業会社の受注者ページ）
    株式会社豊後建設               bungo / bungo-demo-pass
    株式会社由布設計コンサルタント yufu  / yufu-demo-pass

  試せる保証契約番号と認証キー（全件: $DEMO/demo-keys.csv、お知らせPDF: $DEMO/notices/）
MSG
awk -F, 'NR>1 && n<3 && $3=="verified" {printf "    %s  %s  （%s）\n", $1, $2, $5; n++}' "$DEMO/demo-keys.csv"
awk -F, 'NR>1 && $3=="rejected" {printf "    %s  %s  （%s）\n", $1, $2, $5; exit}' "$DEMO/demo-keys.csv"
cat <<MSG

  API を試すには、管理者でログインして「管理 → API クライアント」で照会用のクライアントを
  作成します（トークンは一度だけ表示されます）。そのトークンで:
    curl -s -H "Authorization: Bearer トークン" -H "Content-Type: application/json" \\
      -d '{"certificate_number": "保証契約番号", "auth_key": "認証キー"}' \\
      http://127.0.0.1:$SERVICE_PORT/api/v1/verifications
  API の仕様（OpenAPI）: http://127.0.0.1:$SERVICE_PORT/api/openapi.json

  Ctrl-C で両方を停止します。
MSG
wait
