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

use super::{At, SetupResult, Step, fs};

/// Stops the container's mounts from reaching the host (and the host's from
/// reaching the container, per `rootfsPropagation`), then makes the rootfs a
/// mount point of its own, as pivot_root needs. Returns an `O_PATH`
/// descriptor of it for resolving paths inside.
pub fn prepare(rootfs: &Path, propagation: MsFlags) -> SetupResult<OwnedFd> {
    // Shared propagation of the rootfs itself is applied after the bind:
    // pivot_root refuses a shared parent.
    let root_prop = if propagation.contains(MsFlags::MS_SHARED) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        propagation
    };
    mount(None::<&str>, "/", None::<&str>, root_prop, None::<&str>)
        .at(Step::RootPropagation, "/")?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .at(Step::BindRootfs, rootfs.display())?;
    if propagation.contains(MsFlags::MS_SHARED) {
        mount(
            None::<&str>,
            rootfs,
            None::<&str>,
            propagation,
            None::<&str>,
        )
        .at(Step::RootPropagation, rootfs.display())?;
    }
    let fd = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .at(Step::BindRootfs, rootfs.display())?;
    // SAFETY: open returned a fresh descriptor we now own.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Makes the rootfs `/`. pivot_root(".", ".") stacks the old root under the
/// new one; detaching it then leaves no way back to the host.
pub fn pivot(rootfs: &Path) -> SetupResult<()> {
    let step = |e| super::SetupError::new(Step::PivotRoot, rootfs.display()).errno(e);
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
/// `/dev/null` bound over them. Missing paths are fine.
pub fn mask(path: &str) -> SetupResult<()> {
    let root = root_fd()?;
    let fd = match fs::open_in_root(root.as_fd(), Path::new(path), OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(super::SetupError::new(Step::MaskPath, path).errno(e)),
    };
    let is_dir = nix::sys::stat::fstat(fd.as_raw_fd())
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .at(Step::MaskPath, path)?;
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
        mount(
            Some("/dev/null"),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    }
    .at(Step::MaskPath, path)
}

/// Makes a path read-only by binding it onto itself and remounting.
pub fn readonly(path: &str) -> SetupResult<()> {
    let root = root_fd()?;
    let fd = match fs::open_in_root(root.as_fd(), Path::new(path), OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(super::SetupError::new(Step::ReadonlyPath, path).errno(e)),
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
    super::mounts::remount_bind(&root, MsFlags::MS_RDONLY, &"/").map_err(|e| super::SetupError {
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
