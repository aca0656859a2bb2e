//! Per-container disk quota, OpenVZ's first-level quota (`diskspace` and
//! `diskinodes` as barrier:limit), enforced by the filesystem that holds
//! the container's writes: the rootfs directory, or the upper directory of
//! an overlay rootfs. Two kinds:
//!
//! - **btrfs qgroups**, when that directory is a btrfs subvolume (podman's
//!   and containerd's btrfs drivers make one per container): quota is
//!   enabled on the filesystem if it is not, and the subvolume's qgroup
//!   gets the limit on referenced bytes. btrfs has no soft limit and no
//!   inode limit.
//! - **project quotas** on ext4 and XFS: a project id of the container's
//!   own marks the tree (with the inherit flag, so new files join it), and
//!   `quotactl` sets soft (barrier) and hard (limit) blocks and inodes.
//!
//! A quota that the filesystem cannot enforce is an error naming the
//! filesystem and what it lacks, never ignored. Runs in the runtime, on
//! host paths, before the container's first process exists.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// barrier:limit, `None` for unlimited.
pub type Pair = (Option<u64>, Option<u64>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Btrfs,
    Project,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Btrfs => "btrfs",
            Kind::Project => "project",
        }
    }

    pub fn from_name(s: &str) -> Result<Kind> {
        match s {
            "btrfs" => Ok(Kind::Btrfs),
            "project" => Ok(Kind::Project),
            _ => bail!("unknown disk quota kind {s:?}"),
        }
    }
}

/// A quota in force: what `update` changes and `delete` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    pub kind: Kind,
    /// The directory whose filesystem enforces it.
    pub path: PathBuf,
    /// The subvolume (qgroup 0/id) or the project id.
    pub id: u64,
}

/// What the filesystem counts now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    /// Project quotas count inodes; btrfs does not.
    pub inodes: Option<u64>,
}

const BTRFS_SUPER_MAGIC: i64 = 0x9123_683e;
const EXT4_SUPER_MAGIC: i64 = 0xef53;
const XFS_SUPER_MAGIC: i64 = 0x5846_5342;
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Where the container's writes land: an overlay rootfs's upper
/// directory (from the mount's options), else the rootfs itself.
pub fn writes_of(rootfs: &Path) -> Result<PathBuf> {
    let fs =
        nix::sys::statfs::statfs(rootfs).with_context(|| format!("statfs {}", rootfs.display()))?;
    if fs.filesystem_type().0 != OVERLAYFS_SUPER_MAGIC {
        return Ok(rootfs.to_path_buf());
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    let at = rootfs
        .canonicalize()
        .with_context(|| format!("resolve {}", rootfs.display()))?;
    let options = mount_of(&info, &at)
        .map(|m| m.super_options)
        .with_context(|| {
            format!(
                "{} is an overlay, but not its mount point",
                rootfs.display()
            )
        })?;
    upper_dir(&options).with_context(|| {
        format!(
            "{} is an overlay without an upper directory: it takes no writes to limit",
            rootfs.display()
        )
    })
}

/// Sets the quota for the directory `at` (from [`writes_of`]).
pub fn set(at: &Path, space: Pair, inodes: Option<Pair>) -> Result<Quota> {
    let fs = nix::sys::statfs::statfs(at).with_context(|| format!("statfs {}", at.display()))?;
    match fs.filesystem_type().0 {
        BTRFS_SUPER_MAGIC => {
            if inodes.is_some() {
                bail!(
                    "diskinodes: {} is on btrfs, whose qgroups count bytes only (no inode limit)",
                    at.display()
                );
            }
            let id = btrfs::limit(at, space.1, true)?;
            Ok(Quota {
                kind: Kind::Btrfs,
                path: at.to_path_buf(),
                id,
            })
        }
        m @ (EXT4_SUPER_MAGIC | XFS_SUPER_MAGIC) => {
            let fs = if m == EXT4_SUPER_MAGIC { "ext4" } else { "xfs" };
            project::check_support(at, fs)?;
            let id = project::claim()?;
            let q = Quota {
                kind: Kind::Project,
                path: at.to_path_buf(),
                id,
            };
            if let Err(e) =
                project::mark(at, id as u32).and_then(|()| project::limit(&q, space, inodes))
            {
                project::release(id);
                return Err(e);
            }
            Ok(q)
        }
        _ => bail!(
            "{} is on a filesystem without per-directory quotas (btrfs subvolumes and ext4/XFS \
             project quotas have them)",
            at.display()
        ),
    }
}

/// Changes the limits of a quota in force (`update --ubc`).
pub fn change(q: &Quota, space: Pair, inodes: Option<Pair>) -> Result<()> {
    match q.kind {
        Kind::Btrfs => {
            if inodes.is_some() {
                bail!("diskinodes: btrfs qgroups count bytes only (no inode limit)");
            }
            btrfs::limit(&q.path, space.1, false).map(drop)
        }
        Kind::Project => project::limit(q, space, inodes),
    }
}

/// Lifts the limits and gives the project id back (`delete`). A directory
/// already gone (its storage removed first) has nothing left to lift.
pub fn remove(q: &Quota) -> Result<()> {
    if !q.path.exists() {
        if q.kind == Kind::Project {
            project::release(q.id);
        }
        return Ok(());
    }
    match q.kind {
        Kind::Btrfs => btrfs::limit(&q.path, None, false).map(drop),
        Kind::Project => {
            let r = project::limit(q, (None, None), Some((None, None)));
            project::release(q.id);
            r
        }
    }
}

pub fn usage(q: &Quota) -> Result<Usage> {
    match q.kind {
        Kind::Btrfs => btrfs::usage(&q.path),
        Kind::Project => project::usage(q),
    }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        p,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(|fd| {
        // SAFETY: open returned a fresh descriptor nothing else owns.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
    })
    .with_context(|| format!("open {}", p.display()))
}

/// A mountinfo line's mount point and super block options.
struct MountLine {
    super_options: String,
    source: String,
}

/// A mountinfo line's mount point and what follows its `-` separator.
fn parse_line(l: &str) -> Option<(String, MountLine)> {
    let fields: Vec<&str> = l.split(' ').collect();
    let at = super::rootfs::unescape(fields.get(4)?);
    let sep = fields.iter().position(|f| *f == "-")?;
    let m = MountLine {
        source: super::rootfs::unescape(fields.get(sep + 2).unwrap_or(&"")),
        super_options: fields.get(sep + 3).unwrap_or(&"").to_string(),
    };
    Some((at, m))
}

/// The last mount at `point` (the one on top).
fn mount_of(info: &str, point: &Path) -> Option<MountLine> {
    let want = point.to_str()?;
    info.lines()
        .rev()
        .filter_map(parse_line)
        .find_map(|(at, m)| (at == want).then_some(m))
}

/// The mount of the filesystem holding `path`: the longest mount point
/// that is a prefix of it (the last of equals, the one on top).
fn mount_holding(info: &str, path: &Path) -> Option<MountLine> {
    info.lines()
        .filter_map(parse_line)
        .filter(|(at, _)| path.starts_with(at))
        .max_by_key(|(at, _)| at.len())
        .map(|(_, m)| m)
}

/// `upperdir=` of overlay options (commas in paths come escaped as `\,`).
fn upper_dir(options: &str) -> Option<PathBuf> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .find_map(|p| p.strip_prefix("upperdir=").map(PathBuf::from))
}

/// A kernel build option from /proc/config.gz: `Some(true)` when built in
/// or a module, `Some(false)` when not set, `None` when the kernel does not
/// say.
fn kernel_option(name: &str) -> Option<bool> {
    use std::io::Read;
    let f = std::fs::File::open("/proc/config.gz").ok()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .ok()?;
    option_in(&text, name)
}

fn option_in(config: &str, name: &str) -> Option<bool> {
    config.lines().find_map(|l| {
        if l == format!("# {name} is not set") {
            return Some(false);
        }
        let v = l.strip_prefix(name)?.strip_prefix('=')?;
        Some(v == "y" || v == "m")
    })
}

mod btrfs {
    use super::*;

    const MAGIC: u8 = 0x94;
    /// The inode number of every subvolume's root directory.
    const FIRST_FREE_OBJECTID: u64 = 256;
    const QUOTA_CTL_ENABLE: u64 = 1;
    const LIMIT_MAX_RFER: u64 = 1;

    #[repr(C)]
    pub struct InoLookupArgs {
        treeid: u64,
        objectid: u64,
        name: [u8; 4080],
    }

    #[repr(C)]
    pub struct FsInfoArgs {
        max_id: u64,
        num_devices: u64,
        fsid: [u8; 16],
        rest: [u8; 1024 - 32],
    }

    #[repr(C)]
    pub struct QuotaCtlArgs {
        cmd: u64,
        status: u64,
    }

    #[repr(C)]
    pub struct QgroupLimitArgs {
        qgroupid: u64,
        flags: u64,
        max_rfer: u64,
        max_excl: u64,
        rsv_rfer: u64,
        rsv_excl: u64,
    }

    nix::ioctl_readwrite!(ino_lookup, MAGIC, 18, InoLookupArgs);
    nix::ioctl_read!(fs_info, MAGIC, 31, FsInfoArgs);
    nix::ioctl_readwrite!(quota_ctl, MAGIC, 40, QuotaCtlArgs);
    nix::ioctl_read!(qgroup_limit, MAGIC, 43, QgroupLimitArgs);
    nix::ioctl_none!(quota_rescan_wait, MAGIC, 46);

    /// The subvolume `at` is the root of, and its filesystem's sysfs
    /// directory.
    fn subvolume(fd: &OwnedFd, at: &Path) -> Result<(u64, PathBuf)> {
        let st = nix::sys::stat::fstat(fd.as_raw_fd())
            .with_context(|| format!("stat {}", at.display()))?;
        if st.st_ino != FIRST_FREE_OBJECTID {
            bail!(
                "{} is a directory on btrfs, not a subvolume: a disk quota needs the \
                 container's writes in a subvolume of their own (`btrfs subvolume create`; \
                 podman's and containerd's btrfs drivers make one)",
                at.display()
            );
        }
        let mut args = InoLookupArgs {
            treeid: 0,
            objectid: FIRST_FREE_OBJECTID,
            name: [0; 4080],
        };
        // SAFETY: BTRFS_IOC_INO_LOOKUP reads and writes the struct of the
        // kernel's layout and size that we pass, which outlives the call.
        unsafe { ino_lookup(fd.as_raw_fd(), &mut args) }
            .with_context(|| format!("BTRFS_IOC_INO_LOOKUP on {}", at.display()))?;
        let mut info = FsInfoArgs {
            max_id: 0,
            num_devices: 0,
            fsid: [0; 16],
            rest: [0; 1024 - 32],
        };
        // SAFETY: BTRFS_IOC_FS_INFO fills the 1024-byte struct we pass.
        unsafe { fs_info(fd.as_raw_fd(), &mut info) }
            .with_context(|| format!("BTRFS_IOC_FS_INFO on {}", at.display()))?;
        let f = info.fsid;
        let hex =
            |r: std::ops::Range<usize>| f[r].iter().map(|b| format!("{b:02x}")).collect::<String>();
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            hex(0..4),
            hex(4..6),
            hex(6..8),
            hex(8..10),
            hex(10..16)
        );
        Ok((args.treeid, PathBuf::from("/sys/fs/btrfs").join(uuid)))
    }

    /// Limits the subvolume at `at` to `bytes` referenced (`None`: no
    /// limit), enabling quota on the filesystem first when `enable`.
    /// Returns the subvolume id.
    pub fn limit(at: &Path, bytes: Option<u64>, enable: bool) -> Result<u64> {
        let fd = open_dir(at)?;
        let (id, sysfs) = subvolume(&fd, at)?;
        if enable && !sysfs.join("qgroups").exists() {
            crate::logging::debug(format!("enabling btrfs quota for {}", at.display()));
            let mut args = QuotaCtlArgs {
                cmd: QUOTA_CTL_ENABLE,
                status: 0,
            };
            // SAFETY: BTRFS_IOC_QUOTA_CTL reads and writes the struct we
            // pass, of the kernel's layout.
            unsafe { quota_ctl(fd.as_raw_fd(), &mut args) }
                .with_context(|| format!("enable btrfs quota on {}", at.display()))?;
            // SAFETY: takes no argument; waits for the accounting of what
            // the filesystem already holds.
            unsafe { quota_rescan_wait(fd.as_raw_fd()) }
                .with_context(|| format!("wait for btrfs quota rescan on {}", at.display()))?;
        }
        // Through the parent's subvolume: the ioctl's transaction is
        // charged to the subvolume it is issued on, and one over its limit
        // would refuse the very change that lifts it (EDQUOT).
        let parent = at.parent().map(open_dir).transpose()?;
        let on = parent.as_ref().unwrap_or(&fd);
        let mut args = QgroupLimitArgs {
            qgroupid: id,
            flags: LIMIT_MAX_RFER,
            // btrfs-progs' "none".
            max_rfer: bytes.unwrap_or(u64::MAX),
            max_excl: 0,
            rsv_rfer: 0,
            rsv_excl: 0,
        };
        // SAFETY: BTRFS_IOC_QGROUP_LIMIT reads the struct we pass, of the
        // kernel's layout, which outlives the call.
        unsafe { qgroup_limit(on.as_raw_fd(), &mut args) }
            .with_context(|| format!("limit btrfs qgroup 0/{id} of {}", at.display()))?;
        Ok(id)
    }

    pub fn usage(at: &Path) -> Result<Usage> {
        let fd = open_dir(at)?;
        // qgroup numbers follow transaction commits.
        nix::unistd::syncfs(fd.as_raw_fd()).with_context(|| format!("syncfs {}", at.display()))?;
        let (id, sysfs) = subvolume(&fd, at)?;
        let f = sysfs.join(format!("qgroups/0_{id}/referenced"));
        let text = std::fs::read_to_string(&f).with_context(|| format!("read {}", f.display()))?;
        Ok(Usage {
            bytes: text
                .trim()
                .parse()
                .with_context(|| format!("{}", f.display()))?,
            inodes: None,
        })
    }
}

mod project {
    use super::*;

    /// Project ids vzrun hands out, one per container, claimed by making
    /// `<CLAIMS>/<id>` (never reused while a container holds it).
    const CLAIMS: &str = "/run/vzrun-projects";
    const FIRST_ID: u64 = 0x7a00_0000;

    const Q_GETQUOTA: u32 = 0x80_0007;
    const Q_SETQUOTA: u32 = 0x80_0008;
    const PRJQUOTA: u32 = 2;
    const QIF_BLIMITS: u32 = 1;
    const QIF_ILIMITS: u32 = 4;
    const QIF_LIMITS: u32 = QIF_BLIMITS | QIF_ILIMITS;
    /// The inherit flag of FS_IOC_FSSETXATTR: new files take the
    /// directory's project.
    const FS_XFLAG_PROJINHERIT: u32 = 0x200;

    /// struct if_dqblk
    #[repr(C)]
    #[derive(Default, Debug)]
    pub struct Dqblk {
        pub bhardlimit: u64,
        pub bsoftlimit: u64,
        pub curspace: u64,
        pub ihardlimit: u64,
        pub isoftlimit: u64,
        pub curinodes: u64,
        pub btime: u64,
        pub itime: u64,
        pub valid: u32,
    }

    /// struct fsxattr
    #[repr(C)]
    #[derive(Default)]
    pub struct FsXattr {
        xflags: u32,
        extsize: u32,
        nextents: u32,
        projid: u32,
        cowextsize: u32,
        pad: [u8; 8],
    }

    nix::ioctl_read!(fsgetxattr, b'X', 31, FsXattr);
    nix::ioctl_write_ptr!(fssetxattr, b'X', 32, FsXattr);

    pub fn qcmd(cmd: u32, typ: u32) -> u32 {
        (cmd << 8) | (typ & 0xff)
    }

    /// Refuses, by name, a filesystem or kernel without project quotas.
    pub fn check_support(at: &Path, fs: &str) -> Result<()> {
        let option = if fs == "ext4" {
            "CONFIG_QFMT_V2"
        } else {
            "CONFIG_XFS_QUOTA"
        };
        if kernel_option(option) == Some(false) {
            bail!(
                "{} is on {fs}, whose project quotas need a kernel built with {option}, which \
                 this one ({}) is not",
                at.display(),
                nix::sys::utsname::uname()
                    .map(|u| u.release().to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
        }
        let info = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
        let canon = at.canonicalize().unwrap_or_else(|_| at.to_path_buf());
        let m = mount_holding(&info, &canon)
            .with_context(|| format!("find the mount holding {}", at.display()))?;
        let on = m
            .super_options
            .split(',')
            .any(|o| matches!(o, "prjquota" | "pquota" | "pqnoenforce"));
        if !on {
            bail!(
                "{} is on {fs} ({}) mounted without project quotas: it needs the mount option \
                 prjquota{}",
                at.display(),
                m.source,
                if fs == "ext4" {
                    " and the filesystem's project and quota features (tune2fs -O project,quota)"
                } else {
                    ""
                }
            );
        }
        Ok(())
    }

    /// A project id no other container holds.
    pub fn claim() -> Result<u64> {
        std::fs::create_dir_all(CLAIMS).with_context(|| format!("create {CLAIMS}"))?;
        for id in FIRST_ID..FIRST_ID + 1_000_000 {
            match std::fs::create_dir(Path::new(CLAIMS).join(id.to_string())) {
                Ok(()) => return Ok(id),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("claim a project id in {CLAIMS}")),
            }
        }
        bail!("no free project id in {CLAIMS}")
    }

    pub fn release(id: u64) {
        let _ = std::fs::remove_dir(Path::new(CLAIMS).join(id.to_string()));
    }

    /// Marks every file of the tree at `at` (one filesystem, symlinks not
    /// followed) with project `id`, directories with the inherit flag.
    pub fn mark(at: &Path, id: u32) -> Result<()> {
        let dev =
            std::fs::symlink_metadata(at).with_context(|| format!("stat {}", at.display()))?;
        let mut todo = vec![at.to_path_buf()];
        while let Some(p) = todo.pop() {
            let meta = std::fs::symlink_metadata(&p)?;
            use std::os::unix::fs::MetadataExt;
            if meta.dev() != dev.dev() || meta.file_type().is_symlink() {
                continue;
            }
            if !(meta.is_dir() || meta.is_file()) {
                continue;
            }
            let fd = nix::fcntl::open(
                &p,
                OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                Mode::empty(),
            )
            .with_context(|| format!("open {}", p.display()))?;
            // SAFETY: a fresh descriptor nothing else owns.
            let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            let mut x = FsXattr::default();
            // SAFETY: FS_IOC_FSGETXATTR fills the struct fsxattr we pass.
            unsafe { fsgetxattr(fd.as_raw_fd(), &mut x) }
                .with_context(|| format!("FS_IOC_FSGETXATTR {}", p.display()))?;
            x.projid = id;
            if meta.is_dir() {
                x.xflags |= FS_XFLAG_PROJINHERIT;
                for e in std::fs::read_dir(&p)? {
                    todo.push(e?.path());
                }
            }
            // SAFETY: FS_IOC_FSSETXATTR reads the struct fsxattr we pass.
            unsafe { fssetxattr(fd.as_raw_fd(), &x) }
                .with_context(|| format!("FS_IOC_FSSETXATTR {}", p.display()))?;
        }
        Ok(())
    }

    /// The quotactl request: limits in 1 KiB blocks (rounded up) and
    /// inodes; 0 means none.
    pub fn request(space: Pair, inodes: Option<Pair>) -> Dqblk {
        let blocks = |v: Option<u64>| v.map_or(0, |b| b.div_ceil(1024));
        let (isoft, ihard) = inodes.unwrap_or((None, None));
        Dqblk {
            bsoftlimit: blocks(space.0),
            bhardlimit: blocks(space.1),
            isoftlimit: isoft.unwrap_or(0),
            ihardlimit: ihard.unwrap_or(0),
            valid: QIF_LIMITS,
            ..Default::default()
        }
    }

    fn quotactl(q: &Quota, cmd: u32, d: &mut Dqblk) -> Result<()> {
        let fd = open_dir(&q.path)?;
        // SAFETY: quotactl_fd with a descriptor we hold and a pointer to
        // a struct if_dqblk of the kernel's layout that outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_quotactl_fd,
                fd.as_raw_fd(),
                qcmd(cmd, PRJQUOTA),
                q.id as u32,
                d as *mut Dqblk,
            )
        };
        nix::errno::Errno::result(rc)
            .map(drop)
            .with_context(|| format!("quotactl on project {} of {}", q.id, q.path.display()))
    }

    pub fn limit(q: &Quota, space: Pair, inodes: Option<Pair>) -> Result<()> {
        quotactl(q, Q_SETQUOTA, &mut request(space, inodes))
    }

    pub fn usage(q: &Quota) -> Result<Usage> {
        let mut d = Dqblk::default();
        quotactl(q, Q_GETQUOTA, &mut d)?;
        Ok(Usage {
            bytes: d.curspace,
            inodes: Some(d.curinodes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upper_directory_comes_from_the_overlay_options() {
        let o = "rw,lowerdir=/a:/b,upperdir=/x\\,y/upper,workdir=/x/work";
        assert_eq!(upper_dir(o), Some(PathBuf::from("/x,y/upper")));
        assert_eq!(upper_dir("rw,lowerdir=/a:/b"), None);
    }

    #[test]
    fn mounts_are_found_by_point_and_by_holding() {
        let info = "22 1 254:0 / / rw - ext4 /dev/vda rw,prjquota\n\
                    30 22 0:40 / /var/lib\\040x rw - btrfs /dev/loop0 rw,space_cache\n";
        let m = mount_of(info, Path::new("/var/lib x")).unwrap();
        assert_eq!(m.source, "/dev/loop0");
        let m = mount_holding(info, Path::new("/var/lib x/c/rootfs")).unwrap();
        assert_eq!(m.super_options, "rw,space_cache");
        let m = mount_holding(info, Path::new("/srv")).unwrap();
        assert_eq!(m.super_options, "rw,prjquota");
    }

    #[test]
    fn kernel_options_are_read_from_the_config() {
        let c = "CONFIG_QUOTA=y\n# CONFIG_QFMT_V2 is not set\nCONFIG_XFS_QUOTA=m\n";
        assert_eq!(option_in(c, "CONFIG_QFMT_V2"), Some(false));
        assert_eq!(option_in(c, "CONFIG_XFS_QUOTA"), Some(true));
        assert_eq!(option_in(c, "CONFIG_QUOTA"), Some(true));
        assert_eq!(option_in(c, "CONFIG_NOPE"), None);
    }

    #[test]
    fn project_quota_requests_are_in_kibibytes_with_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<project::Dqblk>(), 72);
        assert_eq!(std::mem::size_of::<project::FsXattr>(), 28);
        assert_eq!(project::qcmd(0x80_0008, 2), 0x8000_0802);
        let d = project::request(
            (Some(100 << 20), Some((120 << 20) + 1)),
            Some((Some(5), None)),
        );
        assert_eq!((d.bsoftlimit, d.bhardlimit), (102_400, 122_881));
        assert_eq!((d.isoftlimit, d.ihardlimit), (5, 0));
        assert_eq!(d.valid, 5);
    }

    #[test]
    fn btrfs_ioctl_args_have_the_kernels_sizes() {
        assert_eq!(std::mem::size_of::<btrfs::InoLookupArgs>(), 4096);
        assert_eq!(std::mem::size_of::<btrfs::FsInfoArgs>(), 1024);
        assert_eq!(std::mem::size_of::<btrfs::QgroupLimitArgs>(), 48);
        assert_eq!(std::mem::size_of::<btrfs::QuotaCtlArgs>(), 16);
    }
}
