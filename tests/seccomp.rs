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

/// Builds the i386 probe into the rootfs (gcc-multilib; `make test`
/// installs it).
fn i386_probe(b: &Bundle) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probes/i386_syscalls.c");
    let out = std::process::Command::new("gcc")
        .args(["-m32", "-static", "-o"])
        .arg(b.rootfs.join("probe32"))
        .arg(&src)
        .output()
        .expect("run gcc");
    assert!(
        out.status.success(),
        "gcc -m32 -static failed (is gcc-multilib installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn i386_abi_is_filtered_too() {
    let env = TestEnv::new("seccomp_i386");
    // Listed: i386 syscalls get the profile, by their i386 numbers.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    i386_probe(&b);
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
    i386_probe(&b);
    let mut p = deny_mkdir();
    p["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    with_profile(&mut b, p);
    b.set_args(&["/probe32"]);
    let (code, out, _) = env.run_fg(&id, &b);
    assert_eq!(code, 128 + libc::SIGSYS, "{out}");
}
