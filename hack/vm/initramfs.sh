#!/bin/sh
# Builds the busybox initramfs of the cgroup v2 VM (mode cgroup2) into
# $VZRUN_VM_CACHE/initramfs.cpio.gz: busybox, the kernel modules the guest
# needs (9p to share the host's tree, virtio, overlay, veth) in load order,
# and hack/vm/init as /init.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${VZRUN_VM_CACHE:-/var/cache/vzrun-vm}
kdir=$(ls -d "$cache"/kernel/modules/*)
stage=$(mktemp -d /tmp/vzrun-initramfs.XXXXXX)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/bin" "$stage/usr/bin" "$stage/modules" "$stage/etc"
cp "$(command -v busybox)" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\n' > "$stage/etc/group"

# Modules and everything they depend on, dependencies first.
order=""
add() {
    local f d
    case " $order " in *" $1 "*) return ;; esac
    f=$(find "$kdir" -name "$1.ko" | head -n1)
    [ -n "$f" ] || { grep -q "/$1.ko" "$kdir/modules.builtin" && return; echo "no module $1" >&2; exit 1; }
    for d in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add "$d"
    done
    cp "$f" "$stage/modules/"
    order="$order $1"
}
# ext4 checksums need a crc32c driver, which it does not list as a
# dependency.
for m in virtio_pci 9pnet_virtio 9p overlay veth loop fuse virtio_blk crc32c_generic ext4; do
    add "$m"
done
echo "$order" > "$stage/modules/order"

(cd "$stage" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 > "$cache/initramfs.cpio.gz.tmp"
mv "$cache/initramfs.cpio.gz.tmp" "$cache/initramfs.cpio.gz"
echo "hack/vm: initramfs with modules:$order"
