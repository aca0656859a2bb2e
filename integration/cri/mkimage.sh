#!/usr/bin/env bash
# Writes an OCI image archive (what `ctr images import` reads) of one
# layer, a root filesystem directory, with the given entrypoint and name.
#   integration/cri/mkimage.sh ROOTFS NAME OUT.tar ENTRYPOINT...
set -euo pipefail
rootfs=$1 name=$2 out=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
blob() { # FILE -> its digest, stored as a blob
    local d
    d=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$work/blobs/sha256/$d"
    echo "$d"
}
size() { stat -c %s "$work/blobs/sha256/$1"; }
tar -C "$rootfs" --numeric-owner -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n "$work/layer.tar"
layer=$(blob "$work/layer.tar.gz")
entry=$(printf '"%s",' "$@")
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"Entrypoint":[${entry%,}],"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]}}
JSON
config=$(blob "$work/config.json")
cat >"$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$(size "$config")},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":$(size "$layer")}]}
JSON
manifest=$(blob "$work/manifest.json")
cat >"$work/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "digest":"sha256:$manifest","size":$(size "$manifest"),
 "annotations":{"org.opencontainers.image.ref.name":"$name","io.containerd.image.name":"$name"}}]}
JSON
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
tar -C "$work" -cf "$out" oci-layout index.json blobs
