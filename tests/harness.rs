//! Self-test of the harness: a panicking test must not leave containers,
//! processes, cgroups, mounts or temp dirs behind.
mod common;
use common::*;
use std::ffi::CString;
use std::path::PathBuf;

#[test]
fn cleanup_after_panic() {
    let mut seen: Option<(PathBuf, String, i32)> = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let env = TestEnv::new("harness_cleanup");
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.set_args(&["sleep", "1000"]);
        env.create(&id, &b);
        env.start(&id);
        let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
        // something mounted under the temp dir on the host side
        let mp = env.mkdir("mnt");
        let src = CString::new("tmpfs").unwrap();
        let target = CString::new(mp.display().to_string()).unwrap();
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                src.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
        seen = Some((env.tmp.clone(), id.clone(), pid));
        panic!("deliberate panic to exercise TestEnv::drop");
    }));
    assert!(r.is_err());
    let (tmp, id, pid) = seen.expect("test body ran");
    assert!(!tmp.exists(), "{} left behind", tmp.display());
    assert!(mounts_under(&tmp).is_empty());
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    assert!(!pid_alive(pid), "container init {pid} survived");
}

#[test]
fn ids_are_unique_and_valid() {
    let a = TestEnv::new("harness ids/with bad chars");
    let b = TestEnv::new("harness ids/with bad chars");
    let (x, y) = (a.new_id(), b.new_id());
    assert_ne!(x, y);
    for id in [&x, &y] {
        assert!(id.chars().next().unwrap().is_ascii_alphanumeric(), "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c)),
            "{id}"
        );
    }
    assert_ne!(a.tmp, b.tmp);
    assert_eq!(
        cap_mask(&["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]),
        0x20000420
    );
}
