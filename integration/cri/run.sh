#!/usr/bin/env bash
# The CRI lane: Kubernetes' path to a runtime, kubelet's calls made by our
# own CRI client (integration/cri/driver) against containerd's CRI plugin
# (Debian's containerd 1.6), which runs the runtime through its runc v2
# shim (BinaryName). A pod lifecycle with checks at each step (the driver
# prints them), then: every runtime call that failed, and nothing left
# (processes, cgroups, mounts, network namespaces, runtime state).
#   integration/cri/run.sh RUNTIME
# Runtime-agnostic: it passes with Debian's runc, which proves the lane.
# Everything is private to this run (containerd's config, root, state and
# socket, the CNI config and bridge, the images, built here from busybox
# and Debian's static catatonit) and is removed at the end.
set -euo pipefail
rt=$(readlink -f "${1:?usage: integration/cri/run.sh RUNTIME}")
[ -x "$rt" ] || { echo "cri: $rt is not executable" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

need=""
for cmd in containerd:containerd ctr:containerd /usr/lib/cni/bridge:containernetworking-plugins \
    catatonit:catatonit busybox:busybox-static protoc:protobuf-compiler ip:iproute2; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || need="$need ${cmd#*:}"
done
if [ -n "$need" ]; then
    echo "cri: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

# The client, built once (crates.io), outside the runtime's own build.
CARGO_TARGET_DIR=$repo/target/cri-driver cargo build --quiet --release \
    --manifest-path "$here/driver/Cargo.toml"
driver=$repo/target/cri-driver/release/vzrun-cri-driver

CRI=$(mktemp -d /tmp/vzrun-cri.XXXXXX)
chmod 755 "$CRI"
name=$(basename "$rt")
parent=/vzrun-cri-$$
bridge=vzcri$$
sock=$CRI/containerd.sock
containerd_pid=""
netns_before=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
ctr_() { timeout -k 5 60 ctr --address "$sock" -n k8s.io "$@"; }
cleanup() {
    set +e
    if [ -n "$containerd_pid" ]; then
        timeout -k 5 120 "$driver" "$sock" --clean
        for t in $(ctr_ t ls -q 2>/dev/null); do ctr_ t kill -s SIGKILL "$t"; done
        sleep 0.5
        for t in $(ctr_ t ls -q 2>/dev/null); do ctr_ t delete -f "$t" >/dev/null; done
        kill "$containerd_pid" 2>/dev/null
        wait "$containerd_pid" 2>/dev/null
        # Shims outlive containerd; this run's name the private socket.
        for p in /proc/[0-9]*; do
            { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "$sock" && kill -9 "${p#/proc/}" 2>/dev/null
        done
    fi
    grep -o " $CRI[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-'); do
        grep -qx "$ns" <<<"$netns_before" || ip netns delete "$ns"
    done
    ip link delete "$bridge" 2>/dev/null
    for d in /sys/fs/cgroup/*"$parent" /sys/fs/cgroup/unified"$parent"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$CRI"
}
trap cleanup EXIT

# Every call the shim makes and how it ended. The runtime's stdio stays
# the container's (create hands it to the init), so only the exit status
# is taken here; the runtime's own words are in its --log file.
cat >"$CRI/runtime" <<W
#!/bin/sh
"$rt" "\$@"
rc=\$?
echo "rc=\$rc \$*" >>"$CRI/calls.log"
exit \$rc
W
chmod 755 "$CRI/runtime"

# Images: busybox with a passwd, and a pause image of catatonit.
mkdir -p "$CRI/busybox/bin" "$CRI/busybox/etc" "$CRI/busybox/tmp" "$CRI/pause"
cp "$(command -v busybox)" "$CRI/busybox/bin/busybox"
chroot "$CRI/busybox" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$CRI/busybox/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$CRI/busybox/etc/group"
cp "$(command -v catatonit)" "$CRI/pause/pause"
"$here/mkimage.sh" "$CRI/busybox" localhost/vzrun-busybox:1 "$CRI/busybox.tar" /bin/sh
"$here/mkimage.sh" "$CRI/pause" localhost/vzrun-pause:1 "$CRI/pause.tar" /pause -P

# containerd with the CRI plugin: every path private; no CAP_SYS_RESOURCE
# here, so the sandbox's oom_score_adj -998 is clamped.
mkdir -p "$CRI/cni" "$CRI/logs"
cat >"$CRI/config.toml" <<CONF
version = 2
root = "$CRI/root"
state = "$CRI/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CRI/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/vzrun-pause:1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "test"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.test]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.test.options]
        BinaryName = "$CRI/runtime"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CRI/cni"
CONF
cat >"$CRI/cni/10-vzrun-cri.conflist" <<CONF
{"cniVersion": "1.0.0", "name": "vzrun-cri", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.0.0/24"}]],
            "dataDir": "$CRI/ipam"}},
  {"type": "loopback"}]}
CONF
setsid containerd --config "$CRI/config.toml" >"$CRI/containerd.log" 2>&1 </dev/null &
containerd_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { tail -20 "$CRI/containerd.log"; echo "cri: containerd did not start" >&2; exit 1; }
ctr_ images import "$CRI/busybox.tar" >/dev/null
ctr_ images import "$CRI/pause.tar" >/dev/null

start=$(date +%s%N)
rc=0
timeout -k 10 600 "$driver" "$sock" localhost/vzrun-busybox:1 "$parent" "$CRI/logs" || rc=1
ms=$((($(date +%s%N) - start) / 1000000))
if [ $rc != 0 ]; then
    echo "cri: containerd's log:" >&2
    grep -E 'level=(error|warning)' "$CRI/containerd.log" | tail -20 >&2
fi

# What the shim asked of the runtime; a call that failed is a bug, except
# a kill of a container that had already exited (the shim's own race).
calls=$(wc -l <"$CRI/calls.log")
failed=$(grep -v '^rc=0 ' "$CRI/calls.log" | grep -v '^rc=1 .* kill ' || true)
late_kills=$(grep -c '^rc=1 .* kill ' "$CRI/calls.log" || true)
if [ -n "$failed" ]; then
    echo "cri: runtime calls that failed:" >&2
    echo "$failed" >&2
    rc=1
fi

# Nothing left once the pods are gone.
left=""
for d in /sys/fs/cgroup/*"$parent"; do
    [ -d "$d" ] && left="$left$(find "$d" -mindepth 2 -type d)"
done
[ -z "$left" ] || { echo "cri: container cgroups left: $left" >&2; rc=1; }
state=$("$rt" --root /run/containerd/runc/k8s.io list -q 2>/dev/null || true)
[ -z "$state" ] || { echo "cri: runtime state left: $state" >&2; rc=1; }
mounts=$(grep -c " $CRI/state/io.containerd.runtime.v2.task/k8s.io/[^ ]*/rootfs " /proc/self/mountinfo || true)
[ "$mounts" = 0 ] || { echo "cri: $mounts container rootfs mounts left" >&2; rc=1; }
echo "cri: $name through containerd's CRI plugin: $([ $rc = 0 ] && echo passed || echo FAILED)" \
    "in $((ms / 1000)).$((ms % 1000 / 100)) s, $calls runtime calls" \
    "($late_kills kills of a container that had exited)"
exit $rc
