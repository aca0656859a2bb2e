#!/bin/bash
# End-to-end: podman (with conmon) and containerd (with its runc v2 shim)
# driving an OCI runtime, installed from Debian, on a busybox image built
# here (no registry).
#   integration/e2e/run.sh /path/to/runtime [bats args...]
# Runtime-agnostic: it passes with runc as well, which proves the suite.
# Everything lives in a private temp dir (podman's config, storage and
# network config, containerd's root, state and socket) and is removed at
# the end; no container, cgroup, mount or process is left behind.
set -euo pipefail
rt=$(readlink -f "${1:?usage: integration/e2e/run.sh RUNTIME [bats args]}")
shift
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$rt" ] || { echo "e2e: $rt is not executable" >&2; exit 1; }

need=""
for cmd in podman:podman conmon:conmon containerd:containerd ctr:containerd bats:bats \
    netavark:netavark script:bsdutils busybox:busybox-static iptables:iptables \
    newuidmap:uidmap setpriv:util-linux useradd:passwd lxcfs:lxcfs free:procps \
    mkfs.btrfs:btrfs-progs; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || [ -x "/usr/lib/podman/${cmd%%:*}" ] ||
        need="$need ${cmd#*:}"
done
if [ -n "$need" ]; then
    echo "e2e: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

E2E=$(mktemp -d /tmp/vzrun-e2e.XXXXXX)
chmod 755 "$E2E"
export E2E RUNTIME=$rt
# The rootless podman user: made for this run (with subordinate ids, as
# useradd writes them) and removed with everything it ran.
E2E_USER=vzrun-e2e
export E2E_USER E2E_HOME=$E2E/home E2E_XDG=$E2E/xdg
made_user=""
containerd_pid=""
lxcfs_pid=""
as_user() {
    timeout -k 5 120 setpriv --reuid "$E2E_USER" --regid "$E2E_USER" --init-groups env -i HOME="$E2E_HOME" \
        USER="$E2E_USER" XDG_RUNTIME_DIR="$E2E_XDG" PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
cleanup() {
    set +e
    if [ -n "$made_user" ]; then
        as_user podman rm -af -t 0 >/dev/null 2>&1
        as_user podman system reset -f >/dev/null 2>&1
        # Whatever the user still runs (podman's pause process) is this
        # run's: stopped by pid.
        uid=$(id -u "$E2E_USER")
        for p in /proc/[0-9]*; do
            [ "$(stat -c %u "$p" 2>/dev/null)" = "$uid" ] && kill -9 "${p#/proc/}" 2>/dev/null
        done
        sleep 0.2
        userdel -r "$E2E_USER" >/dev/null 2>&1
    fi
    timeout -k 5 120 podman rm -af -t 0 >/dev/null 2>&1
    timeout -k 5 60 podman network prune -f >/dev/null 2>&1
    if [ -n "$containerd_pid" ]; then
        for id in $(ctr_ c list -q 2>/dev/null); do
            ctr_ t kill -s SIGKILL "$id" >/dev/null 2>&1
            ctr_ t delete -f "$id" >/dev/null 2>&1
            ctr_ c delete "$id" >/dev/null 2>&1
        done
        kill "$containerd_pid" 2>/dev/null
        wait "$containerd_pid" 2>/dev/null
        # setsid may have forked: the daemon is the process whose command
        # line names this run's private config (no other process can).
        for p in /proc/[0-9]*; do
            { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "$E2E/containerd/config.toml" &&
                kill -9 "${p#/proc/}" 2>/dev/null
        done
    fi
    grep -o " $E2E[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    if [ -n "$lxcfs_pid" ]; then
        kill "$lxcfs_pid" 2>/dev/null
        wait "$lxcfs_pid" 2>/dev/null
    fi
    for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent \
        /sys/fs/cgroup/*/vzrun-e2e /sys/fs/cgroup/vzrun-e2e; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$E2E"
    # The runtime's default root, made by the podman runs; only if empty.
    rmdir "/run/$(basename "$rt")" 2>/dev/null
}
trap cleanup EXIT
ctr_() { ctr --address "$E2E/containerd/containerd.sock" "$@"; }

# podman: a private configuration, storage and network config.
mkdir -p "$E2E/networks"
cat >"$E2E/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$E2E/events.log"
[network]
network_config_dir = "$E2E/networks"
CONF
cat >"$E2E/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$E2E/run"
graphroot = "$E2E/storage"
[storage.options.overlay]
mountopt = "nodev"
CONF
export CONTAINERS_CONF=$E2E/containers.conf CONTAINERS_STORAGE_CONF=$E2E/storage.conf

# The image: busybox-static and a passwd with root and nobody.
rootfs=$E2E/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
chroot "$rootfs" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/sh"]' - localhost/busybox >/dev/null
podman save --format oci-archive -o "$E2E/busybox.tar" localhost/busybox >/dev/null 2>&1
# The same with procps' free, which reads /proc/meminfo (busybox's asks
# the kernel through sysinfo(2)), and its libraries.
for f in /usr/bin/free $(ldd /usr/bin/free | awk '$2 == "=>" {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}'); do
    install -D "$f" "$rootfs$f"
done
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/sh"]' - localhost/busybox-free \
    >"$E2E/import.log" 2>&1 || { cat "$E2E/import.log" >&2; exit 1; }

# lxcfs for the virtual /proc (vzrun's org.openvz.proc): on a private
# mount point, stopped by its pid at the end.
mkdir -p "$E2E/lxcfs"
lxcfs -f -p "$E2E/lxcfs.pid" "$E2E/lxcfs" >"$E2E/lxcfs.log" 2>&1 &
lxcfs_pid=$!
export E2E_LXCFS=$E2E/lxcfs
for _ in $(seq 100); do [ -e "$E2E/lxcfs/proc/meminfo" ] && break; sleep 0.1; done

# Rootless podman: the user, its runtime dir and the image.
id "$E2E_USER" >/dev/null 2>&1 && { echo "e2e: user $E2E_USER exists already" >&2; exit 1; }
useradd -d "$E2E_HOME" -m "$E2E_USER"
made_user=1
E2E_UID=$(id -u "$E2E_USER")
export E2E_UID
install -d -m 700 -o "$E2E_USER" -g "$E2E_USER" "$E2E_XDG"
chmod 644 "$E2E/busybox.tar"
as_user podman load -i "$E2E/busybox.tar" >/dev/null 2>&1

# containerd: its own root, state and socket; only what ctr needs.
mkdir -p "$E2E/containerd"
cat >"$E2E/containerd/config.toml" <<CONF
version = 2
root = "$E2E/containerd/root"
state = "$E2E/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$E2E/containerd/containerd.sock"
[ttrpc]
  address = "$E2E/containerd/containerd.sock.ttrpc"
CONF
setsid containerd --config "$E2E/containerd/config.toml" >"$E2E/containerd/log" 2>&1 &
containerd_pid=$!
for _ in $(seq 300); do
    ctr_ version >/dev/null 2>&1 && break
    sleep 0.1
done
ctr_ version >/dev/null || { tail "$E2E/containerd/log" >&2; exit 1; }
ctr_ images import --base-name localhost/busybox "$E2E/busybox.tar" >/dev/null

echo "e2e: runtime $rt ($("$rt" --version | head -n1))"
# stdin is /dev/null: the helpers run podman and ctr under timeout(1), which
# puts them in a background process group, and a client that finds a
# terminal on stdin (as under a CI runner's pty) touches it and is stopped
# by SIGTTOU/SIGTTIN until the timeout; tests that need a terminal make
# their own with on_pty. A test that still hangs is stopped after 5
# minutes and named, and the suite goes on.
BATS_TEST_TIMEOUT=300 bats "$@" "$here/podman.bats" "$here/containerd.bats" "$here/rootless.bats" \
    </dev/null
