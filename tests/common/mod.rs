//! Shared harness for the vzrun integration tests.
//!
//! The runtime under test is `$VZRUN_TEST_RUNTIME` if set (e.g. `/usr/sbin/runc`
//! to validate the suite against runc), else the `vzrun` binary built by cargo.
//!
//! Every test creates a [`TestEnv`], which owns a private temp dir
//! (`/tmp/vzrun-test-<unique>`), a private state root (`<tmp>/state`) and the
//! list of container ids it handed out.  Its `Drop` cleans up everything even
//! when the test panics.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::ffi::CString;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Default deadline for a single runtime invocation.
pub const RT_TIMEOUT: Duration = Duration::from_secs(30);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------
// Runtime selection
// ---------------------------------------------------------------------------

/// Path of the runtime binary under test, if one is configured.
pub fn try_runtime() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VZRUN_TEST_RUNTIME")
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    option_env!("CARGO_BIN_EXE_vzrun").map(PathBuf::from)
}

/// Path of the runtime binary under test.
pub fn runtime() -> PathBuf {
    match try_runtime() {
        Some(p) => p,
        None => panic!(
            "no runtime to test: set VZRUN_TEST_RUNTIME=/path/to/runtime \
             (e.g. /usr/sbin/runc) or run the suite inside the vzrun crate \
             so that CARGO_BIN_EXE_vzrun is defined"
        ),
    }
}

/// True when the runtime under test is vzrun itself (assertions on vzrun's own
/// error texts and spec-conformance where runc deviates are gated on this).
pub fn is_vzrun() -> bool {
    match std::env::var_os("VZRUN_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => Path::new(&p)
            .file_name()
            .map(|n| n == "vzrun")
            .unwrap_or(false),
        _ => true,
    }
}

/// Name of the runtime binary ("vzrun", "runc", ...).
pub fn runtime_name() -> String {
    runtime()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Command output
// ---------------------------------------------------------------------------

/// Result of one runtime invocation.  stdout/stderr were redirected to files
/// (so that containers inheriting them never block us); the contents are read
/// once the runtime process exited.  For `create`d containers the files keep
/// receiving the container's output: re-read them with [`Out::stdout_now`].
#[derive(Debug, Clone)]
pub struct Out {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Exit code; 128+N if the runtime was killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
    pub fn stderr_now(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
    /// Panic with full context unless the exit code is 0.
    pub fn assert_ok(&self) -> &Self {
        assert!(self.success(), "command failed: {self}");
        self
    }
    /// Panic with full context if the exit code is 0.
    pub fn assert_fail(&self) -> &Self {
        assert!(!self.success(), "command unexpectedly succeeded: {self}");
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{} {}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.program.display(),
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Run `program args` with stdin=/dev/null and stdout/stderr into files in
/// `dir`, waiting at most `timeout`; on timeout the child is SIGKILLed (by
/// pid) and the test panics.
pub fn run_cmd(program: &Path, args: &[String], dir: &Path, timeout: Duration) -> Out {
    run_cmd_cwd(program, args, dir, None, timeout)
}

/// Like [`run_cmd`], in working directory `cwd` if given.
pub fn run_cmd_cwd(
    program: &Path,
    args: &[String],
    dir: &Path,
    cwd: Option<&Path>,
    timeout: Duration,
) -> Out {
    try_run_cmd(program, args, dir, cwd, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Non-panicking core of [`run_cmd`] (also used from `Drop`).
pub fn try_run_cmd(
    program: &Path,
    args: &[String],
    dir: &Path,
    cwd: Option<&Path>,
    timeout: Duration,
) -> Result<Out, String> {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let stdout_path = dir.join(format!("cmd-{n}.stdout"));
    let stderr_path = dir.join(format!("cmd-{n}.stderr"));
    let so = File::create(&stdout_path).map_err(|e| format!("create stdout file: {e}"))?;
    let se = File::create(&stderr_path).map_err(|e| format!("create stderr file: {e}"))?;
    let mut cmd = Command::new(program);
    if let Some(c) = cwd {
        cmd.current_dir(c);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(so)
        .stderr(se)
        .spawn()
        .map_err(|e| format!("cannot spawn {}: {e}", program.display()))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            res => {
                // timed out (or wait failed): kill the runtime by its pid
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{} {}` did not finish within {:?} (killed; {:?})\nstdout: {}\nstderr: {}",
                    program.display(),
                    args.join(" "),
                    timeout,
                    res.err(),
                    fs::read_to_string(&stdout_path).unwrap_or_default(),
                    fs::read_to_string(&stderr_path).unwrap_or_default()
                ));
            }
        }
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Out {
        program: program.to_path_buf(),
        args: args.to_vec(),
        code,
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        stdout_path,
        stderr_path,
    })
}

// ---------------------------------------------------------------------------
// Test environment
// ---------------------------------------------------------------------------

pub struct TestEnv {
    /// Unique prefix: `<name>-<pid>-<counter>`.
    pub prefix: String,
    /// Private temp dir `/tmp/vzrun-test-<prefix>`.
    pub tmp: PathBuf,
    /// State root passed as `--root`.
    pub root: PathBuf,
    ids: Mutex<Vec<String>>,
    /// (pid, starttime) of processes to kill if still alive at the end.
    pids: Mutex<Vec<(i32, u64)>>,
    next: AtomicUsize,
}

fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        s.insert(0, 't');
    }
    s.truncate(40);
    s
}

impl TestEnv {
    pub fn new(name: &str) -> TestEnv {
        let prefix = format!(
            "{}-{}-{}",
            sanitize(name),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let tmp = PathBuf::from(format!("/tmp/vzrun-test-{prefix}"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).expect("create test temp dir");
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        let root = tmp.join("state");
        fs::create_dir_all(tmp.join("out")).unwrap();
        TestEnv {
            prefix,
            tmp,
            root,
            ids: Mutex::new(Vec::new()),
            pids: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    /// A fresh, valid, unique container id (recorded for cleanup).
    pub fn new_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{}", self.prefix, n);
        self.track_id(&id);
        id
    }

    /// Record an id for cleanup (for ids that were not produced by `new_id`).
    pub fn track_id(&self, id: &str) {
        self.ids.lock().unwrap().push(id.to_string());
    }

    /// Record a host pid that must not outlive the test.
    pub fn track_pid(&self, pid: i32) {
        if pid > 0
            && let Some(st) = proc_starttime(pid)
        {
            self.pids.lock().unwrap().push((pid, st));
        }
    }

    /// A new directory inside the test's temp dir.
    pub fn mkdir(&self, name: &str) -> PathBuf {
        let p = self.tmp.join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// Run the runtime with `--root <state root>` prepended.
    pub fn rt(&self, args: &[&str]) -> Out {
        self.rt_timeout(args, RT_TIMEOUT)
    }

    pub fn rt_timeout(&self, args: &[&str], timeout: Duration) -> Out {
        let mut full = vec!["--root".to_string(), self.root.display().to_string()];
        full.extend(args.iter().map(|s| s.to_string()));
        run_cmd(&runtime(), &full, &self.tmp.join("out"), timeout)
    }

    /// Run the runtime with exactly these arguments (no `--root`).
    pub fn rt_raw(&self, args: &[&str]) -> Out {
        let full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        run_cmd(&runtime(), &full, &self.tmp.join("out"), RT_TIMEOUT)
    }

    /// Run the runtime with exactly these arguments in working directory `cwd`.
    pub fn rt_raw_in(&self, cwd: &Path, args: &[&str]) -> Out {
        let full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        run_cmd_cwd(
            &runtime(),
            &full,
            &self.tmp.join("out"),
            Some(cwd),
            RT_TIMEOUT,
        )
    }

    /// Build a bundle (busybox rootfs + default config) for container `id`.
    pub fn bundle(&self, id: &str) -> Bundle {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let dir = self.tmp.join(format!("bundle{n}"));
        fs::create_dir_all(&dir).unwrap();
        let rootfs = dir.join("rootfs");
        make_rootfs(&rootfs);
        Bundle {
            dir,
            rootfs,
            config: default_config(id),
        }
    }

    /// A bundle for container `id` whose config names a rootfs elsewhere
    /// (the caller sets `root.path`): many containers can share one.
    pub fn bundle_without_rootfs(&self, id: &str) -> Bundle {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let dir = self.tmp.join(format!("bundle{n}"));
        fs::create_dir_all(&dir).unwrap();
        Bundle {
            rootfs: dir.join("rootfs"),
            dir,
            config: default_config(id),
        }
    }

    /// `run --bundle B ID` in the foreground; returns (exit code, stdout, stderr).
    pub fn run_fg(&self, id: &str, b: &Bundle) -> (i32, String, String) {
        let o = self.run_out(id, b, &[]);
        (o.code, o.stdout, o.stderr)
    }

    /// `run [extra..] --bundle B ID`, returning the whole [`Out`].
    pub fn run_out(&self, id: &str, b: &Bundle, extra: &[&str]) -> Out {
        b.write();
        self.track_id(id);
        let bd = b.dir.display().to_string();
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", &bd, id]);
        self.rt(&args)
    }

    /// `create [extra..] --bundle B ID`.  The container inherits the
    /// returned Out's stdout/stderr files.
    pub fn create_out(&self, id: &str, b: &Bundle, extra: &[&str]) -> Out {
        b.write();
        self.track_id(id);
        let bd = b.dir.display().to_string();
        let mut args = vec!["create"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", &bd, id]);
        let o = self.rt(&args);
        if o.success()
            && let Some(pid) = self.try_state(id).and_then(|s| s["pid"].as_i64())
        {
            self.track_pid(pid as i32);
        }
        o
    }

    /// `create` that must succeed.
    pub fn create(&self, id: &str, b: &Bundle) -> Out {
        let o = self.create_out(id, b, &[]);
        o.assert_ok();
        o
    }

    /// `start ID` that must succeed.
    pub fn start(&self, id: &str) {
        self.rt(&["start", id]).assert_ok();
    }

    /// `state ID` parsed as JSON; panics if the command fails.
    /// The exe link of created container `id`'s init, once it has had
    /// time (2 s) to hand its wait over to vzrun-wait, which follows
    /// create's return.
    pub fn waiting_exe(&self, id: &str) -> String {
        let pid = self.state(id)["pid"].as_i64().unwrap();
        let exe = || {
            fs::read_link(format!("/proc/{pid}/exe"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !exe().starts_with("/memfd:vzrun-wait") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        exe()
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.rt(&["state", id]);
        o.assert_ok();
        let v: Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {o}"));
        if let Some(pid) = v["pid"].as_i64() {
            self.track_pid(pid as i32);
        }
        v
    }

    /// `state ID` if it succeeds.
    pub fn try_state(&self, id: &str) -> Option<Value> {
        let o = self.rt(&["state", id]);
        if !o.success() {
            return None;
        }
        serde_json::from_str(&o.stdout).ok()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }

    /// Poll `state` until the status is `want`.
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let st = self.status(id);
            if st == want {
                return;
            }
            if Instant::now() >= deadline {
                panic!("container {id} still {st:?} (wanted {want:?}) after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Poll until the file exists and is non-empty; returns its content.
    pub fn wait_file(&self, p: &Path, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(s) = fs::read_to_string(p)
                && !s.is_empty()
            {
                return s;
            }
            if Instant::now() >= deadline {
                panic!("{} not written within {timeout:?}", p.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Assert the runtime left nothing behind for `id`: no state entry in the
    /// root and no `/sys/fs/cgroup/*/vzrun-test/<id>` directory.
    pub fn assert_no_leftovers(&self, id: &str) {
        let sd = self.root.join(id);
        assert!(!sd.exists(), "state dir {} still exists", sd.display());
        let cg = cgroup_dirs(id);
        assert!(cg.is_empty(), "cgroup dirs left behind for {id}: {cg:?}");
        let procs = processes_with_arg(id);
        assert!(
            procs.is_empty(),
            "processes with {id} in their argv left behind: {procs:?}"
        );
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let ids: Vec<String> = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        let outdir = self.tmp.join("out");
        let _ = fs::create_dir_all(&outdir);
        if let Some(rt) = try_runtime() {
            for id in &ids {
                let args = vec![
                    "--root".to_string(),
                    self.root.display().to_string(),
                    "delete".to_string(),
                    "--force".to_string(),
                    "--".to_string(),
                    id.clone(),
                ];
                let _ = try_run_cmd(&rt, &args, &outdir, None, Duration::from_secs(20));
            }
        }
        // Kill leftover processes we recorded (only if it is still the same
        // process: start time must match).
        let pids: Vec<(i32, u64)> = self.pids.lock().map(|v| v.clone()).unwrap_or_default();
        for (pid, st) in pids {
            if proc_starttime(pid) == Some(st) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // Remove cgroup dirs (retry briefly: killed tasks take a moment to
        // leave).  Any process still in one of *our* container cgroups was
        // started for this test: kill it (by pid) first.
        for id in &ids {
            for d in cgroup_dirs(id) {
                if let Ok(procs) = fs::read_to_string(d.join("cgroup.procs")) {
                    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        if pid > 1 {
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        }
                    }
                }
            }
            for _ in 0..50 {
                let left = cgroup_dirs(id);
                if left.is_empty() {
                    break;
                }
                for d in left {
                    remove_cgroup_tree(&d);
                }
                if cgroup_dirs(id).is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // The shared parent /vzrun-test stays: removing it here would race
        // with tests creating their cgroups below it (`make test` removes
        // it once all tests are done).
        // Lazily unmount anything under our temp dir, deepest first.
        let mut mps = mounts_under(&self.tmp);
        mps.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for mp in mps {
            if let Ok(c) = CString::new(mp) {
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _ = fs::remove_dir_all(&self.tmp);
    }
}

/// Removes a test container's cgroup with the sub-cgroups a test made in
/// it (`exec --cgroup`), deepest first, killing what is still inside.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if pid > 1 {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

/// Field 22 of /proc/<pid>/stat (start time), used to avoid killing a reused pid.
pub fn proc_starttime(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    // rest starts at field 3 (state); starttime is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie is not "alive" for our purposes.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rfind(')')
            .map(|i| !s[i + 2..].starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// (pid, argv) of live processes one of whose argv entries equals `arg`
/// (e.g. a runtime process still working on container `arg`).
pub fn processes_with_arg(arg: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == me || !pid_alive(pid) {
                continue;
            }
            let Ok(cl) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cl
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if args.iter().any(|a| a == arg) {
                v.push((pid, args.join(" ")));
            }
        }
    }
    v
}

/// Existing `/sys/fs/cgroup/<controller>/vzrun-test/<id>` directories.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    // Ids from the invalid-id tests ("..", ".", "a/b") must never name a
    // directory outside /vzrun-test: cleanup kills what is in these.
    let single = std::path::Path::new(id).components().count() == 1
        && matches!(
            std::path::Path::new(id).components().next(),
            Some(std::path::Component::Normal(_))
        );
    if !single {
        return v;
    }
    if cgroup_v2() {
        let p = PathBuf::from(format!("/sys/fs/cgroup{}", cgroup_rel(id)));
        if p.is_dir() {
            v.push(p);
        }
        return v;
    }
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            let p = e.path().join("vzrun-test").join(id);
            if p.is_dir() {
                v.push(p);
            }
        }
    }
    v
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    let mut v = Vec::new();
    if let Ok(mi) = fs::read_to_string("/proc/self/mountinfo") {
        for line in mi.lines() {
            if let Some(mp) = line.split(' ').nth(4) {
                let mp = unescape_mountinfo(mp);
                if mp == d || mp.starts_with(&format!("{d}/")) {
                    v.push(mp);
                }
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }
    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }
    /// `sh -c SCRIPT`
    pub fn set_sh(&mut self, script: &str) -> &mut Self {
        self.set_args(&["sh", "-c", script])
    }
    pub fn path(&self) -> String {
        self.dir.display().to_string()
    }
    pub fn push_mount(&mut self, m: Value) {
        self.config["mounts"].as_array_mut().unwrap().push(m);
    }
    /// Add a read-write bind mount of `host` at `dest`.
    pub fn bind(&mut self, host: &Path, dest: &str, ro: bool) {
        let opts = if ro {
            json!(["rbind", "ro"])
        } else {
            json!(["rbind", "rw"])
        };
        self.push_mount(json!({
            "destination": dest, "type": "bind",
            "source": host.display().to_string(), "options": opts
        }));
    }
    pub fn add_namespace(&mut self, ty: &str) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": ty }));
    }
    /// Write config.json (done automatically by create/run helpers).
    pub fn write(&self) {
        let s = serde_json::to_string_pretty(&self.config).unwrap();
        fs::write(self.dir.join("config.json"), s).unwrap();
    }
    /// Write raw text as config.json (for malformed-config tests).
    pub fn write_raw(&self, text: &str) {
        fs::write(self.dir.join("config.json"), text).unwrap();
    }
}

fn busybox_applets() -> &'static Vec<String> {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let o = Command::new("/usr/bin/busybox")
            .arg("--list")
            .output()
            .expect("run /usr/bin/busybox --list (is busybox-static installed?)");
        assert!(o.status.success(), "busybox --list failed");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.contains('/') && l != "busybox")
            .collect()
    })
}

/// Build a minimal busybox rootfs at `rootfs`.  World-readable so that a
/// user-namespaced root can use it too.
pub fn make_rootfs(rootfs: &Path) {
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
        "root",
        "home/user",
        "mnt",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).expect("copy busybox");
    fs::set_permissions(
        rootfs.join("bin/busybox"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    for a in busybox_applets() {
        let _ = symlink("busybox", rootfs.join("bin").join(a));
    }
    let _ = std::os::unix::fs::chown(rootfs.join("home/user"), Some(1000), Some(1000));
    let mut f = File::create(rootfs.join("etc/passwd")).unwrap();
    f.write_all(
        b"root:x:0:0:root:/root:/bin/sh\n\
          user:x:1000:1000:user:/home/user:/bin/sh\n\
          nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    let mut f = File::create(rootfs.join("etc/group")).unwrap();
    f.write_all(b"root:x:0:\nwheel:x:10:\nuser:x:1000:\nnobody:x:65534:\n")
        .unwrap();
}

/// runc's `runc spec` default, adjusted for tests: terminal=false,
/// ociVersion 1.0.2, root.readonly=false, absolute cgroupsPath
/// `/vzrun-test/<id>` (never relative: that would land under the
/// machine's own cgroup).
pub fn default_config(id: &str) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [
                { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }
            ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "cgroupsPath": cgroups_path(id),
            "resources": {
                "devices": [ { "allow": false, "access": "rwm" } ]
            },
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Case-insensitive substring test.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// Capability name -> number (Linux).
pub fn cap_number(name: &str) -> u32 {
    const CAPS: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    CAPS.iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("unknown capability {name}")) as u32
}

/// Bit mask of a list of capability names.
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0u64, |m, n| m | (1u64 << cap_number(n)))
}

/// Value of a `Key:\tvalue` line of a /proc/<pid>/status-like text.
pub fn status_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().to_string())
    })
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Receives one descriptor sent with SCM_RIGHTS (console sockets, seccomp
/// listeners), with the bytes that came with it.
pub fn recv_fd_with_payload(
    conn: &std::os::unix::net::UnixStream,
) -> (std::os::fd::OwnedFd, Vec<u8>) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut buf = [0u8; 8192];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let n = msg.bytes;
    let mut fd = None;
    for c in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just gave us this descriptor.
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let fd = fd.expect("no file descriptor received");
    (fd, buf[..n].to_vec())
}

pub fn recv_fd(conn: &std::os::unix::net::UnixStream) -> std::os::fd::OwnedFd {
    recv_fd_with_payload(conn).0
}

/// Runs a host shell script (e.g. one that opens descriptors for
/// `--preserve-fds` and then execs the runtime).
pub fn host_sh(env: &TestEnv, script: &str) -> Out {
    run_cmd(
        Path::new("/bin/sh"),
        &["-c".to_string(), script.to_string()],
        &env.tmp.join("out"),
        Duration::from_secs(30),
    )
}

// ---------------------------------------------------------------------------
// cgroup files of test containers (cgroupsPath /vzrun-test/<id>)
// ---------------------------------------------------------------------------

/// The systemd lane (`VZRUN_TEST_SYSTEMD=1`, in the VM with systemd): the
/// runtime runs with `--systemd-cgroup` (VZRUN_TEST_RUNTIME is a wrapper
/// that adds it) and test containers are scopes in vzrun_test.slice.
pub fn systemd_driver() -> bool {
    std::env::var("VZRUN_TEST_SYSTEMD").is_ok_and(|v| v == "1")
}

/// The `cgroupsPath` a test container gets.
pub fn cgroups_path(id: &str) -> String {
    if systemd_driver() {
        format!("vzrun_test.slice:vzrun:{id}")
    } else {
        format!("/vzrun-test/{id}")
    }
}

/// Where that cgroup is, as /proc/<pid>/cgroup shows it.
pub fn cgroup_rel(id: &str) -> String {
    if systemd_driver() {
        format!("/vzrun_test.slice/vzrun-{id}.scope")
    } else {
        format!("/vzrun-test/{id}")
    }
}

/// Whether this host runs the unified cgroup v2 hierarchy.
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Whether `controller` sits on a hybrid host's cgroup2 mount
/// (/sys/fs/cgroup/unified) instead of a v1 hierarchy: hugetlb does on
/// this project's machines as booted; after `mount -t cgroup -o hugetlb`
/// it is v1 again.
pub fn on_hybrid_v2(controller: &str) -> bool {
    !cgroup_v2()
        && fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == controller))
}

/// Whether `controller`'s files are v2 files for test containers: on a v2
/// host, or on a hybrid host's cgroup2 mount.
pub fn speaks_v2(controller: &str) -> bool {
    cgroup_v2() || on_hybrid_v2(controller)
}

/// The file of a test container's cgroup: v1 under the controller's
/// hierarchy, v2 in the container's one directory, or in its directory
/// on a hybrid host's cgroup2 mount for a controller bound there.
pub fn cg_path(controller: &str, id: &str, file: &str) -> PathBuf {
    if cgroup_v2() {
        PathBuf::from(format!("/sys/fs/cgroup{}/{file}", cgroup_rel(id)))
    } else if on_hybrid_v2(controller) {
        PathBuf::from(format!("/sys/fs/cgroup/unified/vzrun-test/{id}/{file}"))
    } else {
        PathBuf::from(format!(
            "/sys/fs/cgroup/{controller}/vzrun-test/{id}/{file}"
        ))
    }
}

fn read_trimmed(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// A value of a test container's cgroup, named by its v1 file. On a v2
/// host (or for a controller on a hybrid host's cgroup2 mount) the value
/// comes from the v2 file that holds the same knob, in v1's
/// form ("max" as v1's no-limit number, the freezer as FROZEN/THAWED);
/// cpu.shares reads cpu.weight, to compare with [`shares`]. A v1 knob
/// without a v2 counterpart panics: the test must say what v2 does.
pub fn cg_read(controller: &str, id: &str, file: &str) -> String {
    if !speaks_v2(controller) {
        return read_trimmed(&cg_path(controller, id, file));
    }
    const NO_LIMIT: &str = "9223372036854771712";
    let v2 = |f: &str| read_trimmed(&cg_path(controller, id, f));
    let limit = |f: &str| {
        let v = v2(f);
        if v == "max" { NO_LIMIT.to_string() } else { v }
    };
    let keyed = |f: &str, key: &str| {
        v2(f)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {key} in {f}"))
    };
    match file {
        "memory.limit_in_bytes" => limit("memory.max"),
        "memory.soft_limit_in_bytes" => limit("memory.low"),
        "memory.usage_in_bytes" => v2("memory.current"),
        "memory.failcnt" => keyed("memory.events", "max"),
        "memory.memsw.limit_in_bytes" => {
            let (m, s) = (limit("memory.max"), limit("memory.swap.max"));
            match (m.parse::<u64>(), s.parse::<u64>()) {
                (Ok(m), Ok(s)) if s.to_string() != NO_LIMIT => (m + s).to_string(),
                _ => NO_LIMIT.to_string(),
            }
        }
        "cpu.shares" => v2("cpu.weight"),
        "cpu.cfs_quota_us" => {
            let q = v2("cpu.max")
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            if q == "max" { "-1".into() } else { q }
        }
        "cpu.cfs_period_us" => v2("cpu.max")
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string(),
        "cpu.cfs_burst_us" => v2("cpu.max.burst"),
        "freezer.state" => match v2("cgroup.freeze").as_str() {
            "1" => "FROZEN".into(),
            _ => "THAWED".into(),
        },
        "hugetlb.2MB.limit_in_bytes" => limit("hugetlb.2MB.max"),
        "cpu.stat" | "cpu.idle" | "cpuset.cpus" | "cpuset.mems" | "pids.max" | "cgroup.procs" => {
            v2(file)
        }
        other => panic!("{other} has no cgroup v2 counterpart: the test must handle v2 itself"),
    }
}

/// The cgroup of `pid` for `controller` as /proc/<pid>/cgroup names it
/// (v2: the one unified entry).
pub fn cgroup_of(pid: i32, controller: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let ours = if cgroup_v2() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        ours.then(|| path.to_string())
    })
}

/// What `cg_read(.., "cpu.shares")` shows for `shares`: the shares on v1,
/// the cpu.weight they convert to on v2 (the conversion runc and crun use).
pub fn shares(shares: u64) -> String {
    if !cgroup_v2() {
        return shares.to_string();
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64)
        .clamp(1, 10000)
        .to_string()
}

/// `beancounters --format json ID`: the container's rows.
pub fn beancounters(env: &TestEnv, id: &str) -> Vec<Value> {
    let o = env.rt(&["beancounters", "--format", "json", id]);
    assert_eq!(o.code, 0, "{o}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(v[0]["id"], id);
    v[0]["resources"].as_array().unwrap().clone()
}

/// Create + start a `sleep` container with the given resources.
pub fn start_with_resources(env: &TestEnv, resources: serde_json::Value) -> (String, Bundle, i32) {
    let id = env.new_id();
    let mut b = env.bundle(&id);
    b.set_args(&["sleep", "1000"]);
    let r = &mut b.config_mut()["linux"]["resources"];
    for (k, v) in resources.as_object().unwrap() {
        r[k] = v.clone();
    }
    env.create(&id, &b);
    env.start(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    (id, b, pid)
}

// ---------------------------------------------------------------------------
// Probes: small static C programs from tests/probes, put into rootfs
// ---------------------------------------------------------------------------

/// Builds `tests/probes/<name>.c` statically for `abi` ("-m64" or "-m32")
/// once per source change, and copies it to `dest`. Built files live in
/// cargo's per-target temp dir, so a machine without gcc (the VM lane)
/// uses the ones the host built.
pub fn install_probe(name: &str, abi: &str, dest: &Path) {
    // Probes live in tests/probes; the in-container checker, which is
    // also a tool of its own, in integration/checker.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = [
        manifest.join(format!("tests/probes/{name}.c")),
        manifest.join(format!("integration/{name}/{name}.c")),
    ]
    .into_iter()
    .find(|p| p.exists())
    .unwrap_or_else(|| panic!("no source for probe {name}"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probes");
    let built = dir.join(format!("{name}{abi}"));
    let fresh = |b: &Path| -> bool {
        match (
            fs::metadata(b).and_then(|m| m.modified()),
            fs::metadata(&src).and_then(|m| m.modified()),
        ) {
            (Ok(b), Ok(s)) => b >= s,
            (Ok(_), Err(_)) => true,
            _ => false,
        }
    };
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !fresh(&built) {
        fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(format!(".{name}{abi}.{}", std::process::id()));
        let out = Command::new("gcc")
            .args([abi, "-static", "-O1", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "run gcc for probe {name} (no built copy at {}): {e}",
                    built.display()
                )
            });
        assert!(
            out.status.success(),
            "gcc {abi} -static {name}.c failed (gcc-multilib for -m32): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::rename(&tmp, &built).unwrap();
    }
    fs::copy(&built, dest).unwrap_or_else(|e| panic!("copy probe to {}: {e}", dest.display()));
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether the running kernel is at least `major.minor` (tmpfs learned
/// idmapped mounts in 6.3; the VMs run 6.1).
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .split(['.', '-'])
        .map(|n| n.trim().parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (major, minor)
}

/// An lxcfs of the test's own, unmounted and stopped (by its pid) at the
/// end.
pub struct Lxcfs {
    pub mnt: PathBuf,
    child: std::process::Child,
}

impl Lxcfs {
    pub fn start(env: &TestEnv) -> Lxcfs {
        let dir = env.mkdir("lxcfs");
        let mnt = dir.join("mnt");
        fs::create_dir_all(&mnt).unwrap();
        let child = Command::new("lxcfs")
            .arg("-f")
            .arg("-p")
            .arg(dir.join("pid"))
            .arg(&mnt)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("log")).unwrap())
            .stderr(Stdio::from(fs::File::create(dir.join("err")).unwrap()))
            .spawn()
            .expect("start lxcfs (Debian's lxcfs package; hack/install-deps.sh installs it)");
        let l = Lxcfs { mnt, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !l.mnt.join("proc/meminfo").exists() {
            assert!(
                Instant::now() < deadline,
                "lxcfs did not mount {} in 20 s: {}",
                l.mnt.display(),
                fs::read_to_string(dir.join("err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        l
    }

    /// The runtime's flag naming this lxcfs.
    pub fn flag(&self) -> String {
        format!("--lxcfs-path={}", self.mnt.display())
    }
}

impl Drop for Lxcfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
