#!/bin/sh
# A Python venv under target/ with joserfc from PyPI, for the test that verifies a
# receipt with a JOSE library other than the service's. Prints the venv's python.
set -eu
cd "$(dirname "$0")/.."
venv=target/jose-venv
if ! "$venv/bin/python" -c "import joserfc" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet "joserfc>=1.0,<2" >&2
fi
echo "$PWD/$venv/bin/python"
