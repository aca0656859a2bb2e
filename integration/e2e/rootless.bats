#!/usr/bin/env bats
# Rootless podman: an unprivileged user (made by run.sh for this run, with
# subordinate ids) drives the runtime through `podman --runtime RUNTIME`,
# inside the user namespace podman makes with newuidmap/newgidmap. On this
# host's cgroup v1 a rootless container has no cgroup (pause is podman's
# own refusal), and slirp4netns cannot open /dev/net/tun, so the networks
# are none and host.

load helpers

# podman as the test user, with a login's environment only.
u() {
    timeout -k 10 120 setpriv --reuid "$E2E_USER" --regid "$E2E_USER" --init-groups \
        env -i HOME="$E2E_HOME" USER="$E2E_USER" XDG_RUNTIME_DIR="$E2E_XDG" \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin podman --runtime "$RUNTIME" "$@"
}

@test "rootless podman: run --rm, root inside is the user outside, root's files stay closed" {
    run u run --rm --network none -v /etc/shadow:/shadow:ro localhost/busybox \
        sh -c 'id -u; head -1 /proc/self/uid_map; cat /shadow 2>&1; exit 3'
    [ "$status" -eq 3 ]
    [ "${lines[0]}" = 0 ]
    [ "$(echo "${lines[1]}" | awk '{print $1, $2, $3}')" = "0 $E2E_UID 1" ]
    [[ "${lines[2]}" == *"Permission denied"* ]]
}

@test "rootless podman: run -d, logs, exec, exec -t, stop, rm" {
    n=$(name rl)
    u run -d --name "$n" --network none localhost/busybox \
        sh -c 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.1; done'
    for _ in $(seq 300); do u logs "$n" | grep -q started && break; sleep 0.1; done
    run u exec "$n" sh -c 'echo exec-ok $(id -u)'
    [ "$status" -eq 0 ]
    [ "$output" = "exec-ok 0" ]
    run on_pty "setpriv --reuid $E2E_USER --regid $E2E_USER --init-groups env -i HOME=$E2E_HOME \
        USER=$E2E_USER XDG_RUNTIME_DIR=$E2E_XDG PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        podman --runtime $RUNTIME exec -t $n sh -c 'tty; exit 4'"
    [ "$status" -eq 4 ]
    [[ "$output" == */dev/pts/* ]]
    run u stop -t 20 "$n"
    [ "$status" -eq 0 ]
    run u logs "$n"
    [[ "$output" == *got-term* ]]
    u rm "$n"
}

@test "rootless podman: --userns=keep-id and --network host" {
    run u run --rm --userns=keep-id --network none localhost/busybox id -u
    [ "$status" -eq 0 ]
    [ "$output" = "$E2E_UID" ]
    run u run --rm --network host localhost/busybox cat /sys/class/net/lo/operstate
    [ "$status" -eq 0 ]
}

@test "rootless podman: kill -s and wait" {
    n=$(name rlkill)
    u run -d --name "$n" --network none localhost/busybox sh -c 'trap "exit 9" USR1; while :; do sleep 0.1; done'
    u kill -s USR1 "$n"
    run u wait "$n"
    [ "$output" = 9 ]
    u rm "$n"
}
