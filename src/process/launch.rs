//! The runtime's side of creating a process in a container, shared by
//! `create`/`run` (a container's init) and `exec` (one more process): clone
//! the child, then drive it through the `sync` protocol until it is Ready.

use std::os::fd::{OwnedFd, RawFd};

use anyhow::{Context, Result, bail};
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::init::{self, InitContext, Role};
use super::spawn::{self, Forked};
use super::sync::{Channel, StartListener, ToInit, ToParent};
use crate::linux::namespaces;
use crate::spec::Plan;

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
    pub seccomp_listener: Option<OwnedFd>,
    /// `exec` into a container without a mount namespace: its init's root,
    /// to chroot into (joining the namespaces does not get there).
    pub root: Option<OwnedFd>,
}

/// Clones the child, which then waits for `ToInit::Continue`. Returns our
/// end of the sync channel and the child's pid, also pushed to `started`.
pub fn spawn(l: Launch, started: &mut Vec<i32>) -> Result<(Channel, i32)> {
    // Before the child exists, so that it inherits the host's procfs and
    // never looks /proc up inside a mount namespace its config shaped.
    crate::linux::procfs::pin().context("open the host's /proc")?;
    let (chan, child_chan) = Channel::pair()?;
    let ns = &l.plan.namespaces;
    // The common case creates every namespace in the clone itself; joining
    // by path or offsetting time needs setns/unshare in the child first. A
    // cgroup namespace is rooted at the cgroup its creator is in, so the
    // child unshares it only after the runtime moved it into its cgroup.
    let staged = !ns.join.is_empty() || ns.new.contains(crate::spec::clone_newtime());
    let flags = if staged {
        CloneFlags::empty()
    } else {
        ns.new - CloneFlags::CLONE_NEWCGROUP
    };
    spawn::become_subreaper();
    let pid = match spawn::clone(flags).with_context(|| {
        format!(
            "clone the container's process (namespaces: {})",
            namespaces::names(flags)
        )
    })? {
        Forked::Child => {
            drop(chan);
            init::main(InitContext {
                plan: l.plan,
                role: l.role,
                chan: child_chan,
                start: l.start,
                console: l.console,
                no_pivot: l.no_pivot,
                staged,
                preserve_fds: l.preserve_fds,
                new_keyring: l.new_keyring,
                runtime_fds: l.runtime_fds,
                seccomp_listener: l.seccomp_listener,
                root: l.root,
            })
        }
        Forked::Parent(pid) => pid,
    };
    started.push(pid);
    Ok((chan, pid))
}

/// Connects to the seccomp listener before the child exists: once inside
/// the container, the path would no longer resolve on the host.
pub fn seccomp_listener(plan: &Plan) -> Result<Option<OwnedFd>> {
    let Some(n) = plan.seccomp.as_ref().and_then(|f| f.notify.as_ref()) else {
        return Ok(None);
    };
    let s = std::os::unix::net::UnixStream::connect(&n.listener_path)
        .with_context(|| format!("linux.seccomp.listenerPath {}", n.listener_path.display()))?;
    Ok(Some(OwnedFd::from(s)))
}

/// Answers the child's requests until it reports Ready; returns the pid of
/// the process that will exec (the first stage's child when it forked).
/// `create_hooks` runs prestart and createRuntime hooks for that pid and
/// returns the state the createContainer hooks get.
pub fn until_ready(
    chan: &Channel,
    plan: &Plan,
    first: i32,
    started: &mut Vec<i32>,
    create_hooks: &mut dyn FnMut(i32) -> Result<String>,
) -> Result<i32> {
    let ns = &plan.namespaces;
    let mut pid = first;
    loop {
        match chan.recv::<ToParent>()? {
            None => {
                let note = exit_note(pid);
                started.retain(|p| *p != pid);
                bail!("the container's process exited during setup{note}")
            }
            Some(ToParent::MapIds) => {
                namespaces::write_id_maps(pid, &ns.uid_mappings, &ns.gid_mappings)?;
                chan.send(&ToInit::MapsDone)?;
            }
            Some(ToParent::InitPid(p)) => {
                // The first stage exits once it has forked the real process.
                let _ = waitpid(Pid::from_raw(pid), None);
                started.retain(|s| *s != pid);
                started.push(p);
                pid = p;
                chan.send(&ToInit::Continue)?;
            }
            Some(ToParent::CreateHooks) => {
                let state = create_hooks(pid)?;
                chan.send(&ToInit::HooksDone { state })?;
            }
            Some(ToParent::Ready) => return Ok(pid),
            Some(ToParent::Failed(e)) => return Err(e.into()),
        }
    }
}

/// How a child that went away ended (it is reaped here).
fn exit_note(pid: i32) -> String {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, c)) => format!(" (exit status {c})"),
        Ok(WaitStatus::Signaled(_, s, _)) => format!(" (killed by {s})"),
        _ => String::new(),
    }
}
