//! The sockets under the protocol: one `SOCK_SEQPACKET` connection carries
//! one JSON message per packet, so a message is never split or merged, and
//! a closed peer reads as end of file.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind, connect, listen, recv,
    send, socket, socketpair,
};
use serde::{Serialize, de::DeserializeOwned};

/// One end of a seqpacket connection.
pub(super) struct Channel(OwnedFd);

impl Channel {
    pub(super) fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("socketpair")?;
        Ok((Channel(a), Channel(b)))
    }

    pub(super) fn send<T: Serialize>(&self, msg: &T) -> nix::Result<()> {
        let data = serde_json::to_vec(msg).map_err(|_| nix::errno::Errno::EINVAL)?;
        loop {
            match send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map(|_| ()),
            }
        }
    }

    /// The next message, or `None` when the peer closed its end (for the
    /// init's side of start: its execve succeeded). A peer that exited
    /// with a message of ours unread resets the connection instead: an
    /// error ([`is_reset`]), since the peer cannot have exec'd then.
    pub(super) fn recv<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        // Peek at the packet's real size first (MSG_TRUNC), so that no
        // message is ever cut short, whatever its size.
        let size = loop {
            match recv(
                self.0.as_raw_fd(),
                &mut [0u8; 1],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("receive a protocol message")?,
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.context("receive a protocol message")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).context("decode a protocol message")?;
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
    pub(super) fn accept(&self) -> nix::Result<Channel> {
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
pub(super) fn connect_start(path: &Path) -> Result<Channel> {
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

/// Whether `e` is a connection reset: the peer exited with a message of
/// ours unread.
pub(super) fn is_reset(e: &anyhow::Error) -> bool {
    e.downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::ECONNRESET)
}
