//! Setup paths beyond the default bundle: namespaces joined by path,
//! `--no-pivot`, `--preserve-fds`, symlinked mount destinations, a cgroup
//! mount inside the container, and the console socket protocol.
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

#[test]
fn join_namespaces_by_path() {
    let env = TestEnv::new("join_ns");
    let a = env.new_id();
    let mut ba = env.bundle(&a);
    ba.config_mut()["hostname"] = json!("first-ctr");
    ba.set_args(&["sleep", "1000"]);
    env.run_out(&a, &ba, &["--detach"]).assert_ok();
    let pid = env.state(&a)["pid"].as_i64().unwrap();

    let b = env.new_id();
    let mut bb = env.bundle(&b);
    // The uts namespace is joined: setting a hostname would change the
    // first container's.
    bb.config_mut().as_object_mut().unwrap().remove("hostname");
    for ns in bb.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
    {
        let ty = ns["type"].as_str().unwrap().to_string();
        let file = match ty.as_str() {
            "uts" => "uts",
            "pid" => "pid",
            "network" => "net",
            _ => continue,
        };
        ns["path"] = json!(format!("/proc/{pid}/ns/{file}"));
    }
    bb.set_sh("hostname; ps -o comm | grep -c '^sleep'; echo $$");
    let (code, out, err) = env.run_fg(&b, &bb);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"first-ctr"),
        "joined uts namespace: {out}"
    );
    assert_eq!(
        lines.get(1),
        Some(&"1"),
        "sees the first container's sleep: {out}"
    );
    assert_ne!(
        lines.get(2),
        Some(&"1"),
        "not pid 1 in a joined pid namespace: {out}"
    );
    env.rt(&["delete", "--force", &a]).assert_ok();
}

#[test]
fn no_pivot_runs() {
    let env = TestEnv::new("no_pivot");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("cat /etc/hostname 2>/dev/null; echo ok; echo $$");
    let o = env.run_out(&id, &b, &["--no-pivot"]);
    assert_eq!(o.code, 0, "{o}");
    assert!(o.stdout.contains("ok\n1"), "{o}");
}

#[test]
fn preserve_fds_passes_exactly_those() {
    let env = TestEnv::new("preserve_fds");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '");
    b.write();
    env.track_id(&id);
    let secret = env.tmp.join("secret");
    fs::write(&secret, "passed-through\n").unwrap();
    // fd 3 is preserved; fd 7 (also open in the caller) must not be.
    let script = format!(
        "exec 3<{s} 7<{s}; exec {rt} --root {root} run --preserve-fds 1 --bundle {b} {id}",
        s = secret.display(),
        rt = runtime().display(),
        root = env.root.display(),
        b = b.path(),
    );
    let o = host_sh(&env, &script);
    assert_eq!(o.code, 0, "{o}");
    assert!(o.stdout.contains("passed-through"), "{o}");
    let fds: Vec<&str> = o
        .stdout
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert!(fds.contains(&"3"), "fd 3 preserved: {o}");
    assert!(!fds.contains(&"7"), "fd 7 not preserved: {o}");
}

#[test]
fn symlinked_mount_destination_stays_in_rootfs() {
    let env = TestEnv::new("mount_symlink");
    let id = env.new_id();
    let hostdir = env.mkdir("host-target");
    let mut b = env.bundle(&id);
    // /evil points at a host path; resolved in the rootfs it must land at
    // <rootfs>/<that path>, and the runtime must not create anything on the
    // host.
    std::os::unix::fs::symlink(&hostdir, b.rootfs.join("evil")).unwrap();
    b.push_mount(json!({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"}));
    b.set_sh(&format!(
        "grep -c ' {}/sub tmpfs ' /proc/mounts",
        hostdir.display()
    ));
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.trim(), "1", "mount is at the in-rootfs path: {out}");
    assert!(!hostdir.join("sub").exists(), "nothing created on the host");
    assert!(
        b.rootfs
            .join(hostdir.strip_prefix("/").unwrap())
            .join("sub")
            .is_dir(),
        "created inside the rootfs"
    );
}

#[test]
fn cgroup_mount_shows_the_containers_cgroup() {
    let env = TestEnv::new("cgroup_mount");
    for cgroupns in [false, true] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        // In place of the default config's cgroup mount: a second cgroup2
        // mount of the same namespace on the same point is EBUSY.
        b.config_mut()["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/sys/fs/cgroup");
        b.push_mount(
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        );
        b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 48 * 1024 * 1024});
        if cgroupns {
            b.add_namespace("cgroup");
        }
        b.set_sh(if cgroup_v2() {
            "cat /sys/fs/cgroup/memory.max; touch /sys/fs/cgroup/x 2>/dev/null || echo ro"
        } else {
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; touch /sys/fs/cgroup/x 2>/dev/null || echo ro"
        });
        let (code, out, err) = env.run_fg(&id, &b);
        assert_eq!(code, 0, "cgroupns={cgroupns}: {out}\n{err}");
        assert_eq!(out, "50331648\nro\n", "cgroupns={cgroupns}");
    }
}

#[test]
fn console_socket_receives_the_pty_master() {
    let env = TestEnv::new("console");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["terminal"] = json!(true);
    b.set_sh("echo hello-tty; tty; echo console-major=$(stat -c %t /dev/console); stty size");
    b.config_mut()["process"]["consoleSize"] = json!({"height": 33, "width": 99});
    let sock = env.tmp.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let sock_s = sock.display().to_string();
    env.create_out(&id, &b, &["--console-socket", &sock_s])
        .assert_ok();
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(&conn);
    env.start(&id);
    let mut f = fs::File::from(master);
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !got.contains("33 99") && Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(got.contains("hello-tty"), "{got:?}");
    assert!(got.contains("/dev/pts/"), "stdio is the pty slave: {got:?}");
    assert!(got.contains("33 99"), "consoleSize applied: {got:?}");
    // /dev/console is the pty (major 136, 0x88).
    assert!(got.contains("console-major=88"), "{got:?}");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let env = TestEnv::new("console_missing");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["terminal"] = json!(true);
    let o = env.create_out(&id, &b, &[]);
    assert_eq!(o.code, 1, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("console-socket"), "{o}");
    }
    env.assert_no_leftovers(&id);
}

#[test]
fn container_mounts_do_not_reach_a_shared_host_mount() {
    let env = TestEnv::new("propagation");
    for prop in [
        None,
        Some("private"),
        Some("slave"),
        Some("rprivate"),
        Some("unbindable"),
    ] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        // The bundle sits on a shared mount, as containerd's do.
        let dir = b.path();
        let sh = |cmd: &str| {
            let st = std::process::Command::new("/bin/sh")
                .args(["-c", cmd])
                .status()
                .unwrap();
            assert!(st.success(), "{cmd}");
        };
        sh(&format!(
            "mount --bind {dir} {dir} && mount --make-shared {dir}"
        ));
        if let Some(p) = prop {
            b.config_mut()["linux"]["rootfsPropagation"] = json!(p);
        }
        b.push_mount(json!({"destination": "/mnt/probe", "type": "tmpfs", "source": "tmpfs"}));
        b.set_args(&["sleep", "1000"]);
        env.run_out(&id, &b, &["--detach"]).assert_ok();
        let rootfs = b.rootfs.display().to_string();
        let leaked: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&rootfs))
            .map(String::from)
            .collect();
        env.rt(&["delete", "--force", &id]).assert_ok();
        sh(&format!("umount -l {dir}"));
        assert!(
            leaked.is_empty(),
            "rootfsPropagation {prop:?}: host sees {leaked:#?}"
        );
    }
}

#[test]
fn cwd_through_a_host_descriptor_is_refused() {
    // CVE-2024-21626: a host directory descriptor reaching the container
    // must not become its cwd.
    let env = TestEnv::new("cwd_fd");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["cwd"] = json!("/proc/self/fd/3");
    b.set_sh("pwd; ls");
    b.write();
    env.track_id(&id);
    let host = env.mkdir("host-secret");
    fs::write(host.join("secret"), "x").unwrap();
    let script = format!(
        "exec 3<{h}; exec {rt} --root {root} run --preserve-fds 1 --bundle {b} {id}",
        h = host.display(),
        rt = runtime().display(),
        root = env.root.display(),
        b = b.path(),
    );
    let o = host_sh(&env, &script);
    assert!(
        !o.stdout.contains("secret"),
        "the host directory was reachable: {o}"
    );
    if is_vzrun() {
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("process.cwd /proc/self/fd/3"), "{o}");
    }
    env.assert_no_leftovers(&id);

    // The same through exec, whose cwd is not created in the rootfs first.
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.run_out(&id, &b, &["--detach"]).assert_ok();
    let script = format!(
        "exec 3<{h}; exec {rt} --root {root} exec --preserve-fds 1 --cwd /proc/self/fd/3 {id} sh -c 'pwd; ls'",
        h = host.display(),
        rt = runtime().display(),
        root = env.root.display(),
    );
    let o = host_sh(&env, &script);
    assert!(
        !o.stdout.contains("secret"),
        "the host directory was reachable: {o}"
    );
    assert_ne!(o.code, 0, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("outside the container"), "{o}");
    }
}

#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_image_contents() {
    // podman asks for it on /tmp, /run and /var/tmp of --read-only
    // containers: the tmpfs starts with what the image had there.
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new("tmpcopyup");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let data = b.rootfs.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("file"), "from the image\n").unwrap();
    std::fs::set_permissions(data.join("file"), std::fs::Permissions::from_mode(0o604)).unwrap();
    std::os::unix::fs::chown(data.join("file"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::symlink("../file", data.join("sub/link")).unwrap();
    b.push_mount(
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                        "options": ["tmpcopyup", "mode=1777"]}),
    );
    b.set_sh(
        "grep -c ' /data tmpfs ' /proc/mounts; cat /data/sub/link; stat -c '%a %u %g' /data/file; \
         echo new > /data/new && echo wrote",
    );
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out, "1\nfrom the image\n604 1000 1000\nwrote\n", "{err}");
    // Writes went to the tmpfs, not the image.
    assert!(!data.join("new").exists());

    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.push_mount(
        json!({"destination": "/data", "type": "bind", "source": "/tmp",
                        "options": ["rbind", "tmpcopyup"]}),
    );
    let o = env.run_out(&id, &b, &[]);
    // runc 1.1.5 ignores the option there.
    if is_vzrun() {
        assert_ne!(o.code, 0, "{o}");
        assert!(
            o.stderr.contains("tmpcopyup") && o.stderr.contains("mounts["),
            "{o}"
        );
    }
    env.assert_no_leftovers(&id);
}

#[test]
fn joined_mount_and_uts_namespaces_get_the_containers_root_and_name() {
    // A mount namespace made by someone else (here `unshare`) and joined by
    // path still gets the container's rootfs; a joined uts namespace may be
    // given the config's hostname (runtime-tools' linux_ns_path).
    let env = TestEnv::new("join_mnt_uts");
    // Short options, which busybox's unshare (the VM lane) has too; the
    // sleep is tracked below, so cleanup kills it whatever happens.
    let mut holder = std::process::Command::new("unshare")
        .args(["-m", "-u", "-f", "sleep", "1000"])
        .spawn()
        .expect("run unshare");
    env.track_pid(holder.id() as i32);
    // unshare forks: the sleep is its child, in the new namespaces.
    let child_of = |parent: u32| -> Option<i32> {
        fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: u32 = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
    };
    // Taken once it runs `sleep`: unshare sets up the namespaces (making
    // the mount tree private) between its fork and that exec.
    let sleeper = (0..1500)
        .find_map(|_| {
            let c = child_of(holder.id()).filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            });
            if c.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            c
        })
        .expect("unshare's child running sleep");
    env.track_pid(sleeper);
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["hostname"] = json!("joined-uts");
    for ns in b.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
    {
        match ns["type"].as_str().unwrap() {
            "mount" => ns["path"] = json!(format!("/proc/{sleeper}/ns/mnt")),
            "uts" => ns["path"] = json!(format!("/proc/{sleeper}/ns/uts")),
            _ => {}
        }
    }
    b.set_sh("hostname; test -x /bin/busybox && echo rootfs-ok");
    let (code, out, err) = env.run_fg(&id, &b);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out, "joined-uts\nrootfs-ok\n");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "joined-uts", "the host was renamed");
}

#[test]
fn root_propagation_is_applied_to_the_containers_root() {
    let env = TestEnv::new("root_propagation");
    for (prop, field) in [
        ("shared", "shared:"),
        ("private", ""),
        ("unbindable", "unbindable"),
    ] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.config_mut()["linux"]["rootfsPropagation"] = json!(prop);
        // The optional fields of the "/" line of mountinfo.
        b.set_sh("awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) printf \"%s \", $i; print \"\" }' /proc/self/mountinfo");
        let (code, out, err) = env.run_fg(&id, &b);
        assert_eq!(code, 0, "{prop}: {out}\n{err}");
        let fields = out.trim();
        if field.is_empty() {
            assert!(
                !fields.contains("shared:") && !fields.contains("master:"),
                "{prop}: {fields:?}"
            );
        } else if is_vzrun() {
            // runc 1.1.5 loses it (its own runtime-tools failure).
            assert!(fields.contains(field), "{prop}: {fields:?}");
        }
    }
}
