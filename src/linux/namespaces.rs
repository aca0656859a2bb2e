//! Namespaces: joining by path, creating with unshare, time namespace
//! offsets, user namespace id maps (written by the runtime, from outside),
//! and the settings that live in a namespace: hostname, domainname and
//! `linux.sysctl`.

use std::path::Path;

use nix::sched::{CloneFlags, setns, unshare};

use crate::process::protocol::{At, SetupError, SetupResult, Step};

/// One line of a user namespace's uid_map or gid_map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// CLONE_NEWTIME, which nix does not name (it shares its value with
/// CSIGNAL in clone(2); only clone3 and unshare take it).
pub fn clone_newtime() -> CloneFlags {
    CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)
}

pub fn open(path: &Path) -> SetupResult<std::fs::File> {
    std::fs::File::open(path).at(Step::JoinNamespace, path.display())
}

pub fn join(flag: CloneFlags, ns: std::fs::File, path: &Path) -> SetupResult<()> {
    setns(ns, flag).at(Step::JoinNamespace, path.display())
}

/// A user namespace joined by path must own every other namespace joined
/// with it: setns into one it does not own would fail with a bare EPERM
/// (or, for a namespace owned by a parent user namespace, succeed and
/// leave the container with powers over it that its mapping does not
/// give).
pub fn check_owned_by(
    user: &std::fs::File,
    user_path: &Path,
    others: &[(CloneFlags, std::fs::File, &Path)],
) -> SetupResult<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    // NS_GET_USERNS, _IO(0xb7, 0x1): a descriptor of the owning user
    // namespace.
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let id = |m: std::fs::Metadata| (m.dev(), m.ino());
    let want = id(user
        .metadata()
        .at(Step::JoinNamespace, user_path.display())?);
    for (flag, ns, path) in others {
        // SAFETY: an ioctl on a namespace descriptor we hold; it returns a
        // fresh descriptor or -1, nothing else is touched.
        let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
        if fd < 0 {
            return Err(SetupError::new(Step::JoinNamespace, path.display())
                .errno(nix::errno::Errno::last()));
        }
        // SAFETY: the descriptor was just returned to us and is ours alone.
        let owner = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let got = id(owner.metadata().at(Step::JoinNamespace, path.display())?);
        if got != want {
            return Err(
                SetupError::new(Step::JoinNamespace, path.display()).detail(format!(
                    "linux.namespaces: the {} namespace is not owned by the user namespace {}",
                    names(*flag),
                    user_path.display()
                )),
            );
        }
    }
    Ok(())
}

pub fn create(flags: CloneFlags) -> SetupResult<()> {
    unshare(flags).at(Step::CreateNamespace, names(flags))
}

/// "pid,net,..." for error messages.
pub fn names(flags: CloneFlags) -> String {
    let all = [
        (CloneFlags::CLONE_NEWUSER, "user"),
        (CloneFlags::CLONE_NEWPID, "pid"),
        (CloneFlags::CLONE_NEWNET, "network"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWUTS, "uts"),
        (CloneFlags::CLONE_NEWNS, "mount"),
        (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        (clone_newtime(), "time"),
    ];
    let v: Vec<&str> = all
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    v.join(",")
}

/// Must run after unshare(CLONE_NEWTIME) and before the first process
/// enters the new time namespace.
pub fn write_time_offsets(offsets: &[(String, i64, u32)]) -> SetupResult<()> {
    let mut text = String::new();
    for (clock, secs, nanos) in offsets {
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    super::procfs::write("self/timens_offsets", text.as_bytes())
        .at(Step::TimeOffsets, "/proc/self/timens_offsets")
}

/// Writes the uid/gid maps of `pid`'s fresh user namespace. Runs in the
/// runtime (outside the namespace), which is what the kernel requires for
/// mappings of more than the writer's own id.
pub fn write_id_maps(pid: i32, uids: &[IdMap], gids: &[IdMap]) -> anyhow::Result<()> {
    use anyhow::Context;
    let fmt = |maps: &[IdMap]| -> String {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
            .collect()
    };
    let uid_map = format!("{pid}/uid_map");
    super::procfs::write(&uid_map, fmt(uids).as_bytes())
        .with_context(|| format!("linux.uidMappings: write /proc/{uid_map}"))?;
    let gid_map = format!("{pid}/gid_map");
    super::procfs::write(&gid_map, fmt(gids).as_bytes())
        .with_context(|| format!("linux.gidMappings: write /proc/{gid_map}"))
}

pub fn set_hostname(name: &str) -> SetupResult<()> {
    nix::unistd::sethostname(name).at(Step::Hostname, name)
}

/// Sets `lo` up in the caller's network namespace (SIOCSIFFLAGS, the
/// cheapest way: no netlink socket to open and parse).
pub fn loopback_up() -> SetupResult<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let fail = || SetupError::new(Step::Loopback, "lo").errno(nix::errno::Errno::last());
    // SAFETY: socket() takes no pointers; the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(fail());
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: both ioctls read and write only `req`, an ifreq as they
    // expect, which lives across the calls.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(fail());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(fail());
        }
    }
    Ok(())
}

pub fn set_domainname(name: &str) -> SetupResult<()> {
    // SAFETY: the pointer and length describe `name`'s bytes for the call.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(SetupError::new(Step::Domainname, name).errno(nix::errno::Errno::last()));
    }
    Ok(())
}

/// Writes one sysctl through the pinned host procfs: the namespaced
/// sysctls (the only ones the plan allows) apply to the namespaces of the
/// writer, which are the container's by now.
pub fn set_sysctl(key: &str, value: &str) -> SetupResult<()> {
    let path = format!("sys/{}", key.replace('.', "/"));
    super::procfs::write(&path, value.as_bytes()).at(Step::Sysctl, format!("{key}={value}"))
}
