#!/usr/bin/env bash
# Installs the Debian packages `make bench-counts` needs, only when something is missing:
# valgrind (callgrind's instruction counts), strace (system calls) and python3 (the
# script's load driver).
set -euo pipefail
need=()
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v python3 >/dev/null 2>&1 || need+=(python3)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing bench dependencies: ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "not root and no sudo: install ${need[*]} (apt-get install ${need[*]}) and run again" >&2
    exit 1
  }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
