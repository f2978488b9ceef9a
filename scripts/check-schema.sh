#!/usr/bin/env bash
# Checks that src/adapters/db/schema.rs and crates/issuer/src/schema.rs are what `diesel print-schema`
# makes of the migrations: they are generated files, and drift would let code compile
# against columns the database does not have. The service's schema.rs must match both of
# its backends: migrations/sqlite on a SQLite file, and migrations/postgres on a private
# PostgreSQL cluster started here (initdb/pg_ctl of Debian's postgresql, loopback, a
# free port, removed on exit). PostgreSQL names Integer and BigInt Int4 and Int8; they
# are read as the same. Installs diesel_cli (SQLite and PostgreSQL) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v diesel >/dev/null 2>&1 || [ ! -f "$HOME/.cargo/.crates2.json" ] \
   || ! grep -o '"diesel_cli [^}]*}' "$HOME/.cargo/.crates2.json" | grep -q '"postgres"'; then
  echo "installing diesel_cli (SQLite and PostgreSQL) for the schema check"
  cargo install --locked --quiet --force diesel_cli --version 2.3.14 \
    --no-default-features --features sqlite-bundled,postgres
fi
cargo build --quiet --workspace --bins
tmp=$(mktemp -d)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "PostgreSQL is not installed: run scripts/install-test-deps.sh" >&2; exit 1; }
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$tmp"
cleanup() {
  as_owner "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
as_owner "$pgbin/initdb" --auth=trust --username=kakunin --no-sync -D "$tmp/pg" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off" start >/dev/null
pg_url="postgres://kakunin@127.0.0.1:$port/postgres"
# migrate checks the trust registry too (issuer-protocol.md §5): give it the demo one.
KAKUNIN_DATABASE_URL="$tmp/service.db" KAKUNIN_ISSUERS_FILE=config/demo/issuers.toml \
  target/debug/kakunin migrate >/dev/null
KAKUNIN_DATABASE_URL="$pg_url" KAKUNIN_ISSUERS_FILE=config/demo/issuers.toml \
  target/debug/kakunin migrate >/dev/null
KAKUNIN_ISSUER_DATABASE_URL="$tmp/issuer.db" KAKUNIN_ISSUER_KEYS_DIR="$tmp/keys" \
  target/debug/kakunin-issuer client list >/dev/null
status=0
for pair in "$tmp/service.db:src/adapters/db/schema.rs" "$pg_url:src/adapters/db/schema.rs" \
            "$tmp/issuer.db:crates/issuer/src/schema.rs"; do
  db=${pair%:*}
  file=${pair##*:}
  if ! diff -u <(diesel print-schema --database-url "$db" | grep -v '^//' \
                   | sed -E 's/\bInt4\b/Integer/g; s/\bInt8\b/BigInt/g') \
               <(grep -v '^//' "$file"); then
    echo "$file differs from the migrations ($db): regenerate it with diesel print-schema" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "schema.rs files match the migrations (SQLite and PostgreSQL)"
exit $status
