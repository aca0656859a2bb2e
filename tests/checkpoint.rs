//! Checkpoint and restore through CRIU, with real containers: what a user
//! sees afterwards (the counter going on, tmpfs contents, limits, masked
//! and read-only paths) and every refusal. CRIU 4.0+ must be installed
//! (`hack/install-criu.sh`, which `make test` runs): without it these
//! tests fail, naming what is missing.
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A counter in the shell's memory, written to a tmpfs each tick: after a
/// restore it goes on from where it was only if both came back.
const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /run/count; sleep 0.1; done";

fn need_criu(env: &TestEnv) {
    let o = host_sh(env, "criu --version");
    assert!(
        o.success() && !o.stdout.contains("Version: 3."),
        "checkpoint tests need CRIU 4.0+ on PATH (hack/install-criu.sh): {o}"
    );
}

/// A detached container running `script`, with a tmpfs at /run; its
/// stdio are pipes, as podman's conmon and containerd's shim give it
/// (the host's /dev/null would be a file of a mount CRIU cannot see).
fn start(
    env: &TestEnv,
    pipes: &mut Pipes,
    id: &str,
    script: &str,
    f: impl FnOnce(&mut Bundle),
) -> Bundle {
    let mut b = env.bundle(id);
    b.set_sh(script);
    b.push_mount(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs"}));
    f(&mut b);
    b.write();
    let o = pipes.rt(env, &["run", "--detach", "--bundle", &b.path(), id]);
    assert_eq!(o.code, 0, "{o}");
    b
}

/// The other ends of the pipes given to containers as stdio, held open
/// until the test ends (closed, they would end the container's output).
#[derive(Default)]
struct Pipes(Vec<std::os::fd::OwnedFd>);

impl Pipes {
    /// The runtime with `--root` and three fresh pipes as stdio; its own
    /// messages are what is in the stderr pipe once it exited.
    fn rt(&mut self, env: &TestEnv, args: &[&str]) -> Out {
        use std::io::Read;
        let (in_r, in_w) = std::io::pipe().unwrap();
        let (mut out_r, out_w) = std::io::pipe().unwrap();
        let (mut err_r, err_w) = std::io::pipe().unwrap();
        let mut full = vec!["--root".to_string(), env.root.display().to_string()];
        full.extend(args.iter().map(|a| a.to_string()));
        let status = std::process::Command::new(runtime())
            .args(&full)
            .stdin(in_r)
            .stdout(out_w)
            .stderr(err_w)
            .status()
            .unwrap();
        let drain = |r: &mut std::io::PipeReader| {
            use std::os::fd::AsRawFd;
            // SAFETY: fcntl on a descriptor we own; only its flags change.
            unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        };
        let stdout = drain(&mut out_r);
        let stderr = drain(&mut err_r);
        self.0.extend([in_w.into(), out_r.into(), err_r.into()]);
        Out {
            program: runtime(),
            args: full,
            code: status.code().unwrap_or(128),
            stdout,
            stderr,
            stdout_path: PathBuf::new(),
            stderr_path: PathBuf::new(),
        }
    }
}

fn count(env: &TestEnv, id: &str) -> u64 {
    let o = env.rt(&["exec", id, "cat", "/run/count"]);
    assert_eq!(o.code, 0, "{o}");
    o.stdout.trim().parse().unwrap_or_else(|_| panic!("{o}"))
}

/// Waits until the counter passes `above`.
fn counts_past(env: &TestEnv, id: &str, above: u64) -> u64 {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let n = count(env, id);
        if n > above {
            return n;
        }
        assert!(Instant::now() < end, "the counter stayed at {n}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn images(env: &TestEnv, name: &str) -> PathBuf {
    env.tmp.join(name)
}

fn restore(env: &TestEnv, pipes: &mut Pipes, b: &Bundle, img: &Path, id: &str) -> Out {
    env.track_id(id);
    let i = img.display().to_string();
    pipes.rt(
        env,
        &[
            "restore",
            "--detach",
            "--bundle",
            &b.path(),
            "--image-path",
            &i,
            id,
        ],
    )
}

#[test]
fn a_counter_survives_checkpoint_and_restore() {
    let env = TestEnv::new("ckpt_counter");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |_| {});
    let before = counts_past(&env, &id, 3);
    let img = images(&env, "img");
    let o = env.rt(&[
        "checkpoint",
        "--image-path",
        &img.display().to_string(),
        &id,
    ]);
    assert_eq!(o.code, 0, "{o}");
    // Gone, as under runc, and its images private to root.
    assert!(env.try_state(&id).is_none(), "the container is still there");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&img).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let saved: u64 = before;
    // The same id comes back; the shell's counter goes on (not from 1).
    let o = restore(&env, &mut pipes, &b, &img, &id);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(env.status(&id), "running");
    let after = count(&env, &id);
    assert!(
        after >= saved,
        "restored at {after}, checkpointed past {saved}"
    );
    counts_past(&env, &id, after);
    // The restored init is in the container's cgroup, and it is pid 1.
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let procs = fs::read_to_string(cg_path("pids", &id, "cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    let o = env.rt(&["exec", &id, "cat", "/proc/1/cmdline"]);
    assert!(o.stdout.starts_with("sh"), "{o}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

#[test]
fn leave_running_and_restore_under_a_new_id_with_its_limits() {
    let env = TestEnv::new("ckpt_leave");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |b| {
        b.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 42});
        b.config_mut()["linux"]["maskedPaths"] = json!(["/proc/keys"]);
        b.config_mut()["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
        b.config_mut()["root"]["readonly"] = json!(true);
    });
    counts_past(&env, &id, 2);
    let img = images(&env, "img");
    let o = env.rt(&[
        "checkpoint",
        "--leave-running",
        "--image-path",
        &img.display().to_string(),
        &id,
    ]);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(env.status(&id), "running");
    let n = count(&env, &id);
    counts_past(&env, &id, n);
    env.rt(&["delete", "--force", &id]).assert_ok();
    // Under a new id (the bundle's cgroupsPath is free again).
    let new = format!("{id}-restored");
    let o = restore(&env, &mut pipes, &b, &img, &new);
    assert_eq!(o.code, 0, "{o}");
    counts_past(&env, &new, 0);
    assert_eq!(cg_read("pids", &id, "pids.max"), "42");
    let o = env.rt(&[
        "exec",
        &new,
        "sh",
        "-c",
        "wc -c < /proc/keys; touch /proc/sys/kernel/x 2>/dev/null && echo rw || echo ro; \
         touch /x 2>/dev/null && echo rw || echo ro",
    ]);
    // Masked, read-only path and read-only root, as before the checkpoint.
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "ro", "ro"],
        "{o}"
    );
    env.rt(&["delete", "--force", &new]).assert_ok();
    env.assert_no_leftovers(&new);
    // The cgroup is the bundle's, named after the first id.
    env.assert_no_leftovers(&id);
}

#[test]
fn checkpoint_and_restore_refusals_leave_nothing_behind() {
    let env = TestEnv::new("ckpt_errors");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let img = images(&env, "img");
    let i = img.display().to_string();
    // An unknown container.
    let o = env.rt(&["checkpoint", "--image-path", &i, "no-such-ckpt"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("no-such-ckpt"), "{o}");
    // A stopped one.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["true"]);
    env.run_out(&id, &b, &["--keep"]).assert_ok();
    let o = env.rt(&["checkpoint", "--image-path", &i, &id]);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr.contains(&id) && o.stderr.contains("stopped"),
        "{o}"
    );
    env.rt(&["delete", &id]).assert_ok();
    // Restore from images that are not there, and from junk.
    let new = env.new_id();
    let o = restore(&env, &mut pipes, &b, &env.tmp.join("missing"), &new);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("no checkpoint there"), "{o}");
    env.assert_no_leftovers(&new);
    let junk = env.mkdir("junk");
    fs::write(junk.join("inventory.img"), "not an image").unwrap();
    let o = restore(&env, &mut pipes, &b, &junk, &new);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .contains(&format!("{}/restore.log", junk.display())),
        "{o}"
    );
    env.assert_no_leftovers(&new);
    // Restore into an id that exists.
    let busy = env.new_id();
    start(&env, &mut pipes, &busy, "sleep 1000", |_| {});
    let o = restore(&env, &mut pipes, &b, &junk, &busy);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .contains(&format!("container with id {busy} exists")),
        "{o}"
    );
    assert_eq!(env.status(&busy), "running");
    // A flag with a value CRIU does not know.
    let o = env.rt(&[
        "checkpoint",
        "--manage-cgroups-mode",
        "bogus",
        "--image-path",
        &i,
        &busy,
    ]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("--manage-cgroups-mode"), "{o}");
    env.rt(&["delete", "--force", &busy]).assert_ok();
}

/// Beancounters and `events --stats` read a restored container.
#[test]
fn beancounters_and_stats_after_restore() {
    let env = TestEnv::new("ckpt_stats");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |b| {
        b.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 30});
    });
    counts_past(&env, &id, 1);
    let img = images(&env, "img");
    env.rt(&[
        "checkpoint",
        "--image-path",
        &img.display().to_string(),
        &id,
    ])
    .assert_ok();
    let o = restore(&env, &mut pipes, &b, &img, &id);
    assert_eq!(o.code, 0, "{o}");
    let o = env.rt(&["events", "--stats", &id]);
    assert_eq!(o.code, 0, "{o}");
    let ev: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(ev["data"]["pids"]["limit"], 30, "{ev}");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");
    let o = env.rt(&["beancounters", "--format", "json", &id]);
    assert_eq!(o.code, 0, "{o}");
    assert!(o.stdout.contains("numproc"), "{o}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

/// The CVE class of runc's and crun's restore: an image whose mount
/// destination is a symlink to a host path. Restore names external mounts
/// from the config and refuses a mount point reached through a symlink,
/// so one planted at /data (pointing at a host directory) after the
/// checkpoint fails the restore by name, and the host directory is neither
/// mounted on nor written to; nothing of the container is left.
#[test]
fn a_symlink_planted_at_a_mount_point_does_not_reach_the_host() {
    let env = TestEnv::new("ckpt_symlink");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let victim = env.mkdir("victim");
    let src = env.mkdir("src");
    fs::write(src.join("f"), "data\n").unwrap();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |b| {
        fs::create_dir(b.rootfs.join("data")).unwrap();
        b.push_mount(json!({"destination": "/data", "type": "bind",
                            "source": src.display().to_string(), "options": ["rbind", "ro"]}));
    });
    counts_past(&env, &id, 1);
    let img = images(&env, "img");
    env.rt(&[
        "checkpoint",
        "--image-path",
        &img.display().to_string(),
        &id,
    ])
    .assert_ok();
    fs::remove_dir(b.rootfs.join("data")).unwrap();
    std::os::unix::fs::symlink(&victim, b.rootfs.join("data")).unwrap();
    let o = restore(&env, &mut pipes, &b, &img, &id);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .contains("/data is a symlink, or is reached through one"),
        "{o}"
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&victim.display().to_string()), "{mounts}");
    assert_eq!(fs::read_dir(&victim).unwrap().count(), 0);
    env.assert_no_leftovers(&id);
}

/// Reads what `f` has within 20 s (a stalled pty fails the test instead
/// of hanging it).
fn read_some(f: &mut fs::File, buf: &mut [u8]) -> usize {
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        f.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)).unwrap();
    assert!(ready > 0, "nothing from the pty in 20 s");
    f.read(buf).unwrap_or(0)
}

/// A container with a terminal: its pty master is held by the console
/// socket's receiver (outside the tree, CRIU's orphan pts master); restore
/// makes a new pty pair, sends the master to `--console-socket`, and the
/// process goes on writing to it.
#[test]
fn a_terminal_container_restores_with_a_console_socket() {
    use std::os::unix::net::UnixListener;
    let env = TestEnv::new("ckpt_tty");
    need_criu(&env);
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["terminal"] = json!(true);
    b.set_sh("i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done");
    let sock = env.tmp.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    env.create_out(&id, &b, &["--console-socket", &sock.display().to_string()])
        .assert_ok();
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(&conn);
    env.start(&id);
    let mut first = fs::File::from(master);
    let mut buf = [0u8; 4096];
    let mut seen = String::new();
    while !seen.contains("tick 3") {
        let n = read_some(&mut first, &mut buf);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let img = images(&env, "img");
    env.rt(&[
        "checkpoint",
        "--image-path",
        &img.display().to_string(),
        &id,
    ])
    .assert_ok();
    drop(first);
    let mut pipes = Pipes::default();
    let sock2 = env.tmp.join("console2.sock");
    let listener2 = UnixListener::bind(&sock2).unwrap();
    env.track_id(&id);
    let (i, s2) = (img.display().to_string(), sock2.display().to_string());
    let args = [
        "restore",
        "--detach",
        "--console-socket",
        &s2,
        "--bundle",
        &b.path(),
        "--image-path",
        &i,
        &id,
    ];
    let o = pipes.rt(&env, &args);
    assert_eq!(o.code, 0, "{o}");
    let (conn2, _) = listener2.accept().unwrap();
    let mut f = fs::File::from(recv_fd(&conn2));
    let mut got = String::new();
    while got.matches("tick").count() < 3 {
        let n = read_some(&mut f, &mut buf);
        assert!(n > 0, "the pty closed: {got:?}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // It counts on from where it was, not from 1.
    assert!(!got.contains("tick 1\r"), "{got:?}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}
