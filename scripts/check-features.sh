#!/usr/bin/env bash
# The binaries `cargo build` makes (`make run`, `make bench-single`) must resolve every
# shared crate with the features the test build gives it. A crate whose features differ
# is compiled twice, and so is everything above it: `make run` after `make test` then
# rebuilds half the tree, and the binary that ships is not the one the tests ran.
# The root Cargo.toml asks for the test build's features (its "Not used directly" block);
# this names any crate that has drifted, e.g. after a dev-dependency's update.
#
# Crates built for the host (build scripts, proc-macros and what they use) are compared
# apart from those built into the binaries: a proc-macro whose features drift rebuilds
# every crate that derives with it, while a crate a dev-dependency alone pulls in for the
# host does not matter to the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
host=$(rustc -vV | sed -n 's/^host: //p')
# features EDGES: one line per side, crate and version, "host|serde v1.0.229|default,std"
# or "target|…", then grouped: "target serde v1.0.229 [alloc,default,…]" (a crate can
# have two feature sets on one side, one per branch of the tree that names it).
features() {
  cargo tree --workspace -e "$1" --target "$host" --charset ascii -f '{p}|{f}' |
    awk '
      !match($0, /[A-Za-z0-9_[]/) { next }  # the blank line between two roots
      { depth = (RSTART - 1) / 4; t = substr($0, RSTART) }
      t ~ /^\[/ { section[depth + 1] = t; next }  # [build-dependencies], [dev-dependencies]
      {
        on_host[depth] = (depth > 0 && on_host[depth - 1]) ||
          section[depth] == "[build-dependencies]" || t ~ / \(proc-macro\)/
        section[depth + 1] = ""
        sub(/ \(\*\)$/, "", t); sub(/ \(proc-macro\)/, "", t); sub(/ \(\/[^)]*\)/, "", t)
        print (on_host[depth] ? "host" : "target") "|" t
      }' | sort -u |
    awk -F'|' '{k = $1 " " $2; sets[k] = sets[k] " [" $3 "]"} END {for (k in sets) print k sets[k]}' |
    sort
}
shipped=$(features normal,build)
tested=$(features normal,build,dev)
# Lines of the shipped build whose feature sets the tested build does not have.
drift=$(comm -23 <(echo "$shipped") <(echo "$tested"))
if [ -n "$drift" ]; then
  echo "Features differ between \`cargo build\` and the test build." >&2
  echo "In \`cargo build --workspace --bins\`:" >&2
  echo "$drift" | sed 's/^/  /' >&2
  echo "In the test build:" >&2
  # The same side, crate and version (the first three words), exactly.
  awk 'NR == FNR {want[$1 " " $2 " " $3]; next} ($1 " " $2 " " $3) in want' \
    <(echo "$drift") <(echo "$tested") | sed 's/^/  /' >&2
  echo "Ask for the test build's features in the root Cargo.toml (\"Not used directly\");" >&2
  echo "who turns one on: cargo tree --workspace -e features,normal,build,dev -i CRATE@VERSION" >&2
  exit 1
fi
# A line of the block that no other crate of the test build needs is left over.
block=$(awk '/^# Not used directly/ {on = 1} on && /^$/ {exit} on && /^[a-z0-9_-]+ = / {
  v = $0; sub(/^[^"]*"/, "", v); sub(/".*/, "", v); print $1 "@" v }' Cargo.toml)
for spec in $block; do
  users=$(cargo tree --workspace -e normal,build,dev -i "$spec" --depth 1 --prefix none |
    tail -n +2 | grep -v '^kakunin v' || true)
  if [ -z "$users" ]; then
    echo "Cargo.toml asks for $spec (\"Not used directly\") but no other crate uses it: remove the line." >&2
    exit 1
  fi
done
echo "cargo build and the test build resolve the same features ($(echo "$shipped" | wc -l) crates, host and target)"
