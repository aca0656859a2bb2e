//! Rootless: an unprivileged user runs the runtime on a `spec --rootless`
//! bundle, as runc's rootless mode. The suite makes its own user
//! (`vzrun-test`, with subordinate ids, as `useradd -m` writes them) and
//! removes it at the end; the runtime runs as that user through setpriv,
//! with the user's XDG_RUNTIME_DIR and no `--root` (the default root is
//! `$XDG_RUNTIME_DIR/vzrun` then). Two tests, each with its own user:
//! the cgroupfs driver's steps, and `--systemd-cgroup` through the user's
//! own systemd instance where systemd runs (the systemd VM).
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const USER: &str = "vzrun-test";

/// A test user, made for the test and removed with it (home and mail
/// spool too, and its systemd instance when it lingered), whatever
/// happens.
struct TestUser {
    name: &'static str,
    uid: u32,
    made: bool,
    lingers: bool,
}

impl TestUser {
    fn new(name: &'static str) -> TestUser {
        let made = !Command::new("id")
            .arg(name)
            .output()
            .unwrap()
            .status
            .success();
        if made {
            let o = Command::new("useradd")
                .args(["-m", name])
                .output()
                .expect("run useradd");
            assert!(
                o.status.success(),
                "useradd: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let id = Command::new("id").args(["-u", name]).output().unwrap();
        let uid = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
        TestUser {
            name,
            uid,
            made,
            lingers: false,
        }
    }

    /// Starts the user's systemd instance and its session bus, as
    /// `loginctl enable-linger` does for a user who is not logged in.
    fn linger(&mut self) -> PathBuf {
        self.lingers = true;
        let o = Command::new("loginctl")
            .args(["enable-linger", self.name])
            .output()
            .expect("run loginctl");
        assert!(o.status.success(), "loginctl enable-linger: {o:?}");
        let xdg = PathBuf::from(format!("/run/user/{}", self.uid));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !xdg.join("bus").exists() {
            assert!(
                Instant::now() < deadline,
                "the systemd instance of {} made no session bus at {} in 60 s",
                self.name,
                xdg.join("bus").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        xdg
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if self.lingers {
            let _ = Command::new("loginctl")
                .args(["disable-linger", self.name])
                .output();
            let unit = format!("user@{}.service", self.uid);
            let _ = Command::new("systemctl").args(["stop", &unit]).output();
        }
        if self.made {
            let _ = Command::new("userdel").args(["-r", self.name]).output();
        }
    }
}

/// The runtime run as `user` (a name or number) with only the variables
/// a login would give it.
fn as_user(env: &TestEnv, user: &str, xdg: &Path, cwd: &Path, args: &[&str]) -> Out {
    as_user_through(env, user, xdg, cwd, &[], args)
}

/// The same, started through `through` (a command that runs the rest).
fn as_user_through(
    env: &TestEnv,
    user: &str,
    xdg: &Path,
    cwd: &Path,
    through: &[&str],
    args: &[&str],
) -> Out {
    let mut full: Vec<String> = [
        "--reuid",
        user,
        "--regid",
        user,
        "--clear-groups",
        "env",
        "-i",
        "PATH=/usr/bin:/bin",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    full.push(format!("USER={user}"));
    full.push(format!("XDG_RUNTIME_DIR={}", xdg.display()));
    full.extend(through.iter().map(|s| s.to_string()));
    full.push(runtime().display().to_string());
    full.extend(args.iter().map(|s| s.to_string()));
    run_cmd_cwd(
        Path::new("/usr/bin/setpriv"),
        &full,
        &env.tmp.join("out"),
        Some(cwd),
        RT_TIMEOUT,
    )
}

/// A bundle whose config is `spec --rootless` as the user writes it, with
/// `args`; the rootfs is the test's busybox one (root's files, which the
/// user reads).
fn rootless_bundle(env: &TestEnv, user: &TestUser, xdg: &Path, args: &[&str]) -> Bundle {
    let mut b = env.bundle("unused");
    std::os::unix::fs::chown(&b.dir, Some(user.uid), None).unwrap();
    as_user(env, user.name, xdg, &b.dir, &["spec", "--rootless"]).assert_ok();
    let text = fs::read_to_string(b.dir.join("config.json")).unwrap();
    b.config = serde_json::from_str(&text).unwrap();
    b.config["process"]["terminal"] = json!(false);
    b.set_args(args);
    b.write();
    b
}

#[test]
fn an_unprivileged_user_runs_containers() {
    // The user goes after the test's processes (dropped in reverse).
    let user = TestUser::new(USER);
    let env = TestEnv::new("rootless");
    let xdg = env.mkdir("xdg");
    fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&xdg, Some(user.uid), Some(user.uid)).unwrap();
    // The default root is named after the runtime (runc: .../runc).
    let root = xdg.join(runtime_name());
    let run = |b: &Bundle, args: &[&str]| as_user(&env, USER, &xdg, &b.dir, args);

    // Root inside, the user outside; a host file only root may read stays
    // unreadable.
    let secret = env.tmp.join("secret");
    fs::write(&secret, "root only\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let mut b = rootless_bundle(
        &env,
        &user,
        &xdg,
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; echo $(ls /proc/self/fd); cat /secret 2>&1 || echo denied",
        ],
    );
    b.bind(&secret, "/secret", true);
    fs::write(b.rootfs.join("secret"), "").unwrap();
    b.write();
    let o = run(&b, &["run", "rl-fg"]);
    assert_eq!(o.code, 0, "{o}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "0", "{o}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", &user.uid.to_string(), "1"],
        "{o}"
    );
    // Nothing of the runtime's leaks in (ls's own directory is the 3).
    assert_eq!(lines[2], "0 1 2 3", "{o}");
    assert!(lines.last().unwrap().contains("denied"), "{o}");
    // The default state root, private to the user.
    let meta = fs::metadata(&root).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), user.uid);

    // A detached container, driven by its owner.
    let b = rootless_bundle(&env, &user, &xdg, &["sleep", "1000"]);
    let o = run(&b, &["run", "-d", "rl-bg"]);
    assert_eq!(o.code, 0, "{o}");
    let state: serde_json::Value =
        serde_json::from_str(&run(&b, &["state", "rl-bg"]).assert_ok().stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap() as i32;
    env.track_pid(pid);
    assert_eq!(state["status"], "running");
    let o = run(&b, &["exec", "rl-bg", "id", "-u"]);
    assert_eq!(o.stdout.trim(), "0", "{o}");
    // Without a cgroup, vzrun lists the processes of the container's pid
    // namespace (runc 1.1 fails: it reads a cgroup it does not have).
    if is_vzrun() {
        let o = run(&b, &["ps", "--format", "json", "rl-bg"]);
        let pids: Vec<i32> = serde_json::from_str(o.stdout.trim()).unwrap();
        assert_eq!(pids, [pid], "{o}");
    }
    let o = run(&b, &["list", "-q"]);
    assert_eq!(o.stdout.trim(), "rl-bg", "{o}");
    // What needs a cgroup of its own is refused by name.
    let refused: [&[&str]; 3] = [
        &["pause", "rl-bg"],
        &["events", "--stats", "rl-bg"],
        &["update", "--pids-limit", "5", "rl-bg"],
    ];
    // (runc 1.1 pauses and reports all-zero statistics instead.)
    for args in refused.into_iter().filter(|_| is_vzrun()) {
        let o = run(&b, args);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("has no cgroup of its own"), "{o}");
    }
    // Nobody else sees or touches it.
    let r = root.display().to_string();
    let o = as_user(&env, "65534", &xdg, &env.tmp, &["--root", &r, "list"]);
    assert_ne!(o.code, 0, "{o}");
    let kill = ["--root", &r, "kill", "rl-bg", "KILL"];
    let o = as_user(&env, "65534", &xdg, &env.tmp, &kill);
    assert_ne!(o.code, 0, "{o}");
    let o = run(&b, &["state", "rl-bg"]);
    assert!(o.stdout.contains("running"), "{o}");
    // Nor is state in a root someone else made (a planted one) believed.
    if is_vzrun() {
        let planted = env.mkdir("planted");
        fs::set_permissions(&planted, fs::Permissions::from_mode(0o755)).unwrap();
        let p = planted.display().to_string();
        let o = run(&b, &["--root", &p, "list"]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("not by this user"), "{o}");
    }
    run(&b, &["kill", "rl-bg", "KILL"]).assert_ok();
    run(&b, &["delete", "--force", "rl-bg"]).assert_ok();
    assert_eq!(run(&b, &["list", "-q"]).stdout.trim(), "");
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || proc_gone(pid));

    // Without a cgroup and without a pid namespace of its own, the
    // container's processes cannot be told from the user's others:
    // `kill --all` and `ps` refuse instead of signalling all of them.
    if is_vzrun() {
        let mut b = rootless_bundle(&env, &user, &xdg, &["sleep", "1000"]);
        let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
        // (A new procfs needs a pid namespace the user owns: the host's
        // /proc is bound instead, as runc's rootless examples do.)
        for m in b.config["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/proc" {
                *m = json!({"destination": "/proc", "type": "bind", "source": "/proc",
                            "options": ["rbind"]});
            }
        }
        b.write();
        struct Bystander(std::process::Child);
        impl Drop for Bystander {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut bystander = Bystander(
            Command::new("setpriv")
                .args([
                    "--reuid",
                    USER,
                    "--regid",
                    USER,
                    "--clear-groups",
                    "sleep",
                    "1000",
                ])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let o = run(&b, &["run", "-d", "rl-hostpid"]);
        assert_eq!(o.code, 0, "{o}");
        let o = run(&b, &["kill", "--all", "rl-hostpid", "KILL"]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("no pid namespace of its own"), "{o}");
        let o = run(&b, &["ps", "rl-hostpid"]);
        assert_ne!(o.code, 0, "{o}");
        assert!(
            bystander.0.try_wait().unwrap().is_none(),
            "the user's sleep was killed"
        );
        run(&b, &["delete", "--force", "rl-hostpid"]).assert_ok();
        assert!(
            bystander.0.try_wait().unwrap().is_none(),
            "the user's sleep was killed"
        );
    }

    // Limits need a cgroup the user may write: refused by name, nothing
    // left behind.
    let mut b = rootless_bundle(&env, &user, &xdg, &["true"]);
    b.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    b.write();
    let o = run(&b, &["run", "rl-limits"]);
    assert_ne!(o.code, 0, "{o}");
    if is_vzrun() {
        let says = "linux.resources.pids: an unprivileged user has no cgroup";
        assert!(o.stderr.contains(says), "{o}");
    }
    assert!(!root.join("rl-limits").exists());

    // More than the user's own id: through newuidmap/newgidmap and the
    // subordinate ids useradd gave the user.
    let (sub_u, sub_g) = (subordinate("/etc/subuid"), subordinate("/etc/subgid"));
    let mut b = rootless_bundle(
        &env,
        &user,
        &xdg,
        &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"],
    );
    b.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": sub_u, "size": 1000}]);
    b.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": sub_g, "size": 1000}]);
    b.write();
    let o = run(&b, &["run", "rl-multi"]);
    assert_eq!(o.code, 0, "{o}");
    let maps: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(maps.len(), 4, "{o}");
    assert_eq!(maps[1], ["1", &sub_u.to_string(), "1000"], "{o}");
    assert_eq!(maps[3], ["1", &sub_g.to_string(), "1000"], "{o}");

    // Idmapped mounts where the kernel allows them without privileges: of
    // a filesystem the container's user namespace owns (a tmpfs it
    // mounts). A file its root makes shows through the mapping as uid and
    // gid 100. A host directory is refused, saying why.
    if is_vzrun() {
        let sh = "touch /src/f && stat -c '%u %g' /src/f /mapped/f";
        b.set_args(&["sh", "-c", sh]);
        // (The user may not make directories in root's rootfs.)
        let src = b.rootfs.join("src");
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(b.rootfs.join("mapped")).unwrap();
        b.config["mounts"].as_array_mut().unwrap().extend([
            json!({"destination": "/src", "type": "tmpfs", "source": "tmpfs",
                   "options": ["mode=777"]}),
            json!({"destination": "/mapped", "type": "bind", "source": src,
                   "options": ["bind"],
                   "uidMappings": [{"containerID": 0, "hostID": sub_u + 99, "size": 1}],
                   "gidMappings": [{"containerID": 0, "hostID": sub_g + 99, "size": 1}]}),
        ]);
        b.write();
        let o = run(&b, &["run", "rl-idmap"]);
        if kernel_at_least(6, 3) {
            assert_eq!(o.code, 0, "{o}");
            assert_eq!(
                o.stdout.lines().collect::<Vec<_>>(),
                ["0 0", "100 100"],
                "{o}"
            );
        } else {
            // tmpfs learned idmapped mounts in 6.3.
            assert_eq!(o.code, 1, "{o}");
            assert!(o.stderr.contains("does not support idmapped mounts"), "{o}");
        }
        let mounts = b.config["mounts"].as_array_mut().unwrap();
        mounts.pop();
        mounts.push(json!({"destination": "/mapped", "type": "bind",
            "source": env.tmp, "options": ["bind", "idmap"]}));
        b.write();
        let o = run(&b, &["run", "rl-idmap-host"]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("lacks CAP_SYS_ADMIN"), "{o}");
        assert!(!root.join("rl-idmap-host").exists());
    }

    // devpts's gid=5 names a group the one-id namespace does not map: the
    // option is dropped rather than the mount failing (runc 1.1 refuses
    // the config).
    if is_vzrun() {
        let mut b = rootless_bundle(&env, &user, &xdg, &["grep", "devpts", "/proc/mounts"]);
        for m in b.config["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev/pts" {
                m["options"].as_array_mut().unwrap().push(json!("gid=5"));
            }
        }
        b.write();
        let o = run(&b, &["run", "rl-devpts"]);
        assert_eq!(o.code, 0, "{o}");
        assert!(
            o.stdout.contains("devpts") && !o.stdout.contains("gid=5"),
            "{o}"
        );
    }
}

/// `--systemd-cgroup` for an unprivileged user: its own systemd instance
/// (started by `loginctl enable-linger`, reached on its session bus) makes
/// the scope under `user@UID.service`, with the controllers systemd
/// delegates to users, so limits, update, pause and statistics work.
/// Where systemd is not PID 1 there is no such instance: the create is
/// refused, naming it, and leaves nothing behind.
#[test]
fn the_users_systemd_instance_manages_the_cgroup() {
    let mut user = TestUser::new("vzrun-test-sd");
    let env = TestEnv::new("rootless-sd");
    if !Path::new("/run/systemd/system").exists() {
        let xdg = env.mkdir("xdg");
        fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&xdg, Some(user.uid), Some(user.uid)).unwrap();
        let b = rootless_bundle(&env, &user, &xdg, &["true"]);
        let o = as_user(
            &env,
            user.name,
            &xdg,
            &b.dir,
            &["--systemd-cgroup", "run", "sd-none"],
        );
        assert_eq!(o.code, 1, "{o}");
        if is_vzrun() {
            assert!(o.stderr.contains("the user's systemd instance"), "{o}");
        }
        assert!(!xdg.join(runtime_name()).join("sd-none").exists());
        return;
    }
    let xdg = user.linger();
    let run = |b: &Bundle, args: &[&str]| {
        let mut all = vec!["--systemd-cgroup"];
        all.extend_from_slice(args);
        as_user(&env, user.name, &xdg, &b.dir, &all)
    };
    let mut b = rootless_bundle(&env, &user, &xdg, &["sleep", "1000"]);
    b.config["linux"]["resources"] = json!({
        "pids": {"limit": 20},
        "memory": {"limit": 64 << 20},
    });
    b.write();
    // Started from a scope of the user's instance, as a login shell is.
    let o = as_user_through(
        &env,
        user.name,
        &xdg,
        &b.dir,
        &["systemd-run", "--user", "--scope", "--quiet"],
        &["--systemd-cgroup", "run", "-d", "sd-bg"],
    );
    assert_eq!(o.code, 0, "{o}");
    let state: serde_json::Value =
        serde_json::from_str(&run(&b, &["state", "sd-bg"]).assert_ok().stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap() as i32;
    env.track_pid(pid);
    let scope = format!(
        "/user.slice/user-{0}.slice/user@{0}.service/user.slice/{1}-sd-bg.scope",
        user.uid,
        runtime_name()
    );
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cg.trim(), format!("0::{scope}"));
    let dir = PathBuf::from(format!("/sys/fs/cgroup{scope}"));
    let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap().trim().to_string();
    assert_eq!(read("pids.max"), "20");
    assert_eq!(read("memory.max"), (64 << 20).to_string());

    let o = run(&b, &["ps", "--format", "json", "sd-bg"]);
    let pids: Vec<i32> = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(pids, [pid], "{o}");
    // From outside the user's instance (this test's own cgroup is
    // root's), the exec'd process still joins the scope: systemd moves it.
    let o = run(
        &b,
        &["exec", "sd-bg", "sh", "-c", "id -u; cat /proc/self/cgroup"],
    );
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "{o}");
    let at = lines.get(1).copied().unwrap_or_default();
    assert!(at == "0::/" || at == format!("0::{scope}"), "{o}");
    run(&b, &["update", "--pids-limit", "30", "sd-bg"]).assert_ok();
    assert_eq!(read("pids.max"), "30");
    run(&b, &["pause", "sd-bg"]).assert_ok();
    assert!(read("cgroup.events").contains("frozen 1"));
    let o = run(&b, &["state", "sd-bg"]);
    assert!(o.stdout.contains("paused"), "{o}");
    run(&b, &["resume", "sd-bg"]).assert_ok();
    assert!(read("cgroup.events").contains("frozen 0"));
    let o = run(&b, &["events", "--stats", "sd-bg"]);
    let ev: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert!(ev["data"]["pids"]["current"].as_u64() >= Some(1), "{o}");
    run(&b, &["kill", "sd-bg", "KILL"]).assert_ok();
    run(&b, &["delete", "--force", "sd-bg"]).assert_ok();
    // systemd removes the scope once it is empty.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert_eq!(run(&b, &["list", "-q"]).stdout.trim(), "");
}

/// The first subordinate id of the test user in `file`.
fn subordinate(file: &str) -> u32 {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && f[0] == USER).then(|| f[1].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{USER} has no range in {file} (useradd writes one)"))
}

fn proc_gone(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}
