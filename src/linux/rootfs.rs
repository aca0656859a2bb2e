//! The container's root filesystem: propagation, the rootfs bind mount,
//! `pivot_root` (or `--no-pivot`), `maskedPaths`, `readonlyPaths` and
//! `root.readonly`. The individual mounts are in [`super::mounts`], `/dev`
//! in [`super::devices`].

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::fs;
use crate::process::protocol::{At, SetupError, SetupResult, Step};

/// Stops the container's mounts from reaching the host (and the host's from
/// reaching the container, per `rootfsPropagation`), then makes the rootfs a
/// mount point of its own, as pivot_root needs. Returns an `O_PATH`
/// descriptor of it for resolving paths inside.
pub fn prepare(rootfs: &Path, propagation: MsFlags) -> SetupResult<OwnedFd> {
    mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
        .at(Step::RootPropagation, "/")?;
    // With a non-recursive or shared propagation, the mount that holds the
    // rootfs may still be a peer of the host's: the rootfs bind and every
    // mount below it would appear on the host, and pivot_root would refuse.
    make_parent_private(rootfs)?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .at(Step::BindRootfs, rootfs.display())?;
    open_dir(rootfs)
}

/// An `O_PATH` descriptor of the rootfs, for resolving paths inside it.
pub fn open_dir(rootfs: &Path) -> SetupResult<OwnedFd> {
    let fd = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .at(Step::BindRootfs, rootfs.display())?;
    // SAFETY: open returned a fresh descriptor we now own.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Makes the mount that contains `path` private if it is shared.
pub fn make_parent_private(path: &Path) -> SetupResult<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .at(Step::RootPropagation, "/proc/self/mountinfo")?;
    let mut best: Option<(String, bool)> = None;
    for line in info.lines() {
        let Some((pre, _)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = pre.split(' ').collect();
        let Some(mp) = fields.get(4).map(|m| unescape(m)) else {
            continue;
        };
        if !path.starts_with(&mp) {
            continue;
        }
        // Shared would carry our mounts to the host; unbindable would
        // refuse the rootfs bind.
        let shared = fields[6..]
            .iter()
            .any(|f| f.starts_with("shared:") || *f == "unbindable");
        // Later lines stack over earlier ones at the same mount point.
        if best.as_ref().is_none_or(|(b, _)| mp.len() >= b.len()) {
            best = Some((mp, shared));
        }
    }
    if let Some((mp, true)) = best {
        mount(
            None::<&str>,
            mp.as_str(),
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .at(Step::RootPropagation, &mp)?;
    }
    Ok(())
}

/// Mount points in mountinfo escape space, tab, newline and backslash as
/// octal.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes the rootfs `/`. pivot_root(".", ".") stacks the old root under the
/// new one; detaching it then leaves no way back to the host.
/// Sets the propagation of the container's `/` once it is the root.
pub fn set_root_propagation(propagation: MsFlags) -> SetupResult<()> {
    mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>).at(Step::RootPropagation, "/")
}

pub fn pivot(rootfs: &Path) -> SetupResult<()> {
    let step = |e| SetupError::new(Step::PivotRoot, rootfs.display()).errno(e);
    let old = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step)?;
    let new = open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step)?;
    fchdir(new).map_err(step)?;
    pivot_root(".", ".").map_err(step)?;
    fchdir(old).map_err(step)?;
    // The old root must not propagate the unmount to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(step)?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step)?;
    chdir("/").map_err(step)?;
    let _ = nix::unistd::close(old);
    let _ = nix::unistd::close(new);
    Ok(())
}

/// `--no-pivot`: move the rootfs over `/` and chroot into it. Weaker than
/// pivot_root (the old root stays reachable to a process that can escape a
/// chroot), which is why it is opt-in, as in runc.
pub fn move_root(rootfs: &Path) -> SetupResult<()> {
    chdir(rootfs).at(Step::PivotRoot, rootfs.display())?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .at(Step::PivotRoot, rootfs.display())?;
    chroot(".").at(Step::PivotRoot, rootfs.display())?;
    chdir("/").at(Step::PivotRoot, "/")
}

/// Hides a path: directories get an empty read-only tmpfs, files get
/// `/dev/null` bound over them. Missing paths are fine. A symlink is
/// refused rather than followed: the image would choose what gets hidden
/// (and what stays visible at the path the config named).
pub fn mask(path: &str) -> SetupResult<()> {
    let root = root_fd()?;
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
    let fd = match fs::open_in_root(root.as_fd(), Path::new(path), flags) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(SetupError::new(Step::MaskPath, path).errno(e)),
    };
    let kind = nix::sys::stat::fstat(fd.as_raw_fd())
        .map(|st| st.st_mode & libc::S_IFMT)
        .at(Step::MaskPath, path)?;
    if kind == libc::S_IFLNK {
        return Err(SetupError::new(Step::MaskPath, path)
            .detail("linux.maskedPaths: must be an ordinary file or directory (it is a symlink)"));
    }
    let is_dir = kind == libc::S_IFDIR;
    let target = fs::fd_path(&fd);
    if is_dir {
        mount(
            Some("tmpfs"),
            target.as_str(),
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
    } else {
        let null = verified_dev_null()?;
        mount(
            Some(fs::fd_path(&null).as_str()),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    }
    .at(Step::MaskPath, path)
}

/// The container's `/dev/null`, checked to be the real device (char 1:3)
/// and not something put in its place (CVE-2025-31133): binding anything
/// else over a masked path would unmask it.
fn verified_dev_null() -> SetupResult<OwnedFd> {
    let root = root_fd()?;
    let fd = fs::open_in_root(root.as_fd(), Path::new("/dev/null"), OFlag::O_PATH)
        .at(Step::MaskPath, "/dev/null")?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).at(Step::MaskPath, "/dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != nix::sys::stat::makedev(1, 3) {
        return Err(SetupError::new(Step::MaskPath, "/dev/null")
            .detail("is not the null device; refusing to mask with it"));
    }
    Ok(fd)
}

/// Makes a path read-only by binding it onto itself and remounting.
pub fn readonly(path: &str) -> SetupResult<()> {
    let root = root_fd()?;
    let fd = match fs::open_in_root(root.as_fd(), Path::new(path), OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(SetupError::new(Step::ReadonlyPath, path).errno(e)),
    };
    let p = fs::fd_path(&fd);
    mount(
        Some(p.as_str()),
        p.as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .at(Step::ReadonlyPath, path)?;
    let top = fs::open_in_root(root.as_fd(), Path::new(path), OFlag::O_PATH)
        .at(Step::ReadonlyPath, path)?;
    super::mounts::remount_bind(&top, MsFlags::MS_RDONLY | MsFlags::MS_REC, &path)
}

/// `root.readonly`: remount `/` read-only, keeping its other flags.
pub fn readonly_root() -> SetupResult<()> {
    let root = root_fd()?;
    super::mounts::remount_bind(&root, MsFlags::MS_RDONLY, &"/").map_err(|e| SetupError {
        step: Step::ReadonlyRoot,
        ..e
    })
}

fn root_fd() -> SetupResult<OwnedFd> {
    let fd = open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .at(Step::MaskPath, "/")?;
    // SAFETY: open returned a fresh descriptor we now own.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_escapes() {
        assert_eq!(super::unescape(r"/a\040b\134c"), "/a b\\c");
        assert_eq!(super::unescape("/plain"), "/plain");
    }
}
