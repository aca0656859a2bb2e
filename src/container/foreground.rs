//! The foreground of `run` (and `exec`): forward every signal a process can
//! catch to the container's process, reap it (and any orphan that reaches
//! us as a subreaper), and turn its end into an exit status: N for exit(N),
//! 128+N for death by signal N.
//!
//! Signals are blocked before the container's process exists, so none is
//! lost in between; they are then read from a signalfd.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// The signals the foreground handles: all catchable ones, real-time ones
/// included (podman stops systemd containers with SIGRTMIN+3). Left out:
/// faults (they are ours), SIGPIPE (a hook that does not read its stdin
/// must not kill the container) and glibc's two internal real-time signals.
pub struct Signals(libc::sigset_t);

impl Signals {
    pub fn forwarded() -> Signals {
        // SAFETY: sigemptyset/sigaddset initialise and fill a sigset_t we own.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in 1..=libc::SIGRTMAX() {
                let skip = matches!(
                    sig,
                    libc::SIGKILL
                        | libc::SIGSTOP
                        | libc::SIGSEGV
                        | libc::SIGBUS
                        | libc::SIGILL
                        | libc::SIGFPE
                        | libc::SIGTRAP
                        | libc::SIGSYS
                        | libc::SIGPIPE
                ) || (32..libc::SIGRTMIN()).contains(&sig);
                if !skip {
                    libc::sigaddset(&mut set, sig);
                }
            }
            Signals(set)
        }
    }

    /// Blocks the set in this (single-threaded) process.
    pub fn block(&self) -> Result<()> {
        // SAFETY: sigprocmask reads our sigset; no old mask is wanted.
        let rc = unsafe { libc::sigprocmask(libc::SIG_BLOCK, &self.0, std::ptr::null_mut()) };
        Errno::result(rc).map(|_| ()).context("block signals")
    }

    fn signalfd(&self) -> Result<OwnedFd> {
        // SAFETY: signalfd reads our sigset and returns a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &self.0, libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("signalfd");
        }
        // SAFETY: a fresh descriptor we now own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Waits for `pid` while forwarding signals; returns its exit status.
pub fn wait(pid: i32, signals: &Signals) -> Result<i32> {
    let sfd = signals.signalfd()?;
    // A child may have ended before the signalfd existed; its SIGCHLD is
    // pending and will be read, but reap first anyway.
    if let Some(code) = reap(pid) {
        return Ok(code);
    }
    loop {
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            r => r.context("poll")?,
        };
        let mut info = zeroed_siginfo();
        // SAFETY: reading one signalfd_siginfo into a buffer of its size.
        let n = unsafe {
            libc::read(
                sfd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                std::mem::size_of::<libc::signalfd_siginfo>(),
            )
        };
        if n <= 0 {
            continue;
        }
        let sig = info.ssi_signo as i32;
        if sig == libc::SIGCHLD {
            if let Some(code) = reap(pid) {
                return Ok(code);
            }
            continue;
        }
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Reaps every child that has ended; the status of `pid` if it was one.
fn reap(pid: i32) -> Option<i32> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our integer.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r <= 0 {
            return None;
        }
        // Any other child is an orphan reparented to us: reaped, no more.
        if r == pid {
            if libc::WIFEXITED(status) {
                return Some(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Some(128 + libc::WTERMSIG(status));
            }
        }
    }
}

fn zeroed_siginfo() -> libc::signalfd_siginfo {
    // SAFETY: signalfd_siginfo is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}
