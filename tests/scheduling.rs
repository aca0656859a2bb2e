//! How the container's process is scheduled, seen from inside it:
//! `process.scheduler`, `process.ioPriority`, `linux.personality`,
//! `linux.memoryPolicy`, `process.execCPUAffinity`; and runtime-spec 1.3
//! fields that vzrun does not apply yet, refused by name. runc 1.1.5
//! predates these fields (it ignores them), so the tests are vzrun's.
mod common;
use common::*;
use serde_json::json;
use std::fs;

#[test]
fn scheduler_io_priority_personality_and_memory_policy_are_seen_inside() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("sched_inside");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh(
        "grep '^policy' /proc/self/sched | tr -s ' '; \
         echo nice $(cut -d' ' -f19 /proc/self/stat); \
         echo io $(ionice); \
         echo arch $(uname -m); \
         grep -m1 bind /proc/self/numa_maps | cut -d' ' -f2",
    );
    let c = b.config_mut();
    c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    c["linux"]["personality"] = json!({"domain": "LINUX32"});
    c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    let o = env.run_out(&id, &b, &[]);
    assert_eq!(o.code, 0, "{o}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines,
        ["policy : 3", "nice 5", "io idle", "arch i686", "bind:0"],
        "{o}"
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn exec_cpu_affinity_pins_an_exec_process_and_not_the_init() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("sched_affinity");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    // Not applicable to the init (runtime-spec): it keeps the host's CPUs.
    b.config_mut()["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0"});
    let created = env.create_out(&id, &b, &[]);
    assert_eq!(created.code, 0, "{created}");
    env.start(&id);
    let p = env.tmp.join("process.json");
    fs::write(
        &p,
        json!({
            "args": ["sh", "-c", "grep Cpus_allowed_list /proc/self/status /proc/1/status"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "execCPUAffinity": {"initial": "0", "final": "0"}
        })
        .to_string(),
    )
    .unwrap();
    let o = env.rt(&["exec", "--process", &p.display().to_string(), &id]);
    assert_eq!(o.code, 0, "{o}");
    let host = fs::read_to_string("/proc/self/status").unwrap();
    let host_cpus = host
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    let seen: Vec<(&str, &str)> = o
        .stdout
        .lines()
        .filter_map(|l| {
            let (file, rest) = l.split_once(':')?;
            Some((file, rest.split(':').nth(1)?.trim()))
        })
        .collect();
    assert_eq!(
        seen,
        [("/proc/self/status", "0"), ("/proc/1/status", host_cpus)],
        "{o}"
    );
}

/// A caller pinned to one CPU (`taskset`, a pinned shim) does not pin the
/// container: the init and an exec'd process start with every CPU the
/// container's cpuset allows, as with runc 1.2+.
#[test]
fn a_pinned_caller_does_not_pin_the_container() {
    if !is_vzrun() {
        return;
    }
    let online = fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let online = online.trim();
    assert_ne!(online, "0", "this test needs two CPUs");
    let env = TestEnv::new("sched_pinned_caller");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.write();
    let rt = |args: &str| {
        host_sh(
            &env,
            &format!(
                "exec taskset -c 0 {} --root {} {args}",
                runtime().display(),
                env.root.display()
            ),
        )
    };
    let created = rt(&format!("create --bundle {} {id}", b.path()));
    assert_eq!(created.code, 0, "{created}");
    env.start(&id);
    let o = rt(&format!(
        "exec {id} grep Cpus_allowed_list /proc/self/status /proc/1/status"
    ));
    assert_eq!(o.code, 0, "{o}");
    let seen: Vec<&str> = o
        .stdout
        .lines()
        .filter_map(|l| Some(l.split(':').nth(2)?.trim()))
        .collect();
    assert_eq!(seen, [online, online], "{o}");
}

#[test]
fn fields_that_cannot_be_applied_are_refused_by_name() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("sched_refused");
    let cases: [(&str, &str, serde_json::Value, &str); 7] = [
        (
            "process",
            "scheduler",
            json!({"policy": "SCHED_ISO"}),
            "process.scheduler: policy: SCHED_ISO",
        ),
        (
            "process",
            "scheduler",
            json!({"policy": "SCHED_FIFO"}),
            "process.scheduler: priority",
        ),
        (
            "process",
            "ioPriority",
            json!({"class": "IOPRIO_CLASS_BE", "priority": 9}),
            "process.ioPriority: priority: 9",
        ),
        (
            "linux",
            "personality",
            json!({"domain": "LINUX", "flags": ["X"]}),
            "linux.personality: flags",
        ),
        (
            "linux",
            "memoryPolicy",
            json!({"mode": "MPOL_BIND"}),
            "linux.memoryPolicy: nodes",
        ),
        (
            "linux",
            "netDevices",
            json!({"eth9": {"name": "a/b"}}),
            "linux.netDevices: eth9: name",
        ),
        (
            "linux",
            "intelRdt",
            json!({"closID": "c1"}),
            "linux.intelRdt: resctrl is not mounted on this host",
        ),
    ];
    for (section, field, value, message) in cases {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.config_mut()[section][field] = value;
        let o = env.create_out(&id, &b, &[]);
        assert_ne!(o.code, 0, "{field}: {o}");
        assert!(
            o.stderr.contains(message) && o.stderr.contains(&id),
            "{field}: want {message:?}: {o}"
        );
        env.assert_no_leftovers(&id);
    }
}
