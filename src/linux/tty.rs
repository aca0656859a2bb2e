//! `process.terminal`: the init opens a pty in the container's own devpts,
//! sends the master to `--console-socket` with SCM_RIGHTS (runc's protocol,
//! which containerd and conmon speak), binds the slave over `/dev/console`
//! and makes it the process's controlling terminal and stdio.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::sys::stat::Mode;
use nix::unistd::dup2;

use crate::process::protocol::{At, SetupError, SetupResult, Step};

/// How long the runtime waits for a client's socket (`--console-socket`,
/// `--pidfd-socket`, a seccomp agent) to take its connection and each
/// message: a client that listens but never accepts or reads must not hang
/// the runtime.
pub const CLIENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects to the unix stream socket at `path` within [`CLIENT_WAIT`]
/// (a listener whose backlog is full refuses at once rather than blocking
/// when asked without blocking), and leaves the connection blocking, with
/// sends bounded by the same time.
pub fn connect(path: &Path) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, UnixAddr, connect, setsockopt, socket, sockopt,
    };
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    let deadline = std::time::Instant::now() + CLIENT_WAIT;
    loop {
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(nix::errno::Errno::EAGAIN) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the listener took no connection within {}s",
                        CLIENT_WAIT.as_secs()
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
    let flags = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
    let limit = nix::sys::time::TimeVal::new(CLIENT_WAIT.as_secs() as i64, 0);
    setsockopt(&fd, sockopt::SendTimeout, &limit)?;
    Ok(fd)
}

/// `bind_console`: a container's init also gets the pty as `/dev/console`;
/// an exec'd process only as its stdio.
pub fn setup_console(
    socket: &OwnedFd,
    size: Option<(u16, u16)>,
    bind_console: bool,
) -> SetupResult<()> {
    let master = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .at(Step::Console, "/dev/ptmx")?;
    // SAFETY: a fresh descriptor we now own.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that outlives the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(SetupError::new(Step::Console, "unlock pty").errno(nix::errno::Errno::last()));
    }
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int into `n`.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } != 0 {
        return Err(SetupError::new(Step::Console, "pty number").errno(nix::errno::Errno::last()));
    }
    let slave_path = format!("/dev/pts/{n}");
    // TIOCGPTPEER opens the slave of exactly this master, whatever a path
    // in the container might point to.
    // SAFETY: ioctl with integer flags; returns a new descriptor.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    if slave < 0 {
        return Err(SetupError::new(Step::Console, &slave_path).errno(nix::errno::Errno::last()));
    }
    // SAFETY: a fresh descriptor we now own.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize that outlives the call.
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }

    send_fd(socket, &slave_path, master.as_raw_fd())
        .at(Step::Console, "send pty master to the console socket")?;
    drop(master);

    if bind_console {
        // Bound from the descriptor TIOCGPTPEER gave us, so that nothing
        // put at /dev/pts/N can stand in for the pty (CVE-2025-52565);
        // the path only when the container has no /proc.
        let by_fd = format!("/proc/self/fd/{}", slave.as_raw_fd());
        if bind_dev_console(&by_fd).is_err() {
            bind_dev_console(&slave_path)?;
        }
    }

    for fd in 0..3 {
        dup2(slave.as_raw_fd(), fd).at(Step::Console, "stdio")?;
    }
    // SAFETY: TIOCSCTTY with an integer argument on our own stdin.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
        return Err(
            SetupError::new(Step::Console, "controlling terminal").errno(nix::errno::Errno::last())
        );
    }
    Ok(())
}

fn bind_dev_console(slave_path: &str) -> SetupResult<()> {
    if !Path::new("/dev/console").exists() {
        std::fs::File::create("/dev/console").at(Step::Console, "/dev/console")?;
    }
    mount(
        Some(slave_path),
        "/dev/console",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .at(Step::Console, "/dev/console")
}

/// Sends `fd` with `name` as the payload, as runc's console protocol does.
pub fn send_fd(socket: &OwnedFd, name: &str, fd: RawFd) -> nix::Result<()> {
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).map(|_| ())
}

/// Receives the pty master a container's process sent with [`send_fd`]
/// (runs in the runtime, for a foreground terminal).
pub fn recv_fd(socket: &OwnedFd) -> anyhow::Result<OwnedFd> {
    use anyhow::Context;
    use nix::sys::socket::{ControlMessageOwned, recvmsg};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context("receive the pty master")?;
    for c in msg.cmsgs().context("receive the pty master")? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    anyhow::bail!("the container's process sent no pty master")
}

/// The caller's terminal in raw mode for as long as this lives, so that
/// keys reach the container's pty unchanged; restored on drop.
pub struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    pub fn enter() -> RawMode {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(&stdin) else {
            // Not a terminal: nothing to change.
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

/// Copies the caller's terminal size to the pty (at start and on SIGWINCH).
pub fn copy_window_size(master: &OwnedFd) {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    for fd in [0, 1] {
        // SAFETY: TIOCGWINSZ writes a winsize into `ws`.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
            // SAFETY: TIOCSWINSZ reads a winsize that outlives the call.
            unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            return;
        }
    }
}
