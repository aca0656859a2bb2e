#!/bin/bash
# Regenerates hack/hot-symbols.txt: the functions of the release binary
# that the lifecycle commands run, in the order they first run. `make
# build` hands the list to the linker (lld's --symbol-ordering-file), which
# lays these functions out first and together in .text.
#
# Why: vzrun's peak RSS is mostly its own text. The kernel maps 64 KiB of
# page cache around each faulting page, so hot code scattered over a 4 MiB
# .text ends up almost all mapped; packed together it takes far less.
#
# How: each command of a lifecycle (create, start, state, list, exec,
# pause, resume, update, events, ps, kill, delete, run) runs under gdb
# with a one-shot breakpoint on every function (hack/hot-symbols.py). The
# list is only a layout hint: a function missing from it still links, it
# just lands further away. Nothing is left behind: the container, its
# cgroup and the temp dir are removed.
#
# usage: hack/hot-symbols.sh [BINARY]   (default: make build's binary)
# then: touch src/main.rs && make build (cargo does not watch the list)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
host=$(rustc -vV | sed -n 's/^host: //p')
bin=${1:-$repo/target/$host/release/vzrun}
[ -x "$bin" ] || { echo "hot-symbols: $bin missing: make build first" >&2; exit 1; }

command -v gdb >/dev/null || { echo "hot-symbols: gdb missing: apt-get install gdb" >&2; exit 1; }
work=$(mktemp -d /tmp/vzrun-hot.XXXXXX)
id=hot-$$
root=$work/state
cleanup() {
    set +e
    "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1
    "$bin" --root "$root" delete --force "$id-run" >/dev/null 2>&1
    rmdir /sys/fs/cgroup/*/vzrun-hot /sys/fs/cgroup/vzrun-hot 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

nm --defined-only "$bin" | awk '$2 ~ /^[tT]$/' >"$work/syms"
: >"$work/hits"
bundle() { # DIR COMMAND...: a busybox bundle in its own cgroup under /vzrun-hot
    local dir=$1; shift
    "$repo/hack/mkbundle.sh" "$dir" "$id" -- "$@" >/dev/null
    sed -i "s|\"cgroupsPath\": *\"[^\"]*\"|\"cgroupsPath\": \"/vzrun-hot/$(basename "$dir")\"|" "$dir/config.json"
}
bundle "$work/sleep" sleep 1000
bundle "$work/true" /bin/true
v() { # a vzrun command under gdb; its output is only shown if it fails
    HOT_SYMS=$work/syms HOT_OUT=$work/hits timeout 300 \
        gdb -batch -nx -x "$here/hot-symbols.py" --args "$bin" --root "$root" "$@" \
        </dev/null >"$work/log" 2>&1
    grep -q '^\[Inferior 1 (process [0-9]*) exited normally\]$' "$work/log" ||
        { echo "hot-symbols: vzrun $* failed under gdb:" >&2; cat "$work/log" >&2; exit 1; }
}
v create --bundle "$work/sleep" "$id"
v start "$id"
v state "$id"
v list
v exec "$id" /bin/true
v pause "$id"
v resume "$id"
v update --memory 67108864 --pids-limit 100 "$id"
v events --stats "$id"
v ps "$id"
v kill "$id" KILL
for _ in $(seq 100); do [[ $("$bin" --root "$root" state "$id") == *stopped* ]] && break; sleep 0.05; done
v delete "$id"
v run --bundle "$work/true" "$id-run"
awk '!seen[$0]++' "$work/hits" >"$repo/hack/hot-symbols.txt"
echo "hot-symbols: $(wc -l <"$repo/hack/hot-symbols.txt") of $(wc -l <"$work/syms") functions ran; written to hack/hot-symbols.txt" >&2
