#!/usr/bin/env bats
# podman (and conmon) driving the runtime: `podman --runtime RUNTIME`.

load helpers

@test "podman: run --rm with output and exit code" {
    run p run --rm --network none localhost/busybox sh -c 'echo hello from $(hostname); exit 3'
    [ "$status" -eq 3 ]
    [[ "$output" == *"hello from "* ]]
}

@test "podman: run -d, logs, exec, exec -t, top, stop (SIGTERM honoured), rm" {
    n=$(name bg)
    p run -d --name "$n" --network none localhost/busybox \
        sh -c 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.1; done'
    for _ in $(seq 300); do p logs "$n" | grep -q started && break; sleep 0.1; done
    run p logs "$n"
    [[ "$output" == *started* ]]
    run p exec "$n" sh -c 'echo exec-ok; echo pid1=$(cat /proc/1/comm)'
    [ "$status" -eq 0 ]
    [[ "$output" == *exec-ok* ]]
    [[ "$output" == *pid1=sh* ]]
    run on_pty "podman --runtime $RUNTIME exec -t $n sh -c 'tty; exit 4'"
    [ "$status" -eq 4 ]
    [[ "$output" == */dev/pts/* ]]
    run p top "$n"
    [ "$status" -eq 0 ]
    [[ "$output" == *"while :"* ]]
    run p stop -t 20 "$n"
    [ "$status" -eq 0 ]
    run p logs "$n"
    [[ "$output" == *got-term* ]]
    run p inspect --format '{{.State.ExitCode}}' "$n"
    [ "$output" = 0 ]
    p rm "$n"
}

@test "podman: stop kills with SIGKILL after the timeout when SIGTERM is ignored" {
    n=$(name stubborn)
    p run -d --name "$n" --network none localhost/busybox sh -c 'trap "" TERM; while :; do sleep 0.1; done'
    run p stop -t 1 "$n"
    [ "$status" -eq 0 ]
    run p inspect --format '{{.State.ExitCode}}' "$n"
    [ "$output" = 137 ]
    p rm "$n"
}

@test "podman: run -it, an interactive shell through a pty" {
    run on_pty "podman --runtime $RUNTIME run -it --rm --network none localhost/busybox sh" \
        <<<$'echo in-tty $(tty)\nexit 7'
    [ "$status" -eq 7 ]
    [[ "$output" == *"in-tty /dev/pts/0"* ]]
}

@test "podman: --init runs catatonit as PID 1" {
    run p run --rm --init --network none localhost/busybox sh -c 'cat /proc/1/comm; readlink /proc/1/exe'
    [ "$status" -eq 0 ]
    # podman binds catatonit at /run/podman-init.
    [[ "${lines[0]}" == podman-init || "${lines[0]}" == catatonit ]]
}

@test "podman: --user" {
    run p run --rm --user 65534:65534 --network none localhost/busybox sh -c 'echo $(id -u):$(id -g)'
    [ "$output" = "65534:65534" ]
}

@test "podman: --read-only" {
    run p run --rm --read-only --network none localhost/busybox sh -c 'touch /x 2>/dev/null && echo wrote-root; touch /tmp/y && echo wrote-tmp'
    [ "$status" -eq 0 ]
    [ "$output" = wrote-tmp ]
}

@test "podman: --cap-drop all --cap-add NET_ADMIN" {
    run p run --rm --cap-drop all --cap-add NET_ADMIN --network none localhost/busybox grep CapEff /proc/self/status
    [[ "$output" == *0000000000001000 ]]
}

@test "podman: default seccomp profile and seccomp=unconfined" {
    run p run --rm --network none localhost/busybox grep Seccomp: /proc/self/status
    [[ "$output" == *2 ]]
    # The default profile refuses what it refuses: unshare of a user
    # namespace without privileges is fine, mounting a filesystem is not.
    run p run --rm --network none localhost/busybox sh -c 'mount -t tmpfs none /mnt 2>&1; echo rc=$?'
    [[ "$output" == *rc=1* || "$output" == *rc=255* ]]
    run p run --rm --security-opt seccomp=unconfined --network none localhost/busybox grep Seccomp: /proc/self/status
    [[ "$output" == *0 ]]
}

@test "podman: --memory, --cpus, --pids-limit seen inside; live update through the runtime" {
    n=$(name limits)
    p run -d --name "$n" --memory 64m --cpus 0.5 --pids-limit 42 --network none localhost/busybox sleep 1000
    if cgroup_v2; then
        run p exec "$n" cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max
        [ "${lines[0]}" = 67108864 ]
        [ "${lines[1]}" = "50000 100000" ]
        [ "${lines[2]}" = 42 ]
    else
        run p exec "$n" cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max
        [ "${lines[0]}" = 67108864 ]
        [ "${lines[1]}" = 50000 ]
        [ "${lines[2]}" = 42 ]
    fi
    id=$(p inspect --format '{{.Id}}' "$n")
    "$RUNTIME" update --memory 100663296 --pids-limit 21 "$id"
    if cgroup_v2; then
        run p exec "$n" cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max
    else
        run p exec "$n" cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
    fi
    [ "${lines[0]}" = 100663296 ]
    [ "${lines[1]}" = 21 ]
    p rm -f -t 0 "$n"
}

@test "podman: a virtual /proc (org.openvz.proc=virtual) tells the container's limits" {
    [ "$(basename "$RUNTIME")" = vzrun ] || skip "vzrun's own: no other runtime virtualises /proc"
    run p --runtime-flag "lxcfs-path=$E2E_LXCFS" run --rm --network none \
        --annotation org.openvz.proc=virtual --memory 256m --cpuset-cpus 0 localhost/busybox-free \
        sh -c '/usr/bin/free -m | awk "/^Mem:/ {print \$2}"; nproc; grep -c ^processor /proc/cpuinfo'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 256 ]
    [ "${lines[1]}" = 1 ]
    [ "${lines[2]}" = 1 ]
    # Without the annotation, the host's. (busybox's sh runs its own free
    # applet for `free`, which asks the kernel.)
    run p run --rm --network none --memory 256m localhost/busybox-free /usr/bin/free -m
    [[ "${lines[1]}" != *" 256 "* ]]
}

@test "podman: a disk quota (org.openvz.ubc.diskspace) on the btrfs storage driver" {
    [ "$(basename "$RUNTIME")" = vzrun ] || skip "vzrun's own: no other runtime sets disk quotas"
    # podman's btrfs driver on a loop-mounted btrfs of this run's, with
    # storage of its own: each container's layer is a subvolume.
    truncate -s 1G "$E2E/btrfs.img"
    mkfs.btrfs -q "$E2E/btrfs.img"
    mkdir -p "$E2E/btrfs"
    mount -o loop "$E2E/btrfs.img" "$E2E/btrfs"
    pb() { p --root "$E2E/btrfs/storage" --runroot "$E2E/btrfs-run" --storage-driver btrfs "$@"; }
    pb load -i "$E2E/busybox.tar" >/dev/null
    run pb run --rm --network none --annotation org.openvz.ubc.diskspace=100m:120m \
        localhost/busybox sh -c 'dd if=/dev/zero of=/big bs=1M count=200; ls -l /big'
    echo "$output"
    [[ "$output" == *"Disk quota exceeded"* ]]
    size=$(echo "$output" | awk '/big$/ {print $5}')
    [ "$size" -le $((120 << 20)) ]
    pb system reset -f >/dev/null 2>&1
    umount "$E2E/btrfs"
}

@test "podman: pause and unpause" {
    n=$(name pause)
    p run -d --name "$n" --network none localhost/busybox sleep 1000
    p pause "$n"
    run p inspect --format '{{.State.Status}}' "$n"
    [ "$output" = paused ]
    p unpause "$n"
    run p inspect --format '{{.State.Status}}' "$n"
    [ "$output" = running ]
    p rm -f -t 0 "$n"
}

@test "podman: stats --no-stream" {
    n=$(name stats)
    p run -d --name "$n" --memory 64m --network none localhost/busybox sleep 1000
    run p stats --no-stream --format '{{.Name}} {{.MemUsage}}' "$n"
    [ "$status" -eq 0 ]
    [[ "$output" == "$n "*"/ 67.11MB"* ]]
    p rm -f -t 0 "$n"
}

@test "podman: --network none, host, and the default bridge" {
    run p run --rm --network none localhost/busybox sh -c 'ls /sys/class/net | tr "\n" " "'
    [ "$output" = "lo " ]
    host_ifaces=$(ls /sys/class/net | wc -l)
    run p run --rm --network host localhost/busybox sh -c 'ls /sys/class/net | wc -l'
    [ "$output" = "$host_ifaces" ]
    # The bridge gives the container an address; traffic stays on its lo.
    run p run --rm localhost/busybox sh -c 'ip -4 -o addr show eth0; ping -c1 -W2 127.0.0.1 >/dev/null && echo lo-ok'
    [ "$status" -eq 0 ]
    [[ "$output" == *"inet "* ]]
    [[ "$output" == *lo-ok* ]]
}

@test "podman: kill -s and wait" {
    n=$(name kill)
    p run -d --name "$n" --network none localhost/busybox \
        sh -c 'trap "echo got-usr1; exit 5" USR1; echo ready; while :; do sleep 0.1; done'
    for _ in $(seq 300); do p logs "$n" | grep -q ready && break; sleep 0.1; done
    p kill -s USR1 "$n"
    run p wait "$n"
    [ "$output" = 5 ]
    run p logs "$n"
    [[ "$output" == *got-usr1* ]]
    p rm "$n"
}

@test "podman: --rm after a crash leaves nothing behind" {
    # The crash happens in a child: PID 1 ignores signals it has no
    # handler for, even its own.
    run p run --rm --network none localhost/busybox sh -c 'sh -c "kill -SEGV \$\$"; exit $?'
    [ "$status" -eq 139 ]
    # teardown's assert_clean checks the runtime, cgroups, mounts, processes.
}

@test "podman: container checkpoint and restore, also --export and --import" {
    n=$(name ckpt)
    p run -d --name "$n" --network none localhost/busybox \
        sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done'
    for _ in $(seq 100); do [ "$(p exec "$n" cat /tmp/count 2>/dev/null || echo 0)" -gt 3 ] && break; sleep 0.1; done
    run p container checkpoint "$n"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run p inspect --format '{{.State.Status}}' "$n"
    [ "$output" = exited ]
    run p container restore "$n"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    a=$(p exec "$n" cat /tmp/count)
    [ "$a" -gt 3 ]
    run p container checkpoint --export "$E2E/$n.tar.gz" "$n"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    p rm -f "$n"
    run p container restore --import "$E2E/$n.tar.gz" --name "$n-2"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    b=$(p exec "$n-2" cat /tmp/count)
    [ "$b" -ge "$a" ]
    p rm -f "$n-2"
}
