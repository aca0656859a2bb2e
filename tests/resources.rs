//! Resources while a container runs: `update`, `pause`/`resume`, `ps`,
//! `events` and OpenVZ `beancounters`, read back from the cgroup files and
//! from what the container's processes experience.
mod common;
use common::*;
use serde_json::{Value, json};
use std::fs;
use std::time::{Duration, Instant};

/// Polls `f` until it returns Some, or panics after `timeout` naming `what`.
fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The physpages barrier: v1's soft limit, v2's memory.high.
fn ubc_barrier(id: &str) -> String {
    if cgroup_v2() {
        fs::read_to_string(cg_path("memory", id, "memory.high"))
            .unwrap()
            .trim()
            .to_string()
    } else {
        cg_read("memory", id, "memory.soft_limit_in_bytes")
    }
}

fn counter<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["resource"] == name)
        .unwrap_or_else(|| panic!("no {name} in {rows:?}"))
}

#[test]
fn update_takes_runc_1_2s_cpu_burst_and_idle() {
    if !is_vzrun() {
        return; // runc 1.1.5 has neither flag
    }
    let env = TestEnv::new("res_update_burst");
    let (id, _b, _) =
        start_with_resources(&env, json!({"cpu": {"quota": 20000, "period": 100000}}));
    env.rt(&["update", "--cpu-burst", "5000", "--cpu-idle", "1", &id])
        .assert_ok();
    assert_eq!(cg_read("cpu", &id, "cpu.cfs_burst_us"), "5000");
    assert_eq!(cg_read("cpu", &id, "cpu.idle"), "1");
    let o = env.rt(&["update", "--cpu-idle", "2", &id]);
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("--cpu-idle 2"), "{o}");
}

#[test]
fn update_changes_a_running_containers_limits() {
    let env = TestEnv::new("res_update");
    let (id, _b, _) = start_with_resources(
        &env,
        json!({"memory": {"limit": 64 << 20}, "cpu": {"shares": 512}, "pids": {"limit": 50}}),
    );
    env.rt(&[
        "update",
        "--memory",
        "96m",
        "--memory-reservation",
        "32m",
        "--cpu-share",
        "256",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "100000",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "20",
        &id,
    ])
    .assert_ok();
    assert_eq!(
        cg_read("memory", &id, "memory.limit_in_bytes"),
        (96u64 << 20).to_string()
    );
    assert_eq!(
        cg_read("memory", &id, "memory.soft_limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    assert_eq!(cg_read("cpu", &id, "cpu.shares"), shares(256));
    assert_eq!(cg_read("cpu", &id, "cpu.cfs_quota_us"), "20000");
    assert_eq!(cg_read("cpuset", &id, "cpuset.cpus"), "0");
    assert_eq!(cg_read("pids", &id, "pids.max"), "20");

    // -r FILE and -r - (stdin, as containerd's shim sends it).
    let file = env.tmp.join("res.json");
    fs::write(&file, json!({"memory": {"limit": 80 << 20}}).to_string()).unwrap();
    env.rt(&["update", "-r", &file.display().to_string(), &id])
        .assert_ok();
    assert_eq!(
        cg_read("memory", &id, "memory.limit_in_bytes"),
        (80u64 << 20).to_string()
    );
    let script = format!(
        "echo '{{\"pids\": {{\"limit\": 33}}}}' | {} --root {} update -r - {id}",
        runtime().display(),
        env.root.display()
    );
    host_sh(&env, &script).assert_ok();
    assert_eq!(cg_read("pids", &id, "pids.max"), "33");
    // A field not in the update keeps its value.
    assert_eq!(cg_read("cpu", &id, "cpu.shares"), shares(256));
}

#[test]
fn bad_updates_are_refused_and_leave_the_limits() {
    let env = TestEnv::new("res_update_bad");
    let (id, _b, _) = start_with_resources(
        &env,
        json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}),
    );
    let before = (
        cg_read("memory", &id, "memory.limit_in_bytes"),
        cg_read("pids", &id, "pids.max"),
        cg_read("cpuset", &id, "cpuset.cpus"),
    );
    let bad = env.tmp.join("bad.json");
    fs::write(&bad, r#"{"memory": {"limit": "lots"}}"#).unwrap();
    let bad = bad.display().to_string();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--memory", "lots"], "lots"),
        (vec!["--memory", "-5"], "-5"),
        (vec!["--cpuset-cpus", "0-63"], "0-63"),
        (vec!["-r", &bad], "memory.limit"),
        (vec!["--ubc", "nosuch=1:2"], "nosuch"),
        (vec!["--ubc", "numproc=oops"], "oops"),
    ];
    // runc 1.1.5 takes a negative pids limit as "no limit".
    if is_vzrun() {
        cases.push((vec!["--pids-limit", "-7"], "-7"));
    }
    for (args, named) in cases {
        let mut full = vec!["update"];
        full.extend(args.iter().copied());
        full.push(&id);
        let o = env.rt(&full);
        assert_ne!(o.code, 0, "{args:?} was accepted: {o}");
        if is_vzrun() {
            assert!(
                o.stderr.contains(named),
                "{args:?}: error does not name {named}: {o}"
            );
            assert!(
                o.stderr.contains(&id),
                "{args:?}: error does not name the container: {o}"
            );
        }
    }
    let after = (
        cg_read("memory", &id, "memory.limit_in_bytes"),
        cg_read("pids", &id, "pids.max"),
        cg_read("cpuset", &id, "cpuset.cpus"),
    );
    assert_eq!(before, after, "a refused update changed the limits");

    // Unknown and stopped containers.
    let o = env.rt(&["update", "--memory", "64m", "no-such-container"]);
    assert_ne!(o.code, 0);
    if is_vzrun() {
        assert!(o.stderr.contains("no-such-container"), "{o}");
    }
    env.rt(&["kill", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    let o = env.rt(&["update", "--memory", "64m", &id]);
    assert_ne!(o.code, 0, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("stopped"), "{o}");
    }
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    if !is_vzrun() {
        return; // runc 1.1.5 ignores checkBeforeUpdate on cgroup v1
    }
    let env = TestEnv::new("res_check_before");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["resources"]["memory"] =
        json!({"limit": 64 << 20, "checkBeforeUpdate": true});
    // 8 MiB in a tmpfs file stay charged to the container while it runs.
    b.set_sh("head -c 8388608 /dev/zero > /dev/shm/fill && exec sleep 1000");
    env.create(&id, &b);
    env.start(&id);
    wait_for("8 MiB charged", secs(20), || {
        let usage: u64 = cg_read("memory", &id, "memory.usage_in_bytes")
            .parse()
            .ok()?;
        (usage >= 8 << 20).then_some(())
    });
    let below = (4u64 << 20).to_string();
    let o = env.rt(&["update", "--memory", &below, &id]);
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("below the current usage"), "{o}");
    assert_eq!(
        cg_read("memory", &id, "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
}

#[test]
fn pause_freezes_and_resume_continues() {
    let env = TestEnv::new("res_pause");
    let id = env.new_id();
    let shared = env.mkdir("shared");
    let mut b = env.bundle(&id);
    b.bind(&shared, "/shared", false);
    b.set_sh(
        "i=0; while :; do i=$((i+1)); echo $i > /shared/n.tmp; mv /shared/n.tmp /shared/n; done",
    );
    env.create(&id, &b);
    env.start(&id);
    let read = || {
        fs::read_to_string(shared.join("n"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    wait_for("the counter to start", secs(10), read);
    env.rt(&["pause", &id]).assert_ok();
    assert_eq!(env.status(&id), "paused");
    assert_eq!(cg_read("freezer", &id, "freezer.state"), "FROZEN");
    let frozen = read().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read().unwrap(), frozen, "the counter moved while paused");
    // Pausing twice, or resuming a running container, is an error.
    assert_ne!(env.rt(&["pause", &id]).code, 0);
    env.rt(&["resume", &id]).assert_ok();
    assert_eq!(env.status(&id), "running");
    wait_for("the counter to move after resume", secs(10), || {
        read().filter(|n| *n > frozen)
    });
    assert_ne!(env.rt(&["resume", &id]).code, 0);
}

#[test]
fn a_paused_container_can_be_killed_and_force_deleted() {
    let env = TestEnv::new("res_pause_kill");
    for how in ["kill", "delete"] {
        let (id, _b, pid) = start_with_resources(&env, json!({}));
        env.rt(&["pause", &id]).assert_ok();
        if how == "kill" {
            env.rt(&["kill", &id, "KILL"]).assert_ok();
            env.wait_status(&id, "stopped", secs(10));
            env.rt(&["delete", &id]).assert_ok();
        } else {
            env.rt(&["delete", "--force", &id]).assert_ok();
        }
        assert!(!pid_alive(pid), "{how}: init {pid} still alive");
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn ps_lists_the_containers_processes() {
    let env = TestEnv::new("res_ps");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("sleep 1001 & sleep 1002");
    env.create(&id, &b);
    env.start(&id);
    let init = env.state(&id)["pid"].as_i64().unwrap();
    let pids: Vec<i64> = wait_for("two processes", secs(10), || {
        let o = env.rt(&["ps", "--format", "json", &id]);
        let v: Vec<i64> = serde_json::from_str(&o.stdout).ok()?;
        (v.len() >= 2).then_some(v)
    });
    assert!(pids.contains(&init), "{pids:?} lacks the init {init}");
    let o = env.rt(&["ps", &id]);
    assert_eq!(o.code, 0, "{o}");
    assert!(o.stdout.lines().next().unwrap().contains("PID"), "{o}");
    assert!(o.stdout.contains("sleep 1001"), "{o}");
    assert!(!o.stdout.contains(" ps "), "host processes listed: {o}");
    let o = env.rt(&["ps", &id, "-o", "pid,comm"]);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(o.stdout.lines().count(), 1 + pids.len(), "{o}");
}

#[test]
fn events_stats_is_runc_shaped_json() {
    let env = TestEnv::new("res_events_stats");
    let (id, _b, _) = start_with_resources(
        &env,
        json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}),
    );
    let o = env.rt(&["events", "--stats", &id]);
    assert_eq!(o.code, 0, "{o}");
    // runc's key order, which line-oriented readers rely on.
    assert!(
        o.stdout
            .starts_with(&format!("{{\"type\":\"stats\",\"id\":\"{id}\",\"data\":")),
        "{o}"
    );
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    let d = &v["data"];
    for key in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
        assert!(d.get(key).is_some(), "no {key}: {v}");
    }
    assert_eq!(d["memory"]["usage"]["limit"], 64u64 << 20);
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert!(d["memory"]["usage"].get("failcnt").is_some());
    assert!(d["memory"]["usage"].get("max").is_some());
    assert_eq!(d["pids"]["limit"], 50);
    assert!(d["pids"]["current"].as_u64().unwrap() >= 1);
    assert!(d["cpu"]["usage"]["total"].as_u64().is_some());
}

#[test]
fn events_stream_stats_and_an_oom() {
    let env = TestEnv::new("res_events_oom");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
    // The allocation runs in a child, so the OOM killer takes it and the
    // container lives on until `go` appears.
    b.set_sh("while [ ! -e /tmp/go ]; do sleep 0.1; done; (x=$(head -c 67108864 /dev/zero | tr '\\0' x)); sleep 1");
    env.create(&id, &b);
    env.start(&id);
    let mut child = std::process::Command::new(runtime())
        .args([
            "--root",
            &env.root.display().to_string(),
            "events",
            "--interval",
            "200ms",
            &id,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.track_pid(child.id() as i32);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // `events` counts the kills it has already seen before its first stats
    // line; the allocation waits for that line so its kill is a new one.
    let first = rx.recv_timeout(secs(30)).expect("no first event");
    let first: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(first["type"], "stats", "{first}");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    fs::write(format!("/proc/{pid}/root/tmp/go"), "").unwrap();
    let (mut stats, mut oom) = (true, false);
    let end = Instant::now() + secs(30);
    while !(stats && oom) && Instant::now() < end {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let e: Value =
                serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"));
            assert_eq!(e["id"], id.as_str(), "{line}");
            stats |= e["type"] == "stats";
            oom |= e["type"] == "oom";
        }
    }
    assert!(stats, "no stats event");
    assert!(oom, "no oom event");
    if is_vzrun() {
        // vzrun's stream ends by itself once the container has stopped.
        env.wait_status(&id, "stopped", secs(20));
        wait_for("events to end", secs(10), || child.try_wait().unwrap());
    } else {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn beancounters_show_memory_and_pids_failures() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("res_ubc_fail");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    // No swap limit: with memory+swap capped at the same value the kernel
    // charges (and fails) the memsw counter first (swappages' failcnt).
    b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 16 << 20});
    b.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 8});
    // The allocation runs in a subshell (killed by the OOM killer); then a
    // subshell starts more sleeps than the pids limit allows (busybox sh
    // gives up at the first fork that fails). The subshell offers itself to
    // the OOM killer first: while a killed allocator's memory is not yet
    // freed, the killer may strike again, and it must not pick the shell
    // that writes /tmp/done (seen once under load).
    b.set_sh(
        "(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 67108864 /dev/zero | tr '\\0' x)); \
         (for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1000 & done) 2>/dev/null; echo > /tmp/done; exec sleep 1000",
    );
    env.create(&id, &b);
    env.start(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    wait_for("the container to finish its attempts", secs(120), || {
        std::path::Path::new(&format!("/proc/{pid}/root/tmp/done"))
            .exists()
            .then_some(())
    });
    let rows = beancounters(&env, &id);
    let phys = counter(&rows, "physpages");
    assert!(phys["failcnt"].as_u64().unwrap() > 0, "{phys}");
    assert_eq!(phys["limit"], (16u64 << 20) / 4096);
    assert_eq!(
        cg_read("memory", &id, "memory.failcnt"),
        phys["failcnt"].to_string(),
        "failcnt is the cgroup's"
    );
    // maxheld is a true peak: at least what was held, near the limit.
    assert!(phys["maxheld"].as_u64().unwrap() >= phys["held"].as_u64().unwrap());
    assert!(
        phys["maxheld"].as_u64().unwrap() * 4096 >= (12u64 << 20),
        "{phys}"
    );
    let np = counter(&rows, "numproc");
    assert_eq!(np["limit"], 8);
    assert!(np["failcnt"].as_u64().unwrap() > 0, "{np}");
    // sh and the sleeps the subshell got to start (how many depends on
    // how fast the OOM-killed processes were gone).
    let held = np["held"].as_u64().unwrap();
    assert!((2..=8).contains(&held), "{np}");
    assert!(np["maxheld"].as_u64() >= np["held"].as_u64(), "{np}");
}

#[test]
fn beancounters_from_annotations_and_update() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("res_ubc_set");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let c = b.config_mut();
    c["linux"]["resources"] = json!({"pids": {"limit": 77}});
    if let Some(rl) = c["process"]["rlimits"].as_array_mut() {
        rl.retain(|r| r["type"] != "RLIMIT_NOFILE");
    }
    c["annotations"] = json!({
        "org.openvz.ubc.physpages": "8192:16384",
        "org.openvz.ubc.numproc": "100:100",
        "org.openvz.ubc.numfile": "512:1024",
        "org.openvz.ubc.cpulimit": "50",
    });
    let o = env.create_out(&id, &b, &[]);
    assert_eq!(o.code, 0, "{o}");
    assert!(
        o.stderr.contains("numproc") && o.stderr.contains("pids.limit"),
        "the explicit pids limit wins with a warning: {o}"
    );
    env.start(&id);
    assert_eq!(
        cg_read("memory", &id, "memory.limit_in_bytes"),
        (16384u64 * 4096).to_string()
    );
    assert_eq!(ubc_barrier(&id), (8192u64 * 4096).to_string());
    assert_eq!(cg_read("pids", &id, "pids.max"), "77");
    assert_eq!(cg_read("cpu", &id, "cpu.cfs_quota_us"), "50000");
    let rows = beancounters(&env, &id);
    let nf = counter(&rows, "numfile");
    assert_eq!(
        (nf["barrier"].as_u64(), nf["limit"].as_u64()),
        (Some(512), Some(1024))
    );
    assert_eq!(counter(&rows, "cpulimit")["limit"], 50);
    assert_eq!(counter(&rows, "numproc")["limit"], 77);

    // Live: lower the memory barrier and limit, the process count, and the
    // open-files limit of the running processes.
    env.rt(&[
        "update",
        "--ubc",
        "physpages=64m:96m",
        "--ubc",
        "numproc=30",
        "--ubc",
        "numfile=256:512",
        &id,
    ])
    .assert_ok();
    assert_eq!(
        cg_read("memory", &id, "memory.limit_in_bytes"),
        (96u64 << 20).to_string()
    );
    assert_eq!(ubc_barrier(&id), (64u64 << 20).to_string());
    assert_eq!(cg_read("pids", &id, "pids.max"), "30");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().skip(3).take(2).collect::<Vec<_>>(),
        ["256", "512"],
        "{line}"
    );
    let rows = beancounters(&env, &id);
    let phys = counter(&rows, "physpages");
    assert_eq!(
        (phys["barrier"].as_u64(), phys["limit"].as_u64()),
        (Some(16384), Some(24576))
    );
    // The table form has a line per resource.
    let o = env.rt(&["beancounters", &id]);
    assert_eq!(o.code, 0, "{o}");
    for r in [
        "kmemsize",
        "lockedpages",
        "shmpages",
        "numproc",
        "physpages",
        "swappages",
        "numfile",
        "cpuunits",
        "cpulimit",
    ] {
        assert!(o.stdout.contains(r), "{r} missing: {o}");
    }
}

#[test]
fn bad_beancounter_annotations_are_refused() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("res_ubc_bad");
    for (k, v, named) in [
        ("org.openvz.ubc.nosuch", "1", "nosuch"),
        ("org.openvz.ubc.physpages", "2000:1000", "above"),
        ("org.openvz.ubc.numproc", "many", "many"),
        ("org.openvz.ubc.shmpages", "100", "shared memory"),
    ] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.config_mut()["annotations"] = json!({ k: v });
        let o = env.create_out(&id, &b, &[]);
        assert_ne!(o.code, 0, "{k}={v} accepted: {o}");
        assert!(
            o.stderr.contains(named) && o.stderr.contains(&id),
            "{k}={v}: {o}"
        );
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn cpu_quota_throttles_a_busy_loop() {
    let env = TestEnv::new("res_cpu_quota");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["resources"]["cpu"] = json!({"quota": 10000, "period": 100000});
    b.set_sh("while :; do :; done");
    env.create(&id, &b);
    env.start(&id);
    let throttled = wait_for("throttled periods", secs(20), || {
        let stat = cg_read("cpu", &id, "cpu.stat");
        let n: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))?
            .parse()
            .ok()?;
        (n > 0).then_some(n)
    });
    assert!(throttled > 0);
    if is_vzrun() {
        let rows = beancounters(&env, &id);
        let cl = counter(&rows, "cpulimit");
        assert_eq!(cl["limit"], 10);
        assert!(cl["failcnt"].as_u64().unwrap() > 0, "{cl}");
    }
}

/// Device rules changed by `update -r`: taken away and given back ten
/// times while a loop in the container keeps opening /dev/null, which
/// every rule set allows. Rewriting the rules from "deny everything" (or
/// attaching a second eBPF filter before dropping the first) would let
/// the loop see a moment without /dev/null; the update writes only the
/// difference (v1) or swaps the filter in one step (v2). An update that
/// does not name devices keeps them.
#[test]
fn device_rules_change_without_a_window() {
    let env = TestEnv::new("res_devices");
    let deny_all = json!({"allow": false, "access": "rwm"});
    let fuse = json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"});
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh(
        // `true`, not `:`: a failed redirection of a special builtin
        // would end the shell.
        "while :; do true >/dev/null || echo null-denied >>/tmp/fails; \
         if true </dev/fuse 2>/dev/null; then echo on >/tmp/fuse; \
         else echo off >/tmp/fuse; fi; done",
    );
    let c = b.config_mut();
    c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10,
                                    "minor": 229, "fileMode": 438}]);
    c["linux"]["resources"]["devices"] = json!([deny_all, fuse]);
    env.create(&id, &b);
    env.start(&id);
    let fuse_seen = |want: &str| {
        let end = std::time::Instant::now() + secs(10);
        loop {
            let o = env.rt(&["exec", &id, "cat", "/tmp/fuse"]);
            if o.stdout.trim() == want {
                return;
            }
            assert!(std::time::Instant::now() < end, "fuse never {want}: {o}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    fuse_seen("on");
    let file = env.tmp.join("devices.json");
    for _ in 0..10 {
        for (rules, want) in [(json!([deny_all]), "off"), (json!([deny_all, fuse]), "on")] {
            fs::write(&file, json!({"devices": rules}).to_string()).unwrap();
            env.rt(&["update", "-r", &file.display().to_string(), &id])
                .assert_ok();
            fuse_seen(want);
        }
    }
    env.rt(&["update", "--pids-limit", "40", &id]).assert_ok();
    fuse_seen("on");
    let fails = env.rt(&["exec", &id, "cat", "/tmp/fails"]);
    assert_ne!(fails.code, 0, "the loop lost /dev/null: {fails}");
    if !cgroup_v2() && !systemd_driver() {
        let list = cg_read("devices", &id, "devices.list");
        assert!(list.lines().any(|l| l == "c 10:229 rw"), "{list}");
        assert!(!list.contains("a *:*"), "{list}");
    }
}
