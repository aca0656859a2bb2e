//! A container without a mount namespace of its own (none in
//! `linux.namespaces`): the runtime-spec says it inherits the runtime's, so
//! its mounts are made in the caller's mount table and its root is a chroot
//! (pivot_root would move the caller's root too).
//!
//! The host must still look as before once the container is deleted, so
//! the runtime (not the init) first binds the rootfs onto itself, private,
//! and records that mount's id in the state. Every mount of the container,
//! its own later ones included, then sits on that bind and nothing
//! propagates to the host's peers; `delete` (or a failed `create`) detaches
//! the bind with all of them. Mounts that were already below the rootfs are
//! copied into the bind (recursive) and stay untouched on the host.
//!
//! `bind` and `release` run in the runtime; `enter` in the init.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, chroot};

use super::{At, SetupResult, Step};

/// Binds `rootfs` onto itself, private, and returns the bind's mount id.
pub fn bind(rootfs: &Path) -> Result<u64> {
    let what = || format!("bind the rootfs {} onto itself", rootfs.display());
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(what)?;
    let id = mount_id(rootfs).with_context(what)?;
    // Only the bind's tree changes: it is a new mount.
    if let Err(e) = mount(
        None::<&str>,
        rootfs,
        None::<&str>,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None::<&str>,
    ) {
        let _ = release(rootfs, id);
        return Err(e).with_context(what);
    }
    Ok(id)
}

/// Detaches the bind made by [`bind`] with everything mounted on it. Gone
/// already is fine; a mount with another id at that place is not touched.
pub fn release(rootfs: &Path, id: u64) -> Result<()> {
    // Each umount2 takes the topmost mount at the place: the container may
    // have stacked its own over its root.
    for _ in 0..16 {
        let Some(at) = mount_point(id)? else {
            return Ok(());
        };
        umount2(&at, MntFlags::MNT_DETACH)
            .with_context(|| format!("unmount the container's rootfs {}", rootfs.display()))?;
    }
    anyhow::bail!(
        "the container's rootfs {} is still mounted after 16 unmounts",
        rootfs.display()
    )
}

/// The init's root: a chroot into the bind (the runtime made it the topmost
/// mount at `rootfs`).
pub fn enter(rootfs: &Path) -> SetupResult<()> {
    chdir(rootfs).at(Step::PivotRoot, rootfs.display())?;
    chroot(".").at(Step::PivotRoot, rootfs.display())?;
    chdir("/").at(Step::PivotRoot, "/")
}

fn mount_id(path: &Path) -> std::io::Result<u64> {
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))?;
    // SAFETY: statx writes only into `buf`, a plain struct of integers that
    // zeroed memory initialises validly; `c` is a NUL-terminated path.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_NO_AUTOMOUNT,
            libc::STATX_MNT_ID,
            &mut buf,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if buf.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(std::io::Error::other("the kernel reports no mount id"));
    }
    Ok(buf.stx_mnt_id)
}

/// Where the mount with this id is, in our mount namespace.
fn mount_point(id: u64) -> Result<Option<PathBuf>> {
    let f = std::fs::File::open("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    for line in std::io::BufReader::new(f).lines() {
        let line = line.context("read /proc/self/mountinfo")?;
        let mut fields = line.split(' ');
        if fields.next().and_then(|f| f.parse::<u64>().ok()) != Some(id) {
            continue;
        }
        let mp = fields.nth(3).context("/proc/self/mountinfo: short line")?;
        return Ok(Some(PathBuf::from(super::rootfs::unescape(mp))));
    }
    Ok(None)
}
