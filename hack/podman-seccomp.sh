#!/bin/sh
# Writes the OCI form of podman's default seccomp profile (what podman puts
# in a container's config.json as .linux.seccomp) to the file named by $1.
# Podman runs with a private config, storage and run root under a temp dir,
# so the host's podman setup is neither needed nor changed.
set -eu
out=${1:?usage: hack/podman-seccomp.sh OUT.json}
command -v podman >/dev/null || { echo "podman is not installed (apt-get install podman)" >&2; exit 1; }
command -v busybox >/dev/null || { echo "busybox-static is not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/vzrun-podman.XXXXXX)
cleanup() {
    podman $P rm -af >/dev/null 2>&1 || true
    umount -R "$tmp/storage" 2>/dev/null || true
    umount -R "$tmp/run" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
cat > "$tmp/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
cat > "$tmp/storage.conf" <<CONF
[storage]
driver = "vfs"
runroot = "$tmp/run"
graphroot = "$tmp/storage"
CONF
export CONTAINERS_CONF="$tmp/containers.conf" CONTAINERS_STORAGE_CONF="$tmp/storage.conf"
P="--cgroup-manager cgroupfs"
mkdir -p "$tmp/rootfs/bin"
cp "$(command -v busybox)" "$tmp/rootfs/bin/busybox"
ln -s busybox "$tmp/rootfs/bin/sh"
tar -C "$tmp/rootfs" -c . | podman $P import - localhost/seccomp-probe >/dev/null
id=$(podman $P create --network none --cgroup-parent /vzrun-podman-probe localhost/seccomp-probe /bin/sh)
podman $P init "$id" >/dev/null
cfg=$(podman $P inspect --format '{{.StaticDir}}' "$id")/config.json
python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["linux"]["seccomp"], open(sys.argv[2], "w"), indent=1)' "$cfg" "$out"
podman $P rm -f "$id" >/dev/null
for d in /sys/fs/cgroup/*/vzrun-podman-probe; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true
echo "wrote $out (podman $(podman --version | awk '{print $3}'))"
