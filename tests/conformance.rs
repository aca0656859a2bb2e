//! What the OCI runtime-tools validation suite checks, guarded here with
//! our own in-container checker (integration/checker/checker.c): the
//! container reports what it sees, and the tests compare that with the
//! config. Runtime-agnostic, like the rest of the suite.
mod common;
use common::*;
use serde_json::json;
use std::collections::HashMap;

/// The checker's report: "key value" lines; `mount` and `dev` lines are
/// kept apart, keyed by path.
struct Report {
    kv: HashMap<String, String>,
    mounts: HashMap<String, (String, String, String)>,
    devs: HashMap<String, String>,
    links: HashMap<String, String>,
    cgroups: Vec<String>,
}

impl Report {
    fn get(&self, key: &str) -> &str {
        self.kv
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("checker did not report {key}"))
    }
    fn mount(&self, at: &str) -> &(String, String, String) {
        self.mounts
            .get(at)
            .unwrap_or_else(|| panic!("no mount at {at}: {:?}", self.mounts.keys()))
    }
    fn mount_opts(&self, at: &str) -> Vec<String> {
        let (_, opts, sup) = self.mount(at);
        opts.split(',')
            .chain(sup.split(','))
            .map(str::to_string)
            .collect()
    }
}

/// Runs the checker as the container's process with `args`, after `edit`
/// shaped the bundle.
fn check(env: &TestEnv, args: &[&str], edit: impl FnOnce(&mut Bundle)) -> Report {
    let id = env.new_id();
    let mut b = env.bundle(&id);
    install_probe("checker", "-m64", &b.rootfs.join("checker"));
    let mut full = vec!["/checker"];
    full.extend_from_slice(args);
    b.set_args(&full);
    edit(&mut b);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "checker failed: {out}\n{err}");
    let mut r = Report {
        kv: HashMap::new(),
        mounts: HashMap::new(),
        devs: HashMap::new(),
        links: HashMap::new(),
        cgroups: Vec::new(),
    };
    for line in out.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "mount" => {
                let f: Vec<&str> = rest.split(' ').collect();
                let at = f[0].to_string();
                let v = (
                    f[1].to_string(),
                    f[2].to_string(),
                    f.get(3).unwrap_or(&"").to_string(),
                );
                r.mounts.insert(at, v);
            }
            "dev" => {
                let (path, what) = rest.split_once(' ').unwrap();
                r.devs.insert(path.to_string(), what.to_string());
            }
            "link" => {
                let (path, to) = rest.split_once(' ').unwrap();
                r.links.insert(path.to_string(), to.to_string());
            }
            "cgroup" => r.cgroups.push(rest.to_string()),
            _ => {
                r.kv.insert(key.to_string(), rest.to_string());
            }
        }
    }
    r
}

fn own_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn default_container_environment() {
    let env = TestEnv::new("conf_default");
    let r = check(&env, &["--dev", "/dev"], |_| {});
    // runtime.md: the process is the container's init, in new namespaces.
    assert_eq!(r.get("pid"), "1");
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        assert_ne!(
            r.get(&format!("ns.{ns}")),
            own_ns(ns),
            "{ns} namespace is the host's"
        );
    }
    assert_eq!(
        r.get("ns.user"),
        own_ns("user"),
        "no user namespace was asked for"
    );
    assert_eq!(r.get("hostname"), "runc");
    // config-linux.md: the default filesystems and their options.
    assert_eq!(r.mount("/proc").0, "proc");
    // runc 1.1.5 takes the config's options only (the test config asks
    // for none on /proc).
    for o in ["nosuid", "nodev", "noexec"]
        .into_iter()
        .filter(|_| is_vzrun())
    {
        assert!(
            r.mount_opts("/proc").iter().any(|x| x == o),
            "/proc lacks {o}"
        );
        assert!(
            r.mount_opts("/sys").iter().any(|x| x == o),
            "/sys lacks {o}"
        );
    }
    assert!(
        r.mount_opts("/sys").iter().any(|x| x == "ro"),
        "/sys is not read-only"
    );
    assert_eq!(r.mount("/dev").0, "tmpfs");
    assert_eq!(r.mount("/dev/pts").0, "devpts");
    assert!(r.mount_opts("/dev/pts").iter().any(|x| x == "ptmxmode=666"));
    assert_eq!(r.mount("/dev/shm").0, "tmpfs");
    assert_eq!(r.mount("/dev/mqueue").0, "mqueue");
    // config-linux.md#default-devices and the /dev symlinks.
    for (path, want) in [
        ("/dev/null", "c 1:3 666"),
        ("/dev/zero", "c 1:5 666"),
        ("/dev/full", "c 1:7 666"),
        ("/dev/random", "c 1:8 666"),
        ("/dev/urandom", "c 1:9 666"),
        ("/dev/tty", "c 5:0 666"),
    ] {
        let got = r
            .devs
            .get(path)
            .unwrap_or_else(|| panic!("no {path}: {:?}", r.devs));
        assert!(got.starts_with(want), "{path}: {got}");
    }
    for (path, to) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        assert_eq!(r.links.get(path).map(String::as_str), Some(to), "{path}");
    }
    // The config's maskedPaths and readonlyPaths.
    assert!(
        r.mount_opts("/proc/sys").iter().any(|x| x == "ro"),
        "/proc/sys is writable"
    );
    // Each masked path this kernel has is covered by a mount.
    for path in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/sys/firmware",
    ] {
        if std::path::Path::new(path).exists() {
            assert!(r.mounts.contains_key(path), "{path} is not masked");
        }
    }
}

#[test]
fn process_settings_reach_the_process() {
    let env = TestEnv::new("conf_process");
    let r = check(&env, &[], |b| {
        let p = &mut b.config_mut()["process"];
        p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
        p["cwd"] = json!("/tmp");
        p["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        ]);
        p["noNewPrivileges"] = json!(true);
        p["oomScoreAdj"] = json!(300);
        p["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"], "inheritable": [], "ambient": []
        });
        b.config_mut()["domainname"] = json!("conformance.example");
    });
    assert_eq!((r.get("uid"), r.get("gid")), ("1000", "1000"));
    assert_eq!((r.get("euid"), r.get("egid")), ("1000", "1000"));
    let mut groups: Vec<&str> = r.get("groups").split(' ').collect();
    groups.sort();
    assert_eq!(groups, ["10", "20"]);
    assert_eq!(r.get("status.Umask"), "0077");
    assert_eq!(r.get("cwd"), "/tmp");
    assert_eq!(r.get("rlimit.RLIMIT_NOFILE"), "512:1024");
    assert_eq!(r.get("rlimit.RLIMIT_CORE"), "0:4096");
    assert_eq!(r.get("status.NoNewPrivs"), "1");
    assert_eq!(r.get("oom_score_adj"), "300");
    if is_vzrun() {
        // runc 1.1.5 does not set it.
        assert_eq!(r.get("domainname"), "conformance.example");
    }
    let kill = 1u64 << 5;
    let chown = 1u64 << 0;
    let hex = |v: u64| format!("{v:016x}");
    assert_eq!(r.get("status.CapBnd"), hex(kill | chown));
    // Not root any more: what is effective is what was permitted and kept.
    assert_eq!(r.get("status.CapInh"), hex(0));
    assert_eq!(r.get("status.CapAmb"), hex(0));
}

#[test]
fn namespaced_sysctls_and_devices() {
    let env = TestEnv::new("conf_sysctl_dev");
    let r = check(
        &env,
        &[
            "--sysctl",
            "net.ipv4.ip_forward",
            "--sysctl",
            "kernel.msgmax",
            "--dev",
            "/dev",
        ],
        |b| {
            let l = &mut b.config_mut()["linux"];
            l["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"});
            l["devices"] = json!([{
                "path": "/dev/conformance", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o640, "uid": 7, "gid": 8
            }]);
        },
    );
    assert_eq!(r.get("sysctl.net.ipv4.ip_forward"), "1");
    assert_eq!(r.get("sysctl.kernel.msgmax"), "4096");
    assert_eq!(
        r.devs.get("/dev/conformance").map(String::as_str),
        Some("c 1:3 640 7:8")
    );
}

#[test]
fn cgroup_namespace_roots_the_container_at_its_cgroup() {
    let env = TestEnv::new("conf_cgroupns");
    let r = check(&env, &[], |b| b.add_namespace("cgroup"));
    assert_ne!(r.get("ns.cgroup"), own_ns("cgroup"));
    for line in &r.cgroups {
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        assert_eq!(path, "/", "{line}");
    }
    let r = check(&env, &[], |_| {});
    assert!(
        r.cgroups.iter().any(|l| l.ends_with(&cgroup_rel(&r_id(l)))),
        "{:?}",
        r.cgroups
    );
}

/// The test container's id as its cgroup line names it (the last part of
/// the path), for comparing with the harness's cgroupsPath.
fn r_id(line: &str) -> String {
    let path = line.splitn(3, ':').nth(2).unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    last.trim_start_matches("vzrun-")
        .trim_end_matches(".scope")
        .to_string()
}

/// A config that lists no namespaces (and so sets no hostname).
fn without_namespaces(b: &mut Bundle) {
    b.config_mut()["linux"]["namespaces"] = json!([]);
    b.config_mut().as_object_mut().unwrap().remove("hostname");
}

/// runtime-tools' linux_ns_itype: a config that lists no namespaces runs in
/// the runtime's own, the mount table included. The container's root is
/// still its rootfs; its mounts appear on the host while it exists and
/// are gone after delete, and the rootfs's files stay.
#[test]
fn no_namespaces_means_the_callers_own() {
    let env = TestEnv::new("conf_itype");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    without_namespaces(&mut b);
    // runc refuses masked and read-only paths without a mount namespace.
    for k in ["maskedPaths", "readonlyPaths"] {
        b.config_mut()["linux"].as_object_mut().unwrap().remove(k);
    }
    std::fs::write(b.rootfs.join("marker"), "inside\n").unwrap();
    b.set_sh("cat /marker > /seen; exec sleep 1001");
    env.create(&id, &b);
    env.start(&id);
    assert_eq!(env.wait_file(&b.rootfs.join("seen"), secs(10)), "inside\n");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    for ns in ["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_eq!(theirs.display().to_string(), own_ns(ns), "{ns} namespace");
    }
    // The container's mounts are in the caller's table (vzrun makes them
    // on a bind of the rootfs in the container's state directory).
    let during = mounts_under(&env.tmp);
    assert!(
        during.iter().any(|m| m.ends_with("/proc")),
        "the container's /proc is not in the caller's mount table: {during:?}"
    );
    // An exec'd process lands in the same root, not the host's (runc 1.1
    // cannot exec here: "ns paths are empty").
    if is_vzrun() {
        let o = env.rt(&["exec", &id, "cat", "/marker"]);
        assert_eq!((o.code, o.stdout.as_str()), (0, "inside\n"), "{o}");
    }

    env.rt(&["kill", &id, "KILL"]).assert_ok();
    env.wait_status(&id, "stopped", secs(10));
    env.rt(&["delete", &id]).assert_ok();
    if is_vzrun() {
        assert_eq!(mounts_under(&env.tmp), Vec::<String>::new());
    }
    assert!(b.rootfs.join("marker").exists());
    env.assert_no_leftovers(&id);
}

/// A failed create without a mount namespace takes its mounts in the
/// caller's table back with it.
#[test]
fn a_failed_create_without_namespaces_leaves_no_mounts() {
    let env = TestEnv::new("conf_itype_fail");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    without_namespaces(&mut b);
    b.push_mount(json!({"destination": "/late", "type": "nosuchfs", "source": "x"}));
    let o = env.create_out(&id, &b, &[]);
    assert_ne!(o.code, 0, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("/late"), "{o}");
        assert_eq!(mounts_under(&env.tmp), Vec::<String>::new());
    }
    env.assert_no_leftovers(&id);
}

/// Two containers without a mount namespace on one rootfs each get a root
/// of their own: deleting one leaves the other's mounts, and masked paths
/// apply inside (runc refuses both masked paths and exec here).
#[test]
fn containers_without_namespaces_on_one_rootfs_stay_apart() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("conf_itype_two");
    let (a, b_id) = (env.new_id(), env.new_id());
    let mut b = env.bundle(&a);
    without_namespaces(&mut b);
    b.config_mut()["linux"]["maskedPaths"] = json!(["/etc/secret"]);
    std::fs::write(b.rootfs.join("etc/secret"), "host-only\n").unwrap();
    b.set_args(&["sleep", "1002"]);
    env.create(&a, &b);
    b.config_mut()["linux"]["cgroupsPath"] = json!(cgroups_path(&b_id));
    env.create(&b_id, &b);
    let o = env.rt(&["exec", &b_id, "cat", "/etc/secret"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, ""),
        "masked path readable: {o}"
    );
    env.rt(&["delete", "--force", &a]).assert_ok();
    let o = env.rt(&["exec", &b_id, "sh", "-c", "ls /proc/self/ && echo still"]);
    assert!(
        o.stdout.contains("still") && o.stdout.contains("status"),
        "{o}"
    );
    env.rt(&["delete", "--force", &b_id]).assert_ok();
    assert_eq!(mounts_under(&env.tmp), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(b.rootfs.join("etc/secret")).unwrap(),
        "host-only\n"
    );
}

/// What a container without a mount namespace cannot have is refused by
/// name, before anything is made.
#[test]
fn without_a_mount_namespace_some_settings_are_refused() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("conf_itype_refuse");
    for (edit, want) in [
        (
            json!({"rootfsPropagation": "shared"}),
            "linux.rootfsPropagation",
        ),
        (json!({"namespaces": [{"type": "user"}]}), "user namespace"),
    ] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        without_namespaces(&mut b);
        for (k, v) in edit.as_object().unwrap() {
            b.config_mut()["linux"][k] = v.clone();
        }
        let o = env.create_out(&id, &b, &[]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains(want) && o.stderr.contains(&id), "{o}");
        env.assert_no_leftovers(&id);
    }
    assert_eq!(mounts_under(&env.tmp), Vec::<String>::new());
}
