#!/usr/bin/env bash
# Runs the same busybox bundle with vzrun and with runc and checks that a
# user sees the same thing: `run` output and exit status (normal exit, exit
# N, killed by a signal), and `state` at each step of create / start /
# kill / delete. Runtime-agnostic: RUNTIME_A and RUNTIME_B may be any two
# OCI runtimes with runc's command line.
#
# usage: integration/compare-runc.sh [VZRUN_BINARY]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
A=${RUNTIME_A:-${1:-$here/target/debug/vzrun}}
B=${RUNTIME_B:-/usr/sbin/runc}
for rt in "$A" "$B"; do
    [ -x "$rt" ] || { echo "compare-runc: $rt is missing" >&2; exit 1; }
done
A=$(realpath "$A") B=$(realpath "$B")

work=$(mktemp -d /tmp/vzrun-compare.XXXXXX)
ids=()
cleanup() {
    for entry in "${ids[@]}"; do
        rt=${entry%%|*}; id=${entry#*|}
        "$rt" --root "$work/root-$(basename "$rt")" delete --force "$id" >/dev/null 2>&1 || true
        for c in /sys/fs/cgroup/*/vzrun-compare/"$id"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null || true; done
    done
    for c in /sys/fs/cgroup/*/vzrun-compare; do [ -d "$c" ] && rmdir "$c" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() { # name expected actual
    if [ "$2" == "$3" ]; then
        passed=$((passed + 1)); echo "ok   $1"
    else
        failed=$((failed + 1)); echo "FAIL $1: $(basename "$A") gave [$2], $(basename "$B") gave [$3]"
        return 1
    fi
}

# bundle NAME ID ARGS...: a bundle whose cgroup is /vzrun-compare/ID
bundle() {
    local dir=$work/$1 id=$2; shift 2
    "$here/hack/mkbundle.sh" "$dir" "$id" -- "$@" >/dev/null
    sed -i "s|\"/vzrun/$id\"|\"/vzrun-compare/$id\"|" "$dir/config.json"
    echo "$dir"
}

# runs RUNTIME ARGS... in the bundle dir given by $dir, with --root per runtime
rt() { local r=$1; shift; "$r" --root "$work/root-$(basename "$r")" "$@"; }

n=0
run_case() { # name args...
    local name=$1; shift
    local out=() errs=()
    for r in "$A" "$B"; do
        n=$((n + 1)); local id="cmp-$n"; ids+=("$r|$id")
        local dir; dir=$(bundle "b$n" "$id" "$@")
        local code=0
        (cd "$dir" && rt "$r" run "$id" >"$dir/stdout" 2>"$dir/stderr") || code=$?
        out+=("$code:$(tr '\n' '|' <"$dir/stdout")")
        errs+=("$(basename "$r"): $(tr '\n' ' ' <"$dir/stderr")")
    done
    check "run: $name" "${out[0]}" "${out[1]}" || printf '     %s\n' "${errs[@]}"
}

run_case "exit 0 with output" sh -c 'echo hello; echo $$; hostname'
run_case "exit 7" sh -c 'echo before; exit 7'
run_case "killed by SIGTERM" sh -c 'sh -c "kill -TERM \$\$"; exit $?'
run_case "missing executable" /bin/nope
run_case "capabilities" sh -c 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status'
run_case "mounts" sh -c 'grep -E " (/proc|/dev|/dev/pts|/dev/shm|/sys) " /proc/mounts | cut -d" " -f1-3'
run_case "read-only root" sh -c 'touch /x 2>/dev/null && echo writable || echo read-only'

# The lifecycle, step by step: status and whether a pid is shown.
lifecycle() { # runtime -> "step=status ..." line
    local r=$1
    n=$((n + 1)); local id="cmp-$n"; ids+=("$r|$id")
    local dir; dir=$(bundle "b$n" "$id" sleep 1000)
    local line=""
    st() { rt "$r" state "$id" 2>/dev/null | tr -d ' \n\t' | sed -E 's/.*"status":"([a-z]+)".*/\1/' || echo gone; }
    (cd "$dir" && rt "$r" create "$id" >/dev/null 2>&1)
    line+="create=$(st) "
    rt "$r" start "$id"; line+="start=$(st) "
    rt "$r" kill "$id" KILL
    for _ in $(seq 300); do [ "$(st)" = stopped ] && break; sleep 0.1; done
    line+="kill=$(st) "
    rt "$r" delete "$id"; line+="delete=$(rt "$r" state "$id" >/dev/null 2>&1 && echo present || echo gone)"
    echo "$line"
}
check "lifecycle states" "$(lifecycle "$A")" "$(lifecycle "$B")"

# kill of a stopped container: CRI-O reads runc's words "container not
# running" in stderr as "already gone".
kill_stopped() { # runtime -> whether stderr says so
    local r=$1
    n=$((n + 1)); local id="cmp-$n"; ids+=("$r|$id")
    local dir; dir=$(bundle "b$n" "$id" true)
    (cd "$dir" && rt "$r" run --detach "$id" >/dev/null 2>&1)
    for _ in $(seq 300); do
        rt "$r" state "$id" 2>/dev/null | grep -q '"stopped"' && break; sleep 0.1
    done
    local code=0
    rt "$r" kill "$id" KILL 2>"$work/kill-$n.err" || code=$?
    rt "$r" delete --force "$id" >/dev/null 2>&1 || true
    grep -q "container not running" "$work/kill-$n.err" && echo "exit=$code says-not-running" \
        || echo "exit=$code: $(cat "$work/kill-$n.err")"
}
check "kill of a stopped container" "$(kill_stopped "$A")" "$(kill_stopped "$B")"

# `features`: the keys a client reads (CRI-O at start), whatever the
# values; vzrun may have more of runtime-spec 1.3's under linux.
features_keys() { # runtime -> the keys runc 1.1 has too
    "$1" features | python3 -c '
import json, sys
d = json.load(sys.stdin)
base = ["namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux"]
print(sorted(d), d["hooks"], [k for k in base if k in d["linux"]],
      sorted(d["linux"]["seccomp"])[:2], "rbind" in d["mountOptions"])'
}
check "features keys" "$(features_keys "$A")" "$(features_keys "$B")"

# An unknown command, with or without -h: runc's "No help topic", exit 3.
unknown_command() { # runtime -> exit codes and whether stderr says so
    local r=$1 out=""
    for args in "frobnicate" "frobnicate -h"; do
        local code=0
        # shellcheck disable=SC2086
        "$r" $args >/dev/null 2>"$work/unknown.err" || code=$?
        out+="$code:$(grep -c "No help topic for 'frobnicate'" "$work/unknown.err") "
    done
    echo "$out"
}
check "unknown command" "$(unknown_command "$A")" "$(unknown_command "$B")"

# `events --stats`: one JSON object, its keys in runc's order, and the
# sections of `data` runc prints (values differ between two containers).
events_shape() { # runtime -> key order and data sections
    local r=$1
    n=$((n + 1)); local id="cmp-$n"; ids+=("$r|$id")
    local dir; dir=$(bundle "b$n" "$id" sleep 1000)
    (cd "$dir" && rt "$r" run --detach "$id" >/dev/null 2>&1)
    rt "$r" events --stats "$id" | python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
pairs = json.loads(lines[0], object_pairs_hook=lambda p: p)
top = dict(pairs)
data = dict(top["data"])
print(len(lines), [k for k, _ in pairs], top["type"], sorted(data),
      sorted(k for k, _ in data["cpu"]), sorted(k for k, _ in data["pids"]))'
    rt "$r" delete --force "$id" >/dev/null 2>&1 || true
}
check "events --stats shape" "$(events_shape "$A")" "$(events_shape "$B")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
