#!/usr/bin/env bats
# containerd's runc v2 shim driving the runtime: `ctr run --runc-binary`.

load helpers

cr() { c run --runc-binary "$RUNTIME" --cgroup "/vzrun-e2e/$1" "$@"; }

@test "containerd: run --rm" {
    n=$(name rm)
    run c run --rm --runc-binary "$RUNTIME" --cgroup "/vzrun-e2e/$n" localhost/busybox:latest "$n" sh -c 'echo hi from ctr'
    [ "$status" -eq 0 ]
    [[ "$output" == *"hi from ctr"* ]]
}

@test "containerd: run -d, task exec, ps, pause, resume, kill, delete" {
    n=$(name bg)
    c run -d --runc-binary "$RUNTIME" --cgroup "/vzrun-e2e/$n" localhost/busybox:latest "$n" sleep 1000
    run c task exec --exec-id x1 "$n" sh -c 'echo exec-in-ctr'
    [ "$status" -eq 0 ]
    [[ "$output" == *exec-in-ctr* ]]
    run c task ps "$n"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -ge 2 ]
    c task pause "$n"
    run c task ls
    [[ "$output" == *"$n"*PAUSED* ]]
    c task resume "$n"
    run c task ls
    [[ "$output" == *"$n"*RUNNING* ]]
    c task kill -s SIGKILL "$n"
    for _ in $(seq 300); do c task ls | grep "$n" | grep -q STOPPED && break; sleep 0.1; done
    c task delete "$n"
    c container delete "$n"
}

@test "containerd: run -t under script" {
    n=$(name tty)
    run on_pty "ctr --address $E2E/containerd/containerd.sock run -t --rm --runc-binary $RUNTIME --cgroup /vzrun-e2e/$n localhost/busybox:latest $n sh -c 'tty; exit 3'"
    [[ "$output" == */dev/pts/* ]]
}

@test "containerd: task metrics" {
    n=$(name metrics)
    c run -d --memory-limit 67108864 --runc-binary "$RUNTIME" --cgroup "/vzrun-e2e/$n" localhost/busybox:latest "$n" sleep 1000
    run c task metrics "$n"
    [ "$status" -eq 0 ]
    [[ "$output" == *memory* ]]
    c task kill -s SIGKILL "$n"
    for _ in $(seq 300); do c task ls | grep "$n" | grep -q STOPPED && break; sleep 0.1; done
    c task delete "$n"
    c container delete "$n"
}

@test "containerd: a missing executable shows the runtime's error" {
    n=$(name missing)
    run c run --rm --runc-binary "$RUNTIME" --cgroup "/vzrun-e2e/$n" localhost/busybox:latest "$n" /no/such/program
    [ "$status" -ne 0 ]
    [[ "$output" == *"/no/such/program"* ]]
    c container delete "$n" 2>/dev/null || true
}

@test "containerd: container checkpoint --task and restore --live" {
    n=$(name ckpt)
    c run -d --runc-binary "$RUNTIME" --cgroup "/vzrun-e2e/$n" localhost/busybox:latest "$n" \
        sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done'
    for _ in $(seq 100); do [ "$(c task exec --exec-id r0 "$n" cat /tmp/count 2>/dev/null || echo 0)" -gt 3 ] && break; sleep 0.1; done
    run c container checkpoint --task "$n" "$n-img"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    c task kill -s SIGKILL "$n" 2>/dev/null || true
    for _ in $(seq 100); do c task ls | grep "$n" | grep -q RUNNING || break; sleep 0.1; done
    c task delete "$n" 2>/dev/null || true
    c container delete "$n"
    run c container restore --live "$n" "$n-img"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run c task exec --exec-id r1 "$n" cat /tmp/count
    [ "$status" -eq 0 ]
    [ "$output" -gt 3 ]
    c task kill -s SIGKILL "$n"
    for _ in $(seq 300); do c task ls | grep "$n" | grep -q STOPPED && break; sleep 0.1; done
    c task delete "$n"
    c container delete "$n"
    c images rm "$n-img" >/dev/null 2>&1 || true
}
