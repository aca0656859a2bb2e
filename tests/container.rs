//! What a process sees inside the container (namespaces, mounts, creds...).
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::path::Path;

/// Run `sh -c script` in a fresh container whose config is adjusted by `f`;
/// asserts exit 0 and returns stdout.
fn run_sh(env: &TestEnv, script: &str, f: impl FnOnce(&mut Bundle)) -> String {
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh(script);
    f(&mut b);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(
        code, 0,
        "container script failed\nscript: {script}\nstdout: {out}\nstderr: {err}"
    );
    out
}

#[test]
fn pid_namespace_init_is_pid1() {
    let env = TestEnv::new("pidns");
    let out = run_sh(&env, "echo $$; ps -o pid,comm 2>/dev/null | wc -l", |_| {});
    assert_eq!(out.lines().next(), Some("1"), "{out}");
}

/// A network namespace of the container's own has `lo` up, as under
/// runc: 127.0.0.1 answers inside (here an HTTP request through it).
#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let env = TestEnv::new("loopback");
    let out = run_sh(
        &env,
        "cat /sys/class/net/lo/flags; mkdir /tmp/www; echo hello > /tmp/www/x; \
         httpd -p 127.0.0.1:7070 -h /tmp/www; \
         for i in $(seq 50); do wget -q -O - http://127.0.0.1:7070/x && break; sleep 0.1; done",
        |b| b.push_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})),
    );
    let lines: Vec<&str> = out.lines().collect();
    // IFF_UP | IFF_LOOPBACK (and RUNNING once up).
    let flags = u32::from_str_radix(lines[0].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 0x9, 0x9, "{out}");
    assert_eq!(lines.last(), Some(&"hello"), "{out}");
}

#[test]
fn hostname_from_config() {
    let env = TestEnv::new("hostname");
    let out = run_sh(&env, "hostname", |b| {
        b.config_mut()["hostname"] = json!("vz-host-1")
    });
    assert_eq!(out.trim(), "vz-host-1");
}

#[test]
fn domainname_from_config() {
    let env = TestEnv::new("domainname");
    let out = run_sh(&env, "cat /proc/sys/kernel/domainname", |b| {
        b.config_mut()["domainname"] = json!("vz.example")
    });
    if is_vzrun() {
        assert_eq!(out.trim(), "vz.example");
    } else {
        // runc 1.1.x ignores `domainname` (support arrived in runc 1.2).
        eprintln!(
            "NOTE: {} left domainname as {:?}",
            runtime_name(),
            out.trim()
        );
    }
}

#[test]
fn readonly_bind_mount() {
    let env = TestEnv::new("bind_ro");
    let host = env.mkdir("hostdata");
    fs::write(host.join("data.txt"), "host-data-123\n").unwrap();
    let out = run_sh(
        &env,
        "cat /mnt/data/data.txt; if echo x > /mnt/data/new 2>/dev/null; then echo WRITE-OK; else echo WRITE-FAILED; fi",
        |b| {
            b.push_mount(json!({
                "destination": "/mnt/data", "type": "bind",
                "source": host.display().to_string(), "options": ["rbind", "ro"]
            }))
        },
    );
    assert!(out.contains("host-data-123"), "{out}");
    assert!(out.contains("WRITE-FAILED"), "{out}");
    assert!(!host.join("new").exists());
}

#[test]
fn readwrite_bind_mount_creates_destination() {
    let env = TestEnv::new("bind_rw");
    let host = env.mkdir("hostrw");
    // destination does not exist in the rootfs: the runtime creates it.
    let out = run_sh(&env, "echo from-container > /srv/rw/f && echo done", |b| {
        b.bind(&host, "/srv/rw", false)
    });
    assert!(out.contains("done"), "{out}");
    assert_eq!(
        fs::read_to_string(host.join("f")).unwrap().trim(),
        "from-container"
    );
}

#[test]
fn masked_paths() {
    let env = TestEnv::new("masked");
    let out = run_sh(
        &env,
        "echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); \
         echo cmdline=$(cat /proc/cmdline 2>/dev/null | wc -c); \
         echo firmware=$(ls -A /sys/firmware 2>/dev/null | wc -l); \
         echo version=$(cat /proc/version | wc -c)",
        |b| {
            b.config_mut()["linux"]["maskedPaths"]
                .as_array_mut()
                .unwrap()
                .push(json!("/proc/cmdline"))
        },
    );
    assert!(out.contains("kcore=0\n"), "{out}");
    assert!(out.contains("cmdline=0\n"), "{out}");
    assert!(out.contains("firmware=0\n"), "{out}");
    // control: an unmasked file is readable
    assert!(!out.contains("version=0\n"), "{out}");
}

#[test]
fn readonly_paths() {
    let env = TestEnv::new("ro_paths");
    let out = run_sh(
        &env,
        "if echo 1 > /proc/sys/kernel/domainname 2>/dev/null; then echo WRITE-OK; else echo WRITE-FAILED; fi; \
         grep ' /proc/sys ' /proc/mounts",
        |_| {},
    );
    assert!(out.contains("WRITE-FAILED"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(" /proc/sys "))
        .expect("/proc/sys mount");
    let opts = line.split_whitespace().nth(3).unwrap();
    assert!(opts.split(',').any(|o| o == "ro"), "{line}");
}

fn check_caps(
    env: &TestEnv,
    bounding: &[&str],
    eff: &[&str],
    perm: &[&str],
    amb: &[&str],
    inh: &[&str],
) {
    let out = run_sh(env, "grep ^Cap /proc/self/status", |b| {
        b.config_mut()["process"]["capabilities"] = json!({
            "bounding": bounding, "effective": eff, "permitted": perm,
            "ambient": amb, "inheritable": inh
        });
    });
    for (key, list) in [
        ("CapBnd", bounding),
        ("CapEff", eff),
        ("CapPrm", perm),
        ("CapAmb", amb),
    ] {
        let got = status_field(&out, key).unwrap_or_else(|| panic!("{key} missing: {out}"));
        let got = u64::from_str_radix(&got, 16).unwrap();
        assert_eq!(
            got,
            cap_mask(list),
            "{key}: got {got:#x}, want {:#x} ({list:?})\n{out}",
            cap_mask(list)
        );
    }
}

#[test]
fn capabilities_default_set() {
    let env = TestEnv::new("caps_default");
    let d = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    assert_eq!(cap_mask(&d), 0x20000420);
    check_caps(&env, &d, &d, &d, &d, &d);
}

#[test]
fn capabilities_custom_set() {
    let env = TestEnv::new("caps_custom");
    let bnd = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_SETUID"];
    let eff = ["CAP_CHOWN", "CAP_NET_RAW"];
    check_caps(&env, &bnd, &eff, &eff, &[], &[]);
}

#[test]
fn capabilities_from_default_config() {
    // runc's default config has no "inheritable" list; the kernel only
    // allows ambient caps that are also inheritable, so CapAmb is 0 then.
    let env = TestEnv::new("caps_noinh");
    let out = run_sh(&env, "grep ^Cap /proc/self/status", |_| {});
    for (key, want) in [
        ("CapEff", 0x20000420),
        ("CapPrm", 0x20000420),
        ("CapBnd", 0x20000420),
        ("CapAmb", 0),
        ("CapInh", 0),
    ] {
        let v = u64::from_str_radix(&status_field(&out, key).unwrap(), 16).unwrap();
        assert_eq!(v, want, "{key}\n{out}");
    }
}

#[test]
fn user_and_additional_groups() {
    let env = TestEnv::new("user_groups");
    let out = run_sh(
        &env,
        "id; echo uid=$(id -u) gid=$(id -g) groups=$(id -G)",
        |b| {
            b.config_mut()["process"]["user"] =
                json!({ "uid": 1000, "gid": 1000, "additionalGids": [10] });
        },
    );
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("uid=1000 gid=1000 "), "{out}");
    let groups: Vec<&str> = last
        .split("groups=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(groups.contains(&"10"), "{out}");
    assert!(!groups.contains(&"0"), "root group must not leak: {out}");
}

#[test]
fn rlimit_nofile() {
    let env = TestEnv::new("rlimit");
    let out = run_sh(&env, "ulimit -n; ulimit -Hn", |_| {});
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1024", "1024"], "{out}");
    let out = run_sh(&env, "ulimit -n; ulimit -Hn", |b| {
        b.config_mut()["process"]["rlimits"] =
            json!([{ "type": "RLIMIT_NOFILE", "soft": 2048, "hard": 4096 }]);
    });
    assert_eq!(out.lines().collect::<Vec<_>>(), ["2048", "4096"], "{out}");
}

#[test]
fn cwd_and_env() {
    let env = TestEnv::new("cwd_env");
    let out = run_sh(&env, "pwd; echo FOO=$FOO", |b| {
        b.config_mut()["process"]["cwd"] = json!("/tmp");
        b.config_mut()["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("FOO=bar"));
    });
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/tmp", "FOO=bar"],
        "{out}"
    );
}

#[test]
fn cwd_is_created_if_missing() {
    let env = TestEnv::new("cwd_missing");
    let out = run_sh(&env, "pwd", |b| {
        b.config_mut()["process"]["cwd"] = json!("/work/dir")
    });
    assert_eq!(out.trim(), "/work/dir");
}

#[test]
fn readonly_root() {
    let env = TestEnv::new("ro_root");
    let out = run_sh(
        &env,
        "if echo x > /x 2>/dev/null; then echo ROOT-WRITE-OK; else echo ROOT-WRITE-FAILED; fi; \
         if echo y > /tmp/y; then echo TMP-WRITE-OK; else echo TMP-WRITE-FAILED; fi",
        |b| {
            b.config_mut()["root"]["readonly"] = json!(true);
            b.push_mount(json!({
                "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777"]
            }));
        },
    );
    assert!(out.contains("ROOT-WRITE-FAILED"), "{out}");
    assert!(out.contains("TMP-WRITE-OK"), "{out}");
}

#[test]
fn dev_contents() {
    let env = TestEnv::new("dev_contents");
    let out = run_sh(
        &env,
        "for d in null zero full random urandom tty; do \
            if [ -c /dev/$d ]; then echo char:$d; fi; done; \
         for l in fd stdin stdout stderr ptmx; do \
            if [ -L /dev/$l ]; then echo link:$l=$(readlink /dev/$l); fi; done; \
         cat /proc/mounts; \
         head -c 4 /dev/zero | wc -c; echo hi > /dev/null && echo null-ok",
        |_| {},
    );
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        assert!(
            out.contains(&format!("char:{d}\n")),
            "/dev/{d} missing:\n{out}"
        );
    }
    for (l, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        assert!(
            out.contains(&format!("link:{l}={target}\n")),
            "/dev/{l} -> {target} missing:\n{out}"
        );
    }
    let fstype = |mp: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(mp))
            .and_then(|l| l.split_whitespace().nth(2))
            .map(|s| s.to_string())
    };
    assert_eq!(fstype("/dev").as_deref(), Some("tmpfs"), "{out}");
    assert_eq!(fstype("/dev/shm").as_deref(), Some("tmpfs"), "{out}");
    assert_eq!(fstype("/dev/pts").as_deref(), Some("devpts"), "{out}");
    assert_eq!(fstype("/dev/mqueue").as_deref(), Some("mqueue"), "{out}");
    assert_eq!(fstype("/proc").as_deref(), Some("proc"), "{out}");
    assert_eq!(fstype("/sys").as_deref(), Some("sysfs"), "{out}");
    assert!(out.contains("\n4\n"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
}

#[test]
fn linux_devices() {
    let env = TestEnv::new("devices");
    let out = run_sh(
        &env,
        "stat -c '%F %t %T %a' /dev/mydev; echo hi > /dev/mydev && echo write-ok",
        |b| {
            b.config_mut()["linux"]["devices"] = json!([{
                "path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
                "fileMode": 438, "uid": 0, "gid": 0
            }]);
            b.config_mut()["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(
                    json!({ "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }),
                );
        },
    );
    let first = out.lines().next().unwrap_or("");
    assert_eq!(first, "character special file 1 3 666", "{out}");
    assert!(out.contains("write-ok"), "{out}");
}

#[test]
fn device_cgroup_denies_unlisted_device() {
    // A device node created without an allow rule cannot be opened; with an
    // allow rule it can.  10:229 is /dev/fuse: not in the default allow list
    // and openable without capabilities.
    let env = TestEnv::new("devices_deny");
    let script = "if (: < /dev/mydev2) 2>/dev/null; then echo OPEN-OK; else echo OPEN-DENIED; fi";
    let dev = json!([{
        "path": "/dev/mydev2", "type": "c", "major": 10, "minor": 229,
        "fileMode": 438, "uid": 0, "gid": 0
    }]);
    let out = run_sh(&env, script, |b| {
        b.config_mut()["linux"]["devices"] = dev.clone()
    });
    assert!(out.contains("OPEN-DENIED"), "{out}");
    let out = run_sh(&env, script, |b| {
        b.config_mut()["linux"]["devices"] = dev.clone();
        b.config_mut()["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(
                json!({ "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm" }),
            );
    });
    assert!(out.contains("OPEN-OK"), "{out}");
}

#[test]
fn user_namespace_mappings() {
    let env = TestEnv::new("userns");
    let out = run_sh(
        &env,
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        |b| {
            b.add_namespace("user");
            let c = b.config_mut();
            c["linux"]["uidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            c["linux"]["gidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        },
    );
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[2], ["0"], "{out}");
}

#[test]
fn sysctl_in_new_netns() {
    let env = TestEnv::new("sysctl");
    let out = run_sh(&env, "cat /proc/sys/net/ipv4/ip_forward", |b| {
        b.config_mut()["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
    });
    assert_eq!(out.trim(), "1");
}

#[test]
fn time_namespace_offsets() {
    assert!(
        Path::new("/proc/self/ns/time").exists(),
        "this host is expected to support time namespaces (/proc/self/ns/time missing)"
    );
    let env = TestEnv::new("timens");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh("cat /proc/uptime");
    b.add_namespace("time");
    b.config_mut()["linux"]["timeOffsets"] = json!({ "monotonic": { "secs": 86400 * 365, "nanosecs": 0 }, "boottime": { "secs": 86400 * 365, "nanosecs": 0 } });
    let (code, out, err) = env.run_fg(&id, &b);
    if !is_vzrun() && code != 0 {
        // runc 1.1.x predates time-namespace support and rejects the config.
        eprintln!(
            "NOTE: {} does not support time namespaces: {err}",
            runtime_name()
        );
        assert!(env.try_state(&id).is_none());
        return;
    }
    assert_eq!(code, 0, "stderr: {err}");
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(up > 31536000.0, "uptime {up} not offset: {out}");
}

#[test]
fn no_new_privileges() {
    let env = TestEnv::new("nnp");
    let out = run_sh(&env, "grep NoNewPrivs /proc/self/status", |_| {});
    assert_eq!(
        status_field(&out, "NoNewPrivs").as_deref(),
        Some("1"),
        "{out}"
    );
    let out = run_sh(&env, "grep NoNewPrivs /proc/self/status", |b| {
        b.config_mut()["process"]["noNewPrivileges"] = json!(false)
    });
    assert_eq!(
        status_field(&out, "NoNewPrivs").as_deref(),
        Some("0"),
        "{out}"
    );
}

#[test]
fn oom_score_adj() {
    let env = TestEnv::new("oom_adj");
    let out = run_sh(&env, "cat /proc/self/oom_score_adj", |b| {
        b.config_mut()["process"]["oomScoreAdj"] = json!(500)
    });
    assert_eq!(out.trim(), "500");
}

#[test]
fn network_namespace_has_only_loopback() {
    let env = TestEnv::new("netns");
    let out = run_sh(&env, "ls /sys/class/net", |_| {});
    let ifs: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(ifs, ["lo"], "{out}");
}

#[test]
fn kernel_filesystems_get_safe_flags() {
    // proc and sysfs without options: nosuid, nodev, noexec, and sysfs
    // read-only unless "rw" is asked for (runc's defaults).
    let env = TestEnv::new("kernfs_flags");
    let out = run_sh(&env, "grep -E ' /(proc|sys) ' /proc/mounts", |b| {
        for m in b.config_mut()["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/proc" || m["destination"] == "/sys" {
                m.as_object_mut().unwrap().remove("options");
            }
        }
    });
    // runc 1.1 mounts an option-less proc without these flags.
    if !is_vzrun() {
        return;
    }
    for line in out.lines() {
        let opts = line.split(' ').nth(3).unwrap();
        for f in ["nosuid", "nodev", "noexec"] {
            assert!(opts.split(',').any(|o| o == f), "{f} missing: {line}");
        }
        if line.contains(" /sys ") && is_vzrun() {
            assert!(opts.starts_with("ro"), "sysfs read-only: {line}");
        }
    }
}

#[test]
fn lsm_labels_without_the_lsm() {
    // This host has neither AppArmor nor SELinux enabled (the VM lane's
    // kernel has AppArmor).
    let env = TestEnv::new("lsm_absent");
    assert!(!std::path::Path::new("/sys/fs/selinux/enforce").exists());
    // runc 1.1 refuses the label instead of ignoring it.
    if !is_vzrun() {
        return;
    }
    let out = run_sh(&env, "echo labelled-ok", |b| {
        b.config_mut()["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    });
    assert_eq!(out.trim(), "labelled-ok", "an SELinux label is ignored");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["process"]["apparmorProfile"] = json!("vzrun-no-such-profile");
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    if apparmor {
        // With AppArmor (the VM lane's Debian kernel) the profile is
        // applied at exec, and an unknown one fails the start.
        b.set_args(&["true"]);
        let o = env.run_out(&id, &b, &[]);
        assert_ne!(o.code, 0, "{o}");
        assert!(o.stderr.contains("vzrun-no-such-profile"), "{o}");
    } else {
        let o = env.create_out(&id, &b, &[]);
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("AppArmor is not enabled"), "{o}");
    }
    env.assert_no_leftovers(&id);
}

#[test]
fn home_comes_from_passwd_unless_the_config_gives_one() {
    let env = TestEnv::new("home");
    let home = |vars: &[&str]| {
        run_sh(&env, "env | grep '^HOME=' | tr '\\n' ' '", |b| {
            let mut e = vec!["PATH=/bin".to_string()];
            e.extend(vars.iter().map(|v| v.to_string()));
            b.config_mut()["process"]["env"] = serde_json::json!(e);
        })
    };
    assert_eq!(home(&[]).trim(), "HOME=/root");
    if is_vzrun() {
        // runc 1.1.5 keeps an empty HOME; runc 1.2+ fills it, as here.
        assert_eq!(home(&["HOME="]).trim(), "HOME=/root");
    }
    assert_eq!(home(&["HOME=/srv"]).trim(), "HOME=/srv");
}

/// A tmpfs mounted on the host below a test directory, unmounted again
/// even when the test fails.
struct HostMount(std::path::PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn recursive_read_only_reaches_submounts_where_ro_does_not() {
    if !is_vzrun() {
        return; // runc 1.1.5 lacks the recursive options
    }
    let env = TestEnv::new("bind_rro");
    let host = env.mkdir("tree");
    let sub = host.join("sub");
    fs::create_dir(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    let _guard = HostMount(sub.clone());
    let probe = "for d in /a /a/sub /b /b/sub; do \
                 if touch $d/x 2>/dev/null; then echo $d rw; else echo $d ro; fi; done; \
                 grep -E ' /(a|b)/sub ' /proc/self/mountinfo | grep -c nosuid";
    let out = run_sh(&env, probe, |b| {
        for (dest, opts) in [
            ("/a", json!(["rbind", "ro"])),
            ("/b", json!(["rbind", "rro", "rnosuid"])),
        ] {
            b.push_mount(json!({
                "destination": dest, "type": "bind",
                "source": host.display().to_string(), "options": opts
            }));
        }
    });
    // ro reaches only the bind itself; rro (mount_setattr, AT_RECURSIVE)
    // the submount too, and rnosuid likewise.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/a ro", "/a/sub rw", "/b ro", "/b/sub ro", "1"],
        "{out}"
    );
}

#[test]
fn a_tmpfs_takes_the_mode_of_the_directory_it_covers_unless_given_one() {
    let env = TestEnv::new("tmpfs_mode");
    let out = run_sh(&env, "stat -c '%n %a' /private /given", |b| {
        let private = b.rootfs.join("private");
        fs::create_dir_all(&private).unwrap();
        fs::set_permissions(
            &private,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        for (dest, opts) in [
            ("/private", json!(["nosuid"])),
            ("/given", json!(["mode=1777"])),
        ] {
            b.push_mount(
                json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts}),
            );
        }
    });
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/private 700", "/given 1777"],
        "{out}"
    );
}

/// A `/dev` mounted read-only still gets its device nodes and the mounts
/// below it (made read-only once they are in place, as runc does).
#[test]
fn a_read_only_dev_has_its_devices() {
    let env = TestEnv::new("dev_ro");
    let out = run_sh(
        &env,
        "grep ' /dev ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
         grep -c ' /dev/pts ' /proc/mounts; \
         echo x > /dev/null && echo null-writable; \
         touch /dev/new 2>/dev/null || echo dev-read-only",
        |b| {
            let c = b.config_mut();
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/dev" {
                    m["options"].as_array_mut().unwrap().push(json!("ro"));
                }
            }
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["ro", "1", "null-writable", "dev-read-only"],
        "{out}"
    );
}

/// In a user namespace the kernel locks the flags of the mounts the
/// container inherits: a bind that asks for `rw` and `strictatime` of a
/// read-only, nosuid, nodev, noexec, noatime source keeps the source's
/// flags instead of failing to clear them (runc 1.2+; runc 1.1 and plain
/// mount(8) get EPERM).
#[test]
fn a_bind_in_a_user_namespace_keeps_the_locked_flags_of_its_source() {
    if !is_vzrun() {
        return; // runc 1.1.5 fails this with EPERM (fixed in runc 1.2)
    }
    let env = TestEnv::new("locked_flags");
    let src = env.mkdir("locked");
    use nix::mount::MsFlags;
    nix::mount::mount(
        Some("vzrun-test-locked"),
        &src,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOATIME,
        Some("mode=755"),
    )
    .unwrap();
    let _guard = HostMount(src.clone());
    nix::mount::mount(
        None::<&str>,
        &src,
        None::<&str>,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOATIME,
        Some("mode=755"),
    )
    .unwrap();
    let out = run_sh(&env, "grep ' /data ' /proc/mounts | cut -d' ' -f4", |b| {
        // The mapped root cannot create it in the host-owned rootfs.
        fs::create_dir(b.rootfs.join("data")).unwrap();
        b.add_namespace("user");
        let c = b.config_mut();
        c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        c["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        b.push_mount(json!({
            "destination": "/data", "type": "bind",
            "source": src.display().to_string(),
            "options": ["rbind", "rw", "strictatime"]
        }));
    });
    // Kernels before 6.6 also show tmpfs's inode64.
    let mut flags: Vec<&str> = out.trim().split(',').filter(|f| *f != "inode64").collect();
    flags.sort();
    assert_eq!(
        flags,
        ["mode=755", "noatime", "nodev", "noexec", "nosuid", "ro"],
        "{out}"
    );
}

/// Namespaces joined by path with a user namespace must be owned by it:
/// a network namespace of another (non-userns) container is refused by
/// name; the userns container's own network namespace is joined.
#[test]
fn a_joined_user_namespace_must_own_the_other_joined_namespaces() {
    let env = TestEnv::new("userns_owner");
    let start = |id: &str, userns: bool| {
        let mut b = env.bundle(id);
        b.set_args(&["sleep", "1000"]);
        if userns {
            b.add_namespace("user");
            let c = b.config_mut();
            c["linux"]["uidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            c["linux"]["gidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        }
        let o = env.create_out(id, &b, &[]);
        assert_eq!(o.code, 0, "{o}");
        env.start(id);
        env.state(id)["pid"].as_i64().unwrap()
    };
    let (a, c) = (env.new_id(), env.new_id());
    let a_pid = start(&a, true);
    let c_pid = start(&c, false);
    let joining = |net_pid: i64| {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.set_sh("cat /proc/self/uid_map; readlink /proc/self/ns/net");
        let ns = b.config_mut()["linux"]["namespaces"]
            .as_array_mut()
            .unwrap();
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user", "path": format!("/proc/{a_pid}/ns/user")}));
        ns.push(json!({"type": "network", "path": format!("/proc/{net_pid}/ns/net")}));
        (id.clone(), env.run_out(&id, &b, &[]))
    };
    let (id, refused) = joining(c_pid);
    assert_ne!(refused.code, 0, "{refused}");
    if is_vzrun() {
        for want in [
            id.as_str(),
            "linux.namespaces",
            &format!("/proc/{c_pid}/ns/net"),
            "not owned by the user namespace",
        ] {
            assert!(refused.stderr.contains(want), "lacks {want:?}: {refused}");
        }
        env.assert_no_leftovers(&id);
    } else {
        return; // runc 1.1.5 wants uidMappings even to join (1.2 reads them)
    }
    let (_, joined) = joining(a_pid);
    assert_eq!(joined.code, 0, "{joined}");
    let a_net = fs::read_link(format!("/proc/{a_pid}/ns/net")).unwrap();
    let lines: Vec<String> = joined
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0 100000 65536".to_string(), a_net.display().to_string()],
        "{joined}"
    );
}

/// A host veth pair for a test, deleted again even when the test fails
/// (deleting one end deletes both; moved into a container, the end goes
/// away with the container's network namespace).
struct Veth(String);

impl Veth {
    fn new(tag: &str) -> Veth {
        let name = format!("vzt{}{tag}", std::process::id() % 100_000);
        let ip = |args: &[&str]| {
            let o = std::process::Command::new("ip")
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        };
        let peer = format!("{name}p");
        ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer]);
        let v = Veth(peer);
        ip(&["addr", "add", "10.200.7.1/24", "dev", &name]);
        ip(&["addr", "add", "fd00:200:7::1/64", "dev", &name]);
        v
    }
    fn end(&self) -> &str {
        self.0.strip_suffix('p').unwrap()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .output();
    }
}

/// `linux.netDevices`: a host device moves into the container's network
/// namespace under its new name, keeps its permanent addresses and is up;
/// the same with a user namespace; a missing device is refused by name.
#[test]
fn net_devices_move_into_the_container_with_their_addresses() {
    if !is_vzrun() {
        return; // runc 1.1.5 predates linux.netDevices
    }
    let env = TestEnv::new("netdev");
    for (tag, userns) in [("a", false), ("b", true)] {
        let veth = Veth::new(tag);
        let out = run_sh(
            &env,
            "ip -o addr show dev eth5 | tr -s ' ' | cut -d' ' -f3,4; \
             ip -o link show dev eth5 | grep -o ',UP'",
            |b| {
                b.config_mut()["linux"]["netDevices"] = json!({ veth.end(): { "name": "eth5" } });
                if userns {
                    b.add_namespace("user");
                    let c = b.config_mut();
                    c["linux"]["uidMappings"] =
                        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
                    c["linux"]["gidMappings"] =
                        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
                }
            },
        );
        let lines: Vec<&str> = out.lines().filter(|l| !l.contains("fe80")).collect();
        assert_eq!(
            lines,
            ["inet 10.200.7.1/24", "inet6 fd00:200:7::1/64", ",UP"],
            "userns {userns}: {out}"
        );
    }
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["true"]);
    b.config_mut()["linux"]["netDevices"] = json!({ "vztmissing0": {} });
    let o = env.run_out(&id, &b, &[]);
    assert_eq!(o.code, 1, "{o}");
    for want in [
        id.as_str(),
        "linux.netDevices: vztmissing0",
        "no network device",
    ] {
        assert!(o.stderr.contains(want), "lacks {want:?}: {o}");
    }
    env.assert_no_leftovers(&id);
}

/// Whether idmapped mounts of `path` cannot work here: tmpfs learned them
/// in Linux 6.3 (the cgroup v2 VM runs 6.1 on a tmpfs root). There the
/// runtime must say so by name instead.
fn idmap_unsupported(path: &Path) -> bool {
    let tmpfs = nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
        .unwrap_or(false);
    tmpfs && !kernel_at_least(6, 3)
}

/// Runs `script` in a container set up by `f`; where idmapped mounts of
/// `source` cannot work, checks the refusal names the source and reason.
fn run_idmapped(
    env: &TestEnv,
    source: &Path,
    script: &str,
    f: impl FnOnce(&mut Bundle),
) -> Option<String> {
    if !idmap_unsupported(source) {
        return Some(run_sh(env, script, f));
    }
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_sh(script);
    f(&mut b);
    let o = env.run_out(&id, &b, &[]);
    assert_eq!(o.code, 1, "{o}");
    let want = format!(
        "idmap {}: its filesystem (or this kernel) does not support",
        source.display()
    );
    assert!(o.stderr.contains(&want), "{o}");
    env.assert_no_leftovers(&id);
    None
}

/// Idmapped mounts, seen inside: `idmap` alone takes the container's
/// mapping (host root's file is root's inside), mount-level mappings their
/// own (host 0 seen as 101000, which is 1000 inside), and a bind without
/// either shows the unmapped owner. All three sources sit in a host
/// directory of mode 0700 that the container's mapped root could not
/// enter: the runtime opens them with the host's privileges (runc 1.2+).
#[test]
fn idmapped_mounts_show_the_mapped_owners() {
    if !is_vzrun() {
        return; // runc 1.1.5 predates idmapped mounts
    }
    let env = TestEnv::new("idmap");
    let private = env.mkdir("private");
    fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let src = private.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), "hi\n").unwrap();
    let Some(out) = run_idmapped(
        &env,
        &src,
        "stat -c '%u %g %n' /a/f /b/f /c/f; cat /c/f; \
         grep ' /[abc] ' /proc/self/mountinfo | grep -c idmapped",
        |b| {
            for d in ["a", "b", "c"] {
                fs::create_dir(b.rootfs.join(d)).unwrap();
            }
            b.add_namespace("user");
            let c = b.config_mut();
            c["linux"]["uidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            c["linux"]["gidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            let source = src.display().to_string();
            b.push_mount(json!({
                "destination": "/a", "type": "bind", "source": source,
                "options": ["rbind", "idmap"]
            }));
            b.push_mount(json!({
                "destination": "/b", "type": "bind", "source": source,
                "options": ["rbind", "ridmap"],
                "uidMappings": [{ "containerID": 0, "hostID": 101000, "size": 1 }],
                "gidMappings": [{ "containerID": 0, "hostID": 101000, "size": 1 }]
            }));
            b.push_mount(json!({
                "destination": "/c", "type": "bind", "source": source,
                "options": ["rbind"]
            }));
        },
    ) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["0 0 /a/f", "1000 1000 /b/f", "65534 65534 /c/f", "hi", "2"],
        "{out}"
    );
}

/// Without a user namespace an idmapped mount still maps owners (the
/// runtime makes the mount's user namespace), and a bind whose source is
/// an earlier mount of the container sees that mount (mount order).
#[test]
fn an_idmapped_mount_without_a_user_namespace_and_mount_order() {
    if !is_vzrun() {
        return; // runc 1.1.5 predates idmapped mounts
    }
    let env = TestEnv::new("idmap_nouserns");
    let src = env.mkdir("src");
    fs::write(src.join("f"), "hi\n").unwrap();
    // The last mount's source is inside the rootfs, the tmpfs: the init
    // idmaps it (where tmpfs can be, 6.3+).
    let inside = kernel_at_least(6, 3);
    let script = if inside {
        "stat -c '%u %n' /a/f; \
         test -e /later/marker && echo rootfs-dir || echo the-tmpfs; \
         touch /early/g && stat -c '%u %n' /mapped/g"
    } else {
        "stat -c '%u %n' /a/f; \
         test -e /later/marker && echo rootfs-dir || echo the-tmpfs"
    };
    let Some(out) = run_idmapped(&env, &src, script, |b| {
        let rootfs = b.rootfs.display().to_string();
        b.push_mount(json!({
            "destination": "/a", "type": "bind", "source": src.display().to_string(),
            "options": ["rbind", "idmap"],
            "uidMappings": [{ "containerID": 0, "hostID": 1234, "size": 1 }],
            "gidMappings": [{ "containerID": 0, "hostID": 1234, "size": 1 }]
        }));
        b.push_mount(json!({"destination": "/early", "type": "tmpfs", "source": "tmpfs"}));
        // The bind below must show the (empty) tmpfs mounted there
        // before it, not the rootfs directory the tmpfs covers.
        fs::create_dir_all(b.rootfs.join("early")).unwrap();
        fs::write(b.rootfs.join("early/marker"), "rootfs\n").unwrap();
        b.push_mount(json!({
            "destination": "/later", "type": "bind",
            "source": format!("{rootfs}/early"), "options": ["rbind"]
        }));
        if inside {
            b.push_mount(json!({
                "destination": "/mapped", "type": "bind",
                "source": format!("{rootfs}/early"), "options": ["rbind"],
                "uidMappings": [{ "containerID": 0, "hostID": 4321, "size": 1 }],
                "gidMappings": [{ "containerID": 0, "hostID": 4321, "size": 1 }]
            }));
        }
    }) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    if inside {
        assert_eq!(lines, ["1234 /a/f", "the-tmpfs", "4321 /mapped/g"], "{out}");
    } else {
        assert_eq!(lines, ["1234 /a/f", "the-tmpfs"], "{out}");
    }
}
