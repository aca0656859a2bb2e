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
/// restore it goes on from where it was only if both came back. Written
/// aside and renamed, so that a reader never finds the file truncated and
/// still empty.
const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /run/count.new; mv /run/count.new /run/count; \
     sleep 0.1; done";

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
    restore_with(env, pipes, b, img, id, &[])
}

/// `restore --detach` with `flags`.
fn restore_with(
    env: &TestEnv,
    pipes: &mut Pipes,
    b: &Bundle,
    img: &Path,
    id: &str,
    flags: &[&str],
) -> Out {
    env.track_id(id);
    let (i, bundle) = (img.display().to_string(), b.path());
    let mut args = vec![
        "restore",
        "--detach",
        "--bundle",
        &bundle,
        "--image-path",
        &i,
    ];
    args.extend(flags);
    args.push(id);
    pipes.rt(env, &args)
}

/// `checkpoint` with `flags` into `img`.
fn checkpoint(env: &TestEnv, id: &str, img: &Path, flags: &[&str]) -> Out {
    let i = img.display().to_string();
    let mut args = vec!["checkpoint", "--image-path", &i];
    args.extend(flags);
    args.push(id);
    env.rt(&args)
}

/// A container running the holder probe (tests/probes/holder.c) with
/// `args`: it holds what they name and counts in /run/count.
fn start_holder(
    env: &TestEnv,
    pipes: &mut Pipes,
    id: &str,
    args: &[&str],
    f: impl FnOnce(&mut Bundle),
) -> Bundle {
    start(env, pipes, id, "", |b| {
        install_probe("holder", "-m64", &b.rootfs.join("holder"));
        let mut a = vec!["/holder"];
        a.extend(args);
        b.set_args(&a);
        f(b);
    })
}

/// The images' files whose names start with `prefix`.
fn image_files(img: &Path, prefix: &str) -> Vec<PathBuf> {
    fs::read_dir(img)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect()
}

/// The counter goes on from where it was; what the process left in its
/// tmpfs comes back; CRIU's logs go to `--work-path` (0700) on both
/// sides; `--pid-file` names the restored init.
#[test]
fn a_counter_survives_checkpoint_and_restore() {
    let env = TestEnv::new("ckpt_counter");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let script = format!("echo kept > /run/marker; {COUNTER}");
    let b = start(&env, &mut pipes, &id, &script, |_| {});
    let before = counts_past(&env, &id, 3);
    let img = images(&env, "img");
    let work = env.tmp.join("work-dump");
    let w = work.display().to_string();
    checkpoint(&env, &id, &img, &["--work-path", &w]).assert_ok();
    // Gone, as under runc, and its images and CRIU's log private to root.
    assert!(env.try_state(&id).is_none(), "the container is still there");
    use std::os::unix::fs::PermissionsExt;
    for dir in [&img, &work] {
        let mode = fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
    assert!(work.join("dump.log").is_file());
    assert!(!img.join("dump.log").exists());
    // The network namespace's devices are in the images (see --empty-ns).
    assert!(!image_files(&img, "netdev-").is_empty());
    // The same id comes back; the shell's counter goes on (not from 1).
    let work2 = env.tmp.join("work-restore");
    let pid_file = env.tmp.join("restored.pid");
    let (w2, pf) = (work2.display().to_string(), pid_file.display().to_string());
    let o = restore_with(
        &env,
        &mut pipes,
        &b,
        &img,
        &id,
        &["--work-path", &w2, "--pid-file", &pf],
    );
    assert_eq!(o.code, 0, "{o}");
    assert!(work2.join("restore.log").is_file());
    assert_eq!(env.status(&id), "running");
    let after = count(&env, &id);
    assert!(
        after >= before,
        "restored at {after}, checkpointed past {before}"
    );
    counts_past(&env, &id, after);
    // The restored init is in the container's cgroup, and it is pid 1.
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let procs = fs::read_to_string(cg_path("pids", &id, "cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    let o = env.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/1/cmdline; echo; cat /run/marker",
    ]);
    assert!(o.stdout.starts_with("sh"), "{o}");
    assert_eq!(o.stdout.lines().nth(1), Some("kept"), "{o}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

/// What CRIU refuses to dump unless told, one flag at a time, each
/// refusal leaving the container running: a connection still being
/// accepted (`--tcp-skip-in-flight`), an established one
/// (`--tcp-established`), a file open by a name that is gone
/// (`--link-remap`) and a held lock (`--file-locks`). With all four the
/// container moves, and its connection still carries bytes (the probe
/// ends if it breaks), its lock is held and its file reads back. Restore
/// without `--tcp-established` is refused by name before anything is
/// made.
#[test]
fn tcp_connections_file_locks_and_linked_files_need_their_flags() {
    let env = TestEnv::new("ckpt_flags");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let holds = [
        "flock", "/lockf", "linked", "/lnk", "tcp", "5000", "inflight", "5001",
    ];
    let b = start_holder(&env, &mut pipes, &id, &holds, |_| {});
    let mut n = counts_past(&env, &id, 2);
    let img = images(&env, "img");
    let steps: [(&[&str], &str); 4] = [
        (&[], "In-flight connections can be ignored"),
        (
            &["--tcp-skip-in-flight"],
            "consider using --tcp-established",
        ),
        (
            &["--tcp-skip-in-flight", "--tcp-established"],
            "Use link-remap option",
        ),
        (
            &["--tcp-skip-in-flight", "--tcp-established", "--link-remap"],
            "--file-locks",
        ),
    ];
    for (flags, says) in steps {
        let o = checkpoint(&env, &id, &img, flags);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains(says), "{flags:?}: {o}");
        assert_eq!(env.status(&id), "running", "{flags:?}");
        n = counts_past(&env, &id, n);
    }
    let all = [
        "--tcp-skip-in-flight",
        "--tcp-established",
        "--link-remap",
        "--file-locks",
    ];
    checkpoint(&env, &id, &img, &all).assert_ok();
    let o = restore_with(&env, &mut pipes, &b, &img, &id, &[]);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr.contains("restore them with --tcp-established"),
        "{o}"
    );
    env.assert_no_leftovers(&id);
    let flags = ["--tcp-established", "--file-locks"];
    let o = restore_with(&env, &mut pipes, &b, &img, &id, &flags);
    assert_eq!(o.code, 0, "{o}");
    let m = count(&env, &id);
    assert!(m >= n, "restored at {m}, checkpointed past {n}");
    counts_past(&env, &id, m + 3);
    let o = env.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "grep -c FLOCK /proc/locks; readlink /proc/1/fd/10; cat /proc/1/fd/11",
    ]);
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["1", "/lockf", "linked"],
        "{o}"
    );
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

/// A unix socket connected to one outside the container (a host
/// service's socket bound in, as syslog's /dev/log is) is dumped only
/// with `--ext-unix-sk`. The container shares the host's network
/// namespace (`--network host`): CRIU finds a socket's peer only in the
/// network namespaces it dumps or runs in.
#[test]
fn a_socket_to_the_outside_needs_ext_unix_sk() {
    let env = TestEnv::new("ckpt_extsk");
    need_criu(&env);
    let sock = env.tmp.join("service.sock");
    let _service = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    let mut pipes = Pipes::default();
    let id = env.new_id();
    // Bound at the host's path: CRIU reconnects to the name the peer has
    // on the host, looked up in the container.
    let at = sock.display().to_string();
    let b = start_holder(&env, &mut pipes, &id, &["unix", &at], |b| {
        b.bind(&sock, &at, false);
        let ns = b.config_mut()["linux"]["namespaces"]
            .as_array_mut()
            .unwrap();
        ns.retain(|n| n["type"] != "network");
    });
    let n = counts_past(&env, &id, 1);
    let img = images(&env, "img");
    let o = checkpoint(&env, &id, &img, &["--leave-running"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("--ext-unix-sk"), "{o}");
    checkpoint(&env, &id, &img, &["--leave-running", "--ext-unix-sk"]).assert_ok();
    assert_eq!(env.status(&id), "running");
    counts_past(&env, &id, n);
    env.rt(&["delete", "--force", &id]).assert_ok();
    // Restored, it is connected to the service again.
    let o = restore_with(&env, &mut pipes, &b, &img, &id, &["--ext-unix-sk"]);
    assert_eq!(o.code, 0, "{o}");
    let m = counts_past(&env, &id, 0);
    counts_past(&env, &id, m);
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

/// `--manage-cgroups-mode full` on both sides puts the restored tree in
/// the container's own cgroup with its limits; `--empty-ns network`
/// leaves the network namespace out of the images and empty on restore
/// (lo down); `--auto-dedup` punches the restored pages out of the
/// images; `--shell-job` is passed through.
#[test]
fn cgroup_mode_empty_network_namespace_and_auto_dedup() {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new("ckpt_modes");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |b| {
        b.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 42});
    });
    let n = counts_past(&env, &id, 2);
    let img = images(&env, "img");
    let both = [
        "--manage-cgroups-mode",
        "full",
        "--empty-ns",
        "network",
        "--shell-job",
    ];
    checkpoint(&env, &id, &img, &both).assert_ok();
    assert!(image_files(&img, "netdev-").is_empty());
    let blocks = |img: &Path| -> u64 {
        image_files(img, "pages-")
            .iter()
            .map(|p| fs::metadata(p).unwrap().blocks())
            .sum()
    };
    assert!(blocks(&img) > 0);
    let mut flags = both.to_vec();
    flags.push("--auto-dedup");
    let o = restore_with(&env, &mut pipes, &b, &img, &id, &flags);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(blocks(&img), 0, "--auto-dedup left the pages in the images");
    let m = count(&env, &id);
    assert!(m >= n, "restored at {m}, checkpointed past {n}");
    counts_past(&env, &id, m);
    let o = env.rt(&["exec", &id, "cat", "/sys/class/net/lo/flags"]);
    assert_eq!(o.stdout.trim(), "0x8", "lo should be down: {o}");
    assert_eq!(cg_read("pids", &id, "pids.max"), "42");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let procs = fs::read_to_string(cg_path("pids", &id, "cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

/// fs.pipe-max-size, put back when the test ends.
struct PipeMaxSize(String);

const PIPE_MAX_SIZE: &str = "/proc/sys/fs/pipe-max-size";

impl Drop for PipeMaxSize {
    fn drop(&mut self) {
        let _ = fs::write(PIPE_MAX_SIZE, &self.0);
    }
}

/// A process group killed when the test ends, however it ends.
struct KillGroup(i32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A child killed if it has not exited within 60 s.
fn wait_bounded(c: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > end {
            let _ = c.kill();
            panic!("{what} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live migration on one machine: `checkpoint --lazy-pages --page-server`
/// says on `--status-fd` when it serves the frozen container's memory,
/// `criu lazy-pages` fetches it for `restore --lazy-pages` under a new id
/// and cgroup; the counter goes on there and the source is gone. Before
/// that, with the default fs.pipe-max-size, the checkpoint is refused by
/// name and the container goes on.
#[test]
fn lazy_migration_through_a_page_server() {
    use std::os::fd::{AsFd, AsRawFd};
    use std::os::unix::process::CommandExt;
    let env = TestEnv::new("ckpt_lazy");
    need_criu(&env);
    let _put_back = PipeMaxSize(fs::read_to_string(PIPE_MAX_SIZE).unwrap());
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |_| {});
    let n = counts_past(&env, &id, 2);
    let img = images(&env, "img");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ps = format!("127.0.0.1:{port}");
    // Only a caller without CAP_SYS_RESOURCE (this project's machines;
    // not the systemd VM's unit) is bound by the limit, which is below
    // 4 MiB as a machine boots (never lowered here).
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let eff = status_field(&status, "CapEff").unwrap();
    let sys_resource = u64::from_str_radix(&eff, 16).unwrap() & (1 << 24) != 0;
    let max: u64 = fs::read_to_string(PIPE_MAX_SIZE)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if !sys_resource && max < 4 << 20 {
        let o = checkpoint(&env, &id, &img, &["--lazy-pages", "--page-server", &ps]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("fs.pipe-max-size"), "{o}");
        assert_eq!(env.status(&id), "running");
        fs::write(PIPE_MAX_SIZE, "4194304").unwrap();
    }

    let (mut ready_r, ready_w) = std::io::pipe().unwrap();
    let raw = ready_w.as_raw_fd();
    let (root, i) = (env.root.display().to_string(), img.display().to_string());
    let log = fs::File::create(env.tmp.join("source.log")).unwrap();
    let mut source = std::process::Command::new(runtime());
    source
        .args([
            "--root",
            &root,
            "checkpoint",
            "--lazy-pages",
            "--page-server",
            &ps,
        ])
        .args(["--status-fd", "3", "--image-path", &i, &id])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // SAFETY: dup2 and fcntl in the forked child, on descriptors it has.
    unsafe {
        source.pre_exec(move || {
            let ok = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if ok < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Its own process group: CRIU, the source's child, serves pages with
    // the container frozen, and must not outlive a failed test.
    source.process_group(0);
    let mut source = source.spawn().unwrap();
    let _group = KillGroup(source.id() as i32);
    env.track_pid(source.id() as i32);
    drop(ready_w);
    let source_log = || fs::read_to_string(env.tmp.join("source.log")).unwrap();
    let mut fds = [nix::poll::PollFd::new(
        ready_r.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(30_000u16)).unwrap();
    assert!(ready > 0, "no ready signal in 30 s: {}", source_log());
    let mut byte = [0u8; 1];
    use std::io::Read;
    let got = ready_r.read(&mut byte).unwrap();
    assert_eq!(got, 1, "no ready signal: {}", source_log());

    let mut lazy = std::process::Command::new("criu")
        .args(["lazy-pages", "--page-server", "--address", "127.0.0.1"])
        .args([
            "--port",
            &port.to_string(),
            "-D",
            &i,
            "-o",
            "lazy-pages.log",
        ])
        .spawn()
        .unwrap();
    env.track_pid(lazy.id() as i32);
    let target = format!("{id}-target");
    let mut tb = env.bundle(&target);
    tb.config_mut()["root"]["path"] = json!(b.rootfs.display().to_string());
    tb.set_sh(COUNTER);
    tb.push_mount(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs"}));
    tb.write();
    let o = restore_with(&env, &mut pipes, &tb, &img, &target, &["--lazy-pages"]);
    assert_eq!(o.code, 0, "{o}");
    let s = wait_bounded(&mut source, "the source's checkpoint");
    assert!(s.success(), "checkpoint: {s}: {}", source_log());
    let s = wait_bounded(&mut lazy, "criu lazy-pages");
    assert!(s.success(), "criu lazy-pages: {s}");
    assert!(env.try_state(&id).is_none(), "the source is still there");
    let m = count(&env, &target);
    assert!(m >= n, "restored at {m}, checkpointed past {n}");
    counts_past(&env, &target, m);
    env.rt(&["delete", "--force", &target]).assert_ok();
    env.assert_no_leftovers(&target);
    env.assert_no_leftovers(&id);
}

/// Pre-dumps and `--parent-path` need the kernel's memory change tracking
/// (soft-dirty); without it CRIU's refusal is shown and the container
/// goes on. A parent path that is not there is refused by name.
#[test]
fn pre_dump_and_parent_path() {
    let env = TestEnv::new("ckpt_predump");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start(&env, &mut pipes, &id, COUNTER, |_| {});
    let n = counts_past(&env, &id, 2);
    let img = images(&env, "final");
    let o = checkpoint(&env, &id, &img, &["--parent-path", "../nowhere"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .contains("--parent-path ../nowhere: no checkpoint at"),
        "{o}"
    );
    assert_eq!(env.status(&id), "running");
    let tracking = host_sh(&env, "criu check --feature mem_dirty_track").success();
    let pre = images(&env, "pre");
    let o = checkpoint(&env, &id, &pre, &["--pre-dump"]);
    if !tracking {
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("Tracking memory is not available"), "{o}");
        assert_eq!(env.status(&id), "running");
        counts_past(&env, &id, n);
        env.rt(&["delete", "--force", &id]).assert_ok();
        env.assert_no_leftovers(&id);
        return;
    }
    o.assert_ok();
    assert_eq!(env.status(&id), "running");
    // --auto-dedup drops from the parent what the new images hold again.
    checkpoint(
        &env,
        &id,
        &img,
        &["--parent-path", "../pre", "--auto-dedup"],
    )
    .assert_ok();
    let o = restore(&env, &mut pipes, &b, &img, &id);
    assert_eq!(o.code, 0, "{o}");
    counts_past(&env, &id, n);
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
}

/// A network namespace the config joins by path (podman's and CRI's pod
/// namespace) is not the container's to dump: it is left out and given
/// back on restore, with an established connection inside it.
#[test]
fn a_joined_network_namespace_is_given_back() {
    let env = TestEnv::new("ckpt_netns");
    need_criu(&env);
    // busybox's applets, which the VM guests have too.
    let ready = env.tmp.join("netns-ready");
    let script = format!(
        "busybox ip link set lo up && touch {} && exec busybox sleep 1000",
        ready.display()
    );
    let mut holder = std::process::Command::new("unshare")
        .args(["-n", "busybox", "sh", "-c", &script])
        .spawn()
        .expect("run unshare");
    let hp = holder.id() as i32;
    env.track_pid(hp);
    let end = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < end, "the namespace holder did not start");
        assert!(holder.try_wait().unwrap().is_none(), "unshare failed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let netns = format!("/proc/{hp}/ns/net");
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let b = start_holder(&env, &mut pipes, &id, &["tcp", "5000"], |b| {
        let ns = b.config_mut()["linux"]["namespaces"]
            .as_array_mut()
            .unwrap();
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "network", "path": netns}));
    });
    let n = counts_past(&env, &id, 2);
    let img = images(&env, "img");
    checkpoint(&env, &id, &img, &["--tcp-established"]).assert_ok();
    assert!(image_files(&img, "netdev-").is_empty());
    let o = restore_with(&env, &mut pipes, &b, &img, &id, &["--tcp-established"]);
    assert_eq!(o.code, 0, "{o}");
    let o = env.rt(&["exec", &id, "readlink", "/proc/1/ns/net"]);
    let want = fs::read_link(&netns).unwrap();
    assert_eq!(o.stdout.trim(), want.display().to_string(), "{o}");
    let m = count(&env, &id);
    assert!(m >= n, "restored at {m}, checkpointed past {n}");
    counts_past(&env, &id, m + 3);
    env.rt(&["delete", "--force", &id]).assert_ok();
    env.assert_no_leftovers(&id);
    let _ = holder.kill();
    let _ = holder.wait();
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
    let o = checkpoint(&env, &busy, &img, &["--empty-ns", "pid"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("only the network namespace"), "{o}");
    assert_eq!(env.status(&busy), "running");
    env.rt(&["delete", "--force", &busy]).assert_ok();
    // Restore flags this host or CRIU cannot honour are refused before
    // anything is made.
    let lsm = fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    let refusals: [(&[&str], &str); 3] = [
        (&["--no-pivot"], "--no-pivot is not supported"),
        (&["--lsm-profile", "x"], "neither AppArmor nor SELinux"),
        (&["--lsm-mount-context", "x"], "SELinux is not enabled"),
    ];
    for (flags, says) in refusals {
        if flags[0].starts_with("--lsm") && (lsm.contains("apparmor") || lsm.contains("selinux")) {
            continue; // an LSM host: the profile or context goes to CRIU
        }
        let o = restore_with(&env, &mut pipes, &b, &junk, &new, flags);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains(says), "{flags:?}: {o}");
        env.assert_no_leftovers(&new);
    }
}

/// Restore without `--detach` stays with the container and exits with
/// its status, as run does; `--no-subreaper` (containerd's shim sends it)
/// changes nothing a user sees, since the restored init is the runtime's
/// own child.
#[test]
fn a_foreground_restore_exits_with_the_container() {
    let env = TestEnv::new("ckpt_fg");
    need_criu(&env);
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let script = "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i > /run/count.new; \
         mv /run/count.new /run/count; sleep 0.1; done; exit 7";
    let b = start(&env, &mut pipes, &id, script, |_| {});
    counts_past(&env, &id, 2);
    let img = images(&env, "img");
    checkpoint(&env, &id, &img, &[]).assert_ok();
    env.track_id(&id);
    let (i, bundle) = (img.display().to_string(), b.path());
    let args = [
        "restore",
        "--no-subreaper",
        "--bundle",
        &bundle,
        "--image-path",
        &i,
        &id,
    ];
    let o = pipes.rt(&env, &args);
    assert_eq!(o.code, 7, "{o}");
    assert!(env.try_state(&id).is_none(), "the container is still there");
    env.assert_no_leftovers(&id);
}

/// Beancounters and `events --stats` read a restored container (checkpointed
/// to the default `./checkpoint`).
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
    // Without --image-path the images go to ./checkpoint, as under runc.
    let root = env.root.display().to_string();
    env.rt_raw_in(&env.tmp, &["--root", &root, "checkpoint", &id])
        .assert_ok();
    let img = env.tmp.join("checkpoint");
    assert!(img.join("inventory.img").is_file());
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

/// A virtual /proc (lxcfs's files, FUSE, which CRIU cannot dump) comes
/// back with the container: its files are external mounts, bound again
/// from the lxcfs the restore names.
#[test]
fn a_virtual_proc_survives_checkpoint_and_restore() {
    if !is_vzrun() {
        return; // vzrun's own feature
    }
    let env = TestEnv::new("ckpt_lxcfs");
    need_criu(&env);
    let lxcfs = Lxcfs::start(&env);
    let flag = lxcfs.flag();
    let mut pipes = Pipes::default();
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh(COUNTER);
    b.push_mount(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs"}));
    b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 128 << 20});
    b.config_mut()["annotations"] = json!({"org.openvz.proc": "virtual"});
    b.write();
    let o = pipes.rt(
        &env,
        &["run", "--detach", &flag, "--bundle", &b.path(), &id],
    );
    assert_eq!(o.code, 0, "{o}");
    env.track_id(&id);
    counts_past(&env, &id, 1);
    let img = images(&env, "img");
    checkpoint(&env, &id, &img, &[]).assert_ok();
    let o = restore_with(&env, &mut pipes, &b, &img, &id, &[&flag]);
    assert_eq!(o.code, 0, "{o}");
    counts_past(&env, &id, 1);
    let o = env.rt(&["exec", &id, "grep", "MemTotal", "/proc/meminfo"]);
    assert!(o.stdout.contains(&format!("{} kB", 128 << 10)), "{o}");
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
