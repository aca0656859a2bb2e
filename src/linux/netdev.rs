//! `linux.netDevices`: host network devices moved into the container's
//! network namespace, renamed, with their permanent addresses kept and the
//! link up (runtime-spec 1.3). The runtime does it from the host, with the
//! host's privileges, once the init's network namespace exists: a container
//! with its own user namespace gets its devices the same way.
//!
//! Spoken over rtnetlink directly: four request kinds do not justify a
//! netlink crate.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result, bail};

/// One device to move: its host name and its name in the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetDevice {
    pub host: String,
    pub name: String,
}

/// The names Linux accepts for an interface (dev_valid_name).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        bail!("{name:?} is not 1 to {} bytes long", libc::IFNAMSIZ - 1);
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        bail!("{name:?} is not a valid interface name");
    }
    Ok(())
}

/// The config's devices, checked; sorted by host name so that the moves
/// (and any error) come in the same order every time.
pub fn plan(
    devices: &std::collections::HashMap<String, oci_spec::runtime::LinuxNetDevice>,
) -> Result<Vec<NetDevice>> {
    let mut out = Vec::new();
    for (host, d) in devices {
        check_name(host).with_context(|| format!("linux.netDevices: {host:?}"))?;
        let name = match d.name().as_deref() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => host.clone(),
        };
        check_name(&name).with_context(|| format!("linux.netDevices: {host}: name"))?;
        out.push(NetDevice {
            host: host.clone(),
            name,
        });
    }
    out.sort_by(|a, b| a.host.cmp(&b.host));
    let mut names: Vec<&str> = out.iter().map(|d| d.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "linux.netDevices: two devices are named {:?} in the container",
            w[0]
        );
    }
    Ok(out)
}

/// Moves `devices` into the network namespace of process `pid`.
pub fn move_into(pid: i32, devices: &[NetDevice]) -> Result<()> {
    if devices.is_empty() {
        return Ok(());
    }
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .with_context(|| format!("open the network namespace of {pid}"))?;
    let host = Netlink::open()?;
    let inside = Netlink::open_in(&netns)?;
    for d in devices {
        move_one(&host, &inside, &netns, d)
            .with_context(|| format!("linux.netDevices: {}", d.host))?;
    }
    Ok(())
}

fn move_one(host: &Netlink, inside: &Netlink, netns: &std::fs::File, d: &NetDevice) -> Result<()> {
    let index = host
        .link_index(&d.host)?
        .with_context(|| format!("no network device {:?} on the host", d.host))?;
    if inside.link_index(&d.name)?.is_some() {
        bail!(
            "the container already has a network device named {:?}",
            d.name
        );
    }
    // Moving to another namespace drops every address: the permanent ones
    // of global scope are read first and given back (runtime-spec).
    let addresses = host.permanent_addresses(index)?;
    // The move and the rename are one request: the device never shows up
    // in the container under its host name.
    let mut req = Request::new(libc::RTM_NEWLINK, 0);
    req.link(index, 0, 0);
    req.attr_u32(IFLA_NET_NS_FD, netns.as_raw_fd() as u32);
    req.attr_str(libc::IFLA_IFNAME, &d.name);
    host.ack(req)
        .context("move it into the container's network namespace")?;
    let inner = inside
        .link_index(&d.name)?
        .context("it did not arrive in the container's network namespace")?;
    for a in &addresses {
        let mut req = Request::new(libc::RTM_NEWADDR, libc::NLM_F_CREATE | libc::NLM_F_EXCL);
        req.addr(a.family, a.prefix_len, a.scope, inner);
        for (ty, data) in &a.attrs {
            req.attr(*ty, data);
        }
        match inside.ack(req) {
            // IPv6 link-local addresses come back by themselves.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            r => r.with_context(|| format!("give back address {}", a.display()))?,
        }
    }
    let mut up = Request::new(libc::RTM_NEWLINK, 0);
    up.link(inner, libc::IFF_UP as u32, libc::IFF_UP as u32);
    inside.ack(up).context("set it up")?;
    Ok(())
}

const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const NLMSG_HDRLEN: usize = 16;

/// A permanent address, with the attributes needed to add it again.
struct Address {
    family: u8,
    prefix_len: u8,
    scope: u8,
    attrs: Vec<(u16, Vec<u8>)>,
}

impl Address {
    fn display(&self) -> String {
        let Some((_, a)) = self
            .attrs
            .iter()
            .find(|(t, _)| *t == IFA_LOCAL || *t == IFA_ADDRESS)
        else {
            return "?".into();
        };
        let ip: std::net::IpAddr = match a.len() {
            4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&a[..]).unwrap()).into(),
            16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&a[..]).unwrap()).into(),
            _ => return "?".into(),
        };
        format!("{ip}/{}", self.prefix_len)
    }
}

/// One rtnetlink message being built: header, family header, attributes.
struct Request(Vec<u8>);

impl Request {
    fn new(ty: u16, flags: i32) -> Request {
        let mut b = vec![0u8; NLMSG_HDRLEN];
        b[4..6].copy_from_slice(&ty.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK | flags) as u16;
        b[6..8].copy_from_slice(&flags.to_ne_bytes());
        Request(b)
    }

    /// struct ifinfomsg.
    fn link(&mut self, index: u32, flags: u32, change: u32) {
        self.0.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        self.0.extend_from_slice(&(index as i32).to_ne_bytes());
        self.0.extend_from_slice(&flags.to_ne_bytes());
        self.0.extend_from_slice(&change.to_ne_bytes());
    }

    /// struct ifaddrmsg.
    fn addr(&mut self, family: u8, prefix_len: u8, scope: u8, index: u32) {
        self.0.extend_from_slice(&[family, prefix_len, 0, scope]);
        self.0.extend_from_slice(&index.to_ne_bytes());
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
    }

    fn attr_u32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_ne_bytes());
    }

    fn attr_str(&mut self, ty: u16, s: &str) {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(ty, &b);
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.0
    }
}

/// An rtnetlink socket, bound to the network namespace it was made in.
struct Netlink {
    fd: OwnedFd,
    seq: std::cell::Cell<u32>,
}

impl Netlink {
    fn open() -> Result<Netlink> {
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("open a netlink socket");
        }
        Ok(Netlink {
            // SAFETY: a fresh descriptor, owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            seq: std::cell::Cell::new(1),
        })
    }

    /// A socket in the network namespace `netns`: this thread enters it
    /// only to make the socket, then comes back.
    fn open_in(netns: &std::fs::File) -> Result<Netlink> {
        use nix::sched::{CloneFlags, setns};
        let home = std::fs::File::open("/proc/thread-self/ns/net")
            .context("open the runtime's network namespace")?;
        setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
            .context("enter the container's network namespace")?;
        let sock = Netlink::open();
        setns(home.as_fd(), CloneFlags::CLONE_NEWNET)
            .context("return to the runtime's network namespace")?;
        sock
    }

    /// Sends `req` and returns every message of the answer up to the
    /// acknowledgement (or the end of a dump).
    fn call(&self, req: Request) -> std::io::Result<Vec<(u16, Vec<u8>)>> {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        let msg = req.finish(seq);
        // SAFETY: send from a live buffer of the given length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv into a live buffer of the given length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut rest = &buf[..n as usize];
            while rest.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(rest[4..6].try_into().unwrap());
                let got_seq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(std::io::Error::other("truncated netlink message"));
                }
                let body = &rest[NLMSG_HDRLEN..len];
                rest = &rest[len.next_multiple_of(4).min(rest.len())..];
                if got_seq != seq {
                    continue;
                }
                match ty as i32 {
                    libc::NLMSG_ERROR => {
                        let err = i32::from_ne_bytes(body[0..4].try_into().unwrap());
                        if err != 0 {
                            return Err(std::io::Error::from_raw_os_error(-err));
                        }
                        return Ok(out);
                    }
                    libc::NLMSG_DONE => return Ok(out),
                    _ => out.push((ty, body.to_vec())),
                }
            }
        }
    }

    fn ack(&self, req: Request) -> std::io::Result<()> {
        self.call(req).map(drop)
    }

    fn link_index(&self, name: &str) -> Result<Option<u32>> {
        let mut req = Request::new(libc::RTM_GETLINK, 0);
        req.link(0, 0, 0);
        req.attr_str(libc::IFLA_IFNAME, name);
        match self.call(req) {
            Ok(msgs) => Ok(msgs
                .iter()
                .find(|(ty, b)| *ty == libc::RTM_NEWLINK && b.len() >= 16)
                .map(|(_, b)| i32::from_ne_bytes(b[4..8].try_into().unwrap()) as u32)),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("look up network device {name:?}")),
        }
    }

    fn permanent_addresses(&self, index: u32) -> Result<Vec<Address>> {
        let mut req = Request::new(libc::RTM_GETADDR, libc::NLM_F_DUMP);
        req.addr(libc::AF_UNSPEC as u8, 0, 0, 0);
        let msgs = self.call(req).context("list addresses")?;
        let mut out = Vec::new();
        for (ty, b) in msgs {
            if ty != libc::RTM_NEWADDR || b.len() < 8 {
                continue;
            }
            if u32::from_ne_bytes(b[4..8].try_into().unwrap()) != index {
                continue;
            }
            let mut flags = b[2] as u32;
            let mut attrs = Vec::new();
            let mut rest = &b[8..];
            while rest.len() >= 4 {
                let len = u16::from_ne_bytes(rest[0..2].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(rest[2..4].try_into().unwrap());
                if len < 4 || len > rest.len() {
                    break;
                }
                let data = &rest[4..len];
                match ty {
                    IFA_FLAGS if data.len() == 4 => {
                        flags = u32::from_ne_bytes(data.try_into().unwrap());
                        attrs.push((ty, data.to_vec()));
                    }
                    IFA_ADDRESS | IFA_LOCAL | IFA_BROADCAST => attrs.push((ty, data.to_vec())),
                    // The label carries the host name; cache info is the
                    // kernel's own bookkeeping.
                    _ => {}
                }
                rest = &rest[len.next_multiple_of(4).min(rest.len())..];
            }
            // Permanent addresses of global scope, as the spec says: the
            // kernel makes the link-local ones again by itself.
            if flags & IFA_F_PERMANENT != 0 && b[3] == 0 {
                out.push(Address {
                    family: b[0],
                    prefix_len: b[1],
                    scope: b[3],
                    attrs,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_linux_does() {
        for ok in ["eth0", "a", "vzrun-veth.1"] {
            check_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen-chars-xx"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
