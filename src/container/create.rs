//! `create` (and the first half of `run`): the runtime's side of the
//! protocol in `process::protocol`. Any failure kills what was started and
//! removes the cgroup and the state directory, so the host is as before.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::hook_state;
use crate::cgroups::Cgroup;
use crate::linux::{hooks, shared_root};
use crate::process::launch::{self, Launch, Role};
use crate::process::protocol::{RuntimeEnd, StartListener};
use crate::process::spawn::Children;
use crate::spec::{self, Placement, Plan};
use crate::state::{START_SOCKET, State, StateDir, Status};

pub struct CreateOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub console_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub pidfd_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub defaults: super::Defaults,
    /// `run` in the foreground: a terminal without `--console-socket` is
    /// proxied by the runtime itself.
    pub foreground: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `vzrun create`: the init waits on the start socket.
    Create,
    /// `vzrun run`: the caller starts the init over the returned channel.
    Run,
}

/// A container whose init has finished setup.
pub struct Created {
    pub dir: StateDir,
    pub state: State,
    /// The runtime's end of the protocol; `run` starts the init over it.
    pub end: RuntimeEnd,
    /// For a terminal in the foreground: where the pty master arrives.
    pub pty_socket: Option<OwnedFd>,
}

pub fn create(o: &CreateOpts, mode: Mode) -> Result<Created> {
    let id = o.id;
    crate::state::check_id(id)?;
    let plan = spec::load(
        o.bundle,
        id,
        &Placement {
            state_dir: &o.root.join(id),
            defaults: &o.defaults,
        },
    )?;
    crate::logging::debug(format!("container {id}: config.json read and checked"));
    if let Some(f) = &plan.seccomp {
        crate::logging::debug(format!(
            "container {id}: seccomp filter of {} instructions",
            f.instructions()
        ));
    }
    let terminal = plan
        .process
        .as_ref()
        .is_some_and(|p| p.process.terminal().unwrap_or(false));
    let (console, pty_socket) = console(terminal, o.console_socket, o.foreground)
        .with_context(|| format!("container {id}"))?;
    // Recorded before anything runs, so that `delete --force` can clean up
    // after a create that was itself killed.
    let (dir, cgroup, state) = new_container(o.root, id, &plan, !o.no_new_keyring)?;
    let mut l = Launching {
        state,
        children: Children::default(),
        hooks_ran: false,
    };
    let result = dir
        .save(&l.state)
        .inspect(|()| {
            crate::logging::debug(format!("container {id}: state directory recorded"));
            super::crash::point("create:recorded")
        })
        .and_then(|()| build(o, mode, &plan, &dir, &cgroup, console, &mut l));
    let Launching {
        state,
        mut children,
        hooks_ran,
    } = l;
    match result {
        Ok(end) => {
            children.keep();
            Ok(Created {
                dir,
                state,
                end,
                pty_socket,
            })
        }
        Err(e) => {
            children.kill_all();
            if state.shared_root
                && let Err(me) = shared_root::release(&dir.path.join(shared_root::DIR))
            {
                // The state stays, so that `delete --force` can try again
                // rather than the bind being forgotten.
                crate::logging::warn(format!(
                    "container {id}: cleanup: {me:#}; `delete --force {id}` retries"
                ));
                return Err(e.context(format!("container {id}")));
            }
            if state.cgroup_owned
                && let Err(ce) = cgroup.remove()
            {
                crate::logging::warn(format!("container {id}: cleanup: {ce:#}"));
            }
            if let Err(qe) = super::lift_disk_quota(&state) {
                crate::logging::warn(format!("container {id}: cleanup: {qe:#}"));
            }
            // Once prestart/createRuntime hooks ran (say, network setup),
            // poststop hooks must undo them (runtime-spec: "continue the
            // lifecycle at delete").
            if hooks_ran {
                super::run_poststop(&state);
            }
            let _ = dir.remove();
            Err(e.context(format!("container {id}")))
        }
    }
}

/// The state directory, the cgroup and the first state of a container
/// being made (`create`, `restore`): a cgroup with processes in it is
/// refused, and on any error the directory is gone again.
pub fn new_container(
    root: &Path,
    id: &str,
    plan: &Plan,
    new_keyring: bool,
) -> Result<(StateDir, Cgroup, State)> {
    let dir = StateDir::create(root, id)?;
    let (cgroup_exists, cgroup_busy) = crate::cgroups::probe(&plan.cgroup_path);
    if cgroup_busy {
        let _ = dir.remove();
        bail!(
            "container {id}: linux.cgroupsPath {}: the cgroup already has processes in it",
            plan.cgroup_path.display()
        );
    }
    if cgroup_exists && crate::cgroups::frozen(&plan.cgroup_path) {
        let _ = dir.remove();
        bail!(
            "container {id}: linux.cgroupsPath {}: the cgroup is frozen, and the container's \
             process could never run in it (thaw it, or use another path)",
            plan.cgroup_path.display()
        );
    }
    if !cgroup_exists
        && let Err(e) = dir.write_file(
            crate::state::CGROUP_FILE,
            plan.cgroup_path.as_os_str().as_encoded_bytes(),
        )
    {
        let _ = dir.remove();
        return Err(e.context(format!("container {id}")));
    }
    let cgroup = match &plan.systemd_unit {
        Some(unit) => Cgroup::systemd(unit, &plan.cgroup_path, id),
        None => Ok(Cgroup::new(&plan.cgroup_path, id)),
    };
    let cgroup = match cgroup {
        Ok(c) => c,
        Err(e) => {
            let _ = dir.remove();
            return Err(e.context(format!("container {id}")));
        }
    };
    let state = State {
        id: id.to_string(),
        pid: 0,
        start_time: 0,
        status: Status::Creating,
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.clone(),
        created: crate::logging::rfc3339(SystemTime::now(), true),
        owner: String::new(),
        cgroup_path: plan.cgroup_path.clone(),
        cgroup_owned: !cgroup_exists,
        systemd_unit: plan.systemd_unit.clone(),
        new_keyring,
        shared_root: false,
        no_cgroup: false,
        disk_quota: None,
        config: plan.spec.clone(),
        abandoned: false,
    };
    Ok((dir, cgroup, state))
}

/// Puts the init in its cgroup; false when an unprivileged caller has no
/// cgroup it may write (rootless without delegation), as runc does: the
/// container then runs in the caller's cgroup, unless the config asks for
/// limits, which are refused by name rather than dropped.
fn join_cgroup(
    plan: &Plan,
    cgroup: &Cgroup,
    pid: i32,
    state: &mut State,
    dirs_made: bool,
) -> Result<bool> {
    let joined = if dirs_made {
        cgroup.enter_made(pid)
    } else {
        cgroup.join(pid)
    };
    let err = match joined {
        Ok(()) => {
            crate::logging::debug(format!(
                "container {}: pid {pid} joined cgroup {}",
                plan.id,
                plan.cgroup_path.display()
            ));
            return Ok(true);
        }
        Err(e) => e,
    };
    if !super::permission_denied(&err) || !crate::linux::user::rootless() {
        return Err(err);
    }
    if let Some(field) = crate::cgroups::limits_set(&plan.resources) {
        return Err(err.context(format!(
            "linux.resources.{field}: an unprivileged user has no cgroup to enforce it in \
             (delegate a cgroup v2 subtree to the user, or use --systemd-cgroup with the \
             user's systemd)"
        )));
    }
    crate::logging::debug(format!(
        "container {}: rootless, no cgroup of its own ({err:#})",
        plan.id
    ));
    state.cgroup_owned = false;
    state.no_cgroup = true;
    Ok(false)
}

/// A create in progress: the state to record, and what a failure must
/// undo.
struct Launching {
    state: State,
    children: Children,
    hooks_ran: bool,
}

fn build(
    o: &CreateOpts,
    mode: Mode,
    plan: &Plan,
    dir: &StateDir,
    cgroup: &Cgroup,
    console: Option<OwnedFd>,
    l: &mut Launching,
) -> Result<RuntimeEnd> {
    if let Some(at) = &plan.shared_root {
        // Recorded first: a crash after the bind leaves it findable.
        l.state.shared_root = true;
        dir.save(&l.state)?;
        shared_root::bind(&plan.rootfs, at)?;
    }
    super::set_disk_quota(plan, &mut l.state, dir)?;
    let start = match mode {
        Mode::Create => Some(
            StartListener::bind(&dir.short_path(START_SOCKET)).with_context(|| {
                format!("start socket {}", dir.path.join(START_SOCKET).display())
            })?,
        ),
        Mode::Run => None,
    };
    let agent = launch::seccomp_listener(plan)?;
    let joins_during_setup = launch::joins_during_setup(plan, cgroup.in_two_steps());
    let (end, pid) = launch::spawn(
        Launch {
            plan,
            role: Role::Init,
            start,
            console,
            no_pivot: o.no_pivot,
            preserve_fds: o.preserve_fds,
            new_keyring: !o.no_new_keyring,
            runtime_fds: vec![dir.raw_fd()],
            seccomp_listener: agent.as_ref(),
            root: None,
            joins_during_setup,
        },
        &mut l.children,
    )?;

    // Not the caller's CPU mask: the cpuset's (runc 1.2+ does the same).
    crate::linux::sched::start_affinity(pid, None).context("reset the init's CPU affinity")?;
    if joins_during_setup {
        // The directories first: the container's cgroup mounts bind them.
        cgroup.make_dirs()?;
        end.go().context("start the container's init")?;
    }
    if join_cgroup(plan, cgroup, pid, &mut l.state, joins_during_setup)? {
        // Device rules need CAP_SYS_ADMIN (v1) or a BPF program (v2):
        // rootless, the user namespace keeps devices out instead, as
        // under runc.
        let rootless = crate::linux::user::rootless();
        let stripped;
        let resources = if rootless {
            let mut r = plan.resources.clone();
            r.set_devices(None);
            stripped = r;
            &stripped
        } else {
            &plan.resources
        };
        let no_oom_kill = resources
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .unwrap_or(false);
        if rootless && crate::cgroups::unified() && plan.systemd_unit.is_none() {
            cgroup.apply_delegated_v2(resources)?;
        } else {
            cgroup.apply(resources, no_oom_kill)?;
        }
        crate::logging::debug(format!("container {}: linux.resources applied", plan.id));
    }
    super::crash::point("create:cloned");
    if let Some(adj) = plan
        .process
        .as_ref()
        .and_then(|p| p.process.oom_score_adj())
    {
        super::set_oom_score_adj(pid, adj)?;
    }
    if joins_during_setup {
        // An init whose setup failed meanwhile has closed its end: its
        // Failed message, read next, says why.
        let _ = end.joined();
    } else {
        end.go().context("start the container's init")?;
    }

    let hooks_ran = &mut l.hooks_ran;
    let agent_state = |pid| hook_state(plan, pid, Status::Creating);
    let agent = agent.as_ref().map(|socket| launch::Agent {
        socket,
        state: &agent_state,
    });
    let init_pid = launch::until_ready(&end, plan, pid, &mut l.children, agent, &mut |init_pid| {
        // Before the hooks, which may expect them (runc moves them then).
        crate::linux::netdev::move_into(init_pid, &plan.net_devices)?;
        for d in &plan.net_devices {
            crate::logging::debug(format!(
                "container {}: linux.netDevices: {} moved in as {}",
                plan.id, d.host, d.name
            ));
        }
        crate::logging::debug(format!(
            "container {}: init {init_pid} set up its mounts; running the prestart and \
             createRuntime hooks",
            plan.id
        ));
        *hooks_ran = true;
        // The runtime environment exists by now (the hooks' precondition),
        // so the state says created, as crun and runtime-tools expect.
        let state = hook_state(plan, init_pid, Status::Created);
        if let Some(h) = plan.spec.hooks() {
            let state = state.as_bytes();
            hooks::run_all("prestart", h.prestart().as_deref().unwrap_or(&[]), state)?;
            let create_runtime = h.create_runtime().as_deref().unwrap_or(&[]);
            hooks::run_all("createRuntime", create_runtime, state)?;
        }
        super::crash::point("create:hooks");
        Ok(state)
    })?;

    super::crash::point("create:ready");
    let (start_time, _) = super::status::process_start_time(init_pid)
        .context("the container's init exited during setup")?;
    l.state.pid = init_pid;
    l.state.start_time = start_time;
    l.state.status = Status::Created;
    // `run` goes on to start at once and records `running` there: one
    // write and rename of state.json less (a run killed before it leaves
    // `creating`, which delete cleans up like any abandoned create).
    if mode == Mode::Create {
        dir.save(&l.state)?;
    }
    crate::logging::debug(format!("container {}: created, init pid {init_pid}", o.id));
    super::crash::point("create:saved");
    if let Some(p) = o.pid_file {
        write_pid_file(p, init_pid)?;
    }
    if let Some(s) = o.pidfd_socket {
        super::send_pidfd(s, init_pid)?;
    }
    if mode == Mode::Create {
        end.created()?;
    }
    Ok(end)
}

/// Where the process's pty master goes: the `--console-socket`, or, for a
/// terminal in the foreground, our own end of a socketpair. Returns the
/// child's end and ours.
pub fn console(
    terminal: bool,
    socket: Option<&Path>,
    foreground: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    match (terminal, socket) {
        (true, Some(p)) => Ok((Some(connect_console(p)?), None)),
        (true, None) if foreground => {
            use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
            let (ours, theirs) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .context("socketpair for the terminal")?;
            Ok((Some(theirs), Some(ours)))
        }
        (true, None) => bail!(
            "process.terminal is true: --console-socket is needed when the runtime does not stay in the foreground"
        ),
        (false, Some(_)) => bail!("--console-socket needs process.terminal to be true"),
        (false, None) => Ok((None, None)),
    }
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("--console-socket {}", path.display()))?;
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_socket() {
        bail!("--console-socket {}: not a socket", path.display());
    }
    crate::linux::tty::connect(path)
        .with_context(|| format!("--console-socket {}: connect", path.display()))
}

/// Written via a temporary file and rename, so a reader never sees a
/// partial pid (containerd polls for this file).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs: PathBuf = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let name = abs.file_name().context("--pid-file: not a file name")?;
    let tmp = abs.with_file_name(format!(".{}", name.to_string_lossy()));
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("--pid-file {}", tmp.display()))?;
    std::fs::rename(&tmp, &abs).with_context(|| format!("--pid-file {}", abs.display()))
}
