//! The runtime killed (SIGKILL) at each step of create, start, exec,
//! delete and update, through the crash points of debug builds
//! (`src/container/crash.rs`): what every other command then sees, and
//! that `delete --force` leaves nothing behind (processes, cgroups in every
//! hierarchy, mounts, state).

mod common;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs the runtime with `args`, waits until it stops at crash point
/// `point`, and SIGKILLs it there (by its pid).
fn kill_at(env: &TestEnv, point: &str, args: &[&str]) {
    let err = env
        .tmp
        .join(format!("crash-{}.stderr", point.replace(':', "-")));
    let out = env
        .tmp
        .join(format!("crash-{}.stdout", point.replace(':', "-")));
    let mut child = Command::new(runtime())
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .env("VZRUN_CRASH_AT", point)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + secs(30);
    let marker = format!("crash point {point}");
    loop {
        let text = std::fs::read_to_string(&err).unwrap_or_default();
        if text.contains(&marker) {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{args:?} ended ({status}) before crash point {point}: {text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{args:?} never reached crash point {point} (only debug builds have them): {text}"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A bundle whose process carries `marker` in its argv, so that a process
/// left behind is found by name.
fn marked_bundle(env: &TestEnv, id: &str, marker: &str) -> Bundle {
    let mut b = env.bundle(id);
    // Not a lone command, which sh would exec in its place, argv and all.
    b.set_args(&["sh", "-c", "sleep 1000; exit", marker]);
    b.write();
    b
}

/// `delete --force` succeeds and nothing of `id` is left: state, cgroup
/// directories in every hierarchy, mounts, processes carrying `marker`.
fn recovers(env: &TestEnv, id: &str, marker: &str) {
    env.rt(&["delete", "--force", id]).assert_ok();
    env.assert_no_leftovers(id);
    let deadline = Instant::now() + secs(10);
    while !processes_with_arg(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with_arg(marker), vec![], "{id}: processes left");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(id), "{id}: mounts left:\n{mounts}");
    // The id is free again.
    let list = env.rt(&["list", "-q"]);
    assert!(!list.stdout.lines().any(|l| l == id), "{}", list.stdout);
}

#[test]
fn a_create_killed_at_any_step_is_stopped_explained_and_deleted() {
    let env = TestEnv::new("faults_create");
    for point in [
        "create:recorded",
        "create:cloned",
        "create:hooks",
        "create:ready",
        "create:saved",
    ] {
        let id = env.new_id();
        env.track_id(&id);
        let marker = format!("marker-{id}");
        let b = marked_bundle(&env, &id, &marker);
        kill_at(&env, point, &["create", "--bundle", &b.path(), &id]);

        // Nothing runs any more: `list` and `state` say stopped, and a
        // create killed before `created` is explained.
        let state = env.rt(&["state", &id]);
        state.assert_ok();
        let v: serde_json::Value = serde_json::from_str(&state.stdout).unwrap();
        let deadline = Instant::now() + secs(10);
        while env.status(&id) != "stopped" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(env.status(&id), "stopped", "{point}: {v}");
        let list = env.rt(&["list", "--format", "json"]);
        list.assert_ok();
        let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
        let row = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned();
        assert_eq!(
            row.as_ref().map(|r| r["status"].clone()),
            Some("stopped".into()),
            "{point}: {listed}"
        );
        if point != "create:saved" {
            assert!(
                state.stderr.contains("its create did not finish"),
                "{point}: {}",
                state.stderr
            );
            let again = env.create_out(&id, &b, &[]);
            again.assert_fail();
            assert!(
                again.stderr.contains("did not finish") && again.stderr.contains("delete --force"),
                "{point}: {}",
                again.stderr
            );
        }
        recovers(&env, &id, &marker);
    }
}

#[test]
fn a_start_killed_at_any_step_leaves_a_container_that_still_works() {
    let env = TestEnv::new("faults_start");
    for point in ["start:connected", "start:started"] {
        let id = env.new_id();
        let marker = format!("marker-{id}");
        let b = marked_bundle(&env, &id, &marker);
        env.create(&id, &b).assert_ok();
        kill_at(&env, point, &["start", &id]);
        if point == "start:connected" {
            // The init still waits: a second start starts it.
            assert_eq!(env.status(&id), "created");
            env.start(&id);
        }
        assert_eq!(env.status(&id), "running", "{point}");
        assert_eq!(processes_with_arg(&marker).len(), 1, "{point}");
        recovers(&env, &id, &marker);
    }
}

#[test]
fn an_exec_killed_at_any_step_leaves_no_process_and_the_container_running() {
    let env = TestEnv::new("faults_exec");
    let id = env.new_id();
    let marker = format!("marker-{id}");
    let b = marked_bundle(&env, &id, &marker);
    env.run_out(&id, &b, &["-d"]).assert_ok();
    let ps = || -> Vec<i64> {
        let out = env.rt(&["ps", "--format", "json", &id]);
        out.assert_ok();
        serde_json::from_str(&out.stdout).unwrap()
    };
    let before = ps();
    for point in ["exec:cloned", "exec:ready"] {
        let exec_marker = format!("exec-{point}-{id}");
        kill_at(
            &env,
            point,
            &["exec", &id, "sh", "-c", "sleep 1000; exit", &exec_marker],
        );
        let deadline = Instant::now() + secs(10);
        while !processes_with_arg(&exec_marker).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(processes_with_arg(&exec_marker), vec![], "{point}");
        assert_eq!(env.status(&id), "running", "{point}");
        assert_eq!(ps(), before, "{point}: only the container's own are left");
    }
    recovers(&env, &id, &marker);
}

#[test]
fn a_delete_killed_at_any_step_is_finished_by_the_next() {
    let env = TestEnv::new("faults_delete");
    for point in ["delete:killed", "delete:cgroup-removed"] {
        let id = env.new_id();
        let marker = format!("marker-{id}");
        let b = marked_bundle(&env, &id, &marker);
        env.run_out(&id, &b, &["-d"]).assert_ok();
        kill_at(&env, point, &["delete", "--force", &id]);
        assert_eq!(env.status(&id), "stopped", "{point}");
        recovers(&env, &id, &marker);
    }
}

#[test]
fn an_update_killed_after_applying_leaves_a_container_that_still_works() {
    let env = TestEnv::new("faults_update");
    let id = env.new_id();
    let marker = format!("marker-{id}");
    let b = marked_bundle(&env, &id, &marker);
    env.run_out(&id, &b, &["-d"]).assert_ok();
    kill_at(
        &env,
        "update:applied",
        &["update", "--pids-limit", "77", &id],
    );
    // The limit is in force; the next update records it.
    assert_eq!(cg_read("pids", &id, "pids.max"), "77");
    env.rt(&["update", "--pids-limit", "78", &id]).assert_ok();
    assert_eq!(cg_read("pids", &id, "pids.max"), "78");
    assert_eq!(env.status(&id), "running");
    recovers(&env, &id, &marker);
}

/// Runs the runtime with `args` and `var` in its environment, for at most
/// a minute; returns (exit code, stderr).
fn rt_with(env: &TestEnv, var: (&str, &str), args: &[&str]) -> (i32, String) {
    let err = env.tmp.join("rt-with.stderr");
    let mut child = Command::new(runtime())
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .env(var.0, var.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still waits after a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

#[test]
fn a_setup_that_never_answers_fails_create_in_bounded_time() {
    // A createContainer hook without a timeout that never ends: the
    // runtime stops waiting (the bound, shortened here from 300 s), says
    // what it waited for, and removes everything.
    let env = TestEnv::new("faults_answer");
    let id = env.new_id();
    env.track_id(&id);
    let marker = format!("hook-{id}");
    let mut b = env.bundle(&id);
    b.config_mut()["hooks"] = serde_json::json!({"createContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 1000; exit", &marker]}
    ]});
    b.write();
    let (code, err) = rt_with(
        &env,
        ("VZRUN_TEST_ANSWER_WAIT", "2"),
        &["create", "--bundle", &b.path(), &id],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("did not answer within 2s") && err.contains("the end of its setup"),
        "{err}"
    );
    env.assert_no_leftovers(&id);
    let deadline = Instant::now() + secs(10);
    while !processes_with_arg(&marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with_arg(&marker), vec![], "the hook is gone too");
}

#[test]
fn of_concurrent_creates_of_one_id_exactly_one_proceeds() {
    let env = TestEnv::new("faults_same_id");
    for _ in 0..3 {
        let id = env.new_id();
        let b = marked_bundle(&env, &id, &format!("marker-{id}"));
        env.track_id(&id);
        let outs: Vec<Out> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..6)
                .map(|_| s.spawn(|| env.rt(&["create", "--bundle", &b.path(), &id])))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let won = outs.iter().filter(|o| o.success()).count();
        assert_eq!(won, 1, "{outs:#?}");
        for o in outs.iter().filter(|o| !o.success()) {
            assert_eq!(o.code, 1, "{o}");
            assert!(
                o.stderr.contains(&format!("container with id {id} exists")),
                "{o}"
            );
        }
        assert_eq!(env.status(&id), "created");
        let left: Vec<_> = std::fs::read_dir(&env.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert_eq!(left, Vec::<String>::new(), "temporary directories left");
        recovers(&env, &id, &format!("marker-{id}"));
    }
}

#[test]
fn a_create_killed_before_its_directory_took_the_id_is_cleaned_by_delete() {
    // What a create leaves when killed between making its directory and
    // renaming it to the id: hidden from list, removed by delete --force.
    let env = TestEnv::new("faults_unplaced");
    let id = env.new_id();
    // Named for a runtime's pid, of a process that is gone.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let unplaced = env.root.join(format!(".new-{}", gone.id()));
    std::fs::create_dir_all(&unplaced).unwrap();
    let list = env.rt(&["list", "-q"]);
    assert_eq!(list.stdout, "", "{list}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    assert!(!unplaced.exists());
}

#[test]
fn a_console_socket_that_never_accepts_fails_create_in_bounded_time() {
    // A listener whose backlog is full (backlog 0, one connection already
    // waiting): connect would block for ever; the runtime gives up.
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let env = TestEnv::new("faults_console");
    let path = env.tmp.join("console.sock");
    // SAFETY: plain socket calls on descriptors this test owns.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        OwnedFd::from_raw_fd(fd)
    };
    let addr = nix::sys::socket::UnixAddr::new(&path).unwrap();
    nix::sys::socket::bind(listener.as_raw_fd(), &addr).unwrap();
    // SAFETY: listen on our own socket.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let _waiting = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["terminal"] = serde_json::json!(true);
    b.write();
    env.track_id(&id);
    let out = env.rt(&[
        "create",
        "--console-socket",
        &path.display().to_string(),
        "--bundle",
        &b.path(),
        &id,
    ]);
    out.assert_fail();
    assert!(
        out.stderr.contains("took no connection within 10s"),
        "{out}"
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn hook_timeouts_as_large_as_json_allows_do_not_overflow_the_wait() {
    let env = TestEnv::new("faults_hook_max");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let hook = serde_json::json!({"path": "/bin/true", "timeout": i64::MAX});
    b.config_mut()["hooks"] = serde_json::json!({"createContainer": [hook.clone(), hook.clone()], "startContainer": [hook]});
    b.set_args(&["true"]);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}\n{err}");
    env.assert_no_leftovers(&id);
}
