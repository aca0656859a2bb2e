//! cgroup placement and resource limits, on cgroup v1 (this host) and v2
//! (the VM lane): `cg_read` reads a knob from whichever files hold it.
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
    assert_eq!(cg_read("cpu", &id, "cpu.shares"), shares(512));
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
    let want = cgroup_rel(&id);
    if cgroup_v2() {
        assert!(cg.lines().any(|l| l == format!("0::{want}")), "{cg}");
    }
    for ctrl in ["memory", "pids", "cpu"]
        .into_iter()
        .filter(|_| !cgroup_v2())
    {
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
    b.set_sh(if cgroup_v2() {
        "cat /sys/fs/cgroup/memory.max"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
    });
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

/// major:minor of a block device of this host (the first disk, else a
/// loop device), for the per-device blockIO settings.
fn block_device() -> (u64, u64) {
    let mut devs: Vec<String> = fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    devs.sort_by_key(|d| {
        (
            d.starts_with("loop") || d.starts_with("zram") || d.starts_with("ram"),
            d.clone(),
        )
    });
    let dev = fs::read_to_string(format!("/sys/block/{}/dev", devs[0])).unwrap();
    let (ma, mi) = dev.trim().split_once(':').unwrap();
    (ma.parse().unwrap(), mi.parse().unwrap())
}

/// Whether the kernel has BFQ, the one I/O scheduler left that weighs
/// cgroups (its blkio.bfq.* files exist only then).
fn bfq_available() -> bool {
    fs::read_dir("/sys/block").is_ok_and(|rd| {
        rd.flatten().any(|e| {
            fs::read_to_string(e.path().join("queue/scheduler")).is_ok_and(|s| {
                s.split_whitespace()
                    .any(|x| x.trim_matches(['[', ']']) == "bfq")
            })
        })
    })
}

#[test]
fn blkio_leaf_and_device_weights_are_written_or_refused_by_name() {
    // On v1 vzrun writes these itself. CFQ took leaf weights; BFQ has
    // none, and weighs a disk's groups only when it schedules that disk; a
    // kernel without BFQ (CFQ is long gone) has no weights at all. Either
    // the value is in the file or create fails naming the field.
    if !is_vzrun() || cgroup_v2() {
        return;
    }
    let env = TestEnv::new("cg_blkio_weights");
    let (major, minor) = block_device();
    let dev = format!("{major}:{minor}");
    for (field, block_io, files, want) in [
        (
            "weight",
            json!({"weight": 300}),
            ["blkio.weight", "blkio.bfq.weight"],
            "300".to_string(),
        ),
        (
            "leafWeight",
            json!({"leafWeight": 200}),
            ["blkio.leaf_weight", "blkio.leaf_weight"],
            "200".to_string(),
        ),
        (
            "weightDevice",
            json!({"weightDevice": [{"major": major, "minor": minor, "weight": 200}]}),
            ["blkio.weight_device", "blkio.bfq.weight_device"],
            format!("{dev} 200"),
        ),
    ] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.set_args(&["sleep", "1000"]);
        b.config_mut()["linux"]["resources"]["blockIO"] = block_io;
        let o = env.create_out(&id, &b, &[]);
        if o.code == 0 {
            let file = files
                .iter()
                .find(|f| cg_path("blkio", &id, f).exists())
                .unwrap();
            assert!(cg_read("blkio", &id, file).contains(&want), "{field}");
            env.rt(&["delete", "--force", &id]).assert_ok();
        } else {
            assert!(
                o.stderr.contains(field) && o.stderr.contains(&id),
                "{field}: {o}"
            );
        }
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn every_resource_field_reaches_its_cgroup_file() {
    let env = TestEnv::new("cg_fields");
    let (major, minor) = block_device();
    let cpus = fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let last_cpu = cpus.trim().rsplit(['-', ',']).next().unwrap().to_string();
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.config_mut()["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20,
                   "swappiness": 30, "disableOOMKiller": true, "kernelTCP": 16 << 20},
        "cpu": {"shares": 300, "quota": 40000, "period": 200000, "burst": 10000,
                "cpus": last_cpu, "mems": "0", "idle": 0},
        "pids": {"limit": 64},
        "blockIO": {"weight": 300,
                    "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
    });
    if !cgroup_v2() && !bfq_available() {
        // No weights on this v1 host (the blkio weights test sees the
        // refusal): everything else.
        b.config_mut()["linux"]["resources"]["blockIO"]
            .as_object_mut()
            .unwrap()
            .remove("weight");
    }
    if systemd_driver() {
        // systemd enables no hugetlb controller for its scopes: the
        // documented error, then everything else.
        let o = env.create_out(&id, &b, &[]);
        assert_ne!(o.code, 0, "{o}");
        assert!(
            o.stderr.contains("hugepageLimits") && o.stderr.contains("systemd"),
            "{o}"
        );
        env.assert_no_leftovers(&id);
        let r = b.config_mut()["linux"]["resources"]
            .as_object_mut()
            .unwrap();
        r.remove("hugepageLimits");
    }
    let created = env.create_out(&id, &b, &[]);
    assert_eq!(created.code, 0, "{created}");
    env.start(&id);
    for (ctrl, file, want) in [
        ("memory", "memory.limit_in_bytes", (64u64 << 20).to_string()),
        (
            "memory",
            "memory.soft_limit_in_bytes",
            (32u64 << 20).to_string(),
        ),
        (
            "memory",
            "memory.memsw.limit_in_bytes",
            (96u64 << 20).to_string(),
        ),
        ("cpu", "cpu.shares", shares(300)),
        ("cpu", "cpu.cfs_quota_us", "40000".into()),
        ("cpu", "cpu.cfs_period_us", "200000".into()),
        ("cpuset", "cpuset.cpus", last_cpu.clone()),
        ("cpuset", "cpuset.mems", "0".into()),
        ("pids", "pids.max", "64".into()),
        (
            "hugetlb",
            "hugetlb.2MB.limit_in_bytes",
            (4u64 << 20).to_string(),
        ),
    ] {
        if systemd_driver() && ctrl == "hugetlb" {
            continue;
        }
        assert_eq!(cg_read(ctrl, &id, file), want, "{ctrl}/{file}");
    }
    if is_vzrun() {
        // runc 1.1.5 ignores burst.
        assert_eq!(cg_read("cpu", &id, "cpu.cfs_burst_us"), "10000");
    }
    let dev = format!("{major}:{minor}");
    if cgroup_v2() {
        let io = fs::read_to_string(cg_path("io", &id, "io.max")).unwrap();
        let line = io
            .lines()
            .find(|l| l.starts_with(&dev))
            .unwrap_or_else(|| panic!("{io}"));
        assert!(
            line.contains("rbps=1048576") && line.contains("wiops=300"),
            "{line}"
        );
        // No v2 counterpart: a warning, and the container runs.
        for field in ["swappiness", "disableOOMKiller", "kernelTCP"] {
            if is_vzrun() {
                assert!(
                    created.stderr.contains(field),
                    "no warning for {field}: {created}"
                );
            }
        }
    } else {
        assert_eq!(
            cg_read("blkio", &id, "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        );
        assert_eq!(
            cg_read("blkio", &id, "blkio.throttle.write_iops_device"),
            format!("{dev} 300")
        );
        assert_eq!(cg_read("memory", &id, "memory.swappiness"), "30");
        assert!(cg_read("memory", &id, "memory.oom_control").contains("oom_kill_disable 1"));
        if is_vzrun() {
            // runc 1.1.5 ignores kernelTCP.
            assert_eq!(
                cg_read("memory", &id, "memory.kmem.tcp.limit_in_bytes"),
                (16u64 << 20).to_string()
            );
        }
    }
    if !cgroup_v2() && !bfq_available() {
        return;
    }
    // v1 and bfq take the weight as it is; v2's io.weight has 1..10000.
    let weights = [
        ("blkio.bfq.weight", "300"),
        ("blkio.weight", "300"),
        ("io.bfq.weight", "300"),
        ("io.weight", "default 2930"),
    ];
    let (file, weight, want) = weights
        .iter()
        .find_map(|(f, want)| Some((f, fs::read_to_string(cg_path("blkio", &id, f)).ok()?, want)))
        .expect("a block IO weight file");
    assert!(weight.contains(want), "{file}: {weight}");
}

#[test]
fn pids_limit_zero_allows_no_new_process() {
    if !is_vzrun() {
        return; // runc 1.1.5 predates runtime-spec 1.3 and reads 0 as "no limit"
    }
    let env = TestEnv::new("cg_pids_zero");
    let (id, _b, _) = start_with_resources(&env, json!({"pids": {"limit": 0}}));
    assert_eq!(cg_read("pids", &id, "pids.max"), "0");
    let o = env.rt(&["exec", &id, "true"]);
    assert_ne!(o.code, 0, "a process started under pids.max 0: {o}");
}

#[test]
fn resources_this_host_cannot_apply_are_refused_by_field() {
    let env = TestEnv::new("cg_unsupported");
    let mut cases = vec![
        (
            json!({"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 1000000}}),
            "realtimeRuntime",
        ),
        (json!({"cpu": {"cpus": "0-255"}}), "cpu.cpus"),
        (json!({"memory": {"limit": -20}}), "memory.limit"),
        (json!({"memory": {"swappiness": 300}}), "swappiness"),
    ];
    if !cgroup_v2() {
        // v2-only key/values on a v1 host (on v2 they apply, see below).
        cases.push((json!({"unified": {"memory.high": "1000000"}}), "unified"));
    }
    if !controller_available("net_cls") {
        cases.push((json!({"network": {"classID": 1048577}}), "network.classID"));
    }
    if !controller_available("rdma") {
        cases.push((json!({"rdma": {"mlx4_0": {"hcaHandles": 3}}}), "rdma"));
    }
    for (res, field) in cases {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.config_mut()["linux"]["resources"] = res.clone();
        b.set_args(&["true"]);
        let o = env.run_out(&id, &b, &[]);
        assert_ne!(o.code, 0, "{res} was accepted: {o}");
        if is_vzrun() {
            assert!(
                o.stderr.contains(field) && o.stderr.contains(&id),
                "{res}: {o}"
            );
        }
        env.assert_no_leftovers(&id);
    }
}

/// Removes a test's caller cgroup (in every hierarchy) when dropped.
struct CallerCgroup(String);

impl Drop for CallerCgroup {
    fn drop(&mut self) {
        let roots = fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path());
        for top in roots.chain([PathBuf::from("/sys/fs/cgroup")]) {
            let top = top.join(&self.0);
            if top.is_dir() {
                let _ = std::process::Command::new("find")
                    .arg(&top)
                    .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                    .status();
            }
        }
    }
}

#[test]
fn relative_and_empty_cgroups_paths_nest_under_the_callers_cgroup() {
    // runc's cgroupfs rule: a relative cgroupsPath, or the container id
    // when there is none, goes under the runtime's own cgroup. The runtime
    // is started from a cgroup of the test's own, never the machine's.
    let env = TestEnv::new("cg_relative");
    let caller = format!("vzrun-test/{}-caller", env.new_id());
    let _guard = CallerCgroup(caller.clone());
    for path in [Some("rel/sub"), None] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        match path {
            Some(p) => b.config_mut()["linux"]["cgroupsPath"] = json!(p),
            None => {
                b.config_mut()["linux"]
                    .as_object_mut()
                    .unwrap()
                    .remove("cgroupsPath");
            }
        }
        // On v2 the caller's cgroup holds processes, so it cannot hand
        // controllers down (no internal processes): the container is placed
        // but gets no limits there.
        if cgroup_v2() {
            b.set_sh("cat /proc/self/cgroup");
        } else {
            b.config_mut()["linux"]["resources"] = json!({"pids": {"limit": 99}});
            b.set_sh("grep ':memory:' /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max");
        }
        b.write();
        let join = if cgroup_v2() {
            format!(
                "d=/sys/fs/cgroup/{caller}; mkdir -p $d && echo $$ > $d/cgroup.procs || exit 9;"
            )
        } else {
            format!(
                "for c in /sys/fs/cgroup/*/; do d=${{c}}{caller}; mkdir -p $d || exit 9; \
               if [ -f ${{c}}cpuset.cpus ]; then for f in cpuset.cpus cpuset.mems; do \
                 for x in ${{c}}vzrun-test $d; do [ -n \"$(cat $x/$f)\" ] || cat ${{c}}$f > $x/$f; done; done; fi; \
               echo $$ > $d/cgroup.procs || exit 9; done;"
            )
        };
        let script = format!(
            "{join} exec {rt} --root {root} run --bundle {bundle} {id}",
            rt = runtime().display(),
            root = env.root.display(),
            bundle = b.path(),
        );
        let o = host_sh(&env, &script);
        if systemd_driver() {
            // systemd names scopes, not paths: a plain path is refused, and
            // none at all means the scope vzrun-<id> in system.slice.
            if path.is_some() {
                assert_ne!(o.code, 0, "{o}");
                assert!(o.stderr.contains("slice:prefix:name"), "{o}");
            } else {
                assert_eq!(o.code, 0, "{o}");
                let placed = format!("0::/system.slice/vzrun-{id}.scope");
                assert!(o.stdout.lines().any(|l| l == placed), "{o}");
            }
            env.assert_no_leftovers(&id);
            continue;
        }
        if cgroup_v2() {
            // v2 forbids it: the caller's cgroup holds the runtime itself,
            // and a cgroup with processes cannot have children with
            // controllers. The documented error says so.
            assert_ne!(o.code, 0, "{o}");
            if is_vzrun() {
                assert!(o.stderr.contains("has processes of its own"), "{o}");
            }
            env.assert_no_leftovers(&id);
            continue;
        }
        assert_eq!(o.code, 0, "{o}");
        let want = format!("/{caller}/{}", path.unwrap_or(&id));
        let line = o.stdout.lines().next().unwrap_or_default();
        let (placed, dir) = if cgroup_v2() {
            (format!("0::{want}"), format!("/sys/fs/cgroup{want}"))
        } else {
            (
                format!(":memory:{want}"),
                format!("/sys/fs/cgroup/memory{want}"),
            )
        };
        assert!(line.ends_with(&placed), "{path:?}: {o}");
        assert!(!std::path::Path::new(&dir).exists(), "left behind");
    }
}

/// Whether the host's cgroups have `controller` (v1: a hierarchy of it;
/// v2: listed in the root's cgroup.controllers).
fn controller_available(controller: &str) -> bool {
    if cgroup_v2() {
        fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == controller))
    } else {
        std::path::Path::new("/sys/fs/cgroup")
            .join(controller)
            .exists()
    }
}

#[test]
fn unified_key_values_apply_on_cgroup_v2_only() {
    let env = TestEnv::new("cg_unified");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.config_mut()["linux"]["resources"] =
        json!({"unified": {"memory.high": "67108864", "pids.max": "21"}});
    let o = env.create_out(&id, &b, &[]);
    if cgroup_v2() {
        assert_eq!(o.code, 0, "{o}");
        assert_eq!(
            fs::read_to_string(cg_path("", &id, "memory.high"))
                .unwrap()
                .trim(),
            "67108864"
        );
        assert_eq!(cg_read("pids", &id, "pids.max"), "21");
    } else {
        // The documented error: the key/values name v2 files (memory and
        // pids are v1 controllers here, hybrid host or not).
        assert_ne!(o.code, 0, "{o}");
        if is_vzrun() {
            assert!(
                o.stderr.contains("unified")
                    && o.stderr.contains("cgroup v2")
                    && o.stderr.contains("memory.high"),
                "{o}"
            );
        }
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn unified_keys_apply_where_their_controller_speaks_v2() {
    if !is_vzrun() || systemd_driver() {
        // runc 1.1.5 refuses every unified key on a hybrid host; systemd
        // enables no hugetlb for its scopes (see the hugepage test).
        return;
    }
    let env = TestEnv::new("cg_unified_hybrid");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.config_mut()["linux"]["resources"] = json!({"unified": {"hugetlb.2MB.max": "2097152"}});
    let o = env.create_out(&id, &b, &[]);
    if speaks_v2("hugetlb") {
        // A v2 host, or hugetlb on a hybrid host's cgroup2 mount (this
        // machine as booted).
        assert_eq!(o.code, 0, "{o}");
        assert_eq!(
            fs::read_to_string(cg_path("hugetlb", &id, "hugetlb.2MB.max"))
                .unwrap()
                .trim(),
            "2097152"
        );
    } else {
        // hugetlb mounted as a v1 hierarchy: the key is named.
        assert_ne!(o.code, 0, "{o}");
        assert!(o.stderr.contains("hugetlb.2MB.max"), "{o}");
        env.assert_no_leftovers(&id);
    }
}

/// Raises the host's surplus huge page allowance (vm.nr_overcommit_hugepages)
/// for a test that allocates huge pages, and puts the old value back.
struct HugepagePool(String);

impl HugepagePool {
    const KNOB: &str = "/proc/sys/vm/nr_overcommit_hugepages";

    fn at_least(pages: u64) -> HugepagePool {
        let old = fs::read_to_string(Self::KNOB).unwrap().trim().to_string();
        if old.parse::<u64>().unwrap() < pages {
            fs::write(Self::KNOB, pages.to_string()).unwrap();
        }
        HugepagePool(old)
    }
}

impl Drop for HugepagePool {
    fn drop(&mut self) {
        let _ = fs::write(Self::KNOB, &self.0);
    }
}

#[test]
fn hugepage_limits_apply_where_hugetlb_is_and_are_counted() {
    if !is_vzrun() {
        return; // beancounters are vzrun's; runc 1.1.5 breaks on hybrid hugetlb
    }
    let env = TestEnv::new("cg_hugetlb");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    install_probe("hugepage", "-m64", &b.rootfs.join("hugepage"));
    b.set_args(&["/hugepage", "1", "hold"]);
    b.config_mut()["linux"]["resources"]["hugepageLimits"] =
        json!([{"pageSize": "2MB", "limit": 4 << 20}]);
    if systemd_driver() {
        let o = env.create_out(&id, &b, &[]);
        assert_ne!(o.code, 0, "{o}");
        assert!(o.stderr.contains("hugepageLimits"), "{o}");
        env.assert_no_leftovers(&id);
        return;
    }
    let _pool = HugepagePool::at_least(4);
    let created = env.create_out(&id, &b, &[]);
    assert_eq!(created.code, 0, "{created}");
    env.start(&id);
    // What the container sees at /sys/fs/cgroup (its own cgroup bound,
    // no cgroup namespace), in each layout.
    let inside = if cgroup_v2() {
        "/sys/fs/cgroup/hugetlb.2MB.max"
    } else if on_hybrid_v2("hugetlb") {
        "/sys/fs/cgroup/unified/hugetlb.2MB.max"
    } else {
        "/sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes"
    };
    let o = env.rt(&["exec", &id, "cat", inside]);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(o.stdout.trim(), (4u64 << 20).to_string(), "{inside}");

    // The init holds one 2 MiB page of the two allowed.
    let row = |rows: &[serde_json::Value]| {
        rows.iter()
            .find(|r| r["resource"] == "hugetlb.2MB")
            .cloned()
            .unwrap_or_else(|| panic!("no hugetlb.2MB in {rows:?}"))
    };
    let deadline = std::time::Instant::now() + secs(30);
    let held = loop {
        let r = row(&beancounters(&env, &id));
        if r["held"] == 1 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(held["held"], 1, "{held}");
    assert_eq!(held["limit"], 2, "{held}");
    assert_eq!(held["barrier"], 2, "{held}");

    // Two more pages are one too many: refused by the cgroup, and counted.
    let o = env.rt(&["exec", &id, "/hugepage", "2"]);
    assert_ne!(o.code, 0, "{o}");
    assert!(
        o.stdout.contains("ENOMEM") || o.stdout.contains("sigbus"),
        "{o}"
    );
    let after = row(&beancounters(&env, &id));
    assert!(after["failcnt"].as_u64().unwrap() >= 1, "{after}");
    assert_eq!(after["maxheld"], 1, "{after}");
    let o = env.rt(&["beancounters", &id]);
    assert!(o.stdout.contains("hugetlb.2MB"), "{o}");
}

#[test]
fn runs_inside_a_delegated_subtree() {
    // A supervisor that owns a cgroup subtree (a systemd service with
    // Delegate=yes, as podman's) keeps itself in a leaf and makes
    // containers beside it, with vzrun's cgroupfs driver. In the systemd VM
    // the subtree is the tests' own service (VZRUN_TEST_DELEGATED); on other
    // hosts the test makes one and moves its shell into a leaf of it.
    let env = TestEnv::new("cg_delegated");
    let id = env.new_id();
    let (base, _guard) = match std::env::var("VZRUN_TEST_DELEGATED") {
        Ok(svc) => (svc, None),
        Err(_) => {
            let base = format!("/vzrun-test/{id}-delegated");
            (
                base.clone(),
                Some(CallerCgroup(base.trim_start_matches('/').to_string())),
            )
        }
    };
    let containers = format!("{base}/containers");
    let _containers_guard = CallerCgroup(containers.trim_start_matches('/').to_string());
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(format!("{containers}/{id}"));
    b.config_mut()["linux"]["resources"] = json!({"pids": {"limit": 33}});
    b.set_sh(if cgroup_v2() {
        "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"
    } else {
        "grep ':pids:' /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max"
    });
    b.write();
    let enter = if std::env::var("VZRUN_TEST_DELEGATED").is_ok() {
        String::new()
    } else if cgroup_v2() {
        format!(
            "d=/sys/fs/cgroup{base}; mkdir -p $d/supervisor && \
             echo $$ > $d/supervisor/cgroup.procs && \
             for c in $(cat $d/cgroup.controllers); do echo +$c > $d/cgroup.subtree_control; done || exit 9;"
        )
    } else {
        format!(
            "for c in /sys/fs/cgroup/*/; do d=${{c}}{rel}; mkdir -p $d/supervisor || exit 9; \
               if [ -f ${{c}}cpuset.cpus ]; then for f in cpuset.cpus cpuset.mems; do \
                 for x in ${{c}}vzrun-test $d $d/supervisor; do [ -n \"$(cat $x/$f)\" ] || cat ${{c}}$f > $x/$f; done; done; fi; \
               echo $$ > $d/supervisor/cgroup.procs || exit 9; done;",
            rel = base.trim_start_matches('/'),
        )
    };
    // The cgroupfs driver, whatever the lane's default.
    let rt = if is_vzrun() {
        PathBuf::from(env!("CARGO_BIN_EXE_vzrun"))
    } else {
        runtime()
    };
    let script = format!(
        "{enter} exec {rt} --root {root} run --bundle {bundle} {id}",
        rt = rt.display(),
        root = env.root.display(),
        bundle = b.path(),
    );
    let o = host_sh(&env, &script);
    assert_eq!(o.code, 0, "{o}");
    let want = format!("{containers}/{id}");
    assert!(
        o.stdout.lines().any(|l| l.ends_with(&format!(":{want}"))),
        "{o}"
    );
    assert_eq!(o.stdout.lines().last(), Some("33"), "{o}");
}
