//! `mounts` from config.json: option parsing (done before fork, in
//! [`MountPlan::from_spec`]) and performing each mount inside the rootfs
//! (in the init, before pivot_root). Destinations are resolved inside the
//! rootfs by [`super::fs`]; sources of bind mounts are host paths.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::Mount;

use super::fs;
use super::namespaces::IdMap;
use crate::process::protocol::{At, SetupError, SetupResult, Step};

/// One entry of `mounts`, with its options split into flags, propagation
/// changes and filesystem data.
#[derive(Debug, Clone)]
pub struct MountPlan {
    pub destination: PathBuf,
    pub typ: String,
    /// For bind mounts an absolute host path (relative ones are taken from
    /// the bundle, as runc does).
    pub source: Option<PathBuf>,
    pub bind: bool,
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub data: String,
    /// `tmpcopyup` (a runc and crun extension): the fresh tmpfs starts
    /// with a copy of what the image had at that path.
    pub copy_up: bool,
    /// The recursive options (`rro`, `rnosuid`, ...): mount_setattr(2)
    /// attributes set and cleared on the mount and every mount below it.
    pub recursive: RecursiveAttrs,
    /// `idmap`/`ridmap` or mount-level `uidMappings`/`gidMappings`.
    pub idmap: Option<Idmap>,
}

/// An idmapped bind mount: file owners seen through `uids`/`gids` (the
/// mount's own mappings, or the container's when it gives none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Idmap {
    pub uids: Vec<IdMap>,
    pub gids: Vec<IdMap>,
    /// `ridmap`: every mount below the source too.
    pub recursive: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecursiveAttrs {
    pub set: u64,
    pub clear: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The access-time mode is a value within this mask, not a flag: changing
/// it clears the whole mask (the kernel refuses anything else).
const MOUNT_ATTR_ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// The recursive options: (name, attributes set, attributes cleared).
const RECURSIVE_OPTIONS: &[(&str, u64, u64)] = &[
    ("rro", MOUNT_ATTR_RDONLY, 0),
    ("rrw", 0, MOUNT_ATTR_RDONLY),
    ("rnosuid", MOUNT_ATTR_NOSUID, 0),
    ("rsuid", 0, MOUNT_ATTR_NOSUID),
    ("rnodev", MOUNT_ATTR_NODEV, 0),
    ("rdev", 0, MOUNT_ATTR_NODEV),
    ("rnoexec", MOUNT_ATTR_NOEXEC, 0),
    ("rexec", 0, MOUNT_ATTR_NOEXEC),
    ("rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0),
    ("rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW),
    ("rnodiratime", MOUNT_ATTR_NODIRATIME, 0),
    ("rdiratime", 0, MOUNT_ATTR_NODIRATIME),
    ("rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME),
    ("rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME),
    ("rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR_ATIME),
    // Not noatime, not strictatime: the default, relatime.
    ("ratime", MOUNT_ATTR_RELATIME, MOUNT_ATTR_ATIME),
    ("rnostrictatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR_ATIME),
    ("rnorelatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME),
];

impl MountPlan {
    pub fn from_spec(m: &Mount, bundle: &Path) -> Result<MountPlan> {
        let mut idmap_option = None;
        let mut flags = MsFlags::empty();
        let mut propagation = Vec::new();
        let mut data = Vec::new();
        let mut copy_up = false;
        let mut recursive = RecursiveAttrs::default();
        for opt in m.options().iter().flatten() {
            if let Some((_, set, clear)) = RECURSIVE_OPTIONS.iter().find(|(n, _, _)| n == opt) {
                // A later option wins over an earlier one, as for flags.
                recursive.set = (recursive.set & !clear & !set) | set;
                recursive.clear = (recursive.clear & !set) | clear;
                continue;
            }
            if let Some((set, flag)) = flag_option(opt) {
                if set {
                    flags |= flag;
                } else {
                    flags &= !flag;
                }
            } else if let Some(p) = self::propagation(opt) {
                propagation.push(p);
            } else if opt == "tmpcopyup" {
                if m.typ().as_deref() != Some("tmpfs") {
                    bail!("options: \"tmpcopyup\" only applies to tmpfs mounts");
                }
                copy_up = true;
            } else if opt == "idmap" || opt == "ridmap" {
                idmap_option = Some(opt == "ridmap");
            } else {
                data.push(opt.as_str());
            }
        }
        let typ = m.typ().clone().unwrap_or_default();
        // Kernel interfaces never need suid, devices or executables; sysfs
        // is read-only unless the config asks for "rw" (runc's defaults).
        if typ == "proc" || typ == "sysfs" {
            flags |= MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
        }
        let explicit_rw = m.options().iter().flatten().any(|o| o == "rw");
        if typ == "sysfs" && !explicit_rw {
            flags |= MsFlags::MS_RDONLY;
        }
        let bind = flags.contains(MsFlags::MS_BIND) || typ == "bind";
        if bind {
            flags |= MsFlags::MS_BIND;
        }
        let source = match m.source() {
            Some(s) if bind && !s.is_absolute() => Some(bundle.join(s)),
            Some(s) => Some(s.clone()),
            None if bind => bail!("source: a bind mount needs a source"),
            None => None,
        };
        if typ.is_empty() && !bind {
            bail!("type: missing for {}", m.destination().display());
        }
        let idmap = idmap_of(m, idmap_option)?;
        if idmap.is_some() && !bind {
            bail!("idmap: only bind mounts can be idmapped");
        }
        Ok(MountPlan {
            idmap,
            destination: m.destination().clone(),
            typ,
            source,
            bind,
            flags,
            propagation,
            data: data.join(","),
            copy_up,
            recursive,
        })
    }

    /// Flags that need a second, remounting pass on a bind mount.
    pub fn remount_flags(&self) -> MsFlags {
        self.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }
}

/// The mount's own mappings, if any. Mappings without `idmap` or
/// `ridmap` still make an idmapped mount (of the mount alone), as runc does.
fn idmap_of(m: &Mount, option: Option<bool>) -> Result<Option<Idmap>> {
    let convert = |which: &str, maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        let maps: Vec<IdMap> = maps
            .iter()
            .flatten()
            .map(|m| IdMap {
                container: m.container_id(),
                host: m.host_id(),
                size: m.size(),
            })
            .collect();
        if maps.iter().any(|m| m.size == 0) {
            bail!("{which}: a mapping of size 0");
        }
        Ok(maps)
    };
    let uids = convert("uidMappings", m.uid_mappings())?;
    let gids = convert("gidMappings", m.gid_mappings())?;
    if uids.is_empty() != gids.is_empty() {
        bail!("uidMappings/gidMappings: an idmapped mount needs both or neither");
    }
    if uids.is_empty() && option.is_none() {
        return Ok(None);
    }
    Ok(Some(Idmap {
        uids,
        gids,
        recursive: option.unwrap_or(false),
    }))
}

/// The mount options that are flags: (name, set or clear, flag).
const FLAG_OPTIONS: &[(&str, bool, MsFlags)] = &[
    ("defaults", true, MsFlags::empty()),
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("suid", false, MsFlags::MS_NOSUID),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("dev", false, MsFlags::MS_NODEV),
    ("nodev", true, MsFlags::MS_NODEV),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("remount", true, MsFlags::MS_REMOUNT),
    ("mand", true, MsFlags::MS_MANDLOCK),
    ("nomand", false, MsFlags::MS_MANDLOCK),
    ("atime", false, MsFlags::MS_NOATIME),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
    ("nostrictatime", false, MsFlags::MS_STRICTATIME),
    ("bind", true, MsFlags::MS_BIND),
    ("rbind", true, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("silent", true, MsFlags::MS_SILENT),
    ("loud", false, MsFlags::MS_SILENT),
];

/// `(set, flag)` for a mount option that is a flag.
fn flag_option(opt: &str) -> Option<(bool, MsFlags)> {
    FLAG_OPTIONS
        .iter()
        .find(|(name, _, _)| *name == opt)
        .map(|(_, set, flag)| (*set, *flag))
}

/// Every mount option vzrun knows by name (flags, propagation,
/// `tmpcopyup`, `idmap`, `ridmap`), for `vzrun features`; anything else is passed to the
/// filesystem as data.
pub fn known_options() -> Vec<&'static str> {
    let mut v: Vec<&str> = FLAG_OPTIONS.iter().map(|(n, _, _)| *n).collect();
    v.extend(PROPAGATION_OPTIONS.iter().map(|(n, _)| *n));
    v.extend(RECURSIVE_OPTIONS.iter().map(|(n, _, _)| *n));
    v.extend(["tmpcopyup", "idmap", "ridmap"]);
    v.sort_unstable();
    v
}

const PROPAGATION_OPTIONS: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Propagation options (also the values of `linux.rootfsPropagation`).
pub fn propagation(opt: &str) -> Option<MsFlags> {
    PROPAGATION_OPTIONS
        .iter()
        .find(|(name, _)| *name == opt)
        .map(|(_, f)| *f)
}

/// What a mount needs to know about the container beyond its own entry.
pub struct MountContext<'a> {
    pub root: BorrowedFd<'a>,
    /// The container has a user namespace of its own.
    pub user_namespace: bool,
    pub cgroup_path: &'a Path,
    pub new_cgroup_ns: bool,
}

/// Performs one mount inside the rootfs.
/// `opened` is the source the runtime opened for a bind (`open_source`).
pub fn mount_one(m: &MountPlan, opened: Option<&OwnedFd>, ctx: &MountContext) -> SetupResult<()> {
    let dest = m.destination.display();
    if m.typ == "cgroup" || m.typ == "cgroup2" {
        return mount_cgroup(m, ctx);
    }
    if m.typ == "proc" || m.typ == "sysfs" {
        refuse_symlink_destination(m, ctx)?;
    }
    if m.bind {
        let source = m.source.as_ref().expect("checked by from_spec");
        let is_dir = match opened {
            Some(fd) => nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd))
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
                .at(Step::Mount, source.display())?,
            None => std::fs::metadata(source)
                .at(Step::Mount, source.display())?
                .is_dir(),
        };
        let target = if is_dir {
            fs::mkdir_all(ctx.root, &m.destination, 0o755)
        } else {
            fs::touch(ctx.root, &m.destination)
        }
        .at(Step::Mount, &dest)?;
        match opened {
            Some(fd) => move_into_place(fd, &target),
            None => mount(
                Some(source),
                fs::fd_path(&target).as_str(),
                None::<&str>,
                m.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
                None::<&str>,
            ),
        }
        .map_err(|e| {
            SetupError::new(Step::Mount, format!("{} on {dest}", source.display())).errno(e)
        })?;
        let extra = m.remount_flags();
        if !extra.is_empty() {
            let top = reopen(ctx, &m.destination)?;
            if opened.is_some() && ctx.user_namespace {
                // The runtime's copy of the source is not locked as one the
                // user namespace inherited would be: keep what the kernel
                // would have locked, as the retry below does for those.
                remount_keeping_locked(&top, extra, &dest)?;
            } else {
                remount_bind(&top, extra, &dest)?;
            }
        }
    } else {
        let target = fs::mkdir_all(ctx.root, &m.destination, 0o755).at(Step::Mount, &dest)?;
        // The directory the tmpfs will hide, kept open to copy from.
        let under = if m.copy_up {
            Some(fs::reopen_dir(&target).at(Step::Mount, &dest)?)
        } else {
            None
        };
        let source = m.source.clone().unwrap_or_else(|| PathBuf::from(&m.typ));
        let data = tmpfs_data(m, &target).at(Step::Mount, &dest)?;
        let data = Some(data.as_str()).filter(|d| !d.is_empty());
        mount(
            Some(&source),
            fs::fd_path(&target).as_str(),
            Some(m.typ.as_str()),
            m.flags & !MsFlags::MS_REMOUNT,
            data,
        )
        .map_err(|e| {
            SetupError::new(
                Step::Mount,
                format!("{} ({}) on {dest}", source.display(), m.typ),
            )
            .errno(e)
        })?;
        if let Some(under) = under {
            let top = reopen(ctx, &m.destination)?;
            let over = fs::reopen_dir(&top).at(Step::Mount, &dest)?;
            fs::copy_tree(under.as_fd(), over.as_fd()).map_err(|e| {
                SetupError::new(Step::Mount, format!("tmpcopyup into {dest}")).errno(e)
            })?;
        }
    }
    if m.recursive != RecursiveAttrs::default() {
        let top = reopen(ctx, &m.destination)?;
        set_recursive(&top, m.recursive).at(Step::Mount, format!("recursive options on {dest}"))?;
    }
    if !m.propagation.is_empty() {
        let top = reopen(ctx, &m.destination)?;
        for p in &m.propagation {
            mount(
                None::<&str>,
                fs::fd_path(&top).as_str(),
                None::<&str>,
                *p,
                None::<&str>,
            )
            .at(Step::Mount, &dest)?;
        }
    }
    Ok(())
}

/// A tmpfs takes the mode of the directory it covers unless the options
/// give one (runc's rule; tmpfs's own default would be 1777).
fn tmpfs_data(m: &MountPlan, target: &OwnedFd) -> nix::Result<String> {
    let given = m.data.split(',').any(|o| o.starts_with("mode="));
    if m.typ != "tmpfs" || given {
        return Ok(m.data.clone());
    }
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(target))?;
    let mode = format!("mode={:o}", st.st_mode & 0o7777);
    Ok(if m.data.is_empty() {
        mode
    } else {
        format!("{},{mode}", m.data)
    })
}

/// A procfs or sysfs goes on an ordinary directory: a symlink there, even
/// one that resolves inside the rootfs, would let the image redirect the
/// kernel's interfaces (CVE-2019-16884), and is refused as runc does.
fn refuse_symlink_destination(m: &MountPlan, ctx: &MountContext) -> SetupResult<()> {
    let dest = m.destination.display();
    let Ok(fd) = fs::open_in_root(ctx.root, &m.destination, OFlag::O_PATH | OFlag::O_NOFOLLOW)
    else {
        // Missing: made as a directory by the mount.
        return Ok(());
    };
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).at(Step::Mount, &dest)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(SetupError::new(Step::Mount, &dest).detail(format!(
            "{} must be mounted on ordinary directory (it is a symlink)",
            m.typ
        )));
    }
    Ok(())
}

/// mount_setattr(2) on the mount at `top` and every mount below it.
fn set_recursive(top: &OwnedFd, a: RecursiveAttrs) -> nix::Result<()> {
    setattr(top, a.set, a.clear, None, true)
}

/// mount_setattr(2) on the mount `fd` refers to (and every mount below it
/// when `recursive`); `userns` for MOUNT_ATTR_IDMAP.
fn setattr(
    fd: &OwnedFd,
    set: u64,
    clear: u64,
    userns: Option<BorrowedFd>,
    recursive: bool,
) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: userns.map_or(0, |fd| fd.as_raw_fd() as u64),
    };
    let flags = if recursive {
        libc::AT_EMPTY_PATH | libc::AT_RECURSIVE
    } else {
        libc::AT_EMPTY_PATH
    };
    // SAFETY: mount_setattr reads a mount_attr of the size given, from a
    // repr(C) struct of the kernel's layout that outlives the call; the
    // empty path is a valid C string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    nix::errno::Errno::result(rc).map(drop)
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// The source of bind mount `m`, opened by the runtime with the host's
/// privileges as a detached copy (open_tree(2) with OPEN_TREE_CLONE) that
/// the init moves into place: a source the container's mapped root cannot
/// reach (a 0700 host directory) still mounts, and an idmapped one gets
/// its mapping here, where the host's privileges allow it. `userns` is a
/// user namespace holding the mount's mapping.
pub fn open_source(m: &MountPlan, userns: Option<BorrowedFd>) -> Result<OwnedFd> {
    use anyhow::Context;
    use std::os::unix::ffi::OsStrExt;
    let source = m.source.as_ref().expect("a bind mount has a source");
    let path = std::ffi::CString::new(source.as_os_str().as_bytes())
        .with_context(|| format!("source {}: a NUL byte", source.display()))?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if m.flags.contains(MsFlags::MS_REC) {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: open_tree with a valid C string that outlives the call; it
    // returns a fresh descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    let fd = nix::errno::Errno::result(fd)
        .with_context(|| format!("open bind mount source {}", source.display()))?;
    // SAFETY: the descriptor was just returned to us and is ours alone.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    if let (Some(idmap), Some(ns)) = (&m.idmap, userns) {
        setattr(&fd, MOUNT_ATTR_IDMAP, 0, Some(ns), idmap.recursive).map_err(|e| {
            let why = match e {
                nix::errno::Errno::EINVAL => {
                    ": its filesystem (or this kernel) does not support idmapped mounts"
                }
                nix::errno::Errno::EPERM => {
                    ": its filesystem belongs to a user namespace in which this process lacks \
                     CAP_SYS_ADMIN (an unprivileged user may idmap only filesystems the \
                     container mounts itself, such as a tmpfs)"
                }
                _ => "",
            };
            anyhow::anyhow!("idmap {}{why} ({e})", source.display())
        })?;
    }
    Ok(fd)
}

/// move_mount(2) of a detached mount (from `open_source`) onto `target`.
fn move_into_place(source: &OwnedFd, target: &OwnedFd) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    // SAFETY: move_mount between two descriptors we hold, with empty
    // paths (valid C strings); nothing else is read or written.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            source.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    nix::errno::Errno::result(rc).map(drop)
}

fn reopen(ctx: &MountContext, dest: &Path) -> SetupResult<OwnedFd> {
    fs::open_in_root(ctx.root, dest, OFlag::O_PATH).at(Step::Mount, dest.display())
}

/// Applies flags to an existing bind mount. Flags the kernel locked on the
/// source mount (ro, nosuid, nodev, noexec and the access-time mode of a
/// mount a user namespace inherited) are kept, or the remount would be
/// refused: asking to clear them gets the source's, as with runc.
pub fn remount_bind(
    target: &OwnedFd,
    flags: MsFlags,
    what: &dyn std::fmt::Display,
) -> SetupResult<()> {
    // Exactly what was asked first (an explicit `suid` or `exec` must
    // count); when the kernel refuses because it locked flags of the source
    // mount (in a user namespace), keep those.
    let asked = mount(
        None::<&str>,
        fs::fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    );
    match asked {
        Err(nix::errno::Errno::EPERM) => remount_keeping_locked(target, flags, what),
        r => r.at(Step::Mount, format!("remount {what}")),
    }
}

/// A bind remount with `flags` plus what the kernel locks on a mount a
/// user namespace inherits: the source's ro, nosuid, nodev, noexec and
/// access-time mode (which replaces the one asked for: it is one value).
fn remount_keeping_locked(
    target: &OwnedFd,
    flags: MsFlags,
    what: &dyn std::fmt::Display,
) -> SetupResult<()> {
    let flags = (flags & !ATIME_FLAGS) | locked_flags(target);
    mount(
        None::<&str>,
        fs::fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    )
    .at(Step::Mount, format!("remount {what}"))
}

const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME)
    .union(MsFlags::MS_NODIRATIME);

/// The flags of the mount `fd` is on that the kernel can lock.
fn locked_flags(fd: &OwnedFd) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, fstatvfs};
    let Ok(st) = fstatvfs(fd.as_fd()) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    // Neither noatime nor relatime: the mount updates atime strictly.
    if !f.intersects(FsFlags::ST_NOATIME | FsFlags::ST_RELATIME) {
        out |= MsFlags::MS_STRICTATIME;
    }
    out
}

/// A `cgroup` mount: on a unified host a cgroup2 mount; on v1 a tmpfs with
/// one directory per hierarchy, each bound to the container's own cgroup
/// (or freshly mounted when the container has its own cgroup namespace),
/// and `unified` for a hybrid host's cgroup2 mount that holds controllers.
fn mount_cgroup(m: &MountPlan, ctx: &MountContext) -> SetupResult<()> {
    let dest = m.destination.display().to_string();
    let target = fs::mkdir_all(ctx.root, &m.destination, 0o755).at(Step::Mount, &dest)?;
    let flags = m.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let rel = ctx.cgroup_path.strip_prefix("/").unwrap_or(ctx.cgroup_path);
    if crate::cgroups::unified() || m.typ == "cgroup2" {
        let mut host_dir = Path::new("/sys/fs/cgroup").join(rel);
        if !host_dir.is_dir()
            && !ctx.new_cgroup_ns
            && let Some(own) = own_cgroup_v2()
        {
            // No cgroup of its own (rootless, nothing delegated): the one
            // the container runs in, its caller's.
            host_dir = Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/'));
        }
        return mount_cgroup2_view(ctx, &m.destination, &host_dir, flags);
    }
    mount(
        Some("tmpfs"),
        fs::fd_path(&target).as_str(),
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        Some("mode=755"),
    )
    .at(Step::Mount, format!("tmpfs on {dest}"))?;
    for (mountpoint, options) in v1_hierarchies() {
        let Some(name) = Path::new(&mountpoint).file_name() else {
            continue;
        };
        let sub = m.destination.join(name);
        let host_dir = Path::new(&mountpoint).join(rel);
        if !host_dir.is_dir() {
            continue;
        }
        let t = fs::mkdir_all(ctx.root, &sub, 0o755).at(Step::Mount, sub.display())?;
        let what = sub.display();
        if ctx.new_cgroup_ns {
            mount(
                Some("cgroup"),
                fs::fd_path(&t).as_str(),
                Some("cgroup"),
                flags,
                Some(options.as_str()),
            )
            .at(Step::Mount, format!("cgroup on {what}"))?;
        } else {
            bind_cgroup_dir(ctx, &t, &sub, &host_dir, flags)?;
        }
    }
    // A hybrid host's cgroup2 mount that holds controllers (hugetlb on
    // this project's machines), as the host shows it at
    // /sys/fs/cgroup/unified, so that their limits can be read inside.
    if let Some(host_dir) = crate::cgroups::hybrid_dir(ctx.cgroup_path)
        && host_dir.is_dir()
    {
        mount_cgroup2_view(ctx, &m.destination.join("unified"), &host_dir, flags)?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let top = reopen(ctx, &m.destination)?;
        mount(
            None::<&str>,
            fs::fd_path(&top).as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | flags,
            None::<&str>,
        )
        .at(Step::Mount, format!("remount {dest} read-only"))?;
    }
    Ok(())
}

/// This process's cgroup on the cgroup2 hierarchy ("0::PATH").
fn own_cgroup_v2() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// The container's cgroup on a cgroup2 hierarchy at `dest`. With its own
/// cgroup namespace the container mounts cgroup2 itself, rooted at its
/// cgroup. Without one a fresh mount would show the host's whole tree (and
/// the kernel refuses options that differ from the host's): it gets its
/// own cgroup (`host_dir`) bound instead.
fn mount_cgroup2_view(
    ctx: &MountContext,
    dest: &Path,
    host_dir: &Path,
    flags: MsFlags,
) -> SetupResult<()> {
    let what = dest.display();
    let target = fs::mkdir_all(ctx.root, dest, 0o755).at(Step::Mount, &what)?;
    if ctx.new_cgroup_ns {
        // The cgroup2 superblock is shared with the host's mount, and the
        // kernel refuses (EBUSY) a new mount whose read-only flag differs
        // from it: read-write first, then this mount read-only.
        mount(
            Some("cgroup2"),
            fs::fd_path(&target).as_str(),
            Some("cgroup2"),
            flags & !MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .at(Step::Mount, format!("cgroup2 on {what}"))?;
        if !flags.is_empty() {
            let top = reopen(ctx, dest)?;
            remount_bind(&top, flags, &what)?;
        }
        return Ok(());
    }
    bind_cgroup_dir(ctx, &target, dest, host_dir, flags)
}

/// The container's own cgroup directory of the host (`host_dir`) bound at
/// `dest` (opened as `target`), with the mount's flags.
fn bind_cgroup_dir(
    ctx: &MountContext,
    target: &OwnedFd,
    dest: &Path,
    host_dir: &Path,
    flags: MsFlags,
) -> SetupResult<()> {
    let what = dest.display();
    mount(
        Some(host_dir),
        fs::fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .at(Step::Mount, format!("{} on {what}", host_dir.display()))?;
    if !flags.is_empty() {
        let top = reopen(ctx, dest)?;
        remount_bind(&top, flags, &what)?;
    }
    Ok(())
}

/// The host's cgroup v1 hierarchies: mount point and controller options.
/// The host directories the runtime binds below a `cgroup` mount at
/// `dest` for a container whose cgroup is `cgroup_path` (no cgroup
/// namespace): `(path in the container, host directory)`. Restore gives
/// them to CRIU for the mounts a checkpoint recorded as external.
pub fn cgroup_binds(dest: &Path, cgroup_path: &Path) -> Vec<(PathBuf, PathBuf)> {
    let rel = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    if crate::cgroups::unified() {
        return vec![(dest.to_path_buf(), Path::new("/sys/fs/cgroup").join(rel))];
    }
    let mut out: Vec<(PathBuf, PathBuf)> = v1_hierarchies()
        .into_iter()
        .filter_map(|(mountpoint, _)| {
            let name = Path::new(&mountpoint).file_name()?.to_owned();
            Some((dest.join(name), Path::new(&mountpoint).join(rel)))
        })
        .collect();
    if let Some(host_dir) = crate::cgroups::hybrid_dir(cgroup_path) {
        out.push((dest.join("unified"), host_dir));
    }
    out
}

fn v1_hierarchies() -> Vec<(String, String)> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mut post = post.split(' ');
            if post.next()? != "cgroup" {
                return None;
            }
            let super_opts = post.nth(1)?;
            let mountpoint = pre.split(' ').nth(4)?;
            let controllers: Vec<&str> = super_opts
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro"))
                .collect();
            Some((mountpoint.to_string(), controllers.join(",")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    #[test]
    fn options_split_into_flags_and_data() {
        let m = MountBuilder::default()
            .destination("/dev")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec![
                "nosuid".into(),
                "strictatime".into(),
                "mode=755".into(),
                "size=65536k".into(),
                "rprivate".into(),
            ])
            .build()
            .unwrap();
        let p = MountPlan::from_spec(&m, Path::new("/b")).unwrap();
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(p.data, "mode=755,size=65536k");
        assert_eq!(p.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(!p.bind);
    }

    #[test]
    fn relative_bind_sources_come_from_the_bundle() {
        let m = MountBuilder::default()
            .destination("/data")
            .source("data")
            .options(vec!["rbind".into(), "ro".into()])
            .build()
            .unwrap();
        let p = MountPlan::from_spec(&m, Path::new("/b")).unwrap();
        assert!(p.bind);
        assert_eq!(p.source.as_deref(), Some(Path::new("/b/data")));
        assert_eq!(p.remount_flags(), MsFlags::MS_RDONLY);
    }
}
