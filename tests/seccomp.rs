//! `linux.seccomp`: what a process in the container can and cannot do.
mod common;
use common::*;
use serde_json::json;

fn with_profile(b: &mut Bundle, profile: serde_json::Value) {
    b.config_mut()["linux"]["seccomp"] = profile;
}

fn deny_mkdir() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]
    })
}

#[test]
fn denied_syscall_gets_its_errno() {
    let env = TestEnv::new("seccomp_errno");
    for nnp in [true, false] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        with_profile(&mut b, deny_mkdir());
        b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
        b.set_sh("mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && echo touched");
        let (code, out, err) = env.run_fg(&id, &b);
        assert_eq!(code, 0, "noNewPrivileges={nnp}: {out}\n{err}");
        assert!(
            out.contains("Operation not permitted"),
            "noNewPrivileges={nnp}: {out}"
        );
        assert!(
            out.contains("rc=1") && out.contains("touched"),
            "noNewPrivileges={nnp}: {out}"
        );
    }
}

#[test]
fn argument_rules() {
    // kill(pid, SIGUSR1) is refused; kill(pid, 0) is not.
    let env = TestEnv::new("seccomp_args");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    with_profile(
        &mut b,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}]
        }),
    );
    b.set_sh("trap '' USR1; kill -0 $$ && echo zero-ok; kill -USR1 $$ 2>&1 || echo usr1-refused");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("zero-ok"), "{out}");
    assert!(out.contains("usr1-refused"), "{out}");
}

#[test]
fn default_errno_with_an_allow_list() {
    let env = TestEnv::new("seccomp_allowlist");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    // Enough for a busybox shell, nothing more: mkdir(2) is left out and
    // gets the default ENOSYS.
    let allowed = [
        "read",
        "write",
        "writev",
        "open",
        "openat",
        "close",
        "fstat",
        "newfstatat",
        "stat",
        "lstat",
        "mmap",
        "munmap",
        "mprotect",
        "brk",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "ioctl",
        "access",
        "execve",
        "exit",
        "exit_group",
        "getpid",
        "getppid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "arch_prctl",
        "set_tid_address",
        "fcntl",
        "dup2",
        "dup3",
        "wait4",
        "clone",
        "fork",
        "vfork",
        "getcwd",
        "chdir",
        "prlimit64",
        "getrlimit",
        "set_robust_list",
        "rseq",
        "futex",
        "madvise",
        "sysinfo",
        "statx",
        "faccessat",
        "faccessat2",
        "readlink",
    ];
    with_profile(
        &mut b,
        json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [{"names": allowed.to_vec(), "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    b.set_sh("echo allowed-ok; mkdir /tmp/q 2>&1; echo rc=$?");
    // runc 1.1 runs its own setup syscalls (fstatfs, ...) under the filter,
    // so a profile this small stops runc itself.
    if !is_vzrun() {
        return;
    }
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("allowed-ok"), "{out}");
    assert!(
        out.contains("Function not implemented") && out.contains("rc=1"),
        "{out}"
    );
}

#[test]
fn exec_gets_the_containers_profile() {
    let env = TestEnv::new("seccomp_exec");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    with_profile(&mut b, deny_mkdir());
    b.set_args(&["sleep", "1000"]);
    env.run_out(&id, &b, &["--detach"]).assert_ok();
    let o = env.rt(&["exec", &id, "sh", "-c", "mkdir /tmp/z 2>&1; echo rc=$?"]);
    assert_eq!(o.code, 0, "{o}");
    assert!(
        o.stdout.contains("Operation not permitted") && o.stdout.contains("rc=1"),
        "{o}"
    );
}

#[test]
fn bad_profiles_are_refused() {
    let env = TestEnv::new("seccomp_bad");
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOPE"}),
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOON"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
            "linux.seccomp.architectures",
        ),
    ];
    for (profile, field) in cases {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        with_profile(&mut b, profile);
        let o = env.create_out(&id, &b, &[]);
        assert_eq!(o.code, 1, "{o}");
        if is_vzrun() {
            assert!(o.stderr.contains(field), "want {field:?}: {o}");
            assert!(o.stderr.contains(&id), "{o}");
        }
        env.assert_no_leftovers(&id);
    }
}

/// The syscall probe in the rootfs twice: `/probe64` for x86_64 and
/// `/probe32` for i386.
fn build_probes(b: &Bundle) {
    install_probe("syscalls", "-m64", &b.rootfs.join("probe64"));
    install_probe("syscalls", "-m32", &b.rootfs.join("probe32"));
}

/// Runs `probe` in a container with `profile` (podman_bundle's); its
/// results and raw output.
fn run_probe(
    env: &TestEnv,
    profile: serde_json::Value,
    probe: &str,
) -> (std::collections::HashMap<String, String>, String) {
    let id = env.new_id();
    let mut b = podman_bundle(env, &id, profile);
    b.set_args(&[probe]);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{probe}: {out}\n{err}");
    (probe_results(&out), out)
}

/// The probe's `name=value` lines.
fn probe_results(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn podman_profile() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/podman-default-seccomp.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A container with podman's profile and CAP_SYS_ADMIN, so that what is
/// refused is refused by the filter and not by a missing capability.
fn podman_bundle(env: &TestEnv, id: &str, profile: serde_json::Value) -> Bundle {
    let mut b = env.bundle(id);
    build_probes(&b);
    with_profile(&mut b, profile);
    for set in ["bounding", "effective", "permitted"] {
        b.config_mut()["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    b
}

#[test]
fn a_created_container_waits_small_under_podmans_profile_not_under_one_without_memfds() {
    // Under a profile, the hand-over to vzrun-wait and vzrun-wait itself
    // make syscalls of their own: taken only where the profile allows them
    // all (loaded before the wait without no_new_privs, just before the
    // hand-over with it), and start works either way.
    let env = TestEnv::new("seccomp_wait");
    for (profile, nnp, small) in [
        (podman_profile(), false, true),
        // A filter loaded last (no_new_privs) keeps the runtime waiting.
        (podman_profile(), true, false),
        (deny_memfd(), false, false),
        (deny_memfd(), true, false),
    ] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        with_profile(&mut b, profile);
        b.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
        b.set_sh("echo started");
        let c = env.create(&id, &b);
        if is_vzrun() {
            let exe = env.waiting_exe(&id);
            assert_eq!(
                exe.starts_with("/memfd:vzrun-wait"),
                small,
                "no_new_privs {nnp}: {exe}"
            );
        }
        env.start(&id);
        env.wait_status(&id, "stopped", secs(10));
        assert!(c.stdout_now().contains("started"), "{:?}", c.stdout_now());
        env.rt(&["delete", &id]).assert_ok();
    }
}

fn deny_memfd() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["memfd_create"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]
    })
}

#[test]
fn podmans_default_profile_runs_a_shell_and_refuses_what_it_refuses() {
    // tests/fixtures/podman-default-seccomp.json is .linux.seccomp of a
    // container made by podman 4.3 (hack/podman-seccomp.sh regenerates it).
    let env = TestEnv::new("seccomp_podman");
    let id = env.new_id();
    let mut b = podman_bundle(&env, &id, podman_profile());
    b.set_sh("echo hello; ls / > /dev/null && ps > /dev/null && mkdir /tmp/d && rmdir /tmp/d && echo done");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!((code, out.as_str()), (0, "hello\ndone\n"), "{err}");
    for probe in ["/probe64", "/probe32"] {
        let (r, out) = run_probe(&env, podman_profile(), probe);
        let eperm = (-libc::EPERM).to_string();
        let enosys = (-libc::ENOSYS).to_string();
        for (call, want) in [
            ("getppid", "ok"),
            ("mkdir", "0"),
            // Refused with EPERM although the process has CAP_SYS_ADMIN.
            ("sethostname", eperm.as_str()),
            ("bpf", &eperm),
            ("kexec_load", &eperm),
            // Allowed by an earlier rule of the profile, so the kernel
            // answers (bad descriptor): the first rule for a syscall wins,
            // as with libseccomp in runc and crun.
            ("setns", &(-libc::EBADF).to_string()),
            // personality: only the listed personas.
            ("personality_query", "ok"),
            ("personality_linux", "ok"),
            ("personality_other", &enosys),
            // Not in the profile at all: defaultErrnoRet.
            ("io_uring_setup", &enosys),
            ("socket_route", "0"),
        ] {
            assert_eq!(
                r.get(call).map(String::as_str),
                Some(want),
                "{probe} {call}: {out}"
            );
        }
    }
}

#[test]
fn a_two_argument_rule_refuses_netlink_audit_sockets_on_both_abis() {
    // Newer podman profiles refuse socket(AF_NETLINK, *, NETLINK_AUDIT)
    // with EINVAL (both argument checks must hold) and allow other sockets
    // by a conditional rule: podman 4.3's unconditional `socket` rule is
    // replaced by those two here, since a rule without arguments would
    // decide the syscall alone (libseccomp's semantics).
    let env = TestEnv::new("seccomp_audit");
    let mut profile = podman_profile();
    let rules = profile["syscalls"].as_array_mut().unwrap();
    rules.retain(|r| r["names"] != json!(["socket"]));
    rules.push(
        json!({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EINVAL,
               "args": [{"index": 0, "value": libc::AF_NETLINK, "op": "SCMP_CMP_EQ"},
                        {"index": 2, "value": libc::NETLINK_AUDIT, "op": "SCMP_CMP_EQ"}]}),
    );
    rules.push(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 2, "value": libc::NETLINK_AUDIT, "op": "SCMP_CMP_NE"}]}));
    for probe in ["/probe64", "/probe32"] {
        let (r, out) = run_probe(&env, profile.clone(), probe);
        assert_eq!(
            r["socket_audit"],
            (-libc::EINVAL).to_string(),
            "{probe}: {out}"
        );
        assert_eq!(r["socket_route"], "0", "{probe}: {out}");
    }
}

#[test]
fn i386_abi_is_filtered_too() {
    let env = TestEnv::new("seccomp_i386");
    // Listed: i386 syscalls get the profile, by their i386 numbers.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    build_probes(&b);
    with_profile(&mut b, deny_mkdir());
    b.set_args(&["/probe32"]);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("mkdir=-1\n"),
        "mkdir through int 0x80 gets EPERM: {out}"
    );
    assert!(out.contains("getppid=ok"), "{out}");
    // Not listed: any i386 syscall kills the process (SIGSYS).
    let id = env.new_id();
    let mut b = env.bundle(&id);
    build_probes(&b);
    let mut p = deny_mkdir();
    p["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    with_profile(&mut b, p);
    b.set_args(&["/probe32"]);
    let (code, out, _) = env.run_fg(&id, &b);
    assert_eq!(code, 128 + libc::SIGSYS, "{out}");
}

/// How the test agent answers every notified syscall.
#[derive(Clone, Copy)]
enum Answer {
    Eperm,
    /// SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel runs the syscall.
    Continue,
}

/// A seccomp agent on `listener` for `conns` processes: takes each fd and
/// state, then answers every notified syscall until the process is gone
/// (or 60 s pass without a connection or a notification, so that a hang
/// fails the test rather than stalling it). Returns each payload and how
/// many syscalls it answered.
fn serve_agent(
    listener: std::os::unix::net::UnixListener,
    answer: Answer,
    conns: usize,
) -> std::thread::JoinHandle<Vec<(serde_json::Value, usize)>> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + secs(60);
        let mut served = Vec::new();
        while served.len() < conns {
            match listener.accept() {
                Ok((c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    served.push(std::thread::spawn(move || answer_one(c, answer)));
                }
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(_) => break,
            }
        }
        served.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

fn answer_one(conn: std::os::unix::net::UnixStream, answer: Answer) -> (serde_json::Value, usize) {
    use std::os::fd::AsRawFd;
    let (fd, payload) = recv_fd_with_payload(&conn);
    let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    const RECV: libc::c_ulong = 0xc050_2100;
    const SEND: libc::c_ulong = 0xc018_2101;
    let mut answered = 0;
    loop {
        let mut pfd = [libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: polling one descriptor we own.
        if unsafe { libc::poll(pfd.as_mut_ptr(), 1, 60_000) } <= 0
            || pfd[0].revents & libc::POLLIN == 0
        {
            break;
        }
        let mut req = [0u8; 80];
        // SAFETY: SECCOMP_IOCTL_NOTIF_RECV fills a zeroed seccomp_notif.
        if unsafe { libc::ioctl(fd.as_raw_fd(), RECV, req.as_mut_ptr()) } != 0 {
            continue;
        }
        // struct seccomp_notif_resp: id, val, error, flags.
        let mut resp = [0u8; 24];
        resp[0..8].copy_from_slice(&req[0..8]);
        match answer {
            Answer::Eperm => resp[16..20].copy_from_slice(&(-libc::EPERM).to_le_bytes()),
            Answer::Continue => resp[20..24].copy_from_slice(&1u32.to_le_bytes()),
        }
        // SAFETY: SECCOMP_IOCTL_NOTIF_SEND reads a seccomp_notif_resp.
        unsafe { libc::ioctl(fd.as_raw_fd(), SEND, resp.as_ptr()) };
        answered += 1;
    }
    (payload, answered)
}

/// A bundle for `id` whose profile sends `names` to an agent listening on
/// the returned socket (with `metadata`, if any).
fn notify_bundle(
    env: &TestEnv,
    id: &str,
    names: &[&str],
    metadata: Option<&str>,
) -> (Bundle, std::os::unix::net::UnixListener) {
    let sock = env.tmp.join(format!("agent-{id}.sock"));
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut b = env.bundle(id);
    let mut profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock.display().to_string(),
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
    });
    if let Some(m) = metadata {
        profile["listenerMetadata"] = json!(m);
    }
    with_profile(&mut b, profile);
    (b, listener)
}

#[test]
fn notify_hands_the_listener_fd_and_state_to_the_agent() {
    let env = TestEnv::new("seccomp_notify");
    let id = env.new_id();
    let (mut b, listener) = notify_bundle(&env, &id, &["mkdir", "mkdirat"], Some("hello-agent"));
    b.set_sh("mkdir /tmp/n 2>&1; echo rc=$?");
    let agent = serve_agent(listener, Answer::Eperm, 1);
    let (code, out, err) = env.run_fg(&id, &b);
    let (payload, answered) = agent.join().unwrap().remove(0);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "{out}"
    );
    assert!(answered >= 1);
    assert_eq!(payload["fds"], json!(["seccompFd"]), "{payload}");
    assert_eq!(
        payload["ociVersion"], payload["state"]["ociVersion"],
        "{payload}"
    );
    assert!(payload["ociVersion"].is_string(), "{payload}");
    assert_eq!(payload["metadata"], "hello-agent", "{payload}");
    assert_eq!(payload["state"]["id"], json!(id), "{payload}");
    assert!(payload["pid"].as_i64().unwrap_or(0) > 0, "{payload}");
}

#[test]
fn notify_of_the_runtimes_own_syscalls_without_no_new_privs_does_not_hang() {
    // Loaded before the user switch, the filter also traps what the init
    // still does (write, close, openat, execve): the agent must have the
    // fd before any of them, or the init waits for ever.
    let env = TestEnv::new("seccomp_notify_early");
    for exec in [false, true] {
        let id = env.new_id();
        let names = [
            "execve",
            "write",
            "close",
            "openat",
            "read",
            "mmap",
            "brk",
            "fstat",
            "newfstatat",
            "setresuid",
            "capset",
            "prctl",
            "chdir",
            "getcwd",
        ];
        let (mut b, listener) = notify_bundle(&env, &id, &names, None);
        b.config_mut()["process"]["noNewPrivileges"] = json!(false);
        let agent = serve_agent(listener, Answer::Continue, 1 + exec as usize);
        if !exec {
            b.set_sh("echo hello from a notified init");
            let out = env.run_out(&id, &b, &[]);
            let (payload, answered) = agent.join().unwrap().remove(0);
            assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
            assert_eq!(out.stdout, "hello from a notified init\n");
            assert!(answered > 3, "{answered}");
            assert_eq!(payload["state"]["status"], "creating", "{payload}");
            continue;
        }
        // exec gets the container's filter: the same early hand-over.
        b.set_args(&["sleep", "100"]);
        env.run_out(&id, &b, &["-d"]).assert_ok();
        let out = env.rt(&["exec", &id, "echo", "hello from a notified exec"]);
        out.assert_ok();
        assert_eq!(out.stdout, "hello from a notified exec\n");
        env.rt(&["delete", "--force", &id]).assert_ok();
        let served = agent.join().unwrap();
        assert_eq!(served.len(), 2, "{served:?}");
        assert_eq!(served[1].0["state"]["status"], "running", "{served:?}");
        assert!(served[1].1 > 0, "{served:?}");
    }
}

#[test]
fn a_profile_refusing_getcwd_still_starts() {
    // The runtime's own cwd check (CVE-2024-21626) runs before the filter
    // is loaded; runtime-tools' linux_seccomp refuses getcwd. A missing
    // valueTwo is "masked equals zero" (Go's omitempty drops a zero).
    let env = TestEnv::new("seccomp_getcwd");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    with_profile(
        &mut b,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }),
    );
    b.set_sh("echo started");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!((code, out.as_str()), (0, "started\n"), "{err}");
}

#[test]
fn a_syscall_newer_than_the_profile_gets_enosys_not_the_refusing_default() {
    // glibc tries clone3 and falls back to clone only on ENOSYS: a
    // profile written before a syscall existed must not answer EPERM for
    // it. Below the profile's newest syscall, the default still holds.
    let env = TestEnv::new("seccomp_enosys");
    let mut profile = podman_profile();
    profile["defaultErrnoRet"] = json!(libc::EPERM);
    for probe in ["/probe64", "/probe32"] {
        let (r, out) = run_probe(&env, profile.clone(), probe);
        let eperm = (-libc::EPERM).to_string();
        let enosys = (-libc::ENOSYS).to_string();
        assert_eq!(r.get("kexec_load"), Some(&eperm), "{probe}: {out}");
        assert_eq!(r.get("beyond"), Some(&enosys), "{probe}: {out}");
    }
}
