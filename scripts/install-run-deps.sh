#!/usr/bin/env bash
# Installs what `make run` needs besides Rust, only when missing: the fonts the
# reference issuer embeds in its key-notice PDFs (IPAex Gothic for Japanese, DejaVu Sans
# Mono for the key, whose zero differs from O), and libpq, which the service links for
# its PostgreSQL backend.
set -euo pipefail
need=()
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need+=(fonts-ipaexfont-gothic)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need+=(fonts-dejavu-core)
pkg-config --exists libpq 2>/dev/null || need+=(pkg-config libpq-dev)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing run dependencies: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
