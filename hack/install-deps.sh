#!/bin/sh
# Installs the Debian packages the demo and the tests need. Only packages
# that are missing are installed, so a prepared machine does no apt work.
set -eu

need=""
# busybox-static: test and demo root filesystems; runc: the reference the
# integration comparison runs against.
command -v runc >/dev/null 2>&1 || need="$need runc"
# iproute2: the netDevices tests make veth pairs.
command -v ip >/dev/null 2>&1 || need="$need iproute2"
# uidmap: newuidmap/newgidmap, for rootless containers that map more than
# their user's own id (tests/rootless.rs).
command -v newuidmap >/dev/null 2>&1 || need="$need uidmap"
# lxcfs: the virtual /proc view (tests/proc_view.rs starts its own on a
# private path); procps: its `free` reads /proc/meminfo (busybox's asks
# the kernel through sysinfo(2)).
command -v lxcfs >/dev/null 2>&1 || need="$need lxcfs"
command -v free >/dev/null 2>&1 || need="$need procps"
# btrfs-progs: the disk quota tests make loop-mounted btrfs filesystems.
command -v mkfs.btrfs >/dev/null 2>&1 || need="$need btrfs-progs"
# gcc-multilib: the seccomp tests build a 32-bit probe for the i386 ABI.
[ -e /usr/lib32/libc.a ] || need="$need gcc-multilib"
# libelf-dev, zlib1g-dev, pkg-config: libbpf (cgroup v2 device filters)
# is built from source with vzrun.
for p in libelf-dev zlib1g-dev pkg-config; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
# iptables: CRIU locks a container's network during checkpoint and restore
# with iptables-restore and ip6tables-restore.
command -v ip6tables-restore >/dev/null 2>&1 || need="$need iptables"
# man-db: the package test reads the installed man pages with `man -l`.
command -v man >/dev/null 2>&1 || need="$need man-db"
[ -x /usr/bin/busybox ] && /usr/bin/busybox --list >/dev/null 2>&1 && ldd /usr/bin/busybox 2>&1 | grep -q 'not a dynamic' || need="$need busybox-static"

if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: run as root to install:$need" >&2
        exit 1
    fi
    echo "install-deps: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

# CRIU 4.x for checkpoint/restore (bookworm's 3.17 fails on this kernel).
"$(dirname "$0")/install-criu.sh"
