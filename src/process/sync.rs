//! The protocol between the runtime (parent) and the container's init.
//!
//! One `SOCK_SEQPACKET` socketpair carries typed messages, one JSON document
//! per packet. `create` returns only once the init has finished its setup
//! and waits for `start`:
//!
//! ```text
//!  runtime (vzrun create / run)                 init (cloned child)
//!  ─────────────────────────────                ───────────────────
//!  clone(new namespaces) ─────────────────────► waits for Continue
//!  join cgroup, apply resources, oom_score_adj
//!  ── Continue ───────────────────────────────►
//!                                               [joined namespaces: setns]
//!                                               [new user ns]
//!  ◄───────────────────────────────── MapIds ──
//!  write uid_map / gid_map
//!  ── MapsDone ───────────────────────────────►
//!                                               [pid/time ns by unshare:
//!                                                fork the real init]
//!  ◄──────────────────────────── InitPid(pid) ── (stage 1, which then exits)
//!  ── Continue ───────────────────────────────►  (the forked init goes on)
//!                                               hostname, sysctl, mounts, /dev
//!  ◄──────────────────────────── CreateHooks ──
//!  prestart + createRuntime hooks
//!  ── HooksDone{state} ───────────────────────►
//!                                               createContainer hooks,
//!                                               pivot_root, masks, console,
//!                                               rlimits, user, caps, cwd,
//!                                               find the executable
//!  ◄────────────────────────────────── Ready ──
//!  write state.json (created)
//!  ── Created ────────────────────────────────►  (vzrun create)
//!                                                 accept() on start.sock
//!  vzrun start: connect ── Start{state} ─────►
//!  ── Start{state} ───────────────────────────►  (vzrun run)
//!                                               startContainer hooks, execve
//!  ◄──────── EOF (CLOEXEC closed the socket) ──  success
//!  ◄─────────────────────────── Failed(err) ──  at any step: the step, path
//!                                               and errno; then the init exits
//! ```
//!
//! The start socket carries the same `ToInit::Start` / `ToParent::Failed`
//! messages as the socketpair, so `start` and `run` share one code path.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind, connect, listen, recv,
    send, socket, socketpair,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::linux::SetupError;

/// Messages from the init (or its first stage) to the runtime.
#[derive(Serialize, Deserialize, Debug)]
pub enum ToParent {
    /// A new user namespace exists; its id maps must be written from outside.
    MapIds,
    /// The first stage forked the real init (pid namespace or time
    /// namespace entered by unshare); this is its pid in the runtime's view.
    InitPid(i32),
    /// Mounts are done: run prestart and createRuntime hooks now.
    CreateHooks,
    /// Setup finished; the init waits for start.
    Ready,
    Failed(SetupError),
}

/// Messages from the runtime to the init.
#[derive(Serialize, Deserialize, Debug)]
pub enum ToInit {
    Continue,
    MapsDone,
    /// Hooks ran; `state` is the JSON the createContainer hooks get.
    HooksDone {
        state: String,
    },
    /// state.json is written: wait for `vzrun start`.
    Created,
    /// Exec the user's process; `state` is for the startContainer hooks.
    Start {
        state: String,
    },
}

/// One end of a seqpacket connection.
pub struct Channel(OwnedFd);

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("socketpair")?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn send<T: Serialize>(&self, msg: &T) -> nix::Result<()> {
        let data = serde_json::to_vec(msg).map_err(|_| nix::errno::Errno::EINVAL)?;
        loop {
            match send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map(|_| ()),
            }
        }
    }

    /// The next message, or `None` when the peer closed its end (for the
    /// init's side of start: its execve succeeded).
    pub fn recv<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        // Peek at the packet's real size first (MSG_TRUNC), so that no
        // message is ever cut short, whatever its size.
        let size = loop {
            match recv(
                self.0.as_raw_fd(),
                &mut [0u8; 1],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("receive from the container's init")?,
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("receive from the container's init")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n])
            .context("decode message from the container's init")?;
        Ok(Some(msg))
    }
}

/// The listening socket a created container's init waits on for `start`.
pub struct StartListener(OwnedFd);

impl StartListener {
    pub fn bind(path: &Path) -> Result<StartListener> {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .context("start socket")?;
        let addr = UnixAddr::new(path).context("start socket address")?;
        bind(fd.as_raw_fd(), &addr).with_context(|| format!("bind {}", path.display()))?;
        listen(
            &fd,
            nix::sys::socket::Backlog::new(1).expect("valid backlog"),
        )
        .context("listen on start socket")?;
        Ok(StartListener(fd))
    }

    /// Blocks until `vzrun start` connects.
    pub fn accept(&self) -> nix::Result<Channel> {
        loop {
            match accept4(self.0.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                Err(nix::errno::Errno::EINTR) => continue,
                // SAFETY: accept4 returned a fresh descriptor we now own.
                r => {
                    return r.map(|fd| Channel(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }));
                }
            }
        }
    }
}

/// Connects `vzrun start` to a created container's init.
pub fn connect_start(path: &Path) -> Result<Channel> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket")?;
    let addr = UnixAddr::new(path)?;
    match connect(fd.as_raw_fd(), &addr) {
        Ok(()) => Ok(Channel(fd)),
        Err(nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::ENOENT) => {
            bail!("the container's init is not waiting for start")
        }
        Err(e) => Err(e).context("connect to the container's init"),
    }
}
