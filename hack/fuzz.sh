#!/usr/bin/env bash
# The fuzz targets of fuzz/ (cargo-fuzz, libFuzzer, on the nightly
# toolchain): config.json through the create plan, exec's process.json,
# update -r, beancounter annotations and state.json.
#
#   hack/fuzz.sh smoke            every target for a few seconds (CI)
#   hack/fuzz.sh run SECS [T...]  each target (or those named) for SECS
#                                 seconds, all at once, at low priority
#
# Each starts from tests/fixtures/fuzz/<target> (seeds, and every input
# that once crashed vzrun) and keeps what it finds in fuzz/corpus/<target>
# (not in git). A crash stops the run with exit 1; its input is in
# fuzz/artifacts/<target>/: fix the bug, then add the input to
# tests/fixtures/fuzz/<target>/ so that tests/fuzz_regressions.rs replays
# it on the stable toolchain from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(config process update annotations state)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "hack/fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
cargo +nightly fuzz build -O >/dev/null
bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release

# run_target T SECS: libFuzzer on T for SECS seconds; its log in
# fuzz/logs/T.log, and its last status line on stdout.
run_target() {
    local t=$1 secs=$2
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" fuzz/logs
    if ! "$bin/$t" "fuzz/corpus/$t" "tests/fixtures/fuzz/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 \
        >"fuzz/logs/$t.log" 2>&1; then
        echo "hack/fuzz.sh: $t found a crash:" >&2
        grep -E "ERROR|panicked|SUMMARY|Test unit written" "fuzz/logs/$t.log" >&2 || tail -20 "fuzz/logs/$t.log" >&2
        return 1
    fi
    echo "$t: $(grep -E '^stat::number_of_executed_units' "fuzz/logs/$t.log" | awk '{print $2}') runs, \
$(grep -E 'DONE' "fuzz/logs/$t.log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
}

case "${1:-}" in
smoke)
    for t in "${targets[@]}"; do
        run_target "$t" 5
    done
    ;;
run)
    secs=${2:?hack/fuzz.sh run SECS [TARGET...]}
    shift 2
    [ $# -gt 0 ] && targets=("$@")
    pids=()
    for t in "${targets[@]}"; do
        nice -n 19 bash -c "$(declare -f run_target); bin=$bin; run_target $t $secs" &
        pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    exit $rc
    ;;
*)
    sed -n 2,16p "$0" >&2
    exit 2
    ;;
esac
