//! Command-line surface: spec, --version, --log/--log-format, --root.
mod common;
use common::*;
use serde_json::Value;
use std::fs;

fn read_json(p: &std::path::Path) -> Value {
    let s = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {s}", p.display()))
}

#[test]
fn spec_writes_default_config() {
    let env = TestEnv::new("cli_spec");
    let dir = env.mkdir("specdir");
    env.rt_raw_in(&dir, &["spec"]).assert_ok();
    let c = read_json(&dir.join("config.json"));
    assert_eq!(c["process"]["args"], serde_json::json!(["sh"]), "{c}");
    assert_eq!(c["process"]["terminal"], Value::Bool(true), "{c}");
    assert_eq!(c["root"]["path"], "rootfs");
    assert_eq!(c["root"]["readonly"], Value::Bool(true));
    assert!(
        c["ociVersion"].as_str().unwrap_or("").starts_with("1."),
        "{c}"
    );
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for want in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&want), "{ns:?}");
    }
    assert!(!ns.contains(&"user"), "{ns:?}");
    let caps = &c["process"]["capabilities"]["bounding"];
    assert_eq!(
        *caps,
        serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
    );
    let masked = c["linux"]["maskedPaths"].as_array().unwrap();
    assert!(masked.iter().any(|m| m == "/proc/kcore"));
    assert!(
        c["linux"]["readonlyPaths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "/proc/sys")
    );
    let want_host = if is_vzrun() { "vzrun" } else { "runc" };
    assert_eq!(c["hostname"], want_host, "default hostname");
}

#[test]
fn spec_rootless_has_user_namespace() {
    let env = TestEnv::new("cli_spec_rootless");
    let dir = env.mkdir("specdir");
    env.rt_raw_in(&dir, &["spec", "--rootless"]).assert_ok();
    let c = read_json(&dir.join("config.json"));
    let ns = c["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "user"), "{c}");
    assert!(
        !ns.iter().any(|n| n["type"] == "network"),
        "rootless spec has no netns: {c}"
    );
    for key in ["uidMappings", "gidMappings"] {
        let m = c["linux"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} missing: {c}"));
        assert!(!m.is_empty());
        assert_eq!(m[0]["containerID"], 0);
        assert_eq!(m[0]["size"], 1);
    }
}

#[test]
fn spec_bundle_option() {
    let env = TestEnv::new("cli_spec_bundle");
    let dir = env.mkdir("target-bundle");
    let cwd = env.mkdir("elsewhere");
    env.rt_raw_in(&cwd, &["spec", "--bundle", &dir.display().to_string()])
        .assert_ok();
    assert!(dir.join("config.json").exists());
    assert!(!cwd.join("config.json").exists());
    read_json(&dir.join("config.json"));
    // short form
    let dir2 = env.mkdir("target-bundle2");
    env.rt_raw_in(&cwd, &["spec", "-b", &dir2.display().to_string()])
        .assert_ok();
    assert!(dir2.join("config.json").exists());
}

#[test]
fn spec_refuses_to_overwrite() {
    let env = TestEnv::new("cli_spec_exists");
    let dir = env.mkdir("specdir");
    fs::write(dir.join("config.json"), "keep me").unwrap();
    let o = env.rt_raw_in(&dir, &["spec"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .contains("File config.json exists. Remove it first"),
        "{o}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "keep me"
    );
}

#[test]
fn spec_output_is_usable() {
    // `spec` output, with terminal off and an absolute cgroup path, runs.
    let env = TestEnv::new("cli_spec_usable");
    let id = env.new_id();
    let b = env.bundle(&id);
    fs::remove_file(b.dir.join("config.json")).ok();
    env.rt_raw_in(&b.dir, &["spec"]).assert_ok();
    let mut c = read_json(&b.dir.join("config.json"));
    c["process"]["terminal"] = Value::Bool(false);
    c["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-ok"]);
    c["linux"]["cgroupsPath"] = Value::from(cgroups_path(&id));
    let b = Bundle { config: c, ..b };
    let (code, out, err) = env.run_fg(&id, &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "spec-ok");
}

#[test]
fn version_output() {
    let env = TestEnv::new("cli_version");
    for flag in ["--version", "-v"] {
        let o = env.rt_raw(&[flag]);
        o.assert_ok();
        let first = o.stdout.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&runtime_name()),
            "first line {first:?} ({o})"
        );
        assert!(first.contains("version"), "{o}");
        assert!(o.stdout.lines().any(|l| l.starts_with("spec")), "{o}");
    }
}

#[test]
fn log_json_on_error() {
    let env = TestEnv::new("cli_log_json");
    let log = env.tmp.join("rt.log");
    let id = env.new_id();
    let l = log.display().to_string();
    let o = env.rt(&["--log", &l, "--log-format", "json", "start", &id]);
    assert_eq!(o.code, 1, "{o}");
    let text = fs::read_to_string(&log).expect("log file written");
    let entry: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["level"] == "error")
        .unwrap_or_else(|| panic!("no JSON error line in log: {text:?}"));
    let msg = entry["msg"].as_str().unwrap_or("");
    assert!(!msg.is_empty(), "{entry}");
    assert!(contains_ci(msg, "not exist"), "{entry}");
    assert!(
        entry["time"]
            .as_str()
            .map(|t| t.contains('T'))
            .unwrap_or(false),
        "{entry}"
    );
    // every line of the log is JSON
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("non-JSON log line {line:?}: {e}"));
    }
    if is_vzrun() {
        // runc 1.1 logs just "container does not exist".
        assert!(msg.contains(&id), "{entry}");
    }
    // runc also prints the bare message to stderr when --log is given.
    assert!(contains_ci(&o.stderr, "not exist"), "{o}");
}

#[test]
fn default_log_format_is_text_on_stderr() {
    let env = TestEnv::new("cli_log_text");
    let id = env.new_id();
    let o = env.rt(&["state", &id]);
    assert_eq!(o.code, 1);
    // runc: time="..." level=error msg="container does not exist"
    assert!(o.stderr.contains("level=error"), "{o}");
    assert!(o.stderr.contains("msg=\""), "{o}");
}

#[test]
fn root_isolation() {
    let env = TestEnv::new("cli_root");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    env.create(&id, &b);
    // A second, empty root sees nothing.
    let other = env.mkdir("other-root").display().to_string();
    let o = env.rt_raw(&["--root", &other, "list"]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{o}");
    assert!(lines[0].starts_with("ID"), "{o}");
    let o = env.rt_raw(&["--root", &other, "list", "-q"]);
    o.assert_ok();
    assert_eq!(o.stdout.trim(), "");
    let o = env.rt_raw(&["--root", &other, "state", &id]);
    assert_eq!(o.code, 1, "{o}");
    // JSON list of an empty root: runc prints `null`; an empty array is the
    // sane alternative.
    let o = env.rt_raw(&["--root", &other, "list", "--format", "json"]);
    o.assert_ok();
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert!(
        v.is_null() || v.as_array().map(|a| a.is_empty()).unwrap_or(false),
        "{o}"
    );
    if is_vzrun() {
        assert!(
            v.is_null(),
            "runc-compatible: `null` for an empty list: {o}"
        );
    }
    // And the original root still lists our container.
    let o = env.rt(&["list", "-q"]);
    assert_eq!(o.stdout.trim(), id);
}

#[test]
fn help_lists_commands() {
    let env = TestEnv::new("cli_help");
    let o = env.rt_raw(&["--help"]);
    o.assert_ok();
    for cmd in [
        "create", "start", "run", "kill", "delete", "state", "list", "spec",
    ] {
        assert!(
            o.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "--help lacks {cmd}: {o}"
        );
    }
}

#[test]
fn features_reports_what_this_runtime_supports_here() {
    let env = TestEnv::new("cli_features");
    let o = env.rt_raw(&["features"]);
    assert_eq!(o.code, 0, "{o}");
    let f: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o}"));
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(f["ociVersionMin"], "1.0.0", "{f}");
    assert_eq!(strs(&f["hooks"]).len(), 6, "{f}");
    assert!(
        strs(&f["mountOptions"]).contains(&"rbind".to_string()),
        "{f}"
    );
    assert!(strs(&f["linux"]["capabilities"]).contains(&"CAP_SYS_ADMIN".to_string()));
    assert_eq!(f["linux"]["seccomp"]["enabled"], true, "{f}");
    if !is_vzrun() {
        return;
    }
    assert_eq!(f["ociVersionMax"], "1.3.0", "{f}");
    assert!(strs(&f["linux"]["namespaces"]).contains(&"time".to_string()));
    assert!(strs(&f["mountOptions"]).contains(&"tmpcopyup".to_string()));
    // The recursive options are there (CRI-O asks for rro), and idmapped
    // mounts.
    for on in ["rro", "rnosuid", "rnoatime", "idmap", "ridmap"] {
        assert!(strs(&f["mountOptions"]).contains(&on.to_string()), "{on}");
    }
    assert_eq!(f["linux"]["intelRdt"]["enabled"], false);
    assert_eq!(f["linux"]["netDevices"]["enabled"], true);
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    let known = strs(&f["linux"]["seccomp"]["knownFlags"]);
    for flag in strs(&f["linux"]["seccomp"]["supportedFlags"]) {
        assert!(known.contains(&flag), "{flag}");
    }
    assert!(strs(&f["linux"]["seccomp"]["actions"]).contains(&"SCMP_ACT_NOTIFY".to_string()));
}

/// `--debug` logs the steps of create and start, as text on stderr or as
/// JSON lines in `--log`; without it nothing but errors is logged.
#[test]
fn debug_logs_the_lifecycle_steps() {
    if !is_vzrun() {
        return; // runc's debug lines are its own (nsexec stages)
    }
    let env = TestEnv::new("cli_debug");
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["true"]);
    b.write();
    let bundle = b.path();
    let o = env.rt(&["--debug", "run", "--bundle", &bundle, &id]);
    assert_eq!(o.code, 0, "{o}");
    let debug: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.contains("level=debug"))
        .collect();
    // Each step says when it happened: the per-step timer.
    let elapsed = |l: &str| -> f64 {
        let v = l
            .split(" elapsed=")
            .nth(1)
            .unwrap_or_else(|| panic!("no elapsed: {l}"));
        v.trim_end_matches("ms").parse().unwrap()
    };
    let times: Vec<f64> = debug.iter().map(|l| elapsed(l)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{o}");
    for step in [
        "config.json read and checked",
        "state directory recorded",
        "cloned init pid",
        "joined cgroup",
        "created, init pid",
        "started",
    ] {
        assert!(
            debug.iter().any(|l| l.contains(&id) && l.contains(step)),
            "no debug line for {step:?}: {o}"
        );
    }
    let id2 = env.new_id();
    let log = env.tmp.join("debug.log");
    let l = log.display().to_string();
    let o = env.rt(&[
        "--debug",
        "--log",
        &l,
        "--log-format",
        "json",
        "run",
        "--bundle",
        &bundle,
        &id2,
    ]);
    assert_eq!(o.code, 0, "{o}");
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|v| v["level"] == "debug"
            && v["msg"].as_str().unwrap().contains("created, init pid")
            && v["elapsed"].as_str().unwrap().ends_with("ms")),
        "{text}"
    );
    let id3 = env.new_id();
    let o = env.rt(&["run", "--bundle", &bundle, &id3]);
    assert_eq!(o.code, 0, "{o}");
    assert!(!o.stderr.contains("level=debug"), "{o}");
}

/// `list` with a `--root` that does not exist is an error naming it
/// (runc 1.2+; runc 1.1 created the directory); an existing empty root
/// lists nothing.
#[test]
fn list_with_a_missing_root_fails() {
    if !is_vzrun() {
        return;
    }
    let env = TestEnv::new("cli_list_root");
    let missing = env.tmp.join("no-such-root");
    let m = missing.display().to_string();
    let o = env.rt_raw(&["--root", &m, "list"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .contains(&format!("open {m}: no such file or directory")),
        "{o}"
    );
    assert!(!missing.exists(), "list created {m}");
    let empty = env.mkdir("empty-root");
    let o = env.rt_raw(&["--root", &empty.display().to_string(), "list", "-q"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o}");
}

/// `--rootless` as runc's, where vzrun can honour it: `auto`, or the value
/// that matches how it runs; the other value is refused, not ignored.
#[test]
fn rootless_flag_values() {
    if !is_vzrun() {
        return; // runc takes the value as a hint
    }
    let env = TestEnv::new("cli_rootless_flag");
    std::fs::create_dir_all(&env.root).unwrap();
    for ok in ["--rootless=auto", "--rootless=false"] {
        env.rt(&[ok, "list"]).assert_ok();
    }
    let o = env.rt(&["--rootless=true", "list"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("--rootless=true: not supported"), "{o}");
    let o = env.rt(&["--rootless=maybe", "list"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("invalid value"), "{o}");
}
