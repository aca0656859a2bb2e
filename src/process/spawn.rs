//! Creating the container's init: one clone3(2) that creates the new
//! namespaces as it forks. No re-exec of the runtime: the child continues in
//! this very program with the parsed plan already in its memory.

use nix::errno::Errno;
use nix::sched::CloneFlags;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    Parent(i32),
    Child,
}

/// fork(2) that also creates the namespaces in `flags`.
///
/// The runtime is single-threaded whenever it calls this (it starts no
/// threads, and nothing it links starts any), so the child inherits no lock
/// held by another thread and may allocate freely.
pub fn clone(flags: CloneFlags) -> nix::Result<Forked> {
    let args = CloneArgs {
        flags: flags.bits() as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: without CLONE_VM and without a stack, clone3 behaves as fork:
    // the child gets a copy of the address space and returns here on its
    // copy of the stack. `args` is a correctly laid out clone_args that
    // outlives the call. See the single-thread note above for why the child
    // may go on running Rust code.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match rc {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// A user namespace with these id maps, for idmapped mounts: a child is
/// cloned into it only so that the maps can be written, and killed once
/// the namespace is open (the descriptor keeps the namespace). Its parent
/// is the caller's user namespace, and the maps are in the caller's ids.
pub fn user_namespace(
    uids: &[crate::linux::namespaces::IdMap],
    gids: &[crate::linux::namespaces::IdMap],
) -> anyhow::Result<std::os::fd::OwnedFd> {
    use anyhow::Context;
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    // A container's init is no longer dumpable here, and a non-dumpable
    // helper's /proc files belong to the host's root, which the init (root
    // of a user namespace only) may not write to: the helper is forked
    // while the caller is briefly dumpable, before any process of the
    // container exists to look.
    let hidden = !nix::sys::prctl::get_dumpable().context("PR_GET_DUMPABLE")?;
    if hidden {
        nix::sys::prctl::set_dumpable(true).context("PR_SET_DUMPABLE")?;
    }
    let forked = clone(CloneFlags::CLONE_NEWUSER);
    let hide_again = || match hidden {
        true => nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE"),
        false => Ok(()),
    };
    match forked {
        Err(e) => {
            hide_again()?;
            Err(e).context("clone a user namespace for an idmapped mount")
        }
        Ok(Forked::Child) => {
            // Gone with the runtime should the runtime die first.
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            loop {
                nix::unistd::pause();
            }
        }
        Ok(Forked::Parent(pid)) => {
            // A container's init calls this too, with the host's procfs.
            let ns = hide_again()
                .and_then(|()| {
                    crate::linux::procfs::pid_of(pid).context("find the helper in /proc")
                })
                .and_then(|at| {
                    crate::linux::namespaces::write_id_maps(at, uids, gids)?;
                    std::fs::File::open(format!("/proc/{at}/ns/user"))
                        .map(std::os::fd::OwnedFd::from)
                        .context("open its user namespace")
                });
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
            ns
        }
    }
}

/// Makes this process the reaper of orphans below it, so that a container
/// init whose first stage exits becomes our child and can be waited for.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Processes this command started and must not leave behind when it
/// fails: each is killed (SIGKILL) and reaped, the newest first, by
/// [`Children::kill_all`] or when the guard is dropped, unless it was
/// [`Children::keep`]t.
#[derive(Default)]
pub struct Children(Vec<i32>);

impl Children {
    pub fn push(&mut self, pid: i32) {
        self.0.push(pid);
    }

    /// `pid` is reaped or accounted for elsewhere.
    pub fn forget(&mut self, pid: i32) {
        self.0.retain(|p| *p != pid);
    }

    /// The command succeeded: what it started now lives on its own.
    pub fn keep(mut self) {
        self.0.clear();
    }

    pub fn kill_all(&mut self) {
        for pid in self.0.drain(..).rev() {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill_all();
    }
}
