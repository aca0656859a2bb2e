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

# build_tests OUT "TARGETS LEFT OUT" [ARGS]: cargo test --no-run [ARGS],
# the test executables into OUT, one per line, but those of the named test
# targets.
build_tests() {
    out=$1
    skip=$2
    shift 2
    cargo test --no-run --message-format=json "$@" 2>/dev/null >.vm.build/cargo.json
    python3 - .vm.build/cargo.json "$skip" >"$out" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        if m["target"]["name"] in sys.argv[2].split():
            continue
        print(m["executable"])
PY
    [ -s "$out" ] || { echo "hack/vm/lane.sh: no test binaries built" >&2; exit 1; }
}

# The host's CRIU (hack/install-criu.sh: a prefix with its own loader and
# libraries), copied into the shared tree with a wrapper; the systemd
# guest puts its bin first on PATH, and the checkpoint tests run there as
# on the host: cgroup v2 with the systemd driver. Not in the busybox
# guest: CRIU needs the kernel's socket-diag and netfilter modules and
# iptables there, a whole distribution's worth.
stage_criu() {
    prefix=${CRIU_PREFIX:-/opt/vzrun-criu}
    [ -x "$prefix/root/usr/sbin/criu" ] ||
        { echo "hack/vm/lane.sh: no CRIU at $prefix (hack/install-criu.sh)" >&2; exit 1; }
    dir=$(pwd)/.vm.build/criu
    rm -rf "$dir" && mkdir -p "$dir/bin"
    cp -a "$prefix/root" "$dir/root"
    loader=$dir/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    [ -e "$loader" ] || loader=$dir/root/lib64/ld-linux-x86-64.so.2
    libs=$dir/root/usr/lib/x86_64-linux-gnu:$dir/root/lib/x86_64-linux-gnu
    printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' \
        "$loader" "$libs" "$dir/root/usr/sbin/criu" >"$dir/bin/criu"
    chmod 755 "$dir/bin/criu"
    guest_path=$dir/bin:/bin:/usr/bin:/sbin:/usr/sbin
}

# lxcfs for the virtual /proc tests in the busybox guest, which has no
# libc: the host's binary, its libraries and liblxcfs.so (which it
# dlopens) in the shared tree, run through the host's loader.
stage_lxcfs() {
    dir=$(pwd)/.vm.build/lxcfs
    rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/lib"
    lxcfs=$(command -v lxcfs) ||
        { echo "hack/vm/lane.sh: no lxcfs (hack/install-deps.sh installs it)" >&2; exit 1; }
    plugin=/usr/lib/x86_64-linux-gnu/lxcfs/liblxcfs.so
    cp "$lxcfs" "$plugin" "$dir/lib/"
    for f in $(ldd "$lxcfs" "$plugin" | awk '$2 == "=>" {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u); do
        cp -L "$f" "$dir/lib/"
    done
    printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' \
        "$dir/lib/ld-linux-x86-64.so.2" "$dir/lib" "$dir/lib/lxcfs" >"$dir/bin/lxcfs"
    chmod 755 "$dir/bin/lxcfs"
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
        echo "hack/vm/lane.sh: not here: tests/checkpoint.rs (runs on the host and in the" \
            "systemd VM), tests/rootless.rs (host and systemd VM: this guest has no useradd;" \
            "tests/rootless_cgroup.rs runs), tests/disk_quota.rs, and the 200-container stress of" \
            "tests/load.rs and the parser replay of tests/fuzz_regressions.rs (host only:" \
            "under QEMU's emulation they cost minutes and test nothing cgroup v2 changes)"
        RUSTFLAGS="-C target-feature=+crt-static" \
            build_tests .vm.build/static.list "checkpoint rootless disk_quota load fuzz_regressions" --target "$target"
        build_probes "target/$target"
        stage_lxcfs
        hack/vm/run --mode cgroup2 -- sh -c "PATH=$(pwd)/.vm.build/lxcfs/bin:\$PATH \
            hack/vm/guest-tests.sh .vm.build/static.list 'cgroup v2 VM (cgroupfs driver)'" ||
            rc=1
        ;;
    systemd)
        # The rootless tests in a list of their own, without the wrapper:
        # they run as their users, with the cgroupfs driver, and with
        # --systemd-cgroup through the user's own systemd instance.
        # Disk quotas (loop-mounted btrfs), the load stress and the fuzz
        # replay are tested on the host only.
        build_tests .vm.build/tests.list "rootless rootless_cgroup disk_quota load fuzz_regressions"
        build_tests .vm.build/rootless.list "" --test rootless --test rootless_cgroup
        build_probes target
        stage_criu
        stage_lxcfs
        guest_path=$(pwd)/.vm.build/lxcfs/bin:$guest_path
        # Every runtime call of the tests gets --systemd-cgroup.
        mkdir -p .vm.build/systemd
        printf '#!/bin/sh\nexec %s --systemd-cgroup "$@"\n' "$(pwd)/target/debug/vzrun" \
            >.vm.build/systemd/vzrun
        chmod 755 .vm.build/systemd/vzrun
        hack/vm/run --mode systemd -- sh -c "env PATH='$guest_path' VZRUN_TEST_SYSTEMD=1 \
            VZRUN_TEST_RUNTIME='$(pwd)/.vm.build/systemd/vzrun' \
            hack/vm/guest-tests.sh .vm.build/tests.list 'systemd VM (--systemd-cgroup)' &&
            hack/vm/guest-tests.sh .vm.build/rootless.list 'systemd VM (rootless)'" ||
            rc=1
        ;;
    *) echo "hack/vm/lane.sh: unknown mode $mode" >&2; exit 2 ;;
    esac
done
exit $rc
