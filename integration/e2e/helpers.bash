# Shared by podman.bats and containerd.bats; run.sh sets E2E, RUNTIME and
# podman's private configuration.

# Every engine command is bounded, and killed if it ignores SIGTERM
# (podman forwards it to the container instead of exiting).
p() { timeout -k 10 120 podman --runtime "$RUNTIME" "$@"; }
c() { timeout -k 10 120 ctr --address "$E2E/containerd/containerd.sock" "$@"; }

# Runs a shell command line on a new pty, as that pty's foreground process
# group. The bound must stay outside script(1): timeout(1) inside it would
# run podman or ctr in a background group of the pty, and their switch of
# the pty to raw mode would stop them by job control for good (it hung CI).
on_pty() { timeout -k 5 90 script -qec "$1" /dev/null; }

# A unique name per test.
name() { echo "e2e-${BATS_TEST_NUMBER}-$1"; }

cgroup_v2() { [ -e /sys/fs/cgroup/cgroup.controllers ]; }

# Reads a container's limit from inside it, v1 or v2 file names.
inside_limit() { # container-cmd-prefix... v1file v2file
    if cgroup_v2; then echo "cat /sys/fs/cgroup/$2"; else echo "cat /sys/fs/cgroup/$1"; fi
}

# After every test: nothing of the engines' containers is left, in the
# runtime's state, the cgroups, the mounts or the processes. Shims and
# conmon exit on their own after the last command returns, so the check
# is retried for a while before it fails.
assert_clean() {
    local _
    for _ in $(seq 100); do
        leftovers >/dev/null && return 0
        sleep 0.1
    done
    leftovers
}

leftovers() {
    local left
    left=$(timeout -k 5 60 podman ps -aq)
    [ -z "$left" ] || { echo "podman containers left: $left"; return 1; }
    left=$(timeout -k 5 60 setpriv --reuid "$E2E_USER" --regid "$E2E_USER" --init-groups \
        env -i HOME="$E2E_HOME" USER="$E2E_USER" XDG_RUNTIME_DIR="$E2E_XDG" \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin podman ps -aq)
    [ -z "$left" ] || { echo "rootless podman containers left: $left"; return 1; }
    left=$(c containers list -q)
    [ -z "$left" ] || { echo "containerd containers left: $left"; return 1; }
    for root in /run/$(basename "$RUNTIME") /run/containerd/runc/default; do
        left=$("$RUNTIME" --root "$root" list -q 2>/dev/null | grep '^e2e-\|^[0-9a-f]\{64\}$' || true)
        [ -z "$left" ] || { echo "runtime state left in $root: $left"; return 1; }
    done
    left=$(find /sys/fs/cgroup/ -mindepth 2 -maxdepth 3 -type d \
        \( -path '*/libpod_parent/*' -o -path '*/vzrun-e2e/*' \) 2>/dev/null | grep -v conmon || true)
    [ -z "$left" ] || { echo "cgroups left: $left"; return 1; }
    left=$(grep -c " $E2E/storage/overlay/[^ ]*/merged \| $E2E/containerd/state/.*/rootfs " /proc/self/mountinfo || true)
    [ "$left" = 0 ] || { echo "$left container mounts left"; return 1; }
    left=$(ps -eo pid,args | grep -E 'conmon|containerd-shim' | grep -v grep | grep -c "$E2E\|e2e-" || true)
    [ "$left" = 0 ] || { echo "engine processes left:"; ps -eo pid,args | grep -E 'conmon|shim' | grep -v grep; return 1; }
}

teardown() {
    assert_clean
}
