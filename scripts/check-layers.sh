#!/usr/bin/env bash
# The layering of ARCHITECTURE.md, checked: the protocol crate pulls in no web framework,
# database or HTTP client, and no module graph of any crate has a cycle.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(actix|awc|diesel|reqwest|hyper|utoipa|tokio|sqlx|tera|libsqlite3-sys|pq-sys)'
found=$(cargo tree -p kakunin-protocol -e normal,build --prefix none | sed 's/ v.*//' | sort -u | grep -E "$forbidden" || true)
if [ -n "$found" ]; then
  echo "kakunin-protocol must not depend on: $found" >&2
  exit 1
fi
echo "kakunin-protocol: no web, database or HTTP-client crate"
python3 scripts/check-layers.py
