#!/usr/bin/env bash
# The binaries `cargo build` makes (`make run`, `make bench-single`) must resolve every
# shared crate with the features the test build gives it. A crate whose features differ
# is compiled twice, and so is everything above it: `make run` after `make test` then
# rebuilds half the tree, and the binary that ships is not the one the tests ran.
# The root Cargo.toml asks for the test build's features (its "Not used directly" block);
# this names any crate that has drifted, e.g. after a dev-dependency's update.
set -euo pipefail
cd "$(dirname "$0")/.."
features() {
  # One line per crate and version: its feature sets (a crate built for the host too
  # can have two), sorted, so that both builds compare line by line.
  cargo tree --workspace -e "$1" --prefix none -f '{p}|{f}' |
    sed 's/ (\*)//; s/ (proc-macro)//; s/ (\/[^)]*)//' | sort -u |
    awk -F'|' '{sets[$1] = sets[$1] " [" $2 "]"} END {for (c in sets) print c sets[c]}' | sort
}
shipped=$(features normal,no-proc-macro)
tested=$(features normal,dev,no-proc-macro)
# Crates of the shipped build whose feature sets the tested build does not have.
drift=$(comm -23 <(echo "$shipped") <(echo "$tested"))
if [ -n "$drift" ]; then
  echo "Features differ between \`cargo build\` and the test build (shipped build shown):" >&2
  echo "$drift" >&2
  echo "In the test build:" >&2
  comm -13 <(echo "$shipped") <(echo "$tested") |
    grep -F -f <(echo "$drift" | cut -d' ' -f1-2 | sed 's/$/ /') >&2 || true
  echo "Ask for the test build's features in the root Cargo.toml (\"Not used directly\")." >&2
  exit 1
fi
echo "cargo build and the test build resolve the same features"
