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
///
/// An unprivileged caller (rootless) may map only its own ids itself, and
/// its own gid only once setgroups is denied in the namespace (the kernel's
/// rule: else a process could drop a group that guards a file). Any other
/// map goes through the setuid helpers `newuidmap`/`newgidmap`, which
/// check it against /etc/subuid and /etc/subgid.
/// `maps` (whose `host` ids are the host's) with their `host` ids as a user
/// namespace mapped by `ns` sees them; the first range it does not map
/// whole is the error.
pub fn seen_from(maps: &[IdMap], ns: &[IdMap]) -> Result<Vec<IdMap>, IdMap> {
    maps.iter()
        .map(|m| {
            let end = u64::from(m.host) + u64::from(m.size);
            ns.iter()
                .find(|n| n.host <= m.host && end <= u64::from(n.host) + u64::from(n.size))
                .map(|n| IdMap {
                    container: m.container,
                    host: n.container + (m.host - n.host),
                    size: m.size,
                })
                .ok_or(*m)
        })
        .collect()
}

pub fn write_id_maps(pid: i32, uids: &[IdMap], gids: &[IdMap]) -> anyhow::Result<()> {
    use anyhow::Context;
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    write_map(pid, "uid", uids, me.0).context("linux.uidMappings")?;
    write_map(pid, "gid", gids, me.1).context("linux.gidMappings")
}

fn write_map(pid: i32, kind: &str, maps: &[IdMap], own: u32) -> anyhow::Result<()> {
    use anyhow::Context;
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
        .collect();
    let file = format!("{pid}/{kind}_map");
    let err = match super::procfs::write(&file, text.as_bytes()) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => e,
        Err(e) => return Err(e).with_context(|| format!("write /proc/{file}")),
    };
    let only_own = matches!(maps, [m] if m.host == own && m.size == 1);
    if only_own && kind == "gid" {
        super::procfs::write(&format!("{pid}/setgroups"), b"deny")
            .with_context(|| format!("write deny to /proc/{pid}/setgroups"))?;
        return super::procfs::write(&file, text.as_bytes())
            .with_context(|| format!("write /proc/{file}"));
    }
    if only_own {
        return Err(err).with_context(|| {
            format!("write /proc/{file} (mapping the caller's own {kind} {own} only)")
        });
    }
    let helper = format!("new{kind}map");
    let mut cmd = std::process::Command::new(&helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container, m.host, m.size].map(|v| v.to_string()));
    }
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "an unprivileged user maps more than its own id through {helper}, which is not \
             there (Debian's uidmap package)"
        ),
        _ => anyhow::anyhow!("run {helper}: {e}"),
    })?;
    if !out.status.success() {
        anyhow::bail!(
            "{helper} refused the mapping ({}): {} (the ranges must be the user's in \
             /etc/sub{kind})",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_translated_into_the_namespace() {
        let m = |container, host, size| IdMap {
            container,
            host,
            size,
        };
        let ns = [m(0, 1000, 1), m(1, 100_000, 65536)];
        assert_eq!(
            seen_from(&[m(0, 100_099, 10)], &ns),
            Ok(vec![m(0, 100, 10)])
        );
        assert_eq!(seen_from(&[m(5, 1000, 1)], &ns), Ok(vec![m(5, 0, 1)]));
        // Straddling two ranges, or outside them: refused.
        assert_eq!(seen_from(&[m(0, 1000, 2)], &ns), Err(m(0, 1000, 2)));
        assert_eq!(seen_from(&[m(0, 7, 1)], &ns), Err(m(0, 7, 1)));
    }
}
