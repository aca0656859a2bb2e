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
    // While a created container's init runs the runtime's code, processes
    // of the container (here one exec'd into it) cannot reach its exe.
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
