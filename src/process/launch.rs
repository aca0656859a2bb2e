//! The runtime's side of starting a process in a container, shared by
//! `create`/`run` (a container's init) and `exec` (one more process): clone
//! the child, then answer it through the protocol until it is Ready.

use std::os::fd::{AsFd, OwnedFd, RawFd};

use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::init::{self, InitContext};
use super::protocol::{self, Answers, RuntimeEnd, StartListener};
use super::spawn::{self, Children, Forked};
use crate::linux::namespaces;
use crate::spec::Plan;

/// What the cloned process becomes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// A new container's init: the whole setup, then the user's process.
    Init,
    /// `vzrun exec`: joins a running container's namespaces and runs one
    /// more process in it.
    Exec,
}

/// How to start the child: everything it needs besides the plan.
pub struct Launch<'a> {
    pub plan: &'a Plan,
    pub role: Role,
    pub start: Option<StartListener>,
    pub console: Option<OwnedFd>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub new_keyring: bool,
    /// Descriptors of ours the child must close at once (the state dir's,
    /// which carries the container's flock).
    pub runtime_fds: Vec<RawFd>,
    /// Connected to `linux.seccomp.listenerPath` when the filter notifies.
    pub seccomp_listener: Option<&'a OwnedFd>,
    /// `exec` into a container without a mount namespace: its init's root,
    /// to chroot into (joining the namespaces does not get there).
    pub root: Option<OwnedFd>,
    /// The runtime lets the child go before it joins the cgroup, and sends
    /// `Joined` once it has ([`joins_during_setup`]).
    pub joins_during_setup: bool,
}

/// Whether a new container's init may set up while the runtime joins it
/// to its cgroup: on cgroupfs v1, where the first write of a new process
/// to a cgroup.procs waits for an RCU grace period, and only when nothing
/// before its mounts depends on the cgroup or on the runtime: the init
/// makes no cgroup namespace (rooted where its creator is), no user
/// namespace (its id maps are an answer of the runtime's), and joins
/// nothing by setns. The init waits for `Joined` before /dev and
/// everything after.
pub fn joins_during_setup(plan: &Plan, cgroup_in_two_steps: bool) -> bool {
    let ns = &plan.namespaces;
    cgroup_in_two_steps
        && !crate::linux::user::rootless()
        && ns.join.is_empty()
        && !ns.new.intersects(
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWCGROUP | namespaces::clone_newtime(),
        )
}

/// Clones the child, which then waits for [`RuntimeEnd::go`]. Returns our
/// end of the protocol and the child's pid, also pushed to `children`.
pub fn spawn(l: Launch, children: &mut Children) -> Result<(RuntimeEnd, i32)> {
    // Before the child exists, so that it inherits the host's procfs and
    // never looks /proc up inside a mount namespace its config shaped.
    crate::linux::procfs::pin().context("open the host's /proc")?;
    let mount_sources = match l.role {
        Role::Init => open_mount_sources(l.plan)?,
        Role::Exec => Vec::new(),
    };
    let (mut runtime_end, init_end) = protocol::pair()?;
    runtime_end.allow_hooks(crate::linux::hooks::in_container_timeouts(
        l.plan.spec.hooks().as_ref(),
    ));
    let ns = &l.plan.namespaces;
    // The common case creates every namespace in the clone itself; joining
    // by path or offsetting time needs setns/unshare in the child first. A
    // cgroup namespace is rooted at the cgroup its creator is in, so the
    // child unshares it only after the runtime moved it into its cgroup.
    let staged = !ns.join.is_empty() || ns.new.contains(namespaces::clone_newtime());
    let flags = if staged {
        CloneFlags::empty()
    } else {
        ns.new - CloneFlags::CLONE_NEWCGROUP
    };
    spawn::become_subreaper().context("become the subreaper of the container's processes")?;
    let pid = match spawn::clone(flags).with_context(|| {
        format!(
            "clone the container's process (namespaces: {})",
            namespaces::names(flags)
        )
    })? {
        Forked::Child => {
            drop(runtime_end);
            let ctx = InitContext {
                plan: l.plan,
                end: init_end,
                start: l.start,
                console: l.console,
                no_pivot: l.no_pivot,
                staged,
                preserve_fds: l.preserve_fds,
                new_keyring: l.new_keyring,
                runtime_fds: l.runtime_fds,
                seccomp_listener: l.seccomp_listener,
                root: l.root,
                mount_sources,
                joins_during_setup: l.joins_during_setup,
            };
            match l.role {
                Role::Init => init::container(ctx),
                Role::Exec => init::exec(ctx),
            }
        }
        Forked::Parent(pid) => pid,
    };
    crate::logging::debug(format!(
        "container {}: cloned {} pid {pid} (namespaces: {}; {})",
        l.plan.id,
        match l.role {
            Role::Init => "init",
            Role::Exec => "exec process",
        },
        namespaces::names(flags),
        if staged {
            "joins or unshares the rest itself"
        } else {
            "all made by clone3"
        }
    ));
    children.push(pid);
    Ok((runtime_end, pid))
}

/// The bind mount sources the runtime opens for the init, by index in
/// `plan.mounts` (`mounts::open_source`): every idmapped one, and in a new
/// user namespace made by a privileged runtime every bind, whose source
/// the mapped root may not be able to reach. A source inside the rootfs is
/// left to the init (idmapped there too): an earlier mount of the
/// container may cover it, and mount order must count.
fn open_mount_sources(plan: &Plan) -> Result<Vec<Option<OwnedFd>>> {
    // Rootless, the runtime reaches no more than the container's root
    // does (it is that user), and open_tree needs privileges it lacks: the
    // init, root of the container's user namespace, makes idmapped mounts
    // where the kernel lets it (filesystems that namespace owns).
    let rootless = crate::linux::user::rootless();
    let new_userns = plan.namespaces.new.contains(CloneFlags::CLONE_NEWUSER) && !rootless;
    // One user namespace per distinct mapping.
    let mut userns: Vec<(&crate::linux::mounts::Idmap, OwnedFd)> = Vec::new();
    let mut out = Vec::with_capacity(plan.mounts.len());
    for (i, m) in plan.mounts.iter().enumerate() {
        let inside_rootfs = m
            .source
            .as_ref()
            .is_some_and(|s| s.starts_with(&plan.rootfs));
        if !m.bind || inside_rootfs || rootless || !(new_userns || m.idmap.is_some()) {
            out.push(None);
            continue;
        }
        let ns = match &m.idmap {
            None => None,
            Some(idmap) => {
                let same = |u: &(&crate::linux::mounts::Idmap, OwnedFd)| {
                    u.0.uids == idmap.uids && u.0.gids == idmap.gids
                };
                let at = match userns.iter().position(same) {
                    Some(at) => at,
                    None => {
                        let fd = spawn::user_namespace(&idmap.uids, &idmap.gids)
                            .with_context(|| format!("mounts[{i}]"))?;
                        userns.push((idmap, fd));
                        userns.len() - 1
                    }
                };
                Some(std::os::fd::AsFd::as_fd(&userns[at].1))
            }
        };
        out.push(Some(
            crate::linux::mounts::open_source(m, ns).with_context(|| format!("mounts[{i}]"))?,
        ));
        crate::logging::debug(format!(
            "container {}: mounts[{i}]: opened {} for the init{}",
            plan.id,
            m.source
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display(),
            if m.idmap.is_some() { ", idmapped" } else { "" }
        ));
    }
    Ok(out)
}

/// Connects to the seccomp listener before the child exists: once inside
/// the container, the path would no longer resolve on the host.
pub fn seccomp_listener(plan: &Plan) -> Result<Option<OwnedFd>> {
    let Some(n) = plan.seccomp.as_ref().and_then(|f| f.notify.as_ref()) else {
        return Ok(None);
    };
    let s = crate::linux::tty::connect(&n.listener_path)
        .with_context(|| format!("linux.seccomp.listenerPath {}", n.listener_path.display()))?;
    Ok(Some(s))
}

/// The seccomp agent of a filter that notifies, for a listener fd the
/// child hands over during setup: the connection to `listenerPath` and the
/// container's state to send with the fd of process `pid`.
pub struct Agent<'a> {
    pub socket: &'a OwnedFd,
    pub state: &'a dyn Fn(i32) -> String,
}

/// Answers the child, once let go ([`RuntimeEnd::go`]), until it reports
/// Ready; returns the pid of the process that will exec (the first
/// stage's child when it forked). `create_hooks` runs prestart and createRuntime hooks for that
/// pid and returns the state the createContainer hooks get.
pub fn until_ready(
    end: &RuntimeEnd,
    plan: &Plan,
    first: i32,
    children: &mut Children,
    agent: Option<Agent>,
    create_hooks: &mut dyn FnMut(i32) -> Result<String>,
) -> Result<i32> {
    end.until_ready(
        first,
        &mut Runtime {
            plan,
            children,
            agent,
            create_hooks,
        },
    )
}

/// The runtime's answers to the child.
struct Runtime<'a> {
    plan: &'a Plan,
    children: &'a mut Children,
    agent: Option<Agent<'a>>,
    create_hooks: &'a mut dyn FnMut(i32) -> Result<String>,
}

impl Answers for Runtime<'_> {
    fn map_ids(&mut self, pid: i32) -> Result<()> {
        let ns = &self.plan.namespaces;
        namespaces::write_id_maps(pid, &ns.uid_mappings, &ns.gid_mappings)?;
        crate::logging::debug(format!(
            "container {}: wrote the uid and gid maps of pid {pid}",
            self.plan.id
        ));
        Ok(())
    }

    fn forked(&mut self, stage1: i32, init: i32) {
        crate::logging::debug(format!(
            "container {}: first stage {stage1} forked pid {init} into the new pid or time namespace",
            self.plan.id
        ));
        // The first stage exits once it has forked the real process.
        let _ = waitpid(Pid::from_raw(stage1), None);
        self.children.forget(stage1);
        self.children.push(init);
    }

    fn create_hooks(&mut self, pid: i32) -> Result<String> {
        (self.create_hooks)(pid)
    }

    fn seccomp_fd(&mut self, pid: i32, fd: OwnedFd) -> Result<()> {
        let notify = self.plan.seccomp.as_ref().and_then(|f| f.notify.as_ref());
        let (Some(agent), Some(notify)) = (&self.agent, notify) else {
            anyhow::bail!("internal: a seccomp fd without linux.seccomp.listenerPath");
        };
        notify
            .send_to_agent(agent.socket, &(agent.state)(pid), fd.as_fd())
            .with_context(|| {
                format!(
                    "send the seccomp notification fd to linux.seccomp.listenerPath {}",
                    notify.listener_path.display()
                )
            })?;
        crate::logging::debug(format!(
            "container {}: handed pid {pid}'s seccomp notification fd to the agent",
            self.plan.id
        ));
        Ok(())
    }

    fn exited(&mut self, pid: i32) -> String {
        let note = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, c)) => format!(" (exit status {c})"),
            Ok(WaitStatus::Signaled(_, s, _)) => format!(" (killed by {s})"),
            _ => String::new(),
        };
        self.children.forget(pid);
        note
    }
}
