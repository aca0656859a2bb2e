//! `exec` into running containers, terminals (console socket, a pty proxied
//! in the foreground with resizes), and signal forwarding.
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sleep` container; returns its id, bundle and init pid.
fn running(env: &TestEnv) -> (String, Bundle, i32) {
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["hostname"] = json!("exec-host");
    b.push_mount(json!({"destination": "/mnt/scratch", "type": "tmpfs", "source": "tmpfs"}));
    b.set_args(&["sleep", "1000"]);
    env.run_out(&id, &b, &["--detach"]).assert_ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    (id, b, pid)
}

/// `exec FLAGS.. ID COMMAND..`, written as `&[FLAGS.., "--", COMMAND..]`.
fn exec(env: &TestEnv, id: &str, args: &[&str]) -> Out {
    let split = args
        .iter()
        .position(|a| *a == "--")
        .expect("-- before the command");
    let mut full = vec!["exec"];
    full.extend_from_slice(&args[..split]);
    full.push(id);
    full.extend_from_slice(&args[split + 1..]);
    env.rt(&full)
}

/// Processes in the container's cgroup (host view).
fn cgroup_procs(id: &str) -> usize {
    fs::read_to_string(cg_path("pids", id, "cgroup.procs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn exec_joins_the_container() {
    let env = TestEnv::new("exec_joins");
    let (id, _b, _) = running(&env);
    let o = exec(
        &env,
        &id,
        &[
            "--",
            "sh",
            "-c",
            "hostname; echo $$; cat /proc/1/comm; grep -c ' /mnt/scratch tmpfs' /proc/mounts",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "exec-host", "{o}");
    assert_ne!(lines[1], "1", "exec'd process is not pid 1: {o}");
    assert_eq!(lines[2], "sleep", "pid 1 is the container's init: {o}");
    assert_eq!(lines[3], "1", "sees the container's mounts: {o}");
}

#[test]
fn exec_enters_the_cgroup_and_writes_pid_file() {
    let env = TestEnv::new("exec_cgroup");
    let (id, _b, _) = running(&env);
    let pidfile = env.tmp.join("exec.pid");
    let pf = pidfile.display().to_string();
    let o = exec(
        &env,
        &id,
        &["--detach", "--pid-file", &pf, "--", "sleep", "1000"],
    );
    assert_eq!(o.code, 0, "{o}");
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track_pid(pid);
    assert!(pid_alive(pid));
    for ctrl in ["memory", "pids", "cpu"] {
        let cg = cgroup_of(pid, ctrl);
        assert_eq!(cg, Some(cgroup_rel(&id)), "{ctrl}");
    }
    // The detached process lives in the container's pid namespace.
    let ns = |p: i32| fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    let init = env.state(&id)["pid"].as_i64().unwrap() as i32;
    assert_eq!(ns(pid), ns(init));
}

#[test]
fn exec_overrides_env_cwd_user() {
    let env = TestEnv::new("exec_overrides");
    let (id, _b, _) = running(&env);
    let o = exec(
        &env,
        &id,
        &[
            "-e",
            "FOO=bar",
            "-e",
            "PATH=/bin",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1000",
            "-g",
            "10",
            "--",
            "sh",
            "-c",
            "echo $FOO; echo $PATH; pwd; id -u; id -g; id -G",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[..5], ["bar", "/bin", "/tmp", "1000", "1000"], "{o}");
    assert!(lines[5].split(' ').any(|g| g == "10"), "{o}");
    // A user given by name is looked up in the container's /etc/passwd
    // (runc 1.1 takes numbers only).
    if is_vzrun() {
        let o = exec(&env, &id, &["-u", "user", "--", "id"]);
        assert_eq!(o.code, 0, "{o}");
        assert!(o.stdout.starts_with("uid=1000(user) gid=1000(user)"), "{o}");
    }
}

#[test]
fn exec_process_json() {
    let env = TestEnv::new("exec_process_json");
    let (id, _b, _) = running(&env);
    let p = env.tmp.join("process.json");
    fs::write(
        &p,
        json!({
            "args": ["sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"],
            "env": ["PATH=/bin", "GREETING=hello"],
            "cwd": "/etc",
            "user": {"uid": 65534, "gid": 65534}
        })
        .to_string(),
    )
    .unwrap();
    let o = exec(&env, &id, &["--process", &p.display().to_string(), "--"]);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(o.stdout.trim(), "hello from /etc as 65534");
}

#[test]
fn exec_cap_adds_capability() {
    let env = TestEnv::new("exec_cap");
    let (id, _b, _) = running(&env);
    let o = exec(
        &env,
        &id,
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            "--",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    let hex = o.stdout.split_whitespace().last().unwrap();
    let mask = u64::from_str_radix(hex, 16).unwrap();
    let want = cap_mask(&[
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_ADMIN",
    ]);
    assert_eq!(mask, want, "{o}");
}

/// With inheritable capabilities in the container's process, `exec --cap`
/// also makes the capability ambient where the kernel allows it (runc
/// 1.2+); an ambient capability that is not inheritable is skipped with
/// runc's warning, not an error.
#[test]
fn exec_cap_is_ambient_where_inheritable_and_otherwise_a_warning() {
    if !is_vzrun() {
        return; // runc 1.1.5 neither raises nor warns
    }
    let env = TestEnv::new("exec_cap_ambient");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let caps = &mut b.config_mut()["process"]["capabilities"];
    caps["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_SYS_ADMIN"));
    caps["inheritable"] = json!(["CAP_KILL", "CAP_SYS_ADMIN"]);
    caps["ambient"] = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let o = env.run_out(&id, &b, &["--detach"]);
    assert_eq!(o.code, 0, "{o}");
    assert!(
        o.stderr.contains(
            "level=warning msg=\"process.capabilities.ambient: can't raise ambient capability \
             CAP_NET_BIND_SERVICE"
        ),
        "{o}"
    );
    let amb = |o: &Out| {
        let hex = o.stdout.split_whitespace().last().unwrap_or("");
        u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{o}"))
    };
    let o = exec(&env, &id, &["--", "grep", "CapAmb", "/proc/self/status"]);
    assert_eq!(amb(&o), cap_mask(&["CAP_KILL"]), "{o}");
    // SYS_ADMIN is inheritable, so --cap makes it ambient too; NET_RAW is
    // not, so it is only effective (with the warning).
    let o = exec(
        &env,
        &id,
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            "--",
            "grep",
            "CapAmb",
            "/proc/self/status",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(amb(&o), cap_mask(&["CAP_KILL", "CAP_SYS_ADMIN"]), "{o}");
    let o = exec(
        &env,
        &id,
        &[
            "--cap",
            "CAP_NET_RAW",
            "--",
            "grep",
            "CapAmb",
            "/proc/self/status",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(amb(&o), cap_mask(&["CAP_KILL"]), "{o}");
    assert!(
        o.stderr
            .contains("can't raise ambient capability CAP_NET_RAW"),
        "{o}"
    );
}

#[test]
fn exec_exit_codes() {
    let env = TestEnv::new("exec_exit");
    let (id, _b, _) = running(&env);
    assert_eq!(exec(&env, &id, &["--", "sh", "-c", "exit 42"]).code, 42);
    assert_eq!(exec(&env, &id, &["--", "sh", "-c", "kill -9 $$"]).code, 137);
    assert_eq!(exec(&env, &id, &["--", "true"]).code, 0);
}

#[test]
fn exec_stdin_is_passed_through() {
    let env = TestEnv::new("exec_stdin");
    let (id, _b, _) = running(&env);
    let mut child = Command::new(runtime())
        .args([
            "--root",
            &env.root.display().to_string(),
            "exec",
            &id,
            "cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped-through\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped-through\n");
}

#[test]
fn exec_forwards_signals() {
    let env = TestEnv::new("exec_signals");
    let (id, b, _) = running(&env);
    let mut child = Command::new(runtime())
        .args([
            "--root",
            &env.root.display().to_string(),
            "exec",
            &id,
            "sh",
            "-c",
        ])
        .arg("trap 'exit 9' TERM; echo 1 > /tmp/ready; while true; do sleep 0.1; done")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    env.wait_file(&b.rootfs.join("tmp/ready"), RT_TIMEOUT);
    // SAFETY: signalling the runtime process we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(9));
}

#[test]
fn exec_into_stopped_or_paused_container_fails() {
    let env = TestEnv::new("exec_state");
    let (id, _b, _) = running(&env);
    // Paused, as `pause` will do it: the freezer cgroup frozen.
    let (freezer, frozen, thawed) = if cgroup_v2() {
        (cg_path("", &id, "cgroup.freeze"), "1", "0")
    } else {
        (cg_path("freezer", &id, "freezer.state"), "FROZEN", "THAWED")
    };
    fs::write(&freezer, frozen).unwrap();
    if !cgroup_v2() {
        // v1 passes through FREEZING; only FROZEN counts as paused.
        let deadline = std::time::Instant::now() + RT_TIMEOUT;
        while fs::read_to_string(&freezer).unwrap_or_default().trim() != "FROZEN" {
            assert!(std::time::Instant::now() < deadline, "never FROZEN");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let o = exec(&env, &id, &["--", "true"]);
    fs::write(&freezer, thawed).unwrap();
    // exec exits 255 on its own failures (runc does too), so they differ
    // from the exit codes of the process.
    assert_eq!(o.code, 255, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("paused"), "{o}");
    }
    env.rt(&["kill", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", Duration::from_secs(10));
    let o = exec(&env, &id, &["--", "true"]);
    assert_eq!(o.code, 255, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("stopped"), "{o}");
    }
}

#[test]
fn exec_bad_input_leaves_no_process() {
    let env = TestEnv::new("exec_bad");
    let (id, _b, _) = running(&env);
    let before = cgroup_procs(&id);
    let noargs = env.tmp.join("noargs.json");
    fs::write(
        &noargs,
        json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}).to_string(),
    )
    .unwrap();
    let nocwd = env.tmp.join("nocwd.json");
    fs::write(
        &nocwd,
        json!({"args": ["true"], "user": {"uid": 0, "gid": 0}}).to_string(),
    )
    .unwrap();
    let not_socket = env.tmp.join("not-a-socket");
    fs::write(&not_socket, "").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--process".into(),
                noargs.display().to_string(),
                "--".into(),
            ],
            "args",
        ),
        (
            vec!["--process".into(), nocwd.display().to_string(), "--".into()],
            "cwd",
        ),
        (
            vec![
                "-u".into(),
                "no-such-user".into(),
                "--".into(),
                "true".into(),
            ],
            "no-such-user",
        ),
        (
            vec![
                "--cap".into(),
                "CAP_NOPE".into(),
                "--".into(),
                "true".into(),
            ],
            "CAP_NOPE",
        ),
        (
            vec![
                "-t".into(),
                "--console-socket".into(),
                not_socket.display().to_string(),
                "--".into(),
                "true".into(),
            ],
            "not a socket",
        ),
        (vec!["--".into(), "/bin/nope".into()], "/bin/nope"),
    ];
    for (args, needle) in cases {
        // runc 1.1 only warns about an unknown capability.
        if needle == "CAP_NOPE" && !is_vzrun() {
            continue;
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = exec(&env, &id, &a);
        assert_eq!(o.code, 255, "{args:?}: {o}");
        if is_vzrun() {
            assert!(
                o.stderr.contains(needle),
                "{args:?}: want {needle:?} in {o}"
            );
            assert!(o.stderr.contains(&id), "{args:?}: names the container: {o}");
        }
        assert_eq!(
            cgroup_procs(&id),
            before,
            "{args:?}: no process left in the container"
        );
    }
}

#[test]
fn exec_console_socket() {
    let env = TestEnv::new("exec_console");
    let (id, _b, _) = running(&env);
    let sock = env.tmp.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let s = sock.display().to_string();
    // runc takes a console socket only with --detach (containerd's way).
    let o = env.rt(&[
        "exec",
        "-t",
        "--detach",
        "--console-socket",
        &s,
        &id,
        "sh",
        "-c",
        "tty; echo via-console; sleep 1",
    ]);
    assert_eq!(o.code, 0, "{o}");
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("nothing connected to the console socket: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let master = recv_fd(&conn);
    let got = read_until(master, "via-console", Duration::from_secs(20));
    assert!(got.contains("/dev/pts/"), "{got:?}");
    assert!(got.contains("via-console"), "{got:?}");
}

/// Runs the runtime on a pty of ours, as a user's shell would.
fn on_pty(args: &[&str], rows: u16, cols: u16) -> (std::process::Child, fs::File) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let slave = pty.slave;
    let mut cmd = Command::new(runtime());
    cmd.args(args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and TIOCSCTTY are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    (child, fs::File::from(pty.master))
}

#[test]
fn exec_tty_in_the_foreground_sees_resizes() {
    let env = TestEnv::new("exec_tty");
    let (id, _b, _) = running(&env);
    let root = env.root.display().to_string();
    let (mut child, mut master) = on_pty(&["--root", &root, "exec", "-t", &id, "sh"], 24, 80);
    // The marker is computed by the shell, so the terminal's echo of the
    // typed line (before the runtime made the terminal raw) cannot match.
    master
        .write_all(b"stty size; echo mark-$((1+1))\n")
        .unwrap();
    let got = read_until(
        master.try_clone().unwrap().into(),
        "mark-2\r\n",
        Duration::from_secs(20),
    );
    assert!(got.contains("24 80"), "initial size: {got:?}");
    let ws = libc::winsize {
        ws_row: 33,
        ws_col: 111,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ on our pty master; the kernel sends SIGWINCH to
    // the runtime, which must pass the new size on.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while !seen.contains("33 111") && Instant::now() < deadline {
        master.write_all(b"stty size\n").unwrap();
        seen.push_str(&read_for(&mut master, Duration::from_millis(300)));
    }
    assert!(seen.contains("33 111"), "resized: {seen:?}");
    master.write_all(b"exit 3\n").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn run_with_terminal_in_the_foreground() {
    let env = TestEnv::new("run_tty");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["terminal"] = json!(true);
    b.set_args(&["sh"]);
    b.write();
    env.track_id(&id);
    let root = env.root.display().to_string();
    let bundle = b.path();
    let (mut child, mut master) =
        on_pty(&["--root", &root, "run", "--bundle", &bundle, &id], 30, 90);
    master.write_all(b"tty; stty size; exit 6\n").unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains("30 90") && Instant::now() < deadline {
        seen.push_str(&read_for(&mut master, Duration::from_millis(300)));
    }
    assert_eq!(child.wait().unwrap().code(), Some(6), "{seen:?}");
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    // runc 1.1 leaves this pty without a size ("stty: standard input: No
    // child processes"); vzrun copies the caller's.
    if is_vzrun() {
        assert!(seen.contains("30 90"), "{seen:?}");
    }
}

fn read_for(f: &mut fs::File, d: Duration) -> String {
    let mut fds = [libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let mut out = String::new();
    let deadline = Instant::now() + d;
    while Instant::now() < deadline {
        // SAFETY: polling one descriptor we own.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 50) };
        if n > 0 {
            let mut buf = [0u8; 4096];
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    }
    out
}

fn read_until(fd: OwnedFd, needle: &str, timeout: Duration) -> String {
    let mut f = fs::File::from(fd);
    let mut got = String::new();
    let deadline = Instant::now() + timeout;
    while !got.contains(needle) && Instant::now() < deadline {
        got.push_str(&read_for(&mut f, Duration::from_millis(200)));
    }
    got
}

#[test]
fn exec_into_a_sub_cgroup() {
    let env = TestEnv::new("exec_subcg");
    let (id, _b, _) = running(&env);
    if !is_vzrun() {
        return;
    }
    // A sub-cgroup that does not exist is refused (it would outlive the
    // container)...
    let o = exec(&env, &id, &["--cgroup", "sub", "--", "true"]);
    assert_eq!(o.code, 255, "{o}");
    assert!(o.stderr.contains("no such cgroup"), "{o}");
    // ...one that exists is joined.
    let dirs = cgroup_dirs(&id);
    for d in &dirs {
        fs::create_dir(d.join("sub")).unwrap();
    }
    // `exec --cgroup SUB --detach sleep`: the process's pid.
    let sleep_in = |sub: &str| -> i32 {
        let pidfile = env.tmp.join(format!("{sub}.pid"));
        let pf = pidfile.display().to_string();
        let args = [
            "--cgroup",
            sub,
            "--detach",
            "--pid-file",
            &pf,
            "--",
            "sleep",
            "100",
        ];
        let o = exec(&env, &id, &args);
        assert_eq!(o.code, 0, "{o}");
        let pid: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        env.track_pid(pid);
        pid
    };
    let rel = cgroup_rel(&id);
    let pid = sleep_in("sub");
    assert_eq!(cgroup_of(pid, "pids"), Some(format!("{rel}/sub")));
    if !cgroup_v2() {
        // A sub-cgroup made in one hierarchy only: in the others the
        // process goes to the container's own cgroup, not the caller's.
        fs::create_dir(format!("/sys/fs/cgroup/pids{rel}/partial")).unwrap();
        let pid = sleep_in("partial");
        assert_eq!(cgroup_of(pid, "pids"), Some(format!("{rel}/partial")));
        assert_eq!(cgroup_of(pid, "memory"), Some(rel.clone()));
    }
    // delete takes the sub-cgroup, and what runs in it, along.
    env.rt(&["delete", "--force", &id]).assert_ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_starttime(pid).is_some_and(|_| !is_zombie(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        proc_starttime(pid).is_none() || is_zombie(pid),
        "the exec'd process in the sub-cgroup survived delete"
    );
    env.assert_no_leftovers(&id);
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(false)
}

#[test]
fn exec_keeps_the_containers_settings_runc_keeps() {
    let env = TestEnv::new("exec_keeps");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let marks = env.mkdir("marks");
    b.bind(&marks, "/marks", false);
    b.config_mut()["process"]["oomScoreAdj"] = json!(123);
    b.config_mut()["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
    b.config_mut()["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo x >> /marks/start-hooks"]}]});
    b.set_args(&["sleep", "1000"]);
    env.run_out(&id, &b, &["--detach"]).assert_ok();
    let o = exec(
        &env,
        &id,
        &[
            "-u",
            "1000",
            "--cap",
            "CAP_NET_ADMIN",
            "--",
            "sh",
            "-c",
            "id -g; cat /proc/self/oom_score_adj; grep CapAmb /proc/self/status",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0], "0",
        "-u without a gid keeps the config's gid: {o}"
    );
    assert_eq!(
        lines[1], "123",
        "the container's oomScoreAdj, not the caller's: {o}"
    );
    let amb = u64::from_str_radix(lines[2].split_whitespace().last().unwrap(), 16).unwrap();
    assert_eq!(amb & (1 << 12), 0, "--cap never becomes ambient: {o}");
    // startContainer hooks ran once, at start, not again for exec.
    assert_eq!(
        fs::read_to_string(marks.join("start-hooks")).unwrap(),
        "x\n"
    );
    // The caller's stdout file was not handed to the exec user.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&o.stdout_path).unwrap().uid(), 0);
}

#[test]
fn exec_env_replaces_a_variable_once() {
    let env = TestEnv::new("exec_env_once");
    let (id, _b, _) = running(&env);
    let o = exec(
        &env,
        &id,
        &[
            "--env",
            "HOME=/x",
            "--env",
            "A=1",
            "--",
            "sh",
            "-c",
            "env | grep -E '^(HOME|A)=' | sort | tr '\\n' ' '",
        ],
    );
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(o.stdout.trim(), "A=1 HOME=/x", "{o}");
}

/// `exec --user` hands the user its stdio pipes, never a file the caller
/// gave: the host's /dev/null (the exec's stdin here) keeps its owner, and
/// so does the container's.
#[test]
fn exec_as_a_user_leaves_dev_null_alone() {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new("exec_devnull");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.run_out(&id, &b, &["--detach"]).assert_ok();
    let before = std::fs::metadata("/dev/null").unwrap();
    let o = env.rt(&[
        "exec",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "id -u; stat -c %u /dev/null",
    ]);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(o.stdout.lines().collect::<Vec<_>>(), ["1000", "0"], "{o}");
    let after = std::fs::metadata("/dev/null").unwrap();
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    env.rt(&["delete", "--force", &id]).assert_ok();
}
