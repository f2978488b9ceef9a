#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when something is missing:
# headless Chromium, its driver and OpenSSL's headers (browser tests), poppler (pdftotext, pdftoppm,
# pdffonts) and zbar (QR decoding) for the key-notice tests, the fonts the notice
# embeds, libpq and PostgreSQL (the service's second backend), and wrk (the single-verification bench's load generator).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# fantoccini (the browser tests' WebDriver client) links the system OpenSSL.
pkg-config --exists openssl 2>/dev/null || need+=(pkg-config libssl-dev)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
# The service links libpq (PostgreSQL backend, issue K9); the integration suite's second
# run starts a private PostgreSQL cluster (initdb/pg_ctl of Debian's postgresql).
pkg-config --exists libpq 2>/dev/null || need+=(pkg-config libpq-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# The load generator of benches/single.rs (its one-second smoke run is part of make test).
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need+=(fonts-ipaexfont-gothic)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need+=(fonts-dejavu-core)
# axe-core (the browser tests' accessibility engine) from npm, into target/axe/.
if [ ! -f target/axe/node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
install_axe() {
  if [ ! -f target/axe/node_modules/axe-core/axe.min.js ]; then
    mkdir -p target/axe
    (cd target/axe && npm install --no-audit --no-fund --silent axe-core@4)
  fi
}
if [ ${#need[@]} -eq 0 ]; then
  install_axe
  exit 0
fi
echo "installing test dependencies: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
install_axe
