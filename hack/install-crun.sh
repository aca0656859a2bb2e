#!/bin/sh
# Makes the newest crun (Debian sid's, 1.28 when this was written)
# available for hack/bench next to bookworm's 1.8: it and its library
# closure are downloaded from the Debian archive the machine's own apt
# sources name (read here, never written in the repository), through an
# apt configuration of its own (the system's package lists stay
# bookworm's), and unpacked into a prefix of their own, cached by version.
# A copy of the binary is pointed at the prefix's loader and libraries with
# patchelf, so that it runs as itself (/proc/self/exe is crun, not a
# loader) without sid's libraries mixing with the system's.
#
# usage: hack/install-crun.sh   (PEERS, default /opt/vzrun-peers)
# Prints the path of the crun binary.
set -eu
peers=${PEERS:-/opt/vzrun-peers}
command -v patchelf >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf >/dev/null
}
. "$(dirname "$0")/debian-suite.sh"
suite_apt "$peers/apt-sid" sid
# shellcheck disable=SC2086
version=$(apt-cache $apt_opts show crun | awk '/^Version:/ {print $2; exit}')
dir=$peers/crun-$version
if [ -x "$dir/crun" ] && "$dir/crun" --version >/dev/null 2>&1; then
    echo "$dir/crun"
    exit 0
fi
rm -rf "$dir.tmp"
unpack_closure crun "$dir.tmp/root"
root=$dir/root
lib=$root/usr/lib/x86_64-linux-gnu
cp "$dir.tmp/root/usr/bin/crun" "$dir.tmp/crun"
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --set-rpath "$lib" "$dir.tmp/crun"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
"$dir/crun" --version >/dev/null
echo "$dir/crun"
