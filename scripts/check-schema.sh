#!/usr/bin/env bash
# Checks that src/adapters/db/schema.rs and crates/issuer/src/schema.rs are what `diesel print-schema`
# makes of the migrations: they are generated files, and drift would let code compile
# against columns the database does not have. Installs diesel_cli when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v diesel >/dev/null 2>&1; then
  echo "installing diesel_cli (SQLite only) for the schema check"
  cargo install --locked --quiet diesel_cli --version 2.3.14 \
    --no-default-features --features sqlite-bundled
fi
cargo build --quiet --workspace --bins
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# migrate checks the trust registry too (issuer-protocol.md §5): give it the demo one.
KAKUNIN_DATABASE_URL="$tmp/service.db" KAKUNIN_ISSUERS_FILE=config/demo/issuers.toml \
  target/debug/kakunin migrate >/dev/null
KAKUNIN_ISSUER_DATABASE_URL="$tmp/issuer.db" KAKUNIN_ISSUER_KEYS_DIR="$tmp/keys" \
  target/debug/kakunin-issuer client list >/dev/null
status=0
for pair in "service.db:src/adapters/db/schema.rs" "issuer.db:crates/issuer/src/schema.rs"; do
  db=${pair%%:*}
  file=${pair#*:}
  if ! diff -u <(diesel print-schema --database-url "$tmp/$db" | grep -v '^//') \
               <(grep -v '^//' "$file"); then
    echo "$file differs from the migrations: regenerate it with diesel print-schema" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "schema.rs files match the migrations"
exit $status
