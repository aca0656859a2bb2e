#!/bin/sh
# Builds the disk image of the systemd VM (mode systemd) once, into
# $VZRUN_VM_CACHE/systemd.img: a minimal Debian bookworm (debootstrap from
# the machine's own archive) with systemd as PID 1, busybox-static for the
# tests' root filesystems, the VM kernel's modules, and a unit that runs
# the host's command with a delegated cgroup, then powers off; iptables
# for CRIU's network lock, uidmap and passwd for the rootless tests, and
# dbus-user-session for their user's own systemd instance. Each run
# boots it with snapshot=on, so every run starts from the same image.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${VZRUN_VM_CACHE:-/var/cache/vzrun-vm}
img=$cache/systemd.img
[ -e "$img" ] && [ "$img" -nt "$here/systemd-image.sh" ] && exit 0
command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
"$here/setup.sh" >/dev/null
root=$cache/systemd-root.tmp
rm -rf "$root"
debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,kmod,udev,iproute2,procps,busybox-static,util-linux,iptables,uidmap,passwd,dbus-user-session,libpam-systemd \
    bookworm "$root" "$("$here/archive.sh")" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
mkdir -p "$root/lib/modules"
cp -a "$cache"/kernel/modules/* "$root/lib/modules/"
chroot "$root" depmod "$(ls "$cache/kernel/modules")"
echo vzrun-vm > "$root/etc/hostname"
cat > "$root/etc/systemd/system/vzrun-vm.service" <<'UNIT'
[Unit]
Description=Run the host's command (hack/vm/run)
After=local-fs.target dbus.service systemd-udev-settle.service
Wants=dbus.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vzrun-vm-run
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
Delegate=yes

[Install]
WantedBy=multi-user.target
UNIT
cat > "$root/usr/local/sbin/vzrun-vm-run" <<'RUN'
#!/bin/sh
share=$(sed -n 's/.*vzrun.share=\([^ ]*\).*/\1/p' /proc/cmdline)
for m in 9pnet_virtio 9p overlay veth loop fuse; do modprobe "$m"; done
mkdir -p "$share"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host0 "$share" ||
    { echo "VZRUN-VM-EXIT=125"; poweroff -f; }
ln -sf /bin/busybox /usr/bin/busybox 2>/dev/null
# As a service with Delegate=yes that runs containers does: itself in a
# leaf of its cgroup, every controller handed down to the rest of it.
svc=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
mkdir -p "$svc/supervisor"
echo $$ > "$svc/supervisor/cgroup.procs"
for c in $(cat "$svc/cgroup.controllers"); do echo "+$c" > "$svc/cgroup.subtree_control"; done
export VZRUN_TEST_DELEGATED="${svc#/sys/fs/cgroup}"
echo "vm: systemd $(systemctl --version | head -n1 | cut -d' ' -f2), cgroup $(stat -fc %T /sys/fs/cgroup)"
cd "$share"
sh "$share/.vm/cmd"
status=$?
echo "$status" > "$share/.vm/status"
sync
echo "VZRUN-VM-EXIT=$status"
systemctl poweroff --force --force
RUN
chmod 755 "$root/usr/local/sbin/vzrun-vm-run"
ln -sf /etc/systemd/system/vzrun-vm.service "$root/etc/systemd/system/multi-user.target.wants/vzrun-vm.service"
# Nothing else on the console, and no waiting for consoles nobody uses.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
mkfs.ext4 -q -F -L vzroot -d "$root" "$img.tmp" 4G
mv "$img.tmp" "$img"
rm -rf "$root"
echo "hack/vm: systemd image $(du -h --apparent-size "$img" | cut -f1)"
