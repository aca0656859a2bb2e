//! The sockets under the protocol: one `SOCK_SEQPACKET` connection carries
//! one JSON message per packet, so a message is never split or merged, and
//! a closed peer reads as end of file.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind,
    connect, listen, recv, recvmsg, send, socket, socketpair,
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

    /// Sends a message already encoded (see [`encode`]) with a descriptor
    /// riding along: with nothing left to allocate, this is one sendmsg.
    /// Made with libc's sendmsg and a control buffer on the stack: nix's
    /// allocates one, and an allocation may be a syscall (brk, mmap) that
    /// the seccomp filter just loaded traps before its agent exists.
    pub(super) fn send_encoded_with_fd(&self, data: &[u8], fd: RawFd) -> nix::Result<()> {
        // Aligned as struct cmsghdr; room for one descriptor.
        #[repr(C)]
        struct Control {
            header: libc::cmsghdr,
            fd: RawFd,
        }
        // SAFETY: zeroed cmsghdr and int are valid values.
        let mut control: Control = unsafe { std::mem::zeroed() };
        // SAFETY: CMSG_LEN computes a length from an integer.
        control.header.cmsg_len =
            unsafe { libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) } as _;
        control.header.cmsg_level = libc::SOL_SOCKET;
        control.header.cmsg_type = libc::SCM_RIGHTS;
        control.fd = fd;
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: zeroed msghdr is valid (no name, no buffers) until set.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = (&mut control as *mut Control).cast();
        // SAFETY: CMSG_SPACE computes a length from an integer.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as _;
        loop {
            // SAFETY: msg points at iov, data and control, all alive for
            // the call; the kernel only reads them.
            let rc = unsafe { libc::sendmsg(self.0.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
            if rc >= 0 {
                return Ok(());
            }
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                e => return Err(e),
            }
        }
    }

    /// The next message, or `None` when the peer closed its end (for the
    /// init's side of start: its execve succeeded). A peer that exited
    /// with a message of ours unread resets the connection instead: an
    /// error ([`is_reset`]), since the peer cannot have exec'd then.
    pub(super) fn recv<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        Ok(self.recv_with_fd()?.map(|(msg, _)| msg))
    }

    /// Waits until a message (or the peer's end) is there, at most `limit`;
    /// false when the time ran out.
    pub(super) fn readable_within(&self, limit: std::time::Duration) -> Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let start = std::time::Instant::now();
        loop {
            let left = limit.saturating_sub(start.elapsed());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&self.0),
                PollFlags::POLLIN,
            )];
            match poll(&mut fds, ms) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("wait for a protocol message"),
            }
        }
    }

    /// [`Channel::recv`], with the descriptor a message carried, if any
    /// (one sent where none was expected is closed by the caller's drop).
    pub(super) fn recv_with_fd<T: DeserializeOwned>(&self) -> Result<Option<(T, Option<OwnedFd>)>> {
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
        let (n, fd) =
            recv_packet_with_fd(&self.0, &mut buf).context("receive a protocol message")?;
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).context("decode a protocol message")?;
        Ok(Some((msg, fd)))
    }
}

/// One packet into `buf`, and the first descriptor that came with it.
/// Room is made for more than one, so that extra ones arrive (and are
/// closed here) rather than being cut; every descriptor is close-on-exec.
pub fn recv_packet_with_fd(
    sock: &impl AsRawFd,
    buf: &mut [u8],
) -> nix::Result<(usize, Option<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; 8]);
    loop {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let m = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r?,
        };
        let mut fd = None;
        for c in m.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for f in fds {
                    // SAFETY: the kernel just installed each descriptor
                    // for us; we own it now.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    fd.get_or_insert(owned);
                }
            }
        }
        return Ok((m.bytes, fd));
    }
}

/// A message as [`Channel::send_encoded_with_fd`] sends it.
pub(super) fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).expect("protocol messages always encode")
}

/// The listening socket a created container's init waits on for `start`.
pub struct StartListener(OwnedFd);

impl AsRawFd for StartListener {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

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
