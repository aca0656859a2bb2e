#!/bin/sh
# The VM lane of CI: the integration tests on cgroup v2 hosts.
#   hack/vm/lane.sh [cgroup2|systemd]...   (both by default)
# cgroup2: the tests built as static binaries (that guest has no libc) in
#          the busybox VM, with vzrun's cgroupfs driver.
# systemd: the ordinary test binaries in the Debian VM with systemd as
#          PID 1, every runtime call with --systemd-cgroup.
set -eu
cd "$(dirname "$0")/../.."
modes=${*:-cgroup2 systemd}
mkdir -p .vm.build

# cargo test --no-run [ARGS]: the test executables, one per line. Not the
# checkpoint tests: the guests have no CRIU (it runs on the host, which
# `make test` gives CRIU 4.2), and the lane says so.
build_tests() {
    out=$1
    shift
    cargo test --no-run --message-format=json "$@" 2>/dev/null >.vm.build/cargo.json
    python3 - .vm.build/cargo.json >"$out" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        if m["target"]["name"] == "checkpoint":
            continue
        print(m["executable"])
PY
    [ -s "$out" ] || { echo "hack/vm/lane.sh: no test binaries built" >&2; exit 1; }
    echo "hack/vm/lane.sh: tests/checkpoint.rs runs on the host only (no CRIU in the VMs)"
}

# The seccomp and hardening tests put small C probes in their containers;
# the guests have no compiler, so they are built here, where the tests look
# for them (tests/common: install_probe, in cargo's per-target temp dir).
build_probes() {
    dir=$1/tmp/probes
    mkdir -p "$dir"
    for src in tests/probes/*.c integration/checker/checker.c; do
        name=$(basename "$src" .c)
        for abi in -m64 -m32; do
            [ "$dir/$name$abi" -nt "$src" ] || gcc "$abi" -static -O1 -o "$dir/$name$abi" "$src"
        done
    done
}

rc=0
for mode in $modes; do
    case $mode in
    cgroup2)
        target=x86_64-unknown-linux-gnu
        RUSTFLAGS="-C target-feature=+crt-static" build_tests .vm.build/static.list --target "$target"
        build_probes "target/$target"
        hack/vm/run --mode cgroup2 -- hack/vm/guest-tests.sh .vm.build/static.list \
            "cgroup v2 VM (cgroupfs driver)" || rc=1
        ;;
    systemd)
        build_tests .vm.build/tests.list
        build_probes target
        # Every runtime call of the tests gets --systemd-cgroup.
        mkdir -p .vm.build/systemd
        printf '#!/bin/sh\nexec %s --systemd-cgroup "$@"\n' "$(pwd)/target/debug/vzrun" \
            >.vm.build/systemd/vzrun
        chmod 755 .vm.build/systemd/vzrun
        hack/vm/run --mode systemd -- env VZRUN_TEST_SYSTEMD=1 \
            VZRUN_TEST_RUNTIME="$(pwd)/.vm.build/systemd/vzrun" \
            hack/vm/guest-tests.sh .vm.build/tests.list "systemd VM (--systemd-cgroup)" || rc=1
        ;;
    *) echo "hack/vm/lane.sh: unknown mode $mode" >&2; exit 2 ;;
    esac
done
exit $rc
