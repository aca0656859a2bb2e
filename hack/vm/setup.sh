#!/bin/sh
# Installs what the VM lane needs, once per machine: QEMU from Debian's
# bookworm-backports suite (bookworm's QEMU conflicts with the machine's
# backports qemu-utils) and Debian's stock kernel with its modules,
# unpacked into $VZRUN_VM_CACHE (default /var/cache/vzrun-vm).
#
# apt gets a configuration of its own: the machine's own Debian archive
# (read from its apt sources, never written here) plus the backports suite,
# with its own package lists, so the system's lists stay as they are.
set -eu
cache=${VZRUN_VM_CACHE:-/var/cache/vzrun-vm}
priv=$cache/apt
mkdir -p "$priv/lists/partial" "$priv/sources" "$priv/archives/partial"

uri=$("$(dirname "$0")/archive.sh")
for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] && cp "$f" "$priv/sources/"
done
cat > "$priv/sources/vzrun-backports.sources" <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_priv() {
    apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$priv/sources" \
        -o Dir::State::Lists="$priv/lists" -o Dir::Cache::Archives="$priv/archives" "$@"
}

if ! command -v qemu-system-x86_64 >/dev/null; then
    apt_priv update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt_priv install -y -t bookworm-backports \
        qemu-system-x86 >/dev/null
fi
if ! command -v busybox >/dev/null || ! busybox --list | grep -qx unshare; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
fi

if [ ! -e "$cache/kernel/vmlinuz" ]; then
    [ -e "$priv/lists/lock" ] || apt_priv update >/dev/null
    # The stock bookworm kernel (the cloud flavour has no 9p).
    pkg=$(apt_priv -s install linux-image-amd64 2>/dev/null |
          awk '/^Inst linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || { echo "hack/vm/setup.sh: no linux-image package found" >&2; exit 1; }
    rm -rf "$cache/kernel.tmp" && mkdir -p "$cache/kernel.tmp"
    (cd "$cache/kernel.tmp" && apt_priv download "$pkg" >/dev/null && dpkg-deb -x ./*.deb root)
    ver=${pkg#linux-image-}
    cp "$cache/kernel.tmp/root/boot/vmlinuz-$ver" "$cache/kernel.tmp/vmlinuz"
    mkdir -p "$cache/kernel.tmp/modules"
    mv "$cache/kernel.tmp/root/lib/modules/$ver" "$cache/kernel.tmp/modules/"
    rm -rf "$cache/kernel.tmp/root" "$cache/kernel.tmp"/*.deb "$cache/kernel"
    mv "$cache/kernel.tmp" "$cache/kernel"
fi
echo "hack/vm: QEMU $(qemu-system-x86_64 --version | awk 'NR==1 {print $4}'), kernel $(ls "$cache/kernel/modules")"
