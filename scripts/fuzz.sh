#!/usr/bin/env bash
# make fuzz: runs every cargo-fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS each
# (default 60), one after the other with one job, so a shared machine keeps its other
# core. Installs what is missing first: a nightly toolchain (rustup, profile minimal)
# and cargo-fuzz. Each target starts from its committed seeds (fuzz/corpus/<target>)
# and grows a working corpus in fuzz/work/<target> (not committed); a crash stops the
# run with the input in fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=300 make fuzz           every target for five minutes
#   FUZZ_TARGETS="ids jws_verify" make fuzz   only these
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  echo "Rust $toolchain をインストールします（rustup, profile minimal）"
  rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz をインストールします"
  cargo install cargo-fuzz --locked
fi
echo "$(rustup run "$toolchain" rustc --version), $(cargo fuzz --version)"

# `service` builds the service for batch_csv; without it the protocol targets build alone.
targets="${FUZZ_TARGETS:-$(cargo +"$toolchain" fuzz list)}"
# `--features service` builds the service for batch_csv (the other targets need only the
# protocol crate).
cargo +"$toolchain" fuzz build -O --features service

for target in $targets; do
  mkdir -p "fuzz/work/$target"
  echo "== $target: ${seconds} 秒"
  # -max_len 65536: a key notice, a registry or a batch CSV of a few hundred rows; the
  # envelope's own bound (1 MiB) is checked before any parsing.
  # The whole output goes to fuzz/work/<target>.log; the terminal shows the summary.
  set +e
  # --jobs 1 (cargo-fuzz's): one libFuzzer process, no fork mode.
  cargo +"$toolchain" fuzz run -O --features service --jobs 1 "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 >"fuzz/work/$target.log" 2>&1
  status=$?
  set -e
  grep -E '^(stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|Done [0-9]+ runs)|panicked|SUMMARY|Test unit written' \
    "fuzz/work/$target.log" || true
  if [ "$status" -ne 0 ]; then
    echo "$target: 失敗しました（終了コード $status）。入力は fuzz/artifacts/$target/ にあります" >&2
    exit "$status"
  fi
done
echo "すべてのターゲットがクラッシュなしで終わりました"
