//! Rootless with a cgroup delegated to the user (tests/rootless.rs has
//! the rest): the limit applies, `update` and `pause` work, `delete`
//! removes the container's cgroup. The user is a bare uid (no passwd
//! entry, no useradd, no setpriv: the runtime is started with the ids
//! switched), so this runs in the busybox VM too, on cgroup v2, as well
//! as on the v1/hybrid host.
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Not a user of the host: only the number.
const UID: u32 = 4242;

#[test]
fn limits_in_a_cgroup_delegated_to_the_user() {
    let env = TestEnv::new("rl_deleg");
    let xdg = env.mkdir("xdg");
    fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&xdg, Some(UID), Some(UID)).unwrap();
    let name = format!("rl-deleg-{}", std::process::id());
    let deleg = Delegation::new(&name, UID);
    let mut b = env.bundle("unused");
    std::os::unix::fs::chown(&b.dir, Some(UID), None).unwrap();
    placed_as_user(&env, &xdg, &b.dir, None, &["spec", "--rootless"]).assert_ok();
    b.config =
        serde_json::from_str(&fs::read_to_string(b.dir.join("config.json")).unwrap()).unwrap();
    b.config["process"]["terminal"] = json!(false);
    b.set_args(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/vzrun-test/{name}/c"));
    b.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    // On v2 the runtime writes each field's file itself (libcgroups would
    // want root for its device filter): the other controllers too.
    if cgroup_v2() {
        b.config["linux"]["resources"] = json!({
            "pids": {"limit": 10},
            "memory": {"limit": 64 << 20, "reservation": 32 << 20},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "unified": {"memory.high": "100003840"},
        });
    }
    b.write();
    let run = |args: &[&str]| placed_as_user(&env, &xdg, &b.dir, deleg.leaf.as_deref(), args);
    let o = run(&["run", "-d", "rl-deleg"]);
    assert_eq!(o.code, 0, "{o}");
    let state: serde_json::Value =
        serde_json::from_str(&run(&["state", "rl-deleg"]).assert_ok().stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap() as i32;
    env.track_pid(pid);
    let pids_dir = deleg.pids_dir.join("c");
    let procs = fs::read_to_string(pids_dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    let max = || fs::read_to_string(pids_dir.join("pids.max")).unwrap();
    assert_eq!(max().trim(), "10");
    if cgroup_v2() {
        let read = |f: &str| {
            fs::read_to_string(pids_dir.join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(read("memory.max"), (64 << 20).to_string());
        assert_eq!(read("memory.low"), (32 << 20).to_string());
        assert_eq!(read("memory.high"), "100003840");
        assert_eq!(read("cpu.weight"), "59");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("cpuset.cpus"), "0");
    }
    run(&["update", "--pids-limit", "5", "rl-deleg"]).assert_ok();
    assert_eq!(max().trim(), "5");
    run(&["pause", "rl-deleg"]).assert_ok();
    assert!(run(&["state", "rl-deleg"]).stdout.contains("paused"));
    run(&["resume", "rl-deleg"]).assert_ok();
    run(&["delete", "--force", "rl-deleg"]).assert_ok();
    assert!(!pids_dir.exists(), "{} is left", pids_dir.display());

    // What cgroup v2 has no file for is refused by name, and leaves
    // nothing behind.
    if cgroup_v2() && is_vzrun() {
        b.config["linux"]["resources"] = json!({"memory": {"swappiness": 10}});
        b.write();
        let o = run(&["run", "-d", "rl-deleg-no"]);
        assert_eq!(o.code, 1, "{o}");
        assert!(
            o.stderr.contains("linux.resources.memory.swappiness"),
            "{o}"
        );
        assert!(!pids_dir.exists(), "{} is left", pids_dir.display());
        assert!(!xdg.join(runtime_name()).join("rl-deleg-no").exists());
    }
}

/// The runtime as the test user, started in cgroup `leaf` (moved there
/// while still root), stdout and stderr through files: a detached
/// container keeps the runtime's stdio open.
fn placed_as_user(
    env: &TestEnv,
    xdg: &Path,
    cwd: &Path,
    leaf: Option<&Path>,
    args: &[&str],
) -> Out {
    use std::os::unix::process::CommandExt;
    let (out, err) = (
        env.tmp.join("out/placed.out"),
        env.tmp.join("out/placed.err"),
    );
    let mut cmd = Command::new(runtime());
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("USER", UID.to_string())
        .env("XDG_RUNTIME_DIR", xdg)
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap());
    let procs =
        leaf.map(|l| std::ffi::CString::new(format!("{}/cgroup.procs", l.display())).unwrap());
    let uid = UID;
    // SAFETY: in the forked child before exec: open, write, close and the
    // id switches, which are async-signal-safe; `procs` was made before.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(p) = &procs {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(uid, uid, uid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    Out {
        program: runtime(),
        args: args.iter().map(|a| a.to_string()).collect(),
        code: status.code().unwrap_or(128),
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
        stdout_path: out,
        stderr_path: err,
    }
}

/// `/vzrun-test/NAME` delegated to a user in every hierarchy, removed
/// (deepest first) when the test ends.
struct Delegation {
    made: Vec<PathBuf>,
    /// Where the pids controller's directory of NAME is.
    pids_dir: PathBuf,
    /// A v2 leaf for the runtime, when there is a cgroup2 hierarchy.
    leaf: Option<PathBuf>,
}

impl Delegation {
    fn new(name: &str, uid: u32) -> Delegation {
        let root = Path::new("/sys/fs/cgroup");
        let chown = |p: &Path| std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
        let mut d = Delegation {
            made: Vec::new(),
            pids_dir: root.join("pids/vzrun-test").join(name),
            leaf: None,
        };
        if !cgroup_v2() {
            for c in [
                "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
            ] {
                let h = root.join(c);
                if !h.join("tasks").exists() || d.made.iter().any(|m| m.starts_with(&h)) {
                    continue;
                }
                let dir = h.join("vzrun-test").join(name);
                fs::create_dir_all(&dir).unwrap();
                if c == "cpuset" {
                    // A new cpuset takes no process until it has cpus and
                    // mems: each level gets its parent's.
                    for level in [h.join("vzrun-test"), dir.clone()] {
                        for f in ["cpuset.cpus", "cpuset.mems"] {
                            let up = fs::read_to_string(level.parent().unwrap().join(f)).unwrap();
                            if fs::read_to_string(level.join(f)).unwrap().trim().is_empty() {
                                fs::write(level.join(f), up.trim()).unwrap();
                            }
                        }
                    }
                }
                for f in ["", "tasks", "cgroup.procs"] {
                    chown(&dir.join(f));
                }
                d.made.push(dir);
            }
        }
        let v2 = if cgroup_v2() {
            Some(root.to_path_buf())
        } else {
            Some(root.join("unified")).filter(|u| u.join("cgroup.controllers").exists())
        };
        if let Some(v2) = v2 {
            let dir = v2.join("vzrun-test").join(name);
            fs::create_dir_all(dir.join("rt")).unwrap();
            let on = fs::read_to_string(v2.join("cgroup.controllers")).unwrap();
            let plus: Vec<String> = on.split_whitespace().map(|c| format!("+{c}")).collect();
            for level in [v2.clone(), v2.join("vzrun-test"), dir.clone()] {
                let _ = fs::write(level.join("cgroup.subtree_control"), plus.join(" "));
            }
            for f in [
                "",
                "cgroup.procs",
                "cgroup.subtree_control",
                "cgroup.threads",
            ] {
                chown(&dir.join(f));
            }
            if cgroup_v2() {
                d.pids_dir = dir.clone();
            }
            d.made.push(dir.clone());
            d.made.push(dir.join("rt"));
            d.leaf = Some(dir.join("rt"));
        }
        d
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        let mut dirs = self.made.clone();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            // Anything the runtime left below, deepest first.
            let _ = Command::new("find")
                .arg(&d)
                .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                .output();
        }
    }
}
