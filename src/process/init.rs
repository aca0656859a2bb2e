//! What the cloned child does until execve, as two flat lists of steps:
//! [`container`] for a new container's init, [`exec`] for one more process
//! in a running container. Each line is one step named for what it does;
//! the work lives in the `linux/` module of its concern, and the child only
//! reads its [`Plan`], never the raw config. The order is runc's standard
//! init's: namespaces; the container's own setup (hostname, sysctls,
//! mounts, devices, createContainer hooks, pivot_root, masks); the process
//! (console, seccomp when no_new_privs is unset, rlimits, user,
//! capabilities, cwd, the executable); the wait for start; then LSM,
//! no_new_privs, seccomp, execve. A failed step is sent to the runtime as a
//! `SetupError` (step, path, errno) and the child exits.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::stat::Mode;
use nix::unistd::{AccessFlags, Gid, Uid, setresgid, setresuid, setsid};

use super::protocol::{self, At, Go, InitEnd, SetupError, SetupResult, StartListener, Step};
use super::spawn::{self, Forked};
use crate::linux::mounts::MountContext;
use crate::linux::namespaces::IdMap;
use crate::linux::{
    capabilities, devices, hooks, lsm, mounts, namespaces, rootfs, sched, shared_root, tty, user,
};
use crate::spec::{Plan, ProcessPlan};

/// What the child has besides its plan: its end of the protocol and what
/// the runtime opened for it.
pub struct InitContext<'a> {
    pub plan: &'a Plan,
    pub end: InitEnd,
    /// `vzrun create`: where `start` will connect. `None` for `vzrun run`
    /// and `exec`, which send Start over the socketpair.
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
    /// The runtime's descriptors the child must close at once: the state
    /// directory's carries the container's flock, which would otherwise be
    /// held for as long as the init lives.
    pub runtime_fds: Vec<RawFd>,
    pub seccomp_listener: Option<&'a OwnedFd>,
    /// For an exec'd process: the root to chroot into (see `Launch`).
    pub root: Option<OwnedFd>,
    /// Bind sources the runtime opened, by index in `plan.mounts`.
    pub mount_sources: Vec<Option<OwnedFd>>,
    /// The runtime joins our cgroup while we mount; wait for `Joined`
    /// before the steps that need it.
    pub joins_during_setup: bool,
}

/// A new container's init. Never returns: it execs the user's process or
/// reports why not and exits.
pub fn container(ctx: InitContext) -> ! {
    let end = &ctx.end;
    let program = container_setup(&ctx).unwrap_or_else(|e| end.fail(e));
    let go = wait_for_start(&ctx, &program).unwrap_or_else(|e| end.fail(e));
    let e = program
        .ready()
        .and_then(|p| run_start_container_hooks(ctx.plan, &go.state, &p.envp).map(|()| p))
        .and_then(|p| exec_program(&ctx, p, &go.state))
        .unwrap_err();
    end.fail_after(&go, e)
}

/// The init's setup, one line per step.
fn container_setup(ctx: &InitContext) -> SetupResult<Program> {
    let plan = ctx.plan;
    close_runtime_fds(ctx);
    ctx.end.wait_continue()?;
    unblock_signals();
    enter_namespaces(ctx)?;
    fork_into_new_pid_or_time_namespace(ctx)?;
    hide_from_the_container()?;
    become_root_in_user_namespace(plan)?;
    new_session()?;
    join_session_keyring(ctx)?;
    nix::sys::stat::umask(Mode::empty());
    set_hostname_and_domainname(plan)?;
    bring_up_loopback(plan)?;
    set_sysctls(plan)?;
    let root = open_root(plan)?;
    mount_all(ctx, &root)?;
    // Devices are made under the container's device cgroup, and the
    // hooks, the process and anything it forks run in its cgroup.
    if ctx.joins_during_setup {
        ctx.end.wait_joined()?;
    }
    make_cwd(plan, &root)?;
    create_devices(plan, &root)?;
    make_dev_readonly(plan, &root)?;
    seal_shared_root(plan, &root)?;
    let state = ctx.end.create_hooks()?;
    run_create_container_hooks(plan, &state)?;
    enter_root(ctx, &root)?;
    mask_paths(plan)?;
    make_paths_readonly(plan)?;
    make_root_readonly(plan)?;
    prepare_process(ctx, true)
}

/// One more process in a running container. Never returns.
pub fn exec(ctx: InitContext) -> ! {
    let end = &ctx.end;
    let program = exec_setup(&ctx).unwrap_or_else(|e| end.fail(e));
    let go = wait_for_start(&ctx, &program).unwrap_or_else(|e| end.fail(e));
    let e = program
        .ready()
        .and_then(|p| exec_program(&ctx, p, &go.state))
        .unwrap_err();
    end.fail_after(&go, e)
}

/// The exec'd process's setup, one line per step.
fn exec_setup(ctx: &InitContext) -> SetupResult<Program> {
    close_runtime_fds(ctx);
    ctx.end.wait_continue()?;
    unblock_signals();
    // The container's processes already run: hidden before we join.
    hide_from_the_container()?;
    enter_namespaces(ctx)?;
    fork_into_new_pid_or_time_namespace(ctx)?;
    enter_shared_root(ctx)?;
    // Again: a change of credentials (joining a user namespace) resets
    // dumpable to fs.suid_dumpable, which some hosts set to 1.
    hide_from_the_container()?;
    new_session()?;
    join_session_keyring(ctx)?;
    prepare_process(ctx, false)
}

/// The process the child will exec, prepared before it reports Ready so
/// that a missing executable fails `create`, not `start`.
enum Program {
    Ready(Exec),
    /// config.json has no process: create succeeds, start reports it
    /// (runtime-spec).
    Missing,
}

impl Program {
    /// The process to exec, or the error `start` reports for a config
    /// without one (before any startContainer hook runs).
    fn ready(self) -> SetupResult<Exec> {
        match self {
            Program::Ready(p) => Ok(p),
            Program::Missing => {
                Err(SetupError::new(Step::Process, "").detail("config.json has no process"))
            }
        }
    }
}

struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    no_new_privs: bool,
}

/// The process steps both lists end with: console (for the init also the
/// container's /dev/console), personality, memory policy, scheduler, I/O
/// priority, cwd, seccomp when no_new_privs is unset, rlimits, user,
/// capabilities, environment and the executable.
fn prepare_process(ctx: &InitContext, init: bool) -> SetupResult<Program> {
    let Some(pp) = &ctx.plan.process else {
        return Ok(Program::Missing);
    };
    set_up_console(ctx, pp, init)?;
    set_scheduling(ctx.plan, pp)?;
    // Before the filter, which may refuse getcwd (runtime-tools' seccomp
    // test does).
    let cwd_reached = enter_cwd(&pp.process, true)?;
    load_seccomp_before_user_switch(ctx, pp)?;
    for r in &pp.rlimits {
        r.apply()?;
    }
    if let Some(c) = &pp.caps {
        c.drop_bounding()?;
        capabilities::keep_caps(true)?;
    }
    let (uid, gid, groups) = resolve_user(pp)?;
    user::fix_stdio_owner(uid, pp.process.terminal().unwrap_or(false));
    user::switch(uid, gid, &groups)?;
    if let Some(c) = &pp.caps {
        capabilities::keep_caps(false)?;
        c.apply()?;
    }
    if !cwd_reached {
        enter_cwd(&pp.process, false)?;
    }
    let u = pp.process.user();
    nix::sys::stat::umask(Mode::from_bits_truncate(u.umask().unwrap_or(0o022)));
    let env = environment(pp, uid);
    let args = pp.process.args().as_ref().expect("checked by the plan");
    let path = find_executable(&args[0], &env)?;
    Ok(Program::Ready(Exec {
        path: c_string(&path)?,
        argv: args.iter().map(|a| c_string(a)).collect::<Result<_, _>>()?,
        envp: env.iter().map(|e| c_string(e)).collect::<Result<_, _>>()?,
        no_new_privs: pp.process.no_new_privileges().unwrap_or(false),
    }))
}

/// Reports Ready and waits for the go: over the start socket for `create`,
/// over the socketpair for `run` and `exec`.
fn wait_for_start(ctx: &InitContext, program: &Program) -> SetupResult<Go> {
    terminate_on_signals();
    ctx.end.wait_for_start(ctx.start.as_ref(), || {
        if let (Program::Ready(p), Some(listener)) = (program, &ctx.start) {
            hand_over_the_wait(ctx, p, listener.as_raw_fd());
        }
        // Waiting here after all: the heap that setup freed goes back to
        // the kernel first.
        // SAFETY: malloc_trim only returns free memory of the allocator to
        // the kernel; no live allocation moves.
        unsafe { libc::malloc_trim(0) };
    })
}

/// A created container waits in vzrun-wait (`waiter`) rather than in this
/// copy of the runtime, when nothing of the runtime is needed after the
/// go: no startContainer hook, no LSM label for the exec, no seccomp
/// listener to hand over with the go's state, and a seccomp filter (if
/// any) already loaded (no_new_privs unset) that lets the hand-over's and
/// vzrun-wait's calls through. [`last_steps_before_exec`] is taken now,
/// the terminating signals blocked first
/// until vzrun-wait has its handlers (a pid 1 drops what it does not
/// handle), and its exec takes this process over. Returns only if that
/// could not be done (a seccomp profile that refuses memfd_create, a
/// host whose memfds may not run); then everything taken now is taken
/// again after the go, and the wait stays here.
fn hand_over_the_wait(ctx: &InitContext, p: &Exec, listener: RawFd) {
    let plan = ctx.plan;
    let label = plan.process.as_ref().is_some_and(|pp| {
        pp.process.apparmor_profile().is_some() || pp.process.selinux_label().is_some()
    });
    let seccomp_stops = plan
        .seccomp
        .as_ref()
        .is_some_and(|f| p.no_new_privs || !super::waiter::allowed_by(f));
    if !plan.hooks.start_container.is_empty() || label || seccomp_stops {
        return;
    }
    let terminating = terminating_signals();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&terminating), None);
    if last_steps_before_exec(ctx, p.no_new_privs).is_ok() {
        let inherit = |on: bool| {
            let flag = if on { 0 } else { libc::FD_CLOEXEC };
            // SAFETY: fcntl on the listener, which we hold; it only sets a
            // flag.
            unsafe { libc::fcntl(listener, libc::F_SETFD, flag) };
        };
        inherit(true);
        let _ = super::waiter::exec(&super::waiter::Handover {
            listener,
            failure: protocol::exec_failure_around_errno(&p.path.to_string_lossy()),
            path: &p.path,
            argv: &p.argv,
            envp: &p.envp,
        });
        inherit(false);
    }
    terminate_on_signals();
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&terminating), None);
}

/// The last steps, after the go: LSM, no_new_privs, descriptors, signals,
/// seccomp when no_new_privs is set, the listener, execve. Returns only on
/// failure.
fn exec_program(ctx: &InitContext, p: Exec, state: &str) -> SetupResult<Infallible> {
    last_steps_before_exec(ctx, p.no_new_privs)?;
    let notify_fd = load_seccomp_last(ctx, p.no_new_privs)?;
    send_notify_fd(ctx, notify_fd, state)?;
    let e = nix::unistd::execve(&p.path, &p.argv, &p.envp).unwrap_err();
    Err(SetupError::new(Step::Exec, p.path.to_string_lossy()).errno(e))
}

/// The steps before execve that need nothing from the go: LSM,
/// no_new_privs, stdio, descriptors, signals. Taken after it, or before
/// the wait when vzrun-wait takes the wait over.
fn last_steps_before_exec(ctx: &InitContext, no_new_privs: bool) -> SetupResult<()> {
    apply_lsm(ctx.plan)?;
    if no_new_privs {
        nix::sys::prctl::set_no_new_privs().at(Step::NoNewPrivileges, "")?;
    }
    crate::linux::fs::reopen_dev_null_stdio().at(Step::Exec, "reopen /dev/null as stdio")?;
    close_on_exec_from(3 + ctx.preserve_fds);
    reset_signals();
    Ok(())
}

// The steps, in the order the lists take them.

fn close_runtime_fds(ctx: &InitContext) {
    for fd in &ctx.runtime_fds {
        let _ = nix::unistd::close(*fd);
    }
}

/// The runtime's blocked signals (`run` blocks them to forward them) must
/// not stay blocked; ignored ones (SIGPIPE) stay ignored until execve, so a
/// hook that does not read its stdin cannot kill the init.
fn unblock_signals() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Enters the namespaces the clone did not create: those joined by path
/// (user namespace first), then new ones by unshare, the id maps of a new
/// user namespace (written by the runtime), and time offsets. A cgroup
/// namespace is made only now that the runtime has put us in the
/// container's cgroup: it is rooted where its creator is.
fn enter_namespaces(ctx: &InitContext) -> SetupResult<()> {
    let ns = &ctx.plan.namespaces;
    if !ctx.staged {
        if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
            ctx.end.map_ids()?;
        }
        if ns.new.contains(CloneFlags::CLONE_NEWCGROUP) {
            namespaces::create(CloneFlags::CLONE_NEWCGROUP)?;
        }
        return Ok(());
    }
    // Every namespace is opened first: once the mount namespace is joined,
    // the paths would resolve in the container's /proc.
    let mut joins = Vec::with_capacity(ns.join.len());
    for (flag, path) in &ns.join {
        joins.push((*flag, namespaces::open(path)?, path.as_path()));
    }
    // The user namespace is first in the list when there is one.
    if let Some(((CloneFlags::CLONE_NEWUSER, user, upath), others)) = joins.split_first() {
        namespaces::check_owned_by(user, upath, others)?;
    }
    for (flag, fd, path) in joins {
        namespaces::join(flag, fd, path)?;
    }
    if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
        namespaces::create(CloneFlags::CLONE_NEWUSER)?;
        ctx.end.map_ids()?;
    }
    let rest = ns.new - CloneFlags::CLONE_NEWUSER;
    if !rest.is_empty() {
        namespaces::create(rest)?;
    }
    if !ns.time_offsets.is_empty() {
        namespaces::write_time_offsets(&ns.time_offsets)?;
    }
    Ok(())
}

/// A pid or time namespace entered by setns/unshare applies only to
/// children: this first stage forks the real process, reports its pid and
/// exits; the child waits until the runtime knows it, since everything it
/// sends must come after the first stage's report.
fn fork_into_new_pid_or_time_namespace(ctx: &InitContext) -> SetupResult<()> {
    let ns = &ctx.plan.namespaces;
    if !ctx.staged || !(ns.has(CloneFlags::CLONE_NEWPID) || ns.has(namespaces::clone_newtime())) {
        return Ok(());
    }
    match spawn::clone(CloneFlags::empty()).at(Step::Fork, "")? {
        Forked::Parent(pid) => {
            ctx.end.forked(pid)?;
            protocol::exit(0)
        }
        Forked::Child => ctx.end.wait_continue(),
    }
}

/// The init's ids are the host's until it sets them; in a user namespace
/// (new, or joined by path) host root is unmapped there, and mounts such
/// as devpts's `gid=5` would overflow.
fn become_root_in_user_namespace(plan: &Plan) -> SetupResult<()> {
    if !plan.namespaces.has(CloneFlags::CLONE_NEWUSER) {
        return Ok(());
    }
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .at(Step::BecomeRoot, "gid 0")?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).at(Step::BecomeRoot, "uid 0")
}

/// No process of the container may open our /proc entries (the runtime's
/// binary among them) or ptrace us. A new container's init does this only
/// after writing its own /proc files (time offsets), which non-dumpable
/// would hand to the host's root; no other process can reach it before.
fn hide_from_the_container() -> SetupResult<()> {
    nix::sys::prctl::set_dumpable(false).at(Step::Dumpable, "")
}

fn new_session() -> SetupResult<()> {
    setsid().map(drop).at(Step::Session, "")
}

/// The container's own session keyring (an exec'd process joins the
/// container's, by its name), so it never sees the caller's keys.
fn join_session_keyring(ctx: &InitContext) -> SetupResult<()> {
    if !ctx.new_keyring {
        return Ok(());
    }
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = c_string(&ctx.plan.id)?;
    // SAFETY: keyctl reads the NUL-terminated name during the call.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    match nix::errno::Errno::result(rc) {
        // Kernels without keys, or seccomp'd hosts: nothing to isolate.
        Ok(_) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        Err(e) => Err(SetupError::new(Step::Keyring, &ctx.plan.id).errno(e)),
    }
}

fn set_hostname_and_domainname(plan: &Plan) -> SetupResult<()> {
    if let Some(h) = &plan.hostname {
        namespaces::set_hostname(h)?;
    }
    if let Some(d) = &plan.domainname {
        namespaces::set_domainname(d)?;
    }
    Ok(())
}

/// A network namespace of the container's own starts with `lo` down;
/// runc brings it up, and programs expect 127.0.0.1 to answer.
fn bring_up_loopback(plan: &Plan) -> SetupResult<()> {
    if plan.namespaces.new.contains(CloneFlags::CLONE_NEWNET) {
        namespaces::loopback_up()?;
    }
    Ok(())
}

fn set_sysctls(plan: &Plan) -> SetupResult<()> {
    for (k, v) in &plan.sysctls {
        namespaces::set_sysctl(k, v)?;
    }
    Ok(())
}

/// The root the mounts go on: the rootfs prepared in our mount namespace,
/// or, without one of the container's own, the runtime's rootfs bind in
/// the caller's table (linux/shared_root.rs). A mount namespace joined by
/// path gets the container's root too, as a fresh one does (runc's
/// behaviour; the namespace's creator chose to share it).
fn open_root(plan: &Plan) -> SetupResult<OwnedFd> {
    match &plan.shared_root {
        Some(at) => rootfs::open_dir(at),
        None => rootfs::prepare(&plan.rootfs, plan.rootfs_propagation),
    }
}

fn mount_all(ctx: &InitContext, root: &OwnedFd) -> SetupResult<()> {
    let plan = ctx.plan;
    let mctx = MountContext {
        root: root.as_fd(),
        user_namespace: plan.namespaces.new.contains(CloneFlags::CLONE_NEWUSER),
        cgroup_path: &plan.cgroup_path,
        new_cgroup_ns: plan.namespaces.has(CloneFlags::CLONE_NEWCGROUP),
    };
    // One user namespace per distinct mapping, as the runtime keeps them.
    let mut userns: Vec<(&mounts::Idmap, OwnedFd)> = Vec::new();
    for (i, m) in plan.mounts.iter().enumerate() {
        let mut opened = ctx.mount_sources.get(i).and_then(Option::as_ref);
        let idmapped;
        if let (Some(idmap), None) = (&m.idmap, opened) {
            idmapped = open_idmapped(plan, i, m, idmap, &mut userns)?;
            opened = Some(&idmapped);
        }
        if dev_made_readonly_later(m) {
            let mut rw = m.clone();
            rw.flags.remove(MsFlags::MS_RDONLY);
            mounts::mount_one(&rw, opened, &mctx)?;
        } else {
            mounts::mount_one(m, opened, &mctx)?;
        }
    }
    Ok(())
}

/// An idmapped bind mount the runtime left to the init: one whose source
/// is inside the rootfs (an earlier mount may cover it), or any when the
/// runtime is unprivileged. The mapping's user namespace is made here, a
/// child of the container's, so that the init holds CAP_SYS_ADMIN over it
/// as the kernel requires; it refuses (EPERM) a filesystem the container's
/// user namespace does not own, such as the host's disks for a rootless
/// container.
fn open_idmapped<'a>(
    plan: &Plan,
    i: usize,
    m: &mounts::MountPlan,
    idmap: &'a mounts::Idmap,
    userns: &mut Vec<(&'a mounts::Idmap, OwnedFd)>,
) -> SetupResult<OwnedFd> {
    let what = format!("mounts[{i}] {}", m.destination.display());
    let at = match userns
        .iter()
        .position(|u| u.0.uids == idmap.uids && u.0.gids == idmap.gids)
    {
        Some(at) => at,
        None => {
            let own = |maps: &[IdMap], ns: &[IdMap], field: &str| {
                if !plan.namespaces.new.contains(CloneFlags::CLONE_NEWUSER) {
                    return Ok(maps.to_vec());
                }
                namespaces::seen_from(maps, ns).map_err(|r| {
                    SetupError::new(Step::Mount, &what).detail(format!(
                        "{field}: host ids {}..{} are not all mapped into the container's \
                         user namespace",
                        r.host,
                        u64::from(r.host) + u64::from(r.size) - 1
                    ))
                })
            };
            let uids = own(&idmap.uids, &plan.namespaces.uid_mappings, "uidMappings")?;
            let gids = own(&idmap.gids, &plan.namespaces.gid_mappings, "gidMappings")?;
            let fd = spawn::user_namespace(&uids, &gids)
                .map_err(|e| SetupError::new(Step::Mount, &what).detail(format!("{e:#}")))?;
            userns.push((idmap, fd));
            userns.len() - 1
        }
    };
    mounts::open_source(m, Some(userns[at].1.as_fd()))
        .map_err(|e| SetupError::new(Step::Mount, &what).detail(format!("{e:#}")))
}

/// A read-only `/dev` of its own is mounted writable and made read-only
/// once the mounts below it and the device nodes are in place.
fn dev_made_readonly_later(m: &mounts::MountPlan) -> bool {
    !m.bind && m.destination == Path::new("/dev") && m.flags.contains(MsFlags::MS_RDONLY)
}

fn make_dev_readonly(plan: &Plan, root: &OwnedFd) -> SetupResult<()> {
    let Some(m) = plan.mounts.iter().rfind(|m| dev_made_readonly_later(m)) else {
        return Ok(());
    };
    let dev =
        crate::linux::fs::open_in_root(root.as_fd(), Path::new("/dev"), nix::fcntl::OFlag::O_PATH)
            .at(Step::Mount, "/dev")?;
    // A remount sets every per-mount flag: the entry's own with ro.
    mounts::remount_bind(&dev, m.remount_flags(), &"/dev")
}

/// runc creates a missing cwd; it must exist inside the rootfs.
fn make_cwd(plan: &Plan, root: &OwnedFd) -> SetupResult<()> {
    let Some(pp) = &plan.process else {
        return Ok(());
    };
    let cwd = pp.process.cwd();
    crate::linux::fs::mkdir_all(root.as_fd(), cwd, 0o755)
        .map(drop)
        .at(Step::Chdir, cwd.display())
}

/// The default devices and `linux.devices`, unless `/dev` is a bind of
/// the host's.
fn create_devices(plan: &Plan, root: &OwnedFd) -> SetupResult<()> {
    let dev_is_bind = plan
        .mounts
        .iter()
        .any(|m| m.bind && m.destination == Path::new("/dev"));
    if dev_is_bind {
        return Ok(());
    }
    // A runtime already in a user namespace (rootless podman's) is refused
    // mknod as much as a container with one of its own.
    let userns = plan.namespaces.has(CloneFlags::CLONE_NEWUSER)
        || !crate::linux::user::in_initial_user_namespace();
    devices::create(root.as_fd(), &plan.devices, userns)?;
    devices::symlinks(root.as_fd())
}

fn seal_shared_root(plan: &Plan, root: &OwnedFd) -> SetupResult<()> {
    if plan.shared_root.is_none() {
        return Ok(());
    }
    shared_root::seal(root.as_fd())
}

fn run_create_container_hooks(plan: &Plan, state: &str) -> SetupResult<()> {
    hooks::run_all(
        "createContainer",
        &plan.hooks.create_container,
        state.as_bytes(),
    )
    .map_err(|e| SetupError::new(Step::Hook, "").detail(format!("{e:#}")))
}

/// pivot_root (or a move with `--no-pivot`) into the rootfs, with the
/// propagation the config asked for (rootfsPropagation; rslave by
/// default); or the chroot into the shared root.
fn enter_root(ctx: &InitContext, root: &OwnedFd) -> SetupResult<()> {
    let plan = ctx.plan;
    if plan.shared_root.is_some() {
        return shared_root::enter(root.as_fd());
    }
    if ctx.no_pivot {
        rootfs::move_root(&plan.rootfs)?;
    } else {
        rootfs::pivot(&plan.rootfs)?;
    }
    rootfs::set_root_propagation(plan.rootfs_propagation)
}

fn mask_paths(plan: &Plan) -> SetupResult<()> {
    for p in &plan.masked_paths {
        rootfs::mask(p)?;
    }
    Ok(())
}

fn make_paths_readonly(plan: &Plan) -> SetupResult<()> {
    for p in &plan.readonly_paths {
        rootfs::readonly(p)?;
    }
    Ok(())
}

fn make_root_readonly(plan: &Plan) -> SetupResult<()> {
    if plan.readonly_root {
        rootfs::readonly_root()?;
    }
    Ok(())
}

/// An exec'd process in a container without a mount namespace: the chroot
/// the init is in.
fn enter_shared_root(ctx: &InitContext) -> SetupResult<()> {
    match &ctx.root {
        Some(root) => shared_root::enter(root.as_fd()),
        None => Ok(()),
    }
}

fn set_up_console(ctx: &InitContext, pp: &ProcessPlan, init: bool) -> SetupResult<()> {
    if !pp.process.terminal().unwrap_or(false) {
        return Ok(());
    }
    let socket = ctx.console.as_ref().ok_or_else(|| {
        SetupError::new(Step::Console, "").detail("process.terminal needs --console-socket")
    })?;
    let size = pp
        .process
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    tty::setup_console(socket, size, init)
}

/// Personality, memory policy, scheduler and I/O priority: before the
/// seccomp filter (profiles restrict personality(2)) and while the child
/// still has the capabilities a real-time class needs.
fn set_scheduling(plan: &Plan, pp: &ProcessPlan) -> SetupResult<()> {
    if let Some(p) = plan.personality {
        sched::set_personality(p)?;
    }
    if let Some(m) = &plan.memory_policy {
        m.apply()?;
    }
    if let Some(s) = &pp.scheduler {
        s.apply()?;
    }
    if let Some(io) = pp.io_priority {
        io.apply()?;
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

/// Without no_new_privs the kernel only takes a filter from a process with
/// CAP_SYS_ADMIN: it is loaded while we still have it, before the user and
/// capabilities are switched (runc's order). The rest of the setup then
/// runs under the filter: a listener fd goes to the agent at once, through
/// the runtime, so that the agent can answer the syscalls it traps.
fn load_seccomp_before_user_switch(ctx: &InitContext, pp: &ProcessPlan) -> SetupResult<()> {
    match &ctx.plan.seccomp {
        Some(f) if !pp.process.no_new_privileges().unwrap_or(false) => {
            ctx.end.load_seccomp_and_hand_over(|| f.load())
        }
        _ => Ok(()),
    }
}

/// The user to become: `process.user`, or a name from `exec --user`
/// looked up in the container's /etc/passwd and /etc/group.
fn resolve_user(pp: &ProcessPlan) -> SetupResult<(u32, u32, Vec<u32>)> {
    let u = pp.process.user();
    let mut groups = u.additional_gids().clone().unwrap_or_default();
    let Some(spec) = &pp.user_lookup else {
        return Ok((u.uid(), u.gid(), groups));
    };
    let (uid, gid, extra) = user::lookup(spec)?;
    groups.extend(extra);
    Ok((uid, gid, groups))
}

/// `process.env`, with HOME from the user's passwd entry when it is unset
/// or empty (runc's rule); a HOME the config gives is kept.
fn environment(pp: &ProcessPlan, uid: u32) -> Vec<String> {
    let mut env: Vec<String> = pp.process.env().clone().unwrap_or_default();
    if !env
        .iter()
        .any(|e| e.strip_prefix("HOME=").is_some_and(|h| !h.is_empty()))
    {
        env.retain(|e| e != "HOME=");
        env.push(format!("HOME={}", user::home_of(uid)));
    }
    env
}

/// Resolves the program the way execvp would, using the container's PATH.
fn find_executable(name: &str, env: &[String]) -> SetupResult<String> {
    // By the effective ids and capabilities, as execve checks: access(2)
    // takes the real ids, and for a user other than root no capability,
    // so it would refuse a user whose CAP_DAC_OVERRIDE lets execve run it.
    // A seccomp profile loaded by now may refuse faccessat2 (EPERM, or
    // ENOSYS that glibc only partly emulates): the real ids' check then.
    let ok = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file())
            && match nix::unistd::faccessat(
                None,
                p,
                AccessFlags::X_OK,
                nix::fcntl::AtFlags::AT_EACCESS,
            ) {
                Err(nix::errno::Errno::EPERM | nix::errno::Errno::ENOSYS) => {
                    nix::unistd::access(p, AccessFlags::X_OK).is_ok()
                }
                r => r.is_ok(),
            }
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

/// startContainer hooks belong to the container's start, not to exec. A
/// hook without an `env` gets the process's environment, HOME included,
/// as under runc.
fn run_start_container_hooks(plan: &Plan, state: &str, envp: &[CString]) -> SetupResult<()> {
    let env: Vec<String> = envp
        .iter()
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    hooks::run_all_inheriting(
        "startContainer",
        &plan.hooks.start_container,
        state.as_bytes(),
        &env,
    )
    .map_err(|e| SetupError::new(Step::Hook, "").detail(format!("{e:#}")))
}

fn apply_lsm(plan: &Plan) -> SetupResult<()> {
    let p = plan.process.as_ref().map(|pp| &pp.process);
    lsm::apply(
        p.and_then(|p| p.apparmor_profile().as_deref()),
        p.and_then(|p| p.selinux_label().as_deref()),
    )
}

/// No descriptor of the runtime's may reach the container: everything past
/// stdio and `--preserve-fds` is closed by execve.
fn close_on_exec_from(first: u32) {
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

/// With no_new_privs the filter is the last step before execve, so a
/// profile need not allow the runtime's own setup; its listener fd goes
/// straight to the agent, with the state the go brought.
fn load_seccomp_last(ctx: &InitContext, no_new_privs: bool) -> SetupResult<Option<OwnedFd>> {
    match &ctx.plan.seccomp {
        Some(f) if no_new_privs => f.load(),
        _ => Ok(None),
    }
}

/// Hands the user-notification fd to the seccomp agent with the container's
/// process state, as the runtime-spec's `listenerPath` describes.
fn send_notify_fd(ctx: &InitContext, fd: Option<OwnedFd>, state: &str) -> SetupResult<()> {
    let notify = ctx.plan.seccomp.as_ref().and_then(|f| f.notify.as_ref());
    let (Some(fd), Some(sock), Some(notify)) = (fd, &ctx.seccomp_listener, notify) else {
        return Ok(());
    };
    notify.send_to_agent(sock, state, fd.as_fd()).map_err(|e| {
        SetupError::new(Step::Seccomp, "")
            .detail("send the notification fd to linux.seccomp.listenerPath")
            .errno(e)
    })
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
    for sig in terminating_signals().iter() {
        // SAFETY: `die` only calls _exit, which is async-signal-safe.
        unsafe {
            libc::signal(
                sig as libc::c_int,
                die as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}

/// The signals that end a waiting init (vzrun-wait handles the same).
fn terminating_signals() -> SigSet {
    use nix::sys::signal::Signal::*;
    [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2]
        .into_iter()
        .collect()
}

/// Refuses a NUL byte naming only what comes before any `=`: an
/// environment variable's value may be a secret.
fn c_string(s: &str) -> SetupResult<CString> {
    CString::new(s).map_err(|_| {
        let name = s.split('=').next().unwrap_or_default();
        SetupError::new(Step::Process, "").detail(format!(
            "NUL byte in {name:?} (an argument, environment variable or id)"
        ))
    })
}
