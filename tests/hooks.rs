//! OCI hooks: prestart, createRuntime, createContainer, startContainer,
//! poststart, poststop.
mod common;
use common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;

/// A hook running `/bin/sh -c SCRIPT`.
fn sh_hook(script: &str) -> Value {
    json!({ "path": "/bin/sh", "args": ["sh", "-c", script] })
}

fn add_hook(b: &mut Bundle, kind: &str, hook: Value) {
    let c = b.config_mut();
    if c.get("hooks").is_none() {
        c["hooks"] = json!({});
    }
    if c["hooks"].get(kind).is_none() {
        c["hooks"][kind] = json!([]);
    }
    c["hooks"][kind].as_array_mut().unwrap().push(hook);
}

fn parse_state(p: &Path) -> Value {
    let s = fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("hook output {} missing: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("hook stdin is not JSON ({e}): {s:?}"))
}

/// Full lifecycle with one hook of `kind` that saves its stdin; returns
/// (hook's state JSON, container id, host pid of the init).
fn lifecycle_with_hook(kind: &str) -> (Value, String, i64) {
    let env = TestEnv::new(&format!("hook_{kind}"));
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let hostdir = env.mkdir("hookout");
    // startContainer runs inside the container (after pivot_root): it uses
    // the rootfs' /bin/sh and writes through a bind mount.  All others see
    // the host filesystem.
    let target = if kind == "startContainer" {
        "/hookout/state.json".to_string()
    } else {
        hostdir.join("state.json").display().to_string()
    };
    b.bind(&hostdir, "/hookout", false);
    add_hook(&mut b, kind, sh_hook(&format!("cat > {target}")));
    env.create(&id, &b);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.start(&id);
    env.rt(&["kill", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    env.rt(&["delete", &id]).assert_ok();
    (parse_state(&hostdir.join("state.json")), id, pid)
}

fn check_hook(kind: &str, in_container: bool) {
    let (st, id, pid) = lifecycle_with_hook(kind);
    assert_eq!(st["id"].as_str(), Some(id.as_str()), "{kind}: {st}");
    assert!(st["ociVersion"].is_string(), "{kind}: {st}");
    assert!(st["bundle"].is_string(), "{kind}: {st}");
    assert!(st["status"].is_string(), "{kind}: {st}");
    // Create-time hooks run once the environment exists: "created", as
    // crun and the runtime-tools suite expect (runc 1.1.5 says creating).
    if is_vzrun() && matches!(kind, "prestart" | "createRuntime" | "createContainer") {
        assert_eq!(st["status"], "created", "{kind}: {st}");
    }
    let hpid = st["pid"].as_i64().unwrap_or(-1);
    eprintln!("{kind}: hook state = {st}");
    if kind == "poststop" {
        // The process is gone; only the id/bundle are meaningful.
        return;
    }
    if in_container {
        // runc runs these hooks from its init process inside the container
        // and reports getpid() there, i.e. the pid as seen in the
        // container's pid namespace (1); the host pid is also acceptable.
        assert!(
            hpid == pid || hpid == 1,
            "{kind}: pid {hpid} (host pid {pid}): {st}"
        );
    } else {
        assert_eq!(hpid, pid, "{kind}: {st}");
    }
}

#[test]
fn prestart_hook_gets_state() {
    check_hook("prestart", false);
}

#[test]
fn create_runtime_hook_gets_state() {
    check_hook("createRuntime", false);
}

#[test]
fn create_container_hook_gets_state() {
    check_hook("createContainer", true);
}

#[test]
fn start_container_hook_gets_state() {
    check_hook("startContainer", true);
}

#[test]
fn poststart_hook_gets_state() {
    check_hook("poststart", false);
}

#[test]
fn poststop_hook_gets_state() {
    check_hook("poststop", false);
}

#[test]
fn hook_order_and_args_and_env() {
    let env = TestEnv::new("hook_order");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 0");
    let log = env.tmp.join("order.log");
    let l = log.display().to_string();
    for kind in ["createRuntime", "prestart", "poststart", "poststop"] {
        add_hook(
            &mut b,
            kind,
            json!({
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("echo {kind} $0 $HOOKVAR >> {l}"), "arg-zero"],
                "env": ["HOOKVAR=hello-hook", "PATH=/usr/bin:/bin"]
            }),
        );
    }
    let (code, _, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{err}");
    let got = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines,
        [
            // runtime-spec lifecycle order: prestart, then createRuntime
            "prestart arg-zero hello-hook",
            "createRuntime arg-zero hello-hook",
            "poststart arg-zero hello-hook",
            "poststop arg-zero hello-hook",
        ],
        "{got}"
    );
}

/// A startContainer hook without an `env` of its own gets the container
/// process's environment, HOME included (runc's behaviour); one with an
/// `env` gets exactly that.
#[test]
fn start_container_hooks_get_the_process_environment() {
    let env = TestEnv::new("hook_start_env");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("cat /hook-env");
    b.config_mut()["process"]["env"] = json!(["PATH=/bin", "ONE=two"]);
    add_hook(
        &mut b,
        "startContainer",
        sh_hook("echo inherited ONE=$ONE HOME=$HOME >> /hook-env"),
    );
    add_hook(
        &mut b,
        "startContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "echo own ONE=$ONE MINE=$MINE >> /hook-env"],
               "env": ["MINE=yes"]}),
    );
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    if is_vzrun() {
        // runc 1.1.5 gives the first hook an empty environment.
        assert_eq!(
            lines,
            ["inherited ONE=two HOME=/root", "own ONE= MINE=yes"],
            "{out}"
        );
    }
}

fn failing_create_hook(kind: &str, use_run: bool) {
    let env = TestEnv::new(&format!("hook_fail_{kind}"));
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("echo container-ran > /tmp/ran; sleep 1000");
    add_hook(&mut b, kind, sh_hook("echo hook-failing >&2; exit 1"));
    let o = if use_run {
        env.run_out(&id, &b, &["--detach"])
    } else {
        env.create_out(&id, &b, &[])
    };
    assert_ne!(o.code, 0, "{o}");
    assert!(
        env.try_state(&id).is_none(),
        "container left behind after failing {kind} hook"
    );
    assert!(
        !b.rootfs.join("tmp/ran").exists(),
        "container process ran despite failing {kind}"
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn failing_prestart_hook_fails_create() {
    failing_create_hook("prestart", false);
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    failing_create_hook("createRuntime", false);
}

#[test]
fn failing_prestart_hook_fails_run() {
    failing_create_hook("prestart", true);
}

#[test]
fn hook_timeout_fails_create() {
    let env = TestEnv::new("hook_timeout");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    add_hook(
        &mut b,
        "prestart",
        json!({
            "path": "/bin/sh", "args": ["sh", "-c", "sleep 5"], "timeout": 1
        }),
    );
    let o = env.create_out(&id, &b, &[]);
    assert_ne!(o.code, 0, "{o}");
    assert!(env.try_state(&id).is_none());
    env.assert_no_leftovers(&id);
    eprintln!(
        "NOTE: {} hook timeout: exit {} {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    if is_vzrun() {
        assert!(
            contains_ci(&o.stderr, "timed out") || contains_ci(&o.stderr, "timeout"),
            "{o}"
        );
    }
}

#[test]
fn poststart_runs_at_start() {
    let env = TestEnv::new("hook_poststart_when");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let marker = env.tmp.join("poststart.ran");
    add_hook(
        &mut b,
        "poststart",
        sh_hook(&format!("echo ran > {}", marker.display())),
    );
    env.create(&id, &b);
    if is_vzrun() {
        // runtime-spec: poststart hooks run after the user process started.
        assert!(!marker.exists(), "poststart ran at create");
    } else {
        // runc 1.1.x runs poststart hooks already during `create`.
        eprintln!(
            "NOTE: {} ran poststart at create: {}",
            runtime_name(),
            marker.exists()
        );
    }
    env.start(&id);
    assert!(marker.exists(), "poststart did not run by the end of start");
}

#[test]
fn failing_poststart_hook() {
    let env = TestEnv::new("hook_poststart_fail");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    add_hook(&mut b, "poststart", sh_hook("exit 1"));
    if is_vzrun() {
        // runtime-spec: a failing poststart hook only produces a warning.
        env.create(&id, &b);
        let o = env.rt(&["start", &id]);
        o.assert_ok();
        assert!(
            contains_ci(&o.stderr, "poststart"),
            "expected a warning: {o}"
        );
        assert_eq!(env.status(&id), "running");
    } else {
        // runc 1.1.x deviates: poststart runs during `create`, whose failure
        // kills the container and leaves nothing behind.
        let o = env.create_out(&id, &b, &[]);
        eprintln!(
            "NOTE: {} create with failing poststart: exit {} {}",
            runtime_name(),
            o.code,
            o.stderr
        );
        o.assert_fail();
        assert!(env.try_state(&id).is_none());
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn failing_poststart_hook_with_run() {
    let env = TestEnv::new("hook_poststart_fail_run");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 3");
    add_hook(&mut b, "poststart", sh_hook("exit 1"));
    let o = env.run_out(&id, &b, &[]);
    if is_vzrun() {
        // The container still runs to completion and its code is reported.
        assert_eq!(o.code, 3, "{o}");
    } else {
        eprintln!(
            "NOTE: {} run with failing poststart: exit {} {}",
            runtime_name(),
            o.code,
            o.stderr
        );
        o.assert_fail();
    }
    assert!(env.try_state(&id).is_none());
    env.assert_no_leftovers(&id);
}

#[test]
fn failing_poststop_hook_only_warns() {
    let env = TestEnv::new("hook_poststop_fail");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 0");
    add_hook(&mut b, "poststop", sh_hook("exit 1"));
    env.run_out(&id, &b, &["--keep"]).assert_ok();
    let o = env.rt(&["delete", &id]);
    eprintln!(
        "NOTE: delete with failing poststop: exit {} {}",
        o.code, o.stderr
    );
    o.assert_ok();
    assert!(env.try_state(&id).is_none());
    env.assert_no_leftovers(&id);
}

#[test]
fn poststop_runs_at_delete_not_before() {
    let env = TestEnv::new("hook_poststop_delete");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 0");
    let marker = env.tmp.join("poststop.ran");
    add_hook(
        &mut b,
        "poststop",
        sh_hook(&format!("echo ran > {}", marker.display())),
    );
    let c = env.create(&id, &b);
    env.start(&id);
    env.wait_status(&id, "stopped", secs(10));
    assert!(!marker.exists(), "poststop ran before delete");
    env.rt(&["delete", &id]).assert_ok();
    assert!(marker.exists(), "poststop did not run at delete");
    drop(c);
}

#[test]
fn a_config_without_process_fails_start_before_any_start_container_hook() {
    // runtime-spec: create succeeds without a process, start reports it;
    // the startContainer hooks (whose failure would hide that) never run.
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("hook_noprocess");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    // A hook that fails: had it run, its failure would be the error.
    add_hook(&mut b, "startContainer", sh_hook("exit 3"));
    b.config_mut().as_object_mut().unwrap().remove("process");
    let created = env.create_out(&id, &b, &[]);
    assert_eq!(created.code, 0, "{created}");
    let o = env.rt(&["start", &id]);
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("config.json has no process"), "{o}");
    assert!(!o.stderr.contains("startContainer"), "{o}");
}
