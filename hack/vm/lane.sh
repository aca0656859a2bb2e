#!/bin/sh
# The VM lane of CI: builds the integration tests as static binaries (the
# cgroup2 guest has no libc) and runs them in a cgroup v2 VM.
#   hack/vm/lane.sh
set -eu
cd "$(dirname "$0")/../.."
target=x86_64-unknown-linux-gnu
mkdir -p .vm.build
RUSTFLAGS="-C target-feature=+crt-static" cargo test --no-run --target "$target" \
    --message-format=json 2>/dev/null >.vm.build/cargo.json
python3 - .vm.build/cargo.json >.vm.build/tests.list <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])
PY
[ -s .vm.build/tests.list ] || { echo "hack/vm/lane.sh: no test binaries built" >&2; exit 1; }
# The seccomp and hardening tests put small C probes in their containers;
# the guest has no compiler, so they are built here, where the tests look
# for them (tests/common: install_probe).
mkdir -p target/$target/tmp/probes
for src in tests/probes/*.c; do
    name=$(basename "$src" .c)
    for abi in -m64 -m32; do
        out=target/$target/tmp/probes/$name$abi
        [ "$out" -nt "$src" ] || gcc "$abi" -static -O1 -o "$out" "$src"
    done
done
hack/vm/run --mode cgroup2 -- hack/vm/guest-tests.sh .vm.build/tests.list "cgroup v2 VM (cgroupfs)"
