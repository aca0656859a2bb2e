//! Per-container disk quota (OpenVZ's `diskspace`): the annotation
//! `org.openvz.ubc.diskspace=BARRIER:LIMIT` limits the btrfs subvolume that
//! holds the container's writes (the rootfs, or an overlay's upper
//! directory); writing past the limit fails with EDQUOT inside, `update
//! --ubc` changes it live, `beancounters` shows the usage, `delete` lifts
//! it. Each test makes its own loop-mounted btrfs (btrfs-progs).
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A btrfs filesystem in an image file of the test's, unmounted at the end.
struct Btrfs {
    mnt: PathBuf,
}

impl Btrfs {
    fn new(env: &TestEnv) -> Btrfs {
        let img = env.tmp.join("btrfs.img");
        let mnt = env.mkdir("btrfs");
        fs::File::create(&img).unwrap().set_len(512 << 20).unwrap();
        let sh = |cmd: &mut Command| {
            let o = cmd
                .output()
                .unwrap_or_else(|e| panic!("{cmd:?}: {e} (btrfs-progs: hack/install-deps.sh)"));
            assert!(o.status.success(), "{cmd:?}: {o:?}");
        };
        sh(Command::new("mkfs.btrfs").arg("-q").arg(&img));
        sh(Command::new("mount")
            .arg("-o")
            .arg("loop")
            .arg(&img)
            .arg(&mnt));
        Btrfs { mnt }
    }

    fn subvolume(&self, name: &str) -> PathBuf {
        let p = self.mnt.join(name);
        let o = Command::new("btrfs")
            .args(["subvolume", "create"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        p
    }

    /// The referenced-bytes limit of the qgroup of subvolume `path`
    /// (`None`: no limit, or quota not enabled).
    fn limit(&self, path: &Path) -> Option<u64> {
        let o = Command::new("btrfs")
            .args(["qgroup", "show", "-re", "--raw"])
            .arg(&self.mnt)
            .output()
            .unwrap();
        let name = path.strip_prefix(&self.mnt).unwrap().to_str().unwrap();
        String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.last() == Some(&name)).then(|| f.get(3)?.parse().ok())?
        })
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).output();
    }
}

/// A bundle whose rootfs is `dir` (filled with the test's busybox rootfs
/// unless it is an overlay's merged directory), writable, with `script`
/// and the diskspace annotation.
fn bundle_at(env: &TestEnv, id: &str, dir: &Path, fill: bool, script: &str, space: &str) -> Bundle {
    let mut b = env.bundle(id);
    if fill {
        let o = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", b.rootfs.display()))
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    b.set_sh(script);
    let c = b.config_mut();
    c["root"] = json!({"path": dir, "readonly": false});
    c["annotations"] = json!({"org.openvz.ubc.diskspace": space});
    b.rootfs = dir.to_path_buf();
    b
}

const FILL: &str = "dd if=/dev/zero of=/big bs=1M count=40 2>&1 | grep -o 'Disk quota exceeded' | head -1; \
                    echo size=$(($(stat -c %s /big) >> 20))";

fn size_written(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix("size=")?.parse().ok())
        .unwrap_or_else(|| panic!("no size in {out:?}"))
}

#[test]
fn a_subvolume_rootfs_stops_at_the_limit_and_changes_live() {
    if !is_vzrun() {
        return; // vzrun's own: no other runtime sets disk quotas
    }
    let env = TestEnv::new("quota_btrfs");
    let fs = Btrfs::new(&env);
    let root = fs.subvolume("c1");

    // In the foreground: EDQUOT inside, near the limit.
    let id = env.new_id();
    let b = bundle_at(&env, &id, &root, true, FILL, "10m:12m");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Disk quota exceeded"), "{out}");
    assert!(size_written(&out) <= 12, "{out}");
    // Deleted with the container: the limit is lifted.
    assert_eq!(fs.limit(&root), None);
    fs::remove_file(root.join("big")).unwrap();

    // Detached: beancounters show the usage, update raises it live.
    let id = env.new_id();
    let b = bundle_at(&env, &id, &root, false, "sleep 1000", "10m:12m");
    let o = env.run_out(&id, &b, &["-d"]);
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(fs.limit(&root), Some(12 << 20));
    let o = env.rt(&[
        "exec",
        &id,
        "dd",
        "if=/dev/zero",
        "of=/a",
        "bs=1M",
        "count=5",
    ]);
    assert_eq!(o.code, 0, "{o}");
    let o = env.rt(&["beancounters", "--format", "json", &id]);
    let rows: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    let row = rows[0]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == "diskspace"))
        .unwrap_or_else(|| panic!("no diskspace row: {o}"));
    let held = row["held"].as_u64().unwrap();
    assert!((5 << 20..=8 << 20).contains(&held), "{row}");
    assert_eq!(row["barrier"], 10 << 20);
    assert_eq!(row["limit"], 12 << 20);
    env.rt(&["update", "--ubc", "diskspace=30m:40m", &id])
        .assert_ok();
    assert_eq!(fs.limit(&root), Some(40 << 20));
    let o = env.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "dd if=/dev/zero of=/b bs=1M count=20 && sync",
    ]);
    assert_eq!(o.code, 0, "{o}");
    env.rt(&["delete", "--force", &id]).assert_ok();
    assert_eq!(fs.limit(&root), None);
    env.assert_no_leftovers(&id);
}

#[test]
fn an_overlay_whose_upper_directory_is_a_subvolume() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("quota_overlay");
    let fs = Btrfs::new(&env);
    let upper = fs.subvolume("upper");
    let work = fs.mnt.join("work");
    fs::create_dir(&work).unwrap();
    let lower = env.bundle("unused").rootfs;
    let merged = env.mkdir("merged");
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let o = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).output();
        }
    }
    let _unmount = Unmount(merged.clone());
    let id = env.new_id();
    let b = bundle_at(&env, &id, &merged, false, FILL, "8m");
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Disk quota exceeded"), "{out}");
    assert!(size_written(&out) <= 8, "{out}");
    assert_eq!(fs.limit(&upper), None);
}

/// A quota the filesystem cannot enforce fails the create, naming the
/// filesystem and what it lacks; nothing is left behind.
#[test]
fn quotas_a_filesystem_cannot_enforce_are_refused() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("quota_refused");
    let refused = |b: &Bundle, id: &str, says: &[&str]| {
        let o = env.run_out(id, b, &[]);
        assert_eq!(o.code, 1, "{o}");
        for s in says {
            assert!(o.stderr.contains(s), "{s:?} in {o}");
        }
        env.assert_no_leftovers(id);
    };
    // The test's rootfs on this host's root filesystem (ext4 without
    // project quotas; this kernel lacks CONFIG_QFMT_V2 too).
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["annotations"] = json!({"org.openvz.ubc.diskspace": "10m"});
    let fstype = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&b.rootfs)
        .output()
        .unwrap();
    let fstype = String::from_utf8_lossy(&fstype.stdout).trim().to_string();
    if fstype == "ext2/ext3" {
        refused(&b, &id, &["is on ext4", "project quotas"]);
    } else {
        refused(&b, &id, &["diskspace"]);
    }

    let fs = Btrfs::new(&env);
    // A plain directory of btrfs, not a subvolume.
    let dir = fs.mnt.join("plain");
    fs::create_dir(&dir).unwrap();
    let id = env.new_id();
    let b = bundle_at(&env, &id, &dir, true, "true", "10m");
    refused(&b, &id, &["not a subvolume"]);
    // Inodes: btrfs has no inode limit.
    let root = fs.subvolume("c");
    let id = env.new_id();
    let mut b = bundle_at(&env, &id, &root, true, "true", "10m");
    b.config_mut()["annotations"]["org.openvz.ubc.diskinodes"] = json!("1000:2000");
    refused(&b, &id, &["diskinodes", "btrfs", "bytes only"]);
    assert_eq!(fs.limit(&root), None);
}
