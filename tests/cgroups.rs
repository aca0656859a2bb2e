//! cgroup placement and resource limits (cgroup v1 hierarchy on this host).
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::path::PathBuf;

#[test]
fn memory_limit() {
    let env = TestEnv::new("cg_memory");
    let (id, _b, _) = start_with_resources(&env, json!({ "memory": { "limit": 67108864 } }));
    assert_eq!(cg_read("memory", &id, "memory.limit_in_bytes"), "67108864");
}

#[test]
fn cpu_shares_quota_period() {
    let env = TestEnv::new("cg_cpu");
    let (id, _b, _) = start_with_resources(
        &env,
        json!({ "cpu": { "shares": 512, "quota": 50000, "period": 100000 } }),
    );
    assert_eq!(cg_read("cpu", &id, "cpu.shares"), "512");
    assert_eq!(cg_read("cpu", &id, "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg_read("cpu", &id, "cpu.cfs_period_us"), "100000");
}

#[test]
fn pids_limit() {
    let env = TestEnv::new("cg_pids");
    let (id, _b, _) = start_with_resources(&env, json!({ "pids": { "limit": 42 } }));
    assert_eq!(cg_read("pids", &id, "pids.max"), "42");
}

#[test]
fn pids_limit_is_enforced() {
    let env = TestEnv::new("cg_pids_enforced");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["resources"]["pids"] = json!({ "limit": 5 });
    // sh (1) + 10 background sleeps: the 5th fork fails with EAGAIN and
    // busybox sh aborts with "can't fork".
    b.set_sh("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo ALL-FORKED");
    let (code, out, err) = env.run_fg(&id, &b);
    assert!(
        !out.contains("ALL-FORKED"),
        "pids.max 5 not enforced: {out} {err}"
    );
    assert_ne!(code, 0);
    assert!(contains_ci(&err, "fork"), "{err}");
}

#[test]
fn process_is_placed_in_cgroups() {
    let env = TestEnv::new("cg_placement");
    let (id, _b, pid) = start_with_resources(&env, json!({ "pids": { "limit": 100 } }));
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/vzrun-test/{id}");
    for ctrl in ["memory", "pids", "cpu"] {
        let line = cg
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .map(|c| c.split(',').any(|x| x == ctrl))
                    .unwrap_or(false)
            })
            .unwrap_or_else(|| panic!("no {ctrl} line in /proc/{pid}/cgroup:\n{cg}"));
        assert_eq!(
            line.splitn(3, ':').nth(2),
            Some(want.as_str()),
            "{ctrl}: {cg}"
        );
    }
    // And the pid is listed in the cgroup's procs file.
    let procs = cg_read("pids", &id, "cgroup.procs");
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "{procs}"
    );
}

#[test]
fn container_sees_its_own_limit() {
    // The default config mounts cgroupfs at /sys/fs/cgroup; the container's
    // memory controller dir is its own cgroup.
    let env = TestEnv::new("cg_inside");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["resources"]["memory"] = json!({ "limit": 67108864 });
    b.set_sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "67108864");
}

#[test]
fn cgroups_removed_after_delete() {
    let env = TestEnv::new("cg_removed");
    let (id, _b, _) = start_with_resources(&env, json!({ "memory": { "limit": 67108864 } }));
    assert!(!cgroup_dirs(&id).is_empty(), "no cgroup dirs created");
    env.rt(&["kill", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    env.rt(&["delete", &id]).assert_ok();
    assert_eq!(cgroup_dirs(&id), Vec::<PathBuf>::new());
    // Same for a forced delete of a running container and for `run`.
    let (id, _b, _) = start_with_resources(&env, json!({}));
    env.rt(&["delete", "--force", &id]).assert_ok();
    assert_eq!(cgroup_dirs(&id), Vec::<PathBuf>::new());
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("exit 0");
    assert_eq!(env.run_fg(&id, &b).0, 0);
    assert_eq!(cgroup_dirs(&id), Vec::<PathBuf>::new());
}
