//! Container lifecycle: run/create/start/kill/delete/state/list.
mod common;
use common::*;
use serde_json::Value;
use std::fs;

#[test]
fn run_exit_zero() {
    let env = TestEnv::new("run_exit_zero");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("echo hello-from-container; exit 0");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("hello-from-container"), "stdout: {out:?}");
    // run without --keep deletes the container afterwards.
    assert!(
        env.try_state(&id).is_none(),
        "container still exists after run"
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn run_exit_code_propagates() {
    let env = TestEnv::new("run_exit_code");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 7");
    let (code, _, err) = env.run_fg(&id, &b);
    assert_eq!(code, 7, "stderr: {err}");
}

#[test]
fn run_killed_by_signal_is_128_plus_signo() {
    let env = TestEnv::new("run_signal_exit");
    // The kernel ignores signals a pid-namespace init sends itself without
    // a handler, so these run without a pid namespace: then `kill -N $$`
    // really kills the container process and `run` must report 128+N.
    let killed_by = |sig: i32| {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.config_mut()["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
        b.set_sh(&format!("kill -{sig} $$; sleep 5"));
        let (code, _, err) = env.run_fg(&id, &b);
        assert_eq!(code, 128 + sig, "signal {sig}, stderr: {err}");
    };
    killed_by(libc::SIGKILL);
    // A real-time signal (podman stops systemd containers with
    // SIGRTMIN+3): 128+N too, and the runtime does not wait for ever.
    killed_by(libc::SIGRTMIN() + 3);

    // With a pid namespace, a non-init process killed by SIGTERM: the shell
    // reports 143 and the runtime passes the exit code through.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("sh -c 'kill -TERM $$'; exit $?");
    let (code, _, err) = env.run_fg(&id, &b);
    assert_eq!(code, 143, "stderr: {err}");
}

#[test]
fn create_state_fields() {
    let env = TestEnv::new("create_state");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    let st = env.state(&id);
    assert_eq!(st["id"], Value::from(id.clone()), "{st}");
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().expect("pid");
    assert!(pid > 0, "{st}");
    assert!(pid_alive(pid as i32), "init pid {pid} not alive");
    assert_eq!(st["bundle"].as_str(), Some(b.path().as_str()), "{st}");
    assert!(
        st["ociVersion"]
            .as_str()
            .map(|s| !s.is_empty())
            .unwrap_or(false),
        "ociVersion missing: {st}"
    );
    let created = st["created"].as_str().expect("created timestamp");
    // RFC 3339, e.g. 2024-01-02T03:04:05.123456789Z
    assert!(
        created.len() >= 20 && created.as_bytes()[4] == b'-' && created.contains('T'),
        "created not RFC3339: {created}"
    );
    assert_eq!(
        st["rootfs"].as_str(),
        Some(b.rootfs.display().to_string().as_str()),
        "{st}"
    );
    // Not started: the command has not run yet.
    assert!(fs::read_to_string(b.rootfs.join("tmp/started")).is_err());
}

#[test]
fn start_kill_delete() {
    let env = TestEnv::new("start_kill_delete");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("echo 1 > /tmp/started; exec sleep 1000");
    env.create(&id, &b);
    assert_eq!(env.status(&id), "created");
    env.start(&id);
    assert_eq!(env.status(&id), "running");
    env.wait_file(&b.rootfs.join("tmp/started"), secs(10));
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;

    // Starting a running container fails.
    let o = env.rt(&["start", &id]);
    o.assert_fail();

    env.rt(&["kill", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    assert!(!pid_alive(pid), "init still alive after kill");

    env.rt(&["delete", &id]).assert_ok();
    let o = env.rt(&["state", &id]);
    o.assert_fail();
    assert!(
        contains_ci(&o.stderr, "not exist"),
        "state stderr: {}",
        o.stderr
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn kill_signal_spellings() {
    let env = TestEnv::new("kill_spellings");
    for sig in ["KILL", "9", "SIGKILL"] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.set_args(&["sleep", "1000"]);
        env.create(&id, &b);
        env.start(&id);
        env.rt(&["kill", &id, sig]).assert_ok();
        env.wait_status(&id, "stopped", secs(10));
        env.rt(&["delete", &id]).assert_ok();
    }
}

#[test]
fn kill_default_is_sigterm() {
    // A shell that traps TERM proves the default signal is SIGTERM.
    let env = TestEnv::new("kill_default");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh(
        "trap 'echo got-term; exit 3' TERM; echo 1 > /tmp/ready; while true; do sleep 0.1; done",
    );
    let c = env.create(&id, &b);
    env.start(&id);
    env.wait_file(&b.rootfs.join("tmp/ready"), secs(10));
    env.rt(&["kill", &id]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    assert!(
        c.stdout_now().contains("got-term"),
        "stdout: {:?}",
        c.stdout_now()
    );
}

#[test]
fn run_detach_and_pid_file() {
    let env = TestEnv::new("run_detach");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let pidfile = env.tmp.join("init.pid");
    let pf = pidfile.display().to_string();
    let o = env.run_out(&id, &b, &["--detach", "--pid-file", &pf]);
    o.assert_ok();
    let st = env.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    let pid_in_file: i64 = fs::read_to_string(&pidfile)
        .expect("pid file written")
        .trim()
        .parse()
        .expect("pid file holds a number");
    assert_eq!(Some(pid_in_file), st["pid"].as_i64(), "{st}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

#[test]
fn create_pid_file() {
    let env = TestEnv::new("create_pid_file");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let pidfile = env.tmp.join("c.pid");
    let pf = pidfile.display().to_string();
    env.create_out(&id, &b, &["--pid-file", &pf]).assert_ok();
    let st = env.state(&id);
    let pid_in_file: i64 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(Some(pid_in_file), st["pid"].as_i64());
}

#[test]
fn list_formats() {
    let env = TestEnv::new("list_formats");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);

    let o = env.rt(&["list"]);
    o.assert_ok();
    let mut lines = o.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{o}"
    );
    let row = lines
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("id not listed: {o}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[0], id);
    assert_eq!(cols[2], "created", "{row}");
    assert_eq!(cols[3], b.path(), "{row}");
    assert_eq!(cols.last().copied(), Some("root"), "{row}");

    let o = env.rt(&["list", "--format", "json"]);
    o.assert_ok();
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o}"));
    let arr = v.as_array().expect("JSON array");
    let e = arr
        .iter()
        .find(|e| e["id"] == id.as_str())
        .expect("id in json list");
    assert_eq!(e["status"], "created");
    assert_eq!(e["bundle"].as_str(), Some(b.path().as_str()));
    assert!(e["pid"].as_i64().unwrap_or(0) > 0, "{e}");

    let o = env.rt(&["list", "-q"]);
    o.assert_ok();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        vec![id.as_str()],
        "{o}"
    );
}

#[test]
fn kill_all() {
    let env = TestEnv::new("kill_all");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    // Init plus a background child.
    b.set_sh("sleep 1000 & exec sleep 1001");
    env.create(&id, &b);
    env.start(&id);
    env.rt(&["kill", "--all", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    env.rt(&["delete", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

#[test]
fn duplicate_id_fails_and_keeps_first() {
    let env = TestEnv::new("duplicate_id");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    let before = env.state(&id);
    let b2 = env.bundle(&id);
    let o = env.create_out(&id, &b2, &[]);
    assert_eq!(o.code, 1, "{o}");
    assert!(contains_ci(&o.stderr, "exist"), "{o}");
    let after = env.state(&id);
    assert_eq!(after["status"], "created");
    assert_eq!(after["pid"], before["pid"]);
    assert_eq!(after["bundle"], before["bundle"]);
    assert!(pid_alive(after["pid"].as_i64().unwrap() as i32));
}

#[test]
fn delete_force_running() {
    let env = TestEnv::new("delete_force");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    env.start(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    // Plain delete of a running container fails.
    let o = env.rt(&["delete", &id]);
    o.assert_fail();
    assert_eq!(env.status(&id), "running");
    env.rt(&["delete", "--force", &id]).assert_ok();
    assert!(env.try_state(&id).is_none());
    assert!(!pid_alive(pid));
    env.assert_no_leftovers(&id);
}

#[test]
fn delete_created_container() {
    // The runtime-spec says deleting a container that is not stopped must
    // fail; runc 1.1 deletes a `created` one anyway (kills the init).
    let env = TestEnv::new("delete_created");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    if is_vzrun() {
        let o = env.rt(&["delete", &id]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("not stopped: created"), "{o}");
        assert_eq!(env.state(&id)["status"], "created");
        env.rt(&["delete", "--force", &id]).assert_ok();
    } else {
        env.rt(&["delete", &id]).assert_ok();
    }
    assert!(env.try_state(&id).is_none());
    assert!(!pid_alive(pid));
    env.assert_no_leftovers(&id);
}

#[test]
fn delete_force_nonexistent_is_ok() {
    let env = TestEnv::new("delete_force_nonexist");
    let id = env.new_id();
    let o = env.rt(&["delete", "--force", &id]);
    assert_eq!(o.code, 0, "{o}");
    // Without --force it is an error.
    let o = env.rt(&["delete", &id]);
    assert_eq!(o.code, 1, "{o}");
    assert!(contains_ci(&o.stderr, "not exist"), "{o}");
}

#[test]
fn state_nonexistent_fails() {
    let env = TestEnv::new("state_nonexist");
    let id = env.new_id();
    let o = env.rt(&["state", &id]);
    assert_eq!(o.code, 1, "{o}");
    assert!(contains_ci(&o.stderr, "not exist"), "{o}");
    let o = env.rt(&["start", &id]);
    assert_eq!(o.code, 1, "{o}");
    let o = env.rt(&["kill", &id, "KILL"]);
    assert_eq!(o.code, 1, "{o}");
}

#[test]
fn run_keep_leaves_stopped_container() {
    let env = TestEnv::new("run_keep");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 4");
    let o = env.run_out(&id, &b, &["--keep"]);
    assert_eq!(o.code, 4, "{o}");
    let st = env.state(&id);
    assert_eq!(st["status"], "stopped", "{st}");
    env.rt(&["delete", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

#[test]
fn kill_stopped_container_fails() {
    let env = TestEnv::new("kill_stopped");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 0");
    env.run_out(&id, &b, &["--keep"]).assert_ok();
    let o = env.rt(&["kill", &id, "KILL"]);
    o.assert_fail();
    // CRI-O matches runc's exact words to treat the container as gone.
    assert!(o.stderr.contains("container not running"), "{o}");
    assert!(!is_vzrun() || o.stderr.contains(&id), "{o}");
    let o = env.rt(&["exec", &id, "true"]);
    o.assert_fail();
    if is_vzrun() {
        assert!(o.stderr.contains("container not running"), "{o}");
    }
}

#[test]
fn created_container_output_goes_to_create_stdio() {
    let env = TestEnv::new("create_stdio");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("echo out-line; echo err-line >&2; exit 0");
    let c = env.create(&id, &b);
    env.start(&id);
    env.wait_status(&id, "stopped", secs(10));
    assert!(
        c.stdout_now().contains("out-line"),
        "stdout: {:?}",
        c.stdout_now()
    );
    assert!(
        c.stderr_now().contains("err-line"),
        "stderr: {:?}",
        c.stderr_now()
    );
    assert!(!c.stdout_now().contains("err-line"));
}

#[test]
fn sigterm_stops_a_created_container() {
    // The init of a created container is pid 1 of its pid namespace: the
    // kernel drops signals it has no handler for, yet `kill` must work.
    let env = TestEnv::new("kill_created");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    env.rt(&["kill", &id]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
}

#[test]
fn a_created_container_waits_in_a_few_pages() {
    // Density: until start, the init is vzrun-wait, not a copy of the
    // runtime; the host pays a few pages for each created container.
    let env = TestEnv::new("wait_small");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("echo started");
    let c = env.create(&id, &b);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let exe = env.waiting_exe(&id);
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let pss_kib: u64 = smaps
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no Pss in {smaps}"));
    if is_vzrun() {
        assert!(exe.starts_with("/memfd:vzrun-wait"), "{exe}");
        assert!(pss_kib < 128, "a waiting init takes {pss_kib} KiB of Pss");
    }
    assert_eq!(env.status(&id), "created");
    env.start(&id);
    env.wait_status(&id, "stopped", secs(10));
    assert!(c.stdout_now().contains("started"), "{:?}", c.stdout_now());
}

#[test]
fn start_reports_an_exec_that_fails_after_create() {
    // The executable is found at create; if it is gone by start, start
    // fails with the path and the errno, and the container is stopped.
    let env = TestEnv::new("start_exec_gone");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    fs::copy(b.rootfs.join("bin/busybox"), b.rootfs.join("bin/gone")).unwrap();
    b.set_args(&["/bin/gone", "true"]);
    env.create(&id, &b);
    fs::remove_file(b.rootfs.join("bin/gone")).unwrap();
    let o = env.rt(&["start", &id]);
    o.assert_fail();
    if is_vzrun() {
        assert!(
            o.stderr
                .contains("exec /bin/gone: no such file or directory"),
            "{o}"
        );
    }
    env.wait_status(&id, "stopped", secs(10));
}

#[test]
fn a_start_hook_keeps_the_runtime_waiting() {
    // A startContainer hook runs in the container after the go, so the
    // init waits as the runtime; start still runs the hook, then the
    // process.
    let env = TestEnv::new("wait_hook");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["hooks"] = serde_json::json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo hooked > /tmp/hook"]}
    ]});
    b.set_sh("cat /tmp/hook");
    let c = env.create(&id, &b);
    if is_vzrun() {
        let exe = env.waiting_exe(&id);
        assert!(!exe.contains("vzrun-wait"), "{exe}");
    }
    env.start(&id);
    env.wait_status(&id, "stopped", secs(10));
    assert!(c.stdout_now().contains("hooked"), "{:?}", c.stdout_now());
}

#[test]
fn realtime_signals_reach_the_container() {
    let env = TestEnv::new("kill_rt");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let rtmin3 = libc::SIGRTMIN() + 3;
    b.set_sh(&format!(
        "trap 'echo got-rt; exit 0' {rtmin3}; echo 1 > /tmp/ready; while true; do sleep 0.1; done"
    ));
    let c = env.create(&id, &b);
    env.start(&id);
    env.wait_file(&b.rootfs.join("tmp/ready"), secs(10));
    // runc 1.1 takes real-time signals by number only.
    let name = if is_vzrun() {
        "RTMIN+3".to_string()
    } else {
        rtmin3.to_string()
    };
    env.rt(&["kill", &id, &name]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    assert!(c.stdout_now().contains("got-rt"), "{:?}", c.stdout_now());
}

#[test]
fn foreground_run_does_not_lock_out_kill() {
    // `run` waits in the foreground; `kill` from elsewhere must not block.
    let env = TestEnv::new("run_fg_kill");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.write();
    env.track_id(&id);
    let mut child = std::process::Command::new(runtime())
        .args([
            "--root",
            &env.root.display().to_string(),
            "run",
            "--bundle",
            &b.path(),
            &id,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + RT_TIMEOUT;
    while env.try_state(&id).is_none_or(|s| s["status"] != "running") {
        assert!(std::time::Instant::now() < deadline, "never running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.rt(&["kill", &id, "KILL"]).assert_ok();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
    assert!(
        env.try_state(&id).is_none(),
        "run deletes the container after it exits"
    );
}

#[test]
fn a_reader_that_went_away_ends_state_and_list_by_sigpipe() {
    // `vzrun list | head -1`: the commands that only print die of SIGPIPE,
    // as runc does, instead of printing a panic about EPIPE.
    use std::os::unix::process::ExitStatusExt;
    let env = TestEnv::new("sigpipe");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    for args in [vec!["state", id.as_str()], vec!["list"]] {
        // A pipe whose read end is already closed: the first write fails.
        // Close-on-exec, or a process that another test spawns meanwhile
        // would inherit the read end and keep the pipe open.
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        drop(r);
        let o = std::process::Command::new(runtime())
            .arg("--root")
            .arg(&env.root)
            .args(&args)
            .stdout(std::process::Stdio::from(w))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}, stderr: {err}",
            o.status
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn pidfd_socket_receives_a_pidfd_of_the_init_and_of_an_exec() {
    // runc 1.2+: a supervisor gets a handle on the process itself.
    if !is_vzrun() {
        return; // runc 1.1.5 predates --pidfd-socket
    }
    let env = TestEnv::new("pidfd_socket");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.write();
    let sock = env.tmp.join("pidfd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let pidfd_of = |args: &[&str]| {
        let accepted = std::thread::scope(|s| {
            let t = s.spawn(|| listener.accept().map(|(c, _)| c));
            let o = env.rt(args);
            assert_eq!(o.code, 0, "{o}");
            t.join().unwrap().unwrap()
        });
        let (fd, name) = recv_fd_with_payload(&accepted);
        assert_eq!(name, b"pidfd");
        let fdinfo = fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        let link = fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        assert!(link.to_string_lossy().contains("pidfd"), "{link:?}");
        fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let s = sock.display().to_string();
    let init = pidfd_of(&["create", "--bundle", &b.path(), "--pidfd-socket", &s, &id]);
    assert_eq!(init, env.state(&id)["pid"].as_i64().unwrap());
    env.start(&id);
    let pidfile = env.tmp.join("exec.pid");
    let pf = pidfile.display().to_string();
    let exec = pidfd_of(&[
        "exec",
        "--detach",
        "--pid-file",
        &pf,
        "--pidfd-socket",
        &s,
        &id,
        "sleep",
        "100",
    ]);
    let want: i64 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track_pid(want as i32);
    assert_eq!(exec, want);
}
