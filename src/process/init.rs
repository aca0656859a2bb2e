//! The container's init: the ordered setup inside the new namespaces, then
//! the wait for `start`, then execve of the user's process. Each line of
//! [`setup`] is one step; its work lives in the `linux/` module of its
//! concern. Any failure is sent to the runtime as a `SetupError` (step, path,
//! errno) and the init exits.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::stat::Mode;
use nix::unistd::{AccessFlags, Gid, Uid, access, setresgid, setresuid, setsid};

use super::spawn::{self, Forked};
use super::sync::{Channel, StartListener, ToInit, ToParent};
use crate::linux::mounts::MountContext;
use crate::linux::{
    At, SetupError, SetupResult, Step, capabilities, devices, hooks, mounts, namespaces, rootfs,
    shared_root, tty, user,
};
use crate::spec::{Plan, ProcessPlan};

/// What the cloned process becomes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// A new container's init: the whole setup, then the user's process.
    Init,
    /// `vzrun exec`: joins a running container's namespaces and runs one
    /// more process in it.
    Exec,
}

pub struct InitContext<'a> {
    pub plan: &'a Plan,
    pub role: Role,
    pub chan: Channel,
    /// `vzrun create`: where `start` will connect. `None` for `vzrun run`,
    /// which sends Start over `chan` directly.
    pub start: Option<StartListener>,
    pub console: Option<OwnedFd>,
    pub no_pivot: bool,
    /// Namespaces must be entered by setns/unshare (and maybe a fork)
    /// rather than by the clone that made this process.
    pub staged: bool,
    pub preserve_fds: u32,
    /// Give the container a session keyring of its own (unless
    /// `--no-new-keyring`), so it cannot see the runtime's keys.
    pub new_keyring: bool,
    /// The runtime's descriptors the init must close at once: the state
    /// directory's carries the container's flock, which would otherwise be
    /// held for as long as the init lives.
    pub runtime_fds: Vec<std::os::fd::RawFd>,
    pub seccomp_listener: Option<OwnedFd>,
    /// For an exec'd process: the root to chroot into (see `Launch`).
    pub root: Option<OwnedFd>,
}

/// Everything execve needs, prepared before the init reports Ready, so that
/// a missing executable fails `create`, not `start`.
struct Launch {
    /// The seccomp user-notification fd, when the filter was loaded early.
    notify_fd: Option<OwnedFd>,
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    no_new_privs: bool,
}

/// Runs in the cloned child; never returns.
pub fn main(ctx: InitContext) -> ! {
    let launch = match setup(&ctx) {
        Ok(Some(l)) => l,
        // The first stage forked the real init and is done.
        Ok(None) => exit(0),
        Err(e) => fail(&ctx.chan, e),
    };
    let (conn, state) = match wait_for_start(&ctx) {
        Ok(Some(s)) => s,
        // The runtime went away before the container was created.
        Ok(None) => exit(1),
        Err(e) => fail(&ctx.chan, e),
    };
    let e = exec(&ctx, launch, &state);
    fail(conn.as_ref().unwrap_or(&ctx.chan), e)
}

fn setup(ctx: &InitContext) -> SetupResult<Option<Result<Launch, SetupError>>> {
    let plan = ctx.plan;
    for fd in &ctx.runtime_fds {
        let _ = nix::unistd::close(*fd);
    }
    expect_continue(&ctx.chan)?;
    // The runtime's blocked signals (`run` blocks them to forward them) must
    // not stay blocked; ignored ones (SIGPIPE) stay ignored until execve, so
    // a hook that does not read its stdin cannot kill the init.
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // No process of the container may open our /proc entries (the
    // runtime's binary among them) or ptrace us. An exec'd process enters a
    // container whose processes already run, so it hides before it joins;
    // a new container's init first writes its own /proc files (time
    // offsets), which non-dumpable would hand to the host's root, and no
    // other process can reach it before then.
    if ctx.role == Role::Exec {
        set_dumpable(false);
    }
    if !enter_namespaces(ctx)? {
        return Ok(None);
    }
    if let Some(root) = &ctx.root {
        shared_root::enter(root.as_fd())?;
    }
    set_dumpable(false);
    if plan.namespaces.new.contains(CloneFlags::CLONE_NEWUSER) {
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .at(Step::BecomeRoot, "gid 0")?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .at(Step::BecomeRoot, "uid 0")?;
    }
    setsid().at(Step::Console, "setsid")?;
    // The container's own session keyring (an exec'd process joins the
    // container's, by its name), so it never sees the caller's keys.
    if ctx.new_keyring {
        join_session_keyring(&plan.id)?;
    }
    if ctx.role == Role::Init {
        container(ctx)?;
    }

    let Some(pp) = &plan.process else {
        // No process: `start` reports it (runtime-spec: create succeeds).
        return Ok(Some(Err(
            SetupError::new(Step::Process, "").detail("config.json has no process")
        )));
    };
    if pp.process.terminal().unwrap_or(false) {
        let socket = ctx.console.as_ref().ok_or_else(|| {
            SetupError::new(Step::Console, "").detail("process.terminal needs --console-socket")
        })?;
        let size = pp
            .process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        tty::setup_console(socket, size, ctx.role == Role::Init)?;
    }
    // Without no_new_privs the kernel only takes a filter from a process
    // with CAP_SYS_ADMIN: load it while we still have it, before the user
    // and capabilities are switched (runc's order). With no_new_privs it
    // is the last step before execve, so a profile need not allow the
    // runtime's own setup.
    let nnp = pp.process.no_new_privileges().unwrap_or(false);
    // Before the filter, which may refuse getcwd (runtime-tools' seccomp
    // test does).
    let cwd_as_root = enter_cwd(&pp.process, true)?;
    let mut notify_fd = None;
    if let (Some(f), false) = (&plan.seccomp, nnp) {
        notify_fd = f.load()?;
    }
    let mut launch = process(pp, cwd_as_root)?;
    launch.notify_fd = notify_fd;
    Ok(Some(Ok(launch)))
}

/// Enters the namespaces the clone did not create. Returns false in a first
/// stage that forked the real init (pid and time namespaces entered by
/// setns/unshare only apply to children) and must now exit.
fn enter_namespaces(ctx: &InitContext) -> SetupResult<bool> {
    let ns = &ctx.plan.namespaces;
    if !ctx.staged {
        if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
            map_ids(&ctx.chan)?;
        }
        // Only now that the runtime has put us in the container's cgroup:
        // a cgroup namespace is rooted where its creator is.
        if ns.new.contains(CloneFlags::CLONE_NEWCGROUP) {
            namespaces::create(CloneFlags::CLONE_NEWCGROUP)?;
        }
        return Ok(true);
    }
    // Open every namespace first: once the mount namespace is joined, the
    // paths would resolve in the container's /proc.
    let mut joins = Vec::with_capacity(ns.join.len());
    for (flag, path) in &ns.join {
        joins.push((*flag, namespaces::open(path)?, path));
    }
    for (flag, fd, path) in joins {
        namespaces::join(flag, fd, path)?;
    }
    if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
        namespaces::create(CloneFlags::CLONE_NEWUSER)?;
        map_ids(&ctx.chan)?;
    }
    let rest = ns.new - CloneFlags::CLONE_NEWUSER;
    if !rest.is_empty() {
        namespaces::create(rest)?;
    }
    if !ns.time_offsets.is_empty() {
        namespaces::write_time_offsets(&ns.time_offsets)?;
    }
    let time = crate::spec::clone_newtime();
    if ns.has(CloneFlags::CLONE_NEWPID) || ns.has(time) {
        match spawn::clone(CloneFlags::empty()).at(Step::Fork, "")? {
            Forked::Parent(pid) => {
                ctx.chan.send(&ToParent::InitPid(pid)).at(Step::Sync, "")?;
                return Ok(false);
            }
            // Wait until the runtime knows our pid: everything we send
            // from here on must come after the first stage's InitPid.
            Forked::Child => expect_continue(&ctx.chan)?,
        }
    }
    Ok(true)
}

/// The container's own setup, done once by its init: hostname, sysctls,
/// mounts, /dev, createContainer hooks, pivot_root, masked and read-only
/// paths.
fn container(ctx: &InitContext) -> SetupResult<()> {
    let plan = ctx.plan;
    let ns = &plan.namespaces;
    nix::sys::stat::umask(Mode::empty());

    if let Some(h) = plan.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        namespaces::set_hostname(h)?;
    }
    if let Some(d) = plan.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        namespaces::set_domainname(d)?;
    }
    for (k, v) in &plan.sysctls {
        namespaces::set_sysctl(k, v)?;
    }

    // A mount namespace joined by path gets the container's root too, as
    // a fresh one does (runc's behaviour; the namespace's creator chose to
    // share it). Without one, the mounts go on the runtime's rootfs bind in
    // the caller's table (linux/shared_root.rs).
    let root = match &plan.shared_root {
        Some(at) => rootfs::open_dir(at)?,
        None => rootfs::prepare(&plan.rootfs, plan.rootfs_propagation)?,
    };
    let userns = ns.has(CloneFlags::CLONE_NEWUSER);
    let mctx = MountContext {
        root: root.as_fd(),
        cgroup_path: &plan.cgroup_path,
        new_cgroup_ns: ns.has(CloneFlags::CLONE_NEWCGROUP),
    };
    for m in &plan.mounts {
        mounts::mount_one(m, &mctx)?;
    }
    if let Some(pp) = &plan.process {
        // runc creates a missing cwd; it must exist inside the rootfs.
        crate::linux::fs::mkdir_all(root.as_fd(), pp.process.cwd(), 0o755)
            .at(Step::Chdir, pp.process.cwd().display())?;
    }
    let dev_is_bind = plan
        .mounts
        .iter()
        .any(|m| m.bind && m.destination == Path::new("/dev"));
    if !dev_is_bind {
        let linux_devices = plan
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        devices::create(root.as_fd(), &devices::plan(&linux_devices), userns)?;
        devices::symlinks(root.as_fd())?;
    }
    if plan.shared_root.is_some() {
        shared_root::seal(root.as_fd())?;
    }

    ctx.chan.send(&ToParent::CreateHooks).at(Step::Sync, "")?;
    let state = match ctx.chan.recv::<ToInit>() {
        Ok(Some(ToInit::HooksDone { state })) => state,
        Ok(None) => exit(1),
        Ok(Some(other)) => return Err(unexpected("HooksDone", other)),
        Err(e) => return Err(SetupError::new(Step::Sync, "").detail(format!("{e:#}"))),
    };
    if let Some(h) = plan
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().clone())
    {
        hooks::run_all("createContainer", &h, state.as_bytes())
            .map_err(|e| SetupError::new(Step::Hook, "").detail(format!("{e:#}")))?;
    }

    if plan.shared_root.is_some() {
        shared_root::enter(root.as_fd())?;
    } else {
        if ctx.no_pivot {
            rootfs::move_root(&plan.rootfs)?;
        } else {
            rootfs::pivot(&plan.rootfs)?;
        }
        // The container's root gets the propagation the config asked for
        // (rootfsPropagation; rslave by default).
        rootfs::set_root_propagation(plan.rootfs_propagation)?;
    }
    let linux = plan.spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        rootfs::mask(p)?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        rootfs::readonly(p)?;
    }
    if plan.readonly_root {
        rootfs::readonly_root()?;
    }
    Ok(())
}

/// Changes to `process.cwd` and checks that it is inside the container's
/// root: a cwd reached through a descriptor that points outside it
/// (`/proc/self/fd/N`, CVE-2024-21626) makes the kernel report the path as
/// unreachable. As root (`first`) the cwd can be reached even when the
/// user could not reach it (a 0700 directory), as runc tries it too; false
/// then means "try again as the user".
fn enter_cwd(p: &oci_spec::runtime::Process, first: bool) -> SetupResult<bool> {
    if let Err(e) = nix::unistd::chdir(p.cwd()) {
        if first {
            return Ok(false);
        }
        return Err(SetupError::new(Step::Chdir, p.cwd().display()).errno(e));
    }
    if nix::unistd::getcwd().is_err() {
        return Err(SetupError::new(Step::Chdir, p.cwd().display())
            .detail("the directory is outside the container's root"));
    }
    Ok(true)
}

/// Rlimits, user, capabilities, cwd, umask, environment and the executable.
fn process(pp: &ProcessPlan, cwd_as_root: bool) -> SetupResult<Launch> {
    let p = &pp.process;
    for r in &pp.rlimits {
        r.apply()?;
    }
    if let Some(c) = &pp.caps {
        c.drop_bounding()?;
        capabilities::keep_caps(true)?;
    }
    let u = p.user();
    let (uid, gid, mut groups) = (
        u.uid(),
        u.gid(),
        u.additional_gids().clone().unwrap_or_default(),
    );
    let (uid, gid) = match &pp.user_lookup {
        Some(spec) => {
            let (uid, gid, extra) = user::lookup(spec)?;
            groups.extend(extra);
            (uid, gid)
        }
        None => (uid, gid),
    };
    user::fix_stdio_owner(uid, p.terminal().unwrap_or(false));
    user::switch(uid, gid, &groups)?;
    if let Some(c) = &pp.caps {
        capabilities::keep_caps(false)?;
        c.apply()?;
    }
    if !cwd_as_root {
        enter_cwd(p, false)?;
    }
    nix::sys::stat::umask(Mode::from_bits_truncate(u.umask().unwrap_or(0o022)));

    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user::home_of(uid)));
    }
    let args = p.args().as_ref().expect("checked by the plan");
    let path = find_executable(&args[0], &env)?;
    let cstr = |s: &[u8]| {
        CString::new(s)
            .map_err(|_| SetupError::new(Step::Process, "").detail("NUL byte in args or env"))
    };
    Ok(Launch {
        notify_fd: None,
        path: cstr(path.as_bytes())?,
        argv: args
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|e| cstr(e.as_bytes()))
            .collect::<Result<_, _>>()?,
        no_new_privs: p.no_new_privileges().unwrap_or(false),
    })
}

/// Resolves the program the way execvp would, using the container's PATH.
fn find_executable(name: &str, env: &[String]) -> SetupResult<String> {
    let ok = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file()) && access(p, AccessFlags::X_OK).is_ok()
    };
    if name.contains('/') {
        if ok(Path::new(name)) {
            return Ok(name.to_string());
        }
        let errno = match std::fs::metadata(name) {
            Err(e) => nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)),
            Ok(m) if m.is_dir() => nix::errno::Errno::EISDIR,
            Ok(_) => nix::errno::Errno::EACCES,
        };
        return Err(SetupError::new(Step::Executable, name).errno(errno));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(name);
        if ok(&candidate) {
            return Ok(candidate.to_string_lossy().into_owned());
        }
    }
    Err(SetupError::new(Step::Executable, name).detail("executable file not found in $PATH"))
}

/// Reports Ready and waits for the go: over the start socket for `create`,
/// over the sync channel for `run`. Returns the start connection (`None`:
/// the sync channel), on which a failure from here on must be reported, and
/// the state for startContainer hooks.
fn wait_for_start(ctx: &InitContext) -> SetupResult<Option<(Option<Channel>, String)>> {
    terminate_on_signals();
    ctx.chan.send(&ToParent::Ready).at(Step::Sync, "")?;
    let first = ctx
        .chan
        .recv::<ToInit>()
        .map_err(|e| SetupError::new(Step::Sync, "").detail(format!("{e:#}")))?;
    match first {
        None => Ok(None),
        Some(ToInit::Start { state }) => Ok(Some((None, state))),
        Some(ToInit::Created) => {
            // The init of a created container may wait for a long time:
            // give the heap that setup freed back to the kernel first.
            // SAFETY: malloc_trim only returns free memory of the allocator
            // to the kernel; no live allocation moves.
            unsafe { libc::malloc_trim(0) };
            let listener = ctx
                .start
                .as_ref()
                .ok_or_else(|| SetupError::new(Step::Sync, "").detail("no start socket"))?;
            loop {
                let conn = listener.accept().at(Step::Sync, "accept start")?;
                match conn.recv::<ToInit>() {
                    Ok(Some(ToInit::Start { state })) => return Ok(Some((Some(conn), state))),
                    // A connection that says nothing useful is not a start.
                    _ => continue,
                }
            }
        }
        Some(other) => Err(SetupError::new(Step::Sync, "").detail(format!("unexpected {other:?}"))),
    }
}

/// startContainer hooks, then execve. Returns only on failure.
fn exec(ctx: &InitContext, launch: Result<Launch, SetupError>, state: &str) -> SetupError {
    let launch = match launch {
        Ok(l) => l,
        Err(e) => return e,
    };
    // startContainer hooks belong to the container's start, not to exec.
    let init = ctx.role == Role::Init;
    if let Some(h) = ctx
        .plan
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().clone())
        && init
        && let Err(e) = hooks::run_all("startContainer", &h, state.as_bytes())
    {
        return SetupError::new(Step::Hook, "").detail(format!("{e:#}"));
    }
    let p = ctx.plan.process.as_ref().map(|pp| &pp.process);
    if let Err(e) = crate::linux::lsm::apply(
        p.and_then(|p| p.apparmor_profile().as_deref()),
        p.and_then(|p| p.selinux_label().as_deref()),
    ) {
        return e;
    }
    if launch.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return SetupError::new(Step::NoNewPrivileges, "").errno(nix::errno::Errno::last());
        }
    }
    cloexec_from(3 + ctx.preserve_fds);
    reset_signals();
    let mut notify_fd = launch.notify_fd;
    if let (Some(f), true) = (&ctx.plan.seccomp, launch.no_new_privs) {
        match f.load() {
            Ok(fd) => notify_fd = fd,
            Err(e) => return e,
        }
    }
    if let (Some(fd), Some(sock)) = (&notify_fd, &ctx.seccomp_listener)
        && let Err(e) = send_to_listener(ctx, sock, fd, state)
    {
        return e;
    }
    drop(notify_fd);
    let e = nix::unistd::execve(&launch.path, &launch.argv, &launch.envp).unwrap_err();
    SetupError::new(Step::Exec, launch.path.to_string_lossy()).errno(e)
}

/// Hands the user-notification fd to the seccomp agent with the container's
/// process state, as the runtime-spec's `listenerPath` describes.
fn send_to_listener(
    ctx: &InitContext,
    sock: &OwnedFd,
    fd: &OwnedFd,
    state: &str,
) -> SetupResult<()> {
    let state: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
    let metadata = ctx
        .plan
        .seccomp
        .as_ref()
        .and_then(|f| f.notify.as_ref())
        .and_then(|n| n.metadata.clone());
    let mut msg = serde_json::json!({
        "ociVersion": crate::spec::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": state["pid"],
        "state": state,
    });
    if let Some(m) = metadata {
        msg["metadata"] = serde_json::Value::String(m);
    }
    tty::send_fd(sock, &msg.to_string(), std::os::fd::AsRawFd::as_raw_fd(fd)).map_err(|e| {
        SetupError {
            step: Step::Seccomp,
            ..e
        }
        .detail("send the notification fd to linux.seccomp.listenerPath")
    })
}

fn expect_continue(chan: &Channel) -> SetupResult<()> {
    match chan.recv::<ToInit>() {
        Ok(Some(ToInit::Continue)) => Ok(()),
        Ok(None) => exit(1),
        Ok(Some(other)) => Err(unexpected("Continue", other)),
        Err(e) => Err(SetupError::new(Step::Sync, "").detail(format!("{e:#}"))),
    }
}

fn map_ids(chan: &Channel) -> SetupResult<()> {
    chan.send(&ToParent::MapIds).at(Step::Sync, "")?;
    match chan.recv::<ToInit>() {
        Ok(Some(ToInit::MapsDone)) => Ok(()),
        Ok(None) => exit(1),
        Ok(Some(other)) => Err(unexpected("MapsDone", other)),
        Err(e) => Err(SetupError::new(Step::Sync, "").detail(format!("{e:#}"))),
    }
}

fn unexpected(wanted: &str, got: ToInit) -> SetupError {
    SetupError::new(Step::Sync, "").detail(format!("expected {wanted}, got {got:?}"))
}

/// No descriptor of the runtime's may reach the container: everything past
/// stdio and `--preserve-fds` is closed by execve.
fn cloexec_from(first: u32) {
    // SAFETY: close_range with integer arguments; it only sets flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: mark each open one.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd >= first as i32) {
        // SAFETY: fcntl on an integer descriptor; a stale one just fails.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// Ignored signals (Rust ignores SIGPIPE) and the handlers of the wait for
/// start must not reach the container's process.
fn reset_signals() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: restoring the default disposition installs no handler.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// While a created container waits for start, its init is pid 1 of its pid
/// namespace, and the kernel drops signals pid 1 has no handler for: a
/// `vzrun kill` with SIGTERM would do nothing. These handlers make the
/// usual termination signals end the init, as they would end any process.
fn terminate_on_signals() {
    extern "C" fn die(sig: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) }
    }
    for sig in [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: `die` only calls _exit, which is async-signal-safe.
        unsafe { libc::signal(sig, die as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}

fn join_session_keyring(name: &str) -> SetupResult<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name =
        CString::new(name).map_err(|_| SetupError::new(Step::Process, "").detail("NUL in id"))?;
    // SAFETY: keyctl reads the NUL-terminated name during the call.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    match nix::errno::Errno::result(rc) {
        // Kernels without keys, or seccomp'd hosts: nothing to isolate.
        Ok(_) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        Err(e) => Err(SetupError::new(Step::Process, "")
            .detail("join session keyring")
            .errno(e)),
    }
}

fn set_dumpable(on: bool) {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) };
}

fn fail(chan: &Channel, e: SetupError) -> ! {
    let _ = chan.send(&ToParent::Failed(e));
    exit(1)
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process at once: no destructors or atexit
    // handlers of the runtime run in the container's init.
    unsafe { libc::_exit(code) }
}
