//! A container without a mount namespace of its own (none in
//! `linux.namespaces`): the runtime-spec says it inherits the runtime's, so
//! its mounts are made in the caller's mount table and its root is a chroot
//! (pivot_root would move the caller's root too).
//!
//! The host must still look as before once the container is deleted, so
//! the runtime (not the init) binds the rootfs, recursively and private, at
//! `rootfs` inside the container's state directory: a place that belongs to
//! this container alone, so that two containers on one rootfs never stack
//! on each other and a crash between the bind and the state file still
//! leaves it findable. The init mounts on that bind, makes its tree slave
//! (a bind of a shared host source would otherwise carry the container's
//! masks back to the host's peers) and chroots into it. `delete` and a
//! failed `create` detach it with everything on it, the container's own
//! later mounts included. Mounts that were already below the rootfs are
//! copied into the bind and stay untouched on the host.
//!
//! `bind`, `release` and `open` run in the runtime; `seal` and `enter` in
//! the init (and in an exec'd process).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, chroot, fchdir};

use super::fs;
use crate::process::protocol::{At, SetupResult, Step};

/// The bind's name in the container's state directory.
pub const DIR: &str = "rootfs";

/// Binds `rootfs` at `at` (made here), private.
pub fn bind(rootfs: &Path, at: &Path) -> Result<()> {
    let what = || format!("bind the rootfs {} at {}", rootfs.display(), at.display());
    std::fs::create_dir(at).with_context(what)?;
    let made = mount(
        Some(rootfs),
        at,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .and_then(|()| {
        // Only the bind's tree changes: it is a new mount.
        mount(
            None::<&str>,
            at,
            None::<&str>,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            None::<&str>,
        )
    });
    if let Err(e) = made {
        let _ = release(at);
        return Err(e).with_context(what);
    }
    Ok(())
}

/// Detaches everything mounted at `at` and removes the directory; nothing
/// there is fine. Each umount2 takes the topmost mount: the container may
/// have stacked its own over its root.
pub fn release(at: &Path) -> Result<()> {
    for _ in 0..16 {
        if !is_mount_root(at)? {
            return match std::fs::remove_dir(at) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("remove {}", at.display()))
                }
                _ => Ok(()),
            };
        }
        umount2(at, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
            .with_context(|| format!("unmount the container's root {}", at.display()))?;
    }
    bail!(
        "the container's root {} is still mounted after 16 unmounts",
        at.display()
    )
}

/// The bind at `at`, for an exec'd process to chroot into; refused once
/// nothing is mounted there.
pub fn open(at: &Path) -> Result<OwnedFd> {
    if !is_mount_root(at)? {
        bail!("its root {} is no longer mounted", at.display());
    }
    let fd = nix::fcntl::open(
        at,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", at.display()))?;
    // SAFETY: open returned a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `path` is the root of a mount; false when it does not exist.
pub fn is_mount_root(path: &Path) -> Result<bool> {
    let bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    match fs::statx_attributes(path) {
        Ok((_, mask)) if mask & bit == 0 => {
            bail!(
                "statx {}: the kernel does not report mount roots (Linux 5.8+)",
                path.display()
            )
        }
        Ok((attrs, _)) => Ok(attrs & bit != 0),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("statx {}", path.display())),
    }
}

/// After the config's mounts: nothing below the root propagates to the
/// host's peers any more (host mounts still propagate in).
pub fn seal(root: BorrowedFd) -> SetupResult<()> {
    let path = fs::fd_path(&root);
    mount(
        None::<&str>,
        path.as_str(),
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .at(Step::RootPropagation, "/")
}

/// The init's root: a chroot into the bind, through the descriptor its
/// mounts were made through.
pub fn enter(root: BorrowedFd) -> SetupResult<()> {
    fchdir(root.as_raw_fd()).at(Step::PivotRoot, "the container's root")?;
    chroot(".").at(Step::PivotRoot, "the container's root")?;
    chdir("/").at(Step::PivotRoot, "/")
}
