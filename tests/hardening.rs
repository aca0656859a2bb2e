//! Attacks on the runtime itself.
mod common;
use common::*;
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::time::Duration;

#[test]
fn runtime_binary_cannot_be_overwritten_through_proc_exe() {
    // CVE-2019-5736: a container process keeps a reference to the init's
    // /proc/<pid>/exe while the runtime's code runs in the container, and
    // writes through it once nothing executes the binary any more. The
    // attack runs on a copy of the runtime, so a failure harms only that.
    let env = TestEnv::new("cve_2019_5736");
    let copy = env.tmp.join("runtime-copy");
    fs::copy(runtime(), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    let original = fs::read(&copy).unwrap();
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.write();
    let root = env.root.display().to_string();
    let bundle = b.path();
    let rt = |args: &[&str]| {
        let mut full = vec!["--root".to_string(), root.clone()];
        full.extend(args.iter().map(|s| s.to_string()));
        run_cmd(&copy, &full, &env.tmp.join("out"), Duration::from_secs(30))
    };
    rt(&["create", "--bundle", &bundle, &id]).assert_ok();
    let state: serde_json::Value = serde_json::from_str(&rt(&["state", &id]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    env.track_pid(pid as i32);
    // While the init (the runtime's code) waits in the container.
    let exe = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(format!("/proc/{pid}/exe"))
        .unwrap();
    rt(&["delete", "--force", &id]).assert_ok();
    // Nothing runs the binary now: a plain file would take the write.
    let attempt = fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", exe.as_raw_fd()))
        .and_then(|mut f| f.write_all(b"\x7fELF overwritten by the container"));
    if is_vzrun() {
        assert!(
            attempt.is_err(),
            "the write through /proc/<pid>/exe went through"
        );
    }
    assert_eq!(
        fs::read(&copy).unwrap(),
        original,
        "the runtime's binary on the host changed"
    );
}

#[test]
fn the_container_cannot_open_the_inits_exe() {
    // While a created container's init waits for start (in the runtime's
    // code or in vzrun-wait), processes of the container (here one exec'd
    // into it) cannot reach its exe.
    let env = TestEnv::new("init_exe_hidden");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    let o = env.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/1/exe > /dev/null 2>&1 && echo readable || echo hidden",
    ]);
    assert_eq!(o.code, 0, "{o}");
    // runc's init runs from a sealed copy of runc, which may be read.
    if is_vzrun() {
        assert_eq!(o.stdout.trim(), "hidden", "{o}");
    }
}

#[test]
fn proc_writes_do_not_follow_mounts() {
    // CVE-2025-52881: the runtime's writes to /proc (here a sysctl) must
    // reach procfs itself, not whatever is mounted over the file. A bind
    // mount over /proc/sys/kernel/domainname in the runtime's own mount
    // namespace stands in for the redirection a racing container achieves.
    let env = TestEnv::new("proc_write_redirect");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["sysctl"] = serde_json::json!({"kernel.domainname": "redirected"});
    b.set_args(&["true"]);
    b.write();
    let decoy = env.tmp.join("decoy");
    fs::write(&decoy, "untouched\n").unwrap();
    let script = format!(
        "mount --make-rprivate / && mount --bind {decoy} /proc/sys/kernel/domainname && \
         exec {rt} --root {root} run --bundle {bundle} {id}",
        decoy = decoy.display(),
        rt = runtime().display(),
        root = env.root.display(),
        bundle = b.path(),
    );
    let o = run_cmd(
        std::path::Path::new("/usr/bin/unshare"),
        &["-m".into(), "sh".into(), "-c".into(), script],
        &env.tmp.join("out"),
        Duration::from_secs(30),
    );
    assert_eq!(
        fs::read_to_string(&decoy).unwrap(),
        "untouched\n",
        "the sysctl was written through the mount: {o}"
    );
    if is_vzrun() {
        assert_ne!(o.code, 0, "{o}");
        assert!(o.stderr.contains("kernel.domainname"), "{o}");
    }
    env.assert_no_leftovers(&id);
}

#[test]
fn a_shared_volume_swapped_to_a_symlink_cannot_redirect_a_mount() {
    // CVE-2021-30465: another container sharing a volume swaps a directory
    // on the way to a mount destination for a symlink to a host path while
    // the runtime sets up mounts. Here a host thread plays that container,
    // exchanging `vol/x` (a directory) and a symlink to a host directory
    // as fast as it can while containers start. Resolved inside the rootfs,
    // the symlink can only ever lead back into the container.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = TestEnv::new("volume_swap");
    let target = env.mkdir("host-target");
    let vol = env.mkdir("volume");
    fs::create_dir(vol.join("x")).unwrap();
    std::os::unix::fs::symlink(&target, vol.join("y")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (x, y) = (
            std::ffi::CString::new(vol.join("x").as_os_str().as_encoded_bytes()).unwrap(),
            std::ffi::CString::new(vol.join("y").as_os_str().as_encoded_bytes()).unwrap(),
        );
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: both paths are valid NUL-terminated strings.
                let rc = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        x.as_ptr(),
                        libc::AT_FDCWD,
                        y.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
                swaps += 1;
            }
            swaps
        })
    };
    for _ in 0..20 {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.bind(&vol, "/vol", false);
        b.push_mount(json_tmpfs("/vol/x/sub"));
        b.set_args(&["true"]);
        // Either outcome of the race is fine (the mount lands in the volume
        // or inside the rootfs, or setup reports the vanished path); what
        // matters is the host.
        let _ = env.run_fg(&id, &b);
        assert!(
            mounts_under(&target).is_empty() && !target.join("sub").exists(),
            "a mount or directory reached the host through the symlink"
        );
        env.assert_no_leftovers(&id);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(swapper.join().unwrap() > 0);
}

fn json_tmpfs(dest: &str) -> serde_json::Value {
    serde_json::json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"})
}

#[test]
fn no_new_privileges_stops_a_setuid_binary() {
    // With noNewPrivileges a setuid-root program run by an unprivileged
    // container user keeps the user's euid; without it the kernel grants
    // root, which shows the probe would notice.
    let env = TestEnv::new("nnp_setuid");
    for (nnp, want) in [(true, "1000"), (false, "0")] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        let probe = b.rootfs.join("euid");
        install_probe("euid", "-m64", &probe);
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o4755)).unwrap();
        b.config_mut()["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        b.config_mut()["process"]["noNewPrivileges"] = serde_json::json!(nnp);
        b.set_args(&["/euid"]);
        let (code, out, err) = env.run_fg(&id, &b);
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(out.trim(), want, "noNewPrivileges={nnp}");
    }
}

/// The descriptors the container's shell holds, as it lists them itself:
/// `ls` forked alone (no pipeline, whose pipes the shell would hold while
/// `ls` reads; a second command keeps sh from exec'ing `ls` in its place).
const LIST_FDS: &str = "ls /proc/$$/fd; true";

#[test]
fn no_descriptor_reaches_the_container_beyond_stdio_and_preserved_ones() {
    let env = TestEnv::new("fd_leaks");
    // run in the foreground, with a seccomp listener the runtime talks to.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sh", "-c", LIST_FDS]);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!((code, out.as_str()), (0, "0\n1\n2\n"), "run: {err}");

    // create + start: the init waited on its start socket. Listed from
    // the host, as a redirect in the container would hold one more.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b).assert_ok();
    env.start(&id);
    let init = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(fds_of(init), [0, 1, 2], "create/start");

    // exec, in the foreground and detached.
    let out = env.rt(&["exec", &id, "sh", "-c", LIST_FDS]);
    out.assert_ok();
    assert_eq!(out.stdout, "0\n1\n2\n", "exec");
    let pid_file = env.tmp.join("exec.pid");
    let pf = pid_file.display().to_string();
    env.rt(&["exec", "-d", "--pid-file", &pf, &id, "sleep", "999"])
        .assert_ok();
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(fds_of(pid), [0, 1, 2], "exec -d");

    // --preserve-fds 2: fds 3 and 4 of the caller, and nothing past them,
    // though the caller holds fd 5 too.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sh", "-c", LIST_FDS]);
    b.write();
    env.track_id(&id);
    let out = host_sh(
        &env,
        &format!(
            "exec 3</dev/null 4</dev/null 5</dev/null; {} --root {} run --preserve-fds 2 --bundle {} {id}",
            runtime().display(),
            env.root.display(),
            b.path()
        ),
    );
    out.assert_ok();
    assert_eq!(out.stdout, "0\n1\n2\n3\n4\n", "--preserve-fds 2");
}

/// The descriptors process `pid` holds, from the host's /proc.
fn fds_of(pid: i64) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    fds.sort();
    fds
}
