//! `/dev` inside the container: the default devices every container gets,
//! `linux.devices`, and the usual symlinks (`/dev/fd`, `/dev/stdin`, ...,
//! `/dev/ptmx` → `pts/ptmx`). The matching cgroup device rules are applied
//! with the other limits (`cgroups`), not here.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, symlinkat, unlinkat};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::fs;
use crate::process::protocol::{At, SetupError, SetupResult, Step};

/// A device node to create in the container.
#[derive(Clone, Debug)]
pub struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices a container always gets, as the runtime-spec lists them.
pub fn defaults() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// The defaults plus `linux.devices`; a configured device replaces a
/// default one at the same path.
pub fn plan(config: &[LinuxDevice]) -> Vec<Device> {
    let mut out: Vec<Device> = defaults();
    for d in config {
        let kind = match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let dev = Device {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.retain(|o| o.path != dev.path);
        out.push(dev);
    }
    out
}

/// Creates the device nodes. In a user namespace mknod is refused, so the
/// host's node is bind mounted onto an empty file instead.
pub fn create(root: BorrowedFd, devices: &[Device], bind: bool) -> SetupResult<()> {
    for d in devices {
        let shown = d.path.display();
        if bind {
            let target = fs::touch(root, &d.path).at(Step::CreateDevice, &shown)?;
            mount(
                Some(&d.path),
                fs::fd_path(&target).as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| {
                SetupError::new(Step::CreateDevice, &shown)
                    .detail("bind from the host")
                    .errno(e)
            })?;
            continue;
        }
        let (dir, name) = fs::parent_of(root, &d.path).at(Step::CreateDevice, &shown)?;
        match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(SetupError::new(Step::CreateDevice, &shown).errno(e)),
        }
        let dev = if d.kind == SFlag::S_IFIFO {
            0
        } else {
            makedev(d.major, d.minor)
        };
        mknodat(
            Some(dir.as_raw_fd()),
            name,
            d.kind,
            Mode::from_bits_truncate(d.mode),
            dev,
        )
        .at(Step::CreateDevice, &shown)?;
        fchownat(
            Some(dir.as_raw_fd()),
            name,
            Some(Uid::from_raw(d.uid)),
            Some(Gid::from_raw(d.gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .at(Step::CreateDevice, &shown)?;
    }
    Ok(())
}

/// The symlinks programs expect in `/dev`.
pub fn symlinks(root: BorrowedFd) -> SetupResult<()> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let (dir, name) = fs::parent_of(root, Path::new(link)).at(Step::Symlink, link)?;
        if link == "/dev/ptmx" {
            // A ptmx node from the rootfs would bypass the container's devpts.
            let _ = unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir);
        }
        match symlinkat(target, Some(dir.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(SetupError::new(Step::Symlink, link).errno(e)),
        }
    }
    Ok(())
}
