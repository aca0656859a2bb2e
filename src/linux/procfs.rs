//! The one procfs every write of the runtime goes through (CVE-2025-52881).
//!
//! Files under `/proc` are control knobs: a write to `sys/kernel/...`,
//! `self/attr/exec` or `<pid>/oom_score_adj` changes the kernel's view of a
//! process. A container's config or image can put mounts or symlinks under
//! the `/proc` it sees, so a path such as `/proc/sys/net/ipv4/ip_forward`
//! written after the container's mounts exist could land on a file the
//! attacker chose. The runtime therefore pins the host's procfs once, in the
//! runtime before anything of the container exists, verifies it is a real
//! procfs root, and opens every file beneath it with `openat2` refusing to
//! cross a mount point or follow a magic link. The container's init inherits
//! the pinned descriptor (close-on-exec) and keeps using it after
//! `pivot_root`, when the host's `/proc` is no longer reachable by path.
//!
//! The namespaced files resolve against the writer's namespaces, not the
//! procfs's: `sys/net/*` follows the writer's network namespace, `sys/kernel/
//! shm*` its IPC namespace and `self` names the writer.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::fs::{RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV, openat2};

/// The inode number of every procfs root.
const PROC_ROOT_INO: u64 = 1;

static PROC: OnceLock<OwnedFd> = OnceLock::new();

/// Pins the procfs now. The runtime calls this before it spawns anything,
/// so that the container's init, which inherits it, never has to look
/// `/proc` up by path inside a mount namespace the config has shaped.
pub fn pin() -> io::Result<BorrowedFd<'static>> {
    if let Some(fd) = PROC.get() {
        return Ok(fd.as_fd());
    }
    let raw = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open returned a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    verify(fd.as_fd())?;
    Ok(PROC.get_or_init(|| fd).as_fd())
}

fn verify(fd: BorrowedFd) -> io::Result<()> {
    let fs = nix::sys::statfs::fstatfs(fd)?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(io::Error::other("/proc is not a procfs"));
    }
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    if st.st_ino != PROC_ROOT_INO {
        return Err(io::Error::other("/proc is not the root of a procfs"));
    }
    Ok(())
}

/// Opens `rel` (e.g. `sys/kernel/domainname`, `self/attr/exec`) beneath
/// the pinned procfs. A mount anywhere on the way makes this fail with
/// EXDEV instead of being followed.
pub fn open(rel: &str, flags: OFlag) -> io::Result<OwnedFd> {
    let root = pin()?;
    let fd = openat2(
        root,
        std::path::Path::new(rel.trim_start_matches('/')),
        flags | OFlag::O_NOCTTY,
        RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
    )?;
    let fs = nix::sys::statfs::fstatfs(&fd)?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(io::Error::other(format!("/proc/{rel} is not on procfs")));
    }
    Ok(fd)
}

/// Writes `data` to `/proc/<rel>` in one write(2), as procfs files expect.
pub fn write(rel: &str, data: &[u8]) -> io::Result<()> {
    let fd = open(rel, OFlag::O_WRONLY)?;
    let n = nix::unistd::write(&fd, data)?;
    if n != data.len() {
        return Err(io::Error::other(format!("short write to /proc/{rel}")));
    }
    Ok(())
}

/// The number process `pid` (of the caller's pid namespace) has in the
/// pinned procfs, which may belong to an ancestor pid namespace (the
/// host's, seen from a container's init before it mounts its own): a
/// pidfd's fdinfo gives the pid as the procfs it is read through sees it.
pub fn pid_of(pid: i32) -> io::Result<i32> {
    let fd = super::pidfd::open(pid)?;
    let info = open(&format!("self/fdinfo/{}", fd.as_raw_fd()), OFlag::O_RDONLY)?;
    let text = io::read_to_string(std::fs::File::from(info))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pid:")?.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no Pid: line in the fdinfo of pid {pid}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_seen_as_the_procfs_sees_them() {
        let me = std::process::id() as i32;
        assert_eq!(pid_of(me).unwrap(), me);
    }

    #[test]
    fn reads_through_pinned_procfs() {
        let fd = open("self/status", OFlag::O_RDONLY).unwrap();
        let mut buf = [0u8; 64];
        let n = nix::unistd::read(fd.as_raw_fd(), &mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n]).unwrap().starts_with("Name:"));
    }

    #[test]
    fn refuses_to_leave_procfs() {
        assert!(open("../etc/passwd", OFlag::O_RDONLY).is_err());
        // self/root is a magic link to the process's root directory.
        assert!(open("self/root/etc/passwd", OFlag::O_RDONLY).is_err());
    }
}
