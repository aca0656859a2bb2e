//! The foreground of `run` (and `exec`): forward every signal a process can
//! catch to the container's process, reap it (and any orphan that reaches
//! us as a subreaper), and turn its end into an exit status: N for exit(N),
//! 128+N for death by signal N.
//!
//! Signals are blocked before the container's process exists, so none is
//! lost in between; they are then read from a signalfd.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};

use crate::linux::tty;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// The signals the foreground handles: all catchable ones, real-time ones
/// included (podman stops systemd containers with SIGRTMIN+3), which is why
/// this is libc's sigset and not nix's (whose Signal has no real-time
/// signals). Left out:
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

/// Waits for `pid` while forwarding signals; returns its exit status. With
/// a pty master, also proxies the caller's terminal to it (raw mode,
/// SIGWINCH as a resize).
pub fn wait(pid: i32, signals: &Signals, pty: Option<OwnedFd>) -> Result<i32> {
    let sfd = signals.signalfd()?;
    let _raw = pty.as_ref().map(|m| {
        tty::copy_window_size(m);
        // Input goes to the pty without blocking: a container that does
        // not read its input must not stop us from draining its output
        // (or from hearing signals).
        let _ = nix::fcntl::fcntl(
            m.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        tty::RawMode::enter()
    });
    let mut stdin_open = pty.is_some();
    let mut master_open = pty.is_some();
    // Input read but not yet taken by the pty.
    let mut pending: Vec<u8> = Vec::new();
    let mut status = reap(pid);
    while status.is_none() {
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let poll_stdin = stdin_open && pending.is_empty();
        if poll_stdin {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if let (true, Some(m)) = (master_open, &pty) {
            let mut ev = PollFlags::POLLIN;
            if !pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(m.as_fd(), ev));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            r => r.context("poll")?,
        };
        let ready: Vec<PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        drop(fds);
        let mut k = 1;
        if poll_stdin {
            if !ready[k].is_empty() {
                let mut buf = [0u8; 8192];
                match nix::unistd::read(0, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
            k += 1;
        }
        if let (true, Some(m)) = (master_open, &pty) {
            let r = ready[k];
            if !pending.is_empty() {
                match nix::unistd::write(m, &pending) {
                    Ok(w) => drop(pending.drain(..w)),
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(_) => pending.clear(),
                }
            }
            if r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                master_open = copy(m.as_fd(), std::io::stdout().as_fd());
            }
        }
        if !ready[0].is_empty() {
            match read_signal(&sfd) {
                Some(libc::SIGCHLD) => status = reap(pid),
                Some(libc::SIGWINCH) if pty.is_some() => {
                    tty::copy_window_size(pty.as_ref().expect("checked"));
                }
                // A number, not nix's Signal: real-time signals have no
                // name there.
                // SAFETY: kill with integer arguments.
                Some(sig) => unsafe {
                    libc::kill(pid, sig);
                },
                None => {}
            }
        }
    }
    // What the process wrote just before it ended is still in the pty.
    if let (true, Some(m)) = (master_open, &pty) {
        while copy(m.as_fd(), std::io::stdout().as_fd()) {}
    }
    Ok(status.expect("loop ends with a status"))
}

/// One read from `from` written whole to `to`; false at end of input (a
/// pty master reads EIO once the last slave is closed).
fn copy(from: BorrowedFd, to: BorrowedFd) -> bool {
    let mut buf = [0u8; 8192];
    let n = match nix::unistd::read(from.as_raw_fd(), &mut buf) {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    let mut off = 0;
    while off < n {
        match nix::unistd::write(to, &buf[off..n]) {
            Ok(0) => return false,
            Ok(w) => off += w,
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// The next signal from the signalfd: a signalfd_siginfo, whose first
/// field is the signal's number.
fn read_signal(sfd: &OwnedFd) -> Option<i32> {
    let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
    match nix::unistd::read(sfd.as_raw_fd(), &mut info) {
        Ok(n) if n == info.len() => {
            let signo = u32::from_ne_bytes(info[..4].try_into().expect("4 bytes"));
            Some(signo as i32)
        }
        _ => None,
    }
}

/// Reaps every child that has ended; the status of `pid` if it was one.
/// libc's waitpid, not nix's: nix turns a death by a real-time signal
/// (podman stops containers with SIGRTMIN+3) into an error after the
/// kernel has reaped the child, and its status would be lost.
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
