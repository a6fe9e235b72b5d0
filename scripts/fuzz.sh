#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (docs/fuzzing.md) for SECONDS_PER_TARGET seconds each
# (default 60), one after the other, and prints the executions of each run.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs the nightly toolchain (libFuzzer's sanitizer flags); installs cargo-fuzz if missing.
# New corpus entries go to fuzz/target/corpus/<target>/ (not committed, kept between runs), seeded from the committed
# fuzz/corpus/<target>/; crashes go to fuzz/artifacts/<target>/. The exit status is non-zero if
# any target found a crash. To fold new inputs into the committed corpus, minimise:
#   cargo +nightly fuzz cmin --fuzz-dir fuzz <target> fuzz/corpus/<target> -- fuzz/target/corpus/<target>
set -euo pipefail

secs="${1:-60}"
shift || true
cd "$(dirname "$0")/.."

if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "the nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
fi

cargo +nightly fuzz build --fuzz-dir fuzz

logs="fuzz/target/logs"
mkdir -p "$logs"
failed=0
summary=()
for t in "${targets[@]}"; do
    work="fuzz/target/corpus/$t"
    mkdir -p "$work" "fuzz/artifacts/$t"
    echo "== $t: ${secs}s"
    status=ok
    # -timeout: an input taking over 10 s counts as a finding (a hang on hostile input).
    if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$logs/$t.log" 2>&1; then
        status=CRASH
        failed=1
    fi
    execs=$(grep -E '^stat::number_of_executed_units' "$logs/$t.log" | awk '{print $2}' | tail -1)
    corpus=$(find "$work" -type f | wc -l)
    line=$(printf '%-16s %-6s %12s execs %6s corpus files' "$t" "$status" "${execs:-?}" "$corpus")
    echo "$line"
    if [ "$status" != ok ]; then
        grep -E 'panicked|ERROR|Test unit written|SUMMARY' "$logs/$t.log" | head -10 || true
    fi
    summary+=("$line")
done

echo
echo "target           result        executions"
printf '%s\n' "${summary[@]}"
echo "logs in $logs/"
exit "$failed"
