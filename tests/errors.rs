//! Failure paths: each must fail with exit 1, say why, and leave nothing
//! behind.  Assertions on the error *text* are vzrun-only (`is_vzrun()`);
//! against runc the exit code and the absence of leftovers are checked and
//! runc's text is printed for reference.
mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// `create` with a config adjusted by `f`; must fail with exit 1 and leave no
/// state dir / cgroup / container behind.  Returns the Out for text checks.
fn create_fails(env: &TestEnv, id: &str, f: impl FnOnce(&mut Bundle)) -> Out {
    let mut b = env.bundle(id);
    b.set_args(&["sleep", "1000"]);
    f(&mut b);
    let o = env.create_out(id, &b, &[]);
    eprintln!(
        "[{}] {:?} -> exit {}: {}",
        runtime_name(),
        id,
        o.code,
        o.stderr.trim()
    );
    assert_eq!(o.code, 1, "{o}");
    assert!(
        env.try_state(id).is_none(),
        "container exists after failed create: {o}"
    );
    env.assert_no_leftovers(id);
    let l = env.rt(&["list", "-q"]);
    assert!(
        !l.stdout.lines().any(|x| x == id),
        "listed after failed create: {l}"
    );
    o
}

fn vzrun_stderr_has(o: &Out, needles: &[&str]) {
    if is_vzrun() {
        for n in needles {
            assert!(contains_ci(&o.stderr, n), "stderr lacks {n:?}: {o}");
        }
    }
}

#[test]
fn missing_executable() {
    let env = TestEnv::new("err_noexec");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        b.set_args(&["/bin/nope"]);
    });
    vzrun_stderr_has(&o, &[&id, "/bin/nope", "no such file or directory"]);
    // runc-compatible part of the message (runc says: exec: "/bin/nope":
    // stat /bin/nope: no such file or directory)
    assert!(
        contains_ci(&o.stderr, "/bin/nope") && contains_ci(&o.stderr, "no such file or directory"),
        "{o}"
    );
}

#[test]
fn missing_executable_in_path() {
    let env = TestEnv::new("err_noexec_path");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        b.set_args(&["no-such-cmd"]);
    });
    vzrun_stderr_has(&o, &[&id, "no-such-cmd"]);
    assert!(contains_ci(&o.stderr, "no-such-cmd"), "{o}");
}

#[test]
fn run_missing_executable() {
    let env = TestEnv::new("err_run_noexec");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["/bin/nope"]);
    let o = env.run_out(&id, &b, &[]);
    eprintln!(
        "[{}] run -> exit {}: {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    assert_ne!(o.code, 0, "{o}");
    assert!(env.try_state(&id).is_none());
    env.assert_no_leftovers(&id);
}

#[test]
fn malformed_config() {
    let env = TestEnv::new("err_badjson");
    let id = env.new_id();
    let b = env.bundle(&id);
    env.track_id(&id);
    b.write_raw("{");
    let o = env.rt(&["create", "--bundle", &b.path(), &id]);
    eprintln!(
        "[{}] malformed -> exit {}: {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    assert_eq!(o.code, 1, "{o}");
    env.assert_no_leftovers(&id);
    vzrun_stderr_has(&o, &["config.json", &id]);
}

#[test]
fn missing_config() {
    let env = TestEnv::new("err_noconfig");
    let id = env.new_id();
    let b = env.bundle(&id);
    let o = env.rt(&["create", "--bundle", &b.path(), &id]);
    eprintln!(
        "[{}] no config -> exit {}: {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    assert_eq!(o.code, 1, "{o}");
    env.assert_no_leftovers(&id);
    // runc: "JSON specification file config.json not found"
    assert!(contains_ci(&o.stderr, "config.json"), "{o}");
}

#[test]
fn empty_process_args() {
    let env = TestEnv::new("err_noargs");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        b.config_mut()["process"]["args"] = json!([]);
    });
    vzrun_stderr_has(&o, &["process.args"]);
}

#[test]
fn unknown_namespace_type() {
    let env = TestEnv::new("err_ns");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| b.add_namespace("foo"));
    vzrun_stderr_has(&o, &["linux.namespaces"]);
}

#[test]
fn missing_root_path() {
    let env = TestEnv::new("err_rootpath");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        b.config_mut()["root"]["path"] = json!("no-such-rootfs");
    });
    vzrun_stderr_has(&o, &["root.path"]);
}

#[test]
fn wrongly_typed_uid_mapping() {
    let env = TestEnv::new("err_uidmap");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        b.add_namespace("user");
        b.config_mut()["linux"]["uidMappings"] = json!([{ "containerID": "x" }]);
    });
    vzrun_stderr_has(&o, &["config.json"]);
}

#[test]
fn invalid_container_ids() {
    let env = TestEnv::new("err_ids");
    // runc 1.1 accepts ids matching ^[\w+.-]+$ (so "-x" and ".hidden" are
    // valid for runc); vzrun requires [A-Za-z0-9][A-Za-z0-9_.+-]*.
    // Longer than a path component, and control characters.
    let long = "a".repeat(256);
    let mut bads = vec!["../x", "a/b", "a b", "", "x:y", &long, "a\tb", "a\u{7f}"];
    if is_vzrun() {
        bads.extend(["-x", ".hidden", "..", "."]);
    }
    for bad in bads {
        // The cgroup path must not depend on the bad id (it would escape
        // /vzrun-test); use a safe unique one and check it stays absent.
        let safe = env.new_id();
        let mut b = env.bundle(&safe);
        b.set_args(&["sleep", "1000"]);
        b.write();
        env.track_id(bad);
        // `--` so that "-x" is an operand, not an option.
        let bd = b.path();
        let o = env.rt(&["create", "--bundle", &bd, "--", bad]);
        eprintln!(
            "[{}] id {:?} -> exit {}: {}",
            runtime_name(),
            bad,
            o.code,
            o.stderr.trim()
        );
        assert_eq!(o.code, 1, "id {bad:?} accepted: {o}");
        env.assert_no_leftovers(&safe);
        if !bad.is_empty() {
            assert!(env.try_state(bad).is_none(), "{bad:?} exists");
        }
        let l = env.rt(&["list", "-q"]);
        assert_eq!(l.stdout.trim(), "", "{l}");
        if is_vzrun() && !bad.is_empty() {
            // The log line escapes what is not printable.
            let shown = if bad.chars().any(char::is_control) {
                ""
            } else {
                bad
            };
            vzrun_stderr_has(&o, &[shown, "invalid container id"]);
        }
    }
    // nothing escaped the state root
    assert!(!env.tmp.join("x").exists());
}

#[test]
fn unsupported_oci_version() {
    let env = TestEnv::new("err_ociver");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    b.config_mut()["ociVersion"] = json!("2.0.0");
    let o = env.create_out(&id, &b, &[]);
    eprintln!(
        "[{}] ociVersion 2.0.0 -> exit {}: {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    if is_vzrun() {
        assert_eq!(o.code, 1, "{o}");
        vzrun_stderr_has(&o, &["ociVersion"]);
        assert!(env.try_state(&id).is_none());
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn supported_oci_versions() {
    let env = TestEnv::new("ok_ociver");
    for v in ["1.0.0", "1.0.2", "1.1.0", "1.2.0", "1.3.0", "1.0.2-dev"] {
        let id = env.new_id();
        let mut b = env.bundle(&id);
        b.set_sh("exit 0");
        b.config_mut()["ociVersion"] = json!(v);
        let (code, _, err) = env.run_fg(&id, &b);
        assert_eq!(code, 0, "ociVersion {v} rejected: {err}");
    }
}

#[test]
fn missing_bundle_dir() {
    let env = TestEnv::new("err_nobundle");
    let id = env.new_id();
    let nb = env.tmp.join("does-not-exist").display().to_string();
    let o = env.rt(&["create", "--bundle", &nb, &id]);
    eprintln!(
        "[{}] missing bundle -> exit {}: {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    assert_eq!(o.code, 1, "{o}");
    env.assert_no_leftovers(&id);
}

#[test]
fn cwd_is_a_file_fails_cleanly() {
    // process.cwd names an existing regular file: it can be neither created
    // nor entered (runc: "mkdir /etc/passwd: not a directory").
    let env = TestEnv::new("err_cwd_file");
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        b.config_mut()["process"]["cwd"] = json!("/etc/passwd");
    });
    vzrun_stderr_has(&o, &[&id]);
}

#[test]
fn unknown_command_and_missing_id() {
    let env = TestEnv::new("err_cli");
    let o = env.rt(&["frobnicate"]);
    eprintln!(
        "[{}] unknown command -> exit {}: {}",
        runtime_name(),
        o.code,
        o.stderr.trim()
    );
    assert_ne!(o.code, 0);
    for cmd in ["start", "state", "delete", "kill", "create"] {
        let o = env.rt(&[cmd]);
        eprintln!(
            "[{}] {cmd} w/o id -> exit {}: {}",
            runtime_name(),
            o.code,
            o.stderr.trim()
        );
        assert_eq!(o.code, 1, "{o}");
    }
}

#[test]
fn cgroup_in_use_is_refused() {
    let env = TestEnv::new("err_cgroup_busy");
    let a = env.new_id();
    let mut ba = env.bundle(&a);
    ba.set_args(&["sleep", "1000"]);
    env.run_out(&a, &ba, &["--detach"]).assert_ok();
    let b = env.new_id();
    let mut bb = env.bundle(&b);
    bb.config_mut()["linux"]["cgroupsPath"] = json!(cgroups_path(&a));
    // runc 1.1 only warns and shares the cgroup (and would then remove it,
    // with the first container's processes, at delete).
    if !is_vzrun() {
        return;
    }
    let o = env.create_out(&b, &bb, &[]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("already has processes"), "{o}");
    // The first container is untouched.
    assert_eq!(env.state(&a)["status"], "running");
    assert!(!env.root.join(&b).exists());
}

/// A cgroupsPath that exists frozen: an init put there could never run,
/// and `run -d` would return 0 for a container that never starts. Refused
/// at create, nothing left; the frozen cgroup is the caller's to keep.
#[test]
fn a_frozen_cgroup_is_refused() {
    let env = TestEnv::new("err_cgroup_frozen");
    let id = env.new_id();
    let (dir, file, value) = if cgroup_v2() {
        let d = cg_path("pids", &id, "");
        (d, "cgroup.freeze", "1")
    } else {
        let d = PathBuf::from(format!("/sys/fs/cgroup/freezer/vzrun-test/{id}"));
        (d, "freezer.state", "FROZEN")
    };
    fs::create_dir_all(&dir).unwrap();
    struct Thaw(PathBuf, &'static str, &'static str);
    impl Drop for Thaw {
        fn drop(&mut self) {
            let _ = fs::write(self.0.join(self.1), self.2);
            let _ = fs::remove_dir(&self.0);
        }
    }
    let _thaw = Thaw(dir.clone(), file, if cgroup_v2() { "0" } else { "THAWED" });
    fs::write(dir.join(file), value).unwrap();
    let mut b = env.bundle(&id);
    b.set_args(&["true"]);
    let o = env.run_out(&id, &b, &["--detach"]);
    if !is_vzrun() {
        return; // runc 1.1 starts it and leaves it frozen
    }
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("the cgroup is frozen"), "{o}");
    assert!(!env.root.join(&id).exists());
}

/// A state.json damaged on disk (truncated): `state` says so, and `delete
/// --force` still kills the container's processes (found in the cgroup
/// recorded before the first of them existed) and leaves nothing.
#[test]
fn a_damaged_state_is_still_deleted_with_force() {
    if !is_vzrun() {
        return; // runc 1.1 cannot delete it
    }
    let env = TestEnv::new("err_state_damaged");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.run_out(&id, &b, &["--detach"]).assert_ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    env.track_pid(pid);
    let file = env.root.join(&id).join("state.json");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&file, &text[..text.len() / 2]).unwrap();
    let o = env.rt(&["state", &id]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("state.json"), "{o}");
    let o = env.rt(&["delete", "--force", &id]);
    assert_eq!(o.code, 0, "{o}");
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    });
    assert!(gone, "the container's process {pid} survived");
    env.assert_no_leftovers(&id);
}

#[test]
fn domainname_without_uts_namespace_is_refused() {
    let env = TestEnv::new("err_domainname");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["domainname"] = json!("example.org");
    b.config_mut().as_object_mut().unwrap().remove("hostname");
    let ns = b.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap();
    ns.retain(|n| n["type"] != "uts");
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    // runc 1.1 accepts this config and renames the host's domain.
    if !is_vzrun() {
        return;
    }
    let o = env.create_out(&id, &b, &[]);
    assert_eq!(o.code, 1, "{o}");
    if is_vzrun() {
        assert!(o.stderr.contains("domainname"), "{o}");
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn masking_never_uses_a_fake_dev_null() {
    // CVE-2025-31133: if /dev/null is not the null device, binding it over
    // a masked path would expose (or let the container write) what the
    // mask hides. Here /dev/null is configured as /dev/zero.
    let env = TestEnv::new("err_fake_null");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.config_mut()["linux"]["devices"] =
        json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]);
    b.set_args(&["true"]);
    let o = env.create_out(&id, &b, &[]);
    if is_vzrun() {
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("not the null device"), "{o}");
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn proc_on_a_symlink_is_refused() {
    // CVE-2019-16884: an image whose /proc points elsewhere (even inside
    // the rootfs) could redirect what the runtime writes to procfs.
    let env = TestEnv::new("err_proc_symlink");
    let id = env.new_id();
    let b = env.bundle(&id);
    let proc_dir = b.rootfs.join("proc");
    let _ = std::fs::remove_dir_all(&proc_dir);
    std::fs::create_dir_all(b.rootfs.join("fakeproc")).unwrap();
    std::os::unix::fs::symlink("fakeproc", &proc_dir).unwrap();
    let o = env.create_out(&id, &b, &[]);
    assert_ne!(o.code, 0, "{o}");
    vzrun_stderr_has(&o, &[&id, "/proc", "must be mounted on ordinary directory"]);
    env.assert_no_leftovers(&id);
}

#[test]
fn a_masked_path_on_a_symlink_is_refused() {
    // The image must not choose what a masked path hides: /secret is a
    // symlink to /etc/hostname, and following it would leave /secret's
    // name pointing at an unmasked file.
    let env = TestEnv::new("err_mask_symlink");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    std::os::unix::fs::symlink("/etc/hostname", b.rootfs.join("secret")).unwrap();
    b.set_args(&["true"]);
    b.config_mut()["linux"]["maskedPaths"] = serde_json::json!(["/secret"]);
    let o = env.create_out(&id, &b, &[]);
    if is_vzrun() {
        assert_eq!(o.code, 1, "{o}");
        vzrun_stderr_has(&o, &[&id, "/secret", "linux.maskedPaths", "symlink"]);
        env.assert_no_leftovers(&id);
    }
}

#[test]
fn an_idmap_without_mappings_in_a_container_without_any_is_refused() {
    if !is_vzrun() {
        return; // runc 1.1.5 predates idmapped mounts
    }
    let env = TestEnv::new("err_idmap");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let host = env.mkdir("data");
    b.push_mount(serde_json::json!({
        "destination": "/data", "type": "bind", "source": host.display().to_string(),
        "options": ["rbind", "idmap"]
    }));
    let o = env.create_out(&id, &b, &[]);
    assert_ne!(o.code, 0, "{o}");
    vzrun_stderr_has(
        &o,
        &[
            &id,
            "mounts[",
            "idmap: /data gives no uidMappings/gidMappings",
        ],
    );
    env.assert_no_leftovers(&id);
}

#[test]
fn cap_dac_override_lets_a_user_exec_what_its_mode_refuses_it() {
    // 0700 root: uid 1000 may not run it by its mode, but CAP_DAC_OVERRIDE
    // overrides that for any file with an execute bit (execve(2)).
    let env = TestEnv::new("dac_override_exec");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    let script = b.rootfs.join("bin/secret");
    fs::write(&script, "#!/bin/sh\necho secret ran as $(id -u)\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
    let caps = json!(["CAP_DAC_OVERRIDE"]);
    let c = b.config_mut();
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    // Ambient too: the script's interpreter, not root, keeps it past execve.
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        c["process"]["capabilities"][set] = caps.clone();
    }
    b.set_args(&["/bin/secret"]);
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!((code, out.as_str()), (0, "secret ran as 1000\n"), "{err}");
    // Without the capability the mode holds, and the error names it.
    let id = env.new_id();
    let o = create_fails(&env, &id, |b| {
        fs::write(b.rootfs.join("bin/secret"), "#!/bin/sh\necho no\n").unwrap();
        fs::set_permissions(
            b.rootfs.join("bin/secret"),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        b.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.set_args(&["/bin/secret"]);
    });
    vzrun_stderr_has(&o, &[&id, "/bin/secret", "permission denied"]);
}

#[test]
fn a_nul_byte_in_any_string_is_refused_by_its_field() {
    let env = TestEnv::new("err_nul");
    type Change = Box<dyn Fn(&mut Bundle)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "process.args[0]",
            Box::new(|b| {
                b.set_args(&["sl\u{0}eep", "1"]);
            }),
        ),
        (
            "process.env[1]",
            Box::new(|b| {
                b.config_mut()["process"]["env"] = json!(["PATH=/bin", "A\u{0}=b"]);
            }),
        ),
        (
            "hostname",
            Box::new(|b| {
                b.config_mut()["hostname"] = json!("a\u{0}b");
            }),
        ),
        (
            "mounts[0].destination",
            Box::new(|b| {
                b.config_mut()["mounts"][0]["destination"] = json!("/pr\u{0}oc");
            }),
        ),
        (
            "linux.cgroupsPath",
            Box::new(|b| {
                b.config_mut()["linux"]["cgroupsPath"] = json!("/vzrun-test/a\u{0}b");
            }),
        ),
    ];
    for (field, change) in cases {
        let id = env.new_id();
        let o = create_fails(&env, &id, |b| change(b));
        vzrun_stderr_has(&o, &[&id, "config.json", field, "NUL byte"]);
    }
}
