//! A virtual /proc (OpenVZ's): with `org.openvz.proc=virtual` the
//! container reads lxcfs's meminfo, cpuinfo, stat, uptime and
//! /sys/devices/system/cpu, which describe its own limits, instead of the
//! host's. Each test starts its own lxcfs on a private mount point.
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `free` from the host's procps (which reads /proc/meminfo, unlike
/// busybox's, which asks the kernel through sysinfo(2)) with its
/// libraries, copied into the rootfs at their own paths.
fn install_free(rootfs: &Path) -> bool {
    let free = Path::new("/usr/bin/free");
    // (The busybox VM's is busybox, and it has no ldd.)
    if !fs::symlink_metadata(free).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(ldd) = Command::new("ldd").arg(free).output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&ldd.stdout);
    let libs = text
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from);
    for f in std::iter::once(free.to_path_buf()).chain(libs) {
        let to = rootfs.join(f.strip_prefix("/").unwrap());
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&f, &to).unwrap();
    }
    true
}

fn limited(b: &mut Bundle) {
    let c = b.config_mut();
    c["linux"]["resources"] = json!({
        "memory": {"limit": 256 << 20},
        "cpu": {"cpus": "0"},
    });
    c["annotations"] = json!({"org.openvz.proc": "virtual"});
}

fn first_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
}

#[test]
fn a_virtual_proc_shows_the_containers_limits() {
    if !is_vzrun() {
        return; // no other runtime has it
    }
    let env = TestEnv::new("procview");
    let lxcfs = Lxcfs::start(&env);
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let with_free = install_free(&b.rootfs);
    b.set_sh(
        "grep MemTotal /proc/meminfo; nproc; grep -c ^processor /proc/cpuinfo; \
         cat /sys/devices/system/cpu/online; cut -d. -f1 /proc/uptime; \
         grep -c '^cpu[0-9]' /proc/stat; \
         [ -x /usr/bin/free ] && /usr/bin/free -m | awk '/^Mem:/ {print \"free\", $2}'; \
         sleep 1000",
    );
    limited(&mut b);
    b.write();
    let flag = lxcfs.flag();
    let o = env.rt(&[
        "run",
        "-d",
        &flag,
        "--bundle",
        &b.dir.display().to_string(),
        &id,
    ]);
    env.track_id(&id);
    assert_eq!(o.code, 0, "{o}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = |o: &Out| fs::read_to_string(&o.stdout_path).unwrap_or_default();
    while log(&o).lines().count() < 6 + usize::from(with_free) {
        assert!(Instant::now() < deadline, "{}", log(&o));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = log(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(first_field(lines[0], "MemTotal:"), Some(256 << 10), "{out}");
    assert_eq!(&lines[1..4], ["1", "1", "0"], "{out}");
    // The container's age, not the host's.
    let up: u64 = lines[4].parse().unwrap();
    assert!(up < 60, "uptime {up}: {out}");
    assert_eq!(lines[5], "1", "{out}");
    if with_free {
        assert_eq!(lines[6], "free 256", "{out}");
    }
    // An exec'd process sees the same view.
    let o = env.rt(&["exec", &id, "grep", "MemTotal", "/proc/meminfo"]);
    assert_eq!(first_field(&o.stdout, "MemTotal:"), Some(256 << 10), "{o}");
    env.rt(&["delete", "--force", &id]).assert_ok();
}

/// Without the annotation nothing changes; `--proc-view virtual` makes it
/// the default, and `org.openvz.proc=host` opts a container out again.
#[test]
fn the_view_is_chosen_per_container_and_by_default() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("procview_default");
    let lxcfs = Lxcfs::start(&env);
    let host = first_field(&fs::read_to_string("/proc/meminfo").unwrap(), "MemTotal:");
    let total = |extra: &[&str], annotation: Option<&str>| {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.set_sh("grep MemTotal /proc/meminfo");
        limited(&mut b);
        match annotation {
            Some(a) => b.config_mut()["annotations"]["org.openvz.proc"] = json!(a),
            None => b.config_mut()["annotations"] = json!({}),
        }
        let o = env.run_out(&id, &b, extra);
        assert_eq!(o.code, 0, "{o}");
        first_field(&o.stdout, "MemTotal:")
    };
    let flag = lxcfs.flag();
    assert_eq!(total(&[&flag], None), host);
    assert_eq!(
        total(&[&flag, "--proc-view=virtual"], None),
        Some(256 << 10)
    );
    assert_eq!(total(&[&flag, "--proc-view=virtual"], Some("host")), host);
}

/// Asked for without lxcfs at the path: refused, naming it, and nothing
/// is left behind; an annotation value that means nothing is refused too.
#[test]
fn a_virtual_proc_without_lxcfs_is_refused() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("procview_none");
    let empty = env.mkdir("no-lxcfs");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    limited(&mut b);
    let flag = format!("--lxcfs-path={}", empty.display());
    let o = env.run_out(&id, &b, &[&flag]);
    assert_eq!(o.code, 1, "{o}");
    let says = format!("lxcfs is not running at {}", empty.display());
    assert!(o.stderr.contains(&says), "{o}");
    assert!(o.stderr.contains(&id), "{o}");
    env.assert_no_leftovers(&id);

    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["annotations"] = json!({"org.openvz.proc": "yes"});
    let o = env.run_out(&id, &b, &[]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("org.openvz.proc"), "{o}");
    env.assert_no_leftovers(&id);
}
