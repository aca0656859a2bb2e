//! Path resolution inside the container's root filesystem. Every path the
//! runtime creates or mounts on is resolved with `openat2(RESOLVE_IN_ROOT)`
//! from a descriptor of the rootfs, so a symlink planted in the rootfs (even
//! `../../etc`) resolves inside it and never reaches the host. Mounts then
//! happen on the resolved descriptor through `/proc/self/fd/N`.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): opens `path` relative to `dir` under the `resolve` rules
/// (the RESOLVE_* flags above); always close-on-exec.
pub fn openat2(dir: BorrowedFd, path: &Path, flags: OFlag, resolve: u64) -> nix::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | OFlag::O_CLOEXEC).bits() as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: `c` is a valid NUL-terminated string and `how` a correctly
    // laid out `struct open_how` that outlive the call; the kernel returns a
    // new descriptor that nothing else owns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a fresh descriptor returned by openat2, owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Opens `path` as if `root` were `/`.
pub fn open_in_root(root: BorrowedFd, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let mut rel = relative(path);
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    openat2(root, &rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
}

/// Creates `path` and its missing parents as directories inside `root`;
/// returns an `O_PATH` descriptor of the directory. A dangling symlink on
/// the way is followed inside the root (its target is created there), as
/// the kernel would resolve it once the root is `/`.
pub fn mkdir_all(root: BorrowedFd, path: &Path, mode: u32) -> nix::Result<OwnedFd> {
    mkdir_all_hops(root, path, mode, 0)
}

fn mkdir_all_hops(root: BorrowedFd, path: &Path, mode: u32, hops: u32) -> nix::Result<OwnedFd> {
    const MAX_SYMLINKS: u32 = 40;
    let want = OFlag::O_PATH | OFlag::O_DIRECTORY;
    if let Ok(fd) = open_in_root(root, path, want) {
        return Ok(fd);
    }
    if hops > MAX_SYMLINKS {
        return Err(Errno::ELOOP);
    }
    let rel = relative(path);
    let comps: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let mut prefix = PathBuf::new();
    let mut parent: Option<OwnedFd> = None;
    for (i, name) in comps.iter().enumerate() {
        let base = prefix.clone();
        prefix.push(name);
        match open_in_root(root, &prefix, want) {
            Ok(fd) => parent = Some(fd),
            Err(Errno::ENOENT) => {
                let dir = parent.as_ref().map_or(root.as_raw_fd(), |p| p.as_raw_fd());
                match nix::sys::stat::mkdirat(Some(dir), *name, Mode::from_bits_truncate(mode)) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        if let Ok(target) = nix::fcntl::readlinkat(Some(dir), *name) {
                            let mut next = base.join(target);
                            for rest in &comps[i + 1..] {
                                next.push(rest);
                            }
                            return mkdir_all_hops(root, &next, mode, hops + 1);
                        }
                    }
                    Err(e) => return Err(e),
                }
                parent = Some(open_in_root(root, &prefix, want)?);
            }
            Err(e) => return Err(e),
        }
    }
    match parent {
        Some(fd) => Ok(fd),
        None => open_in_root(root, Path::new("/"), want),
    }
}

/// Makes sure a regular file exists at `path` inside `root` (a mount point
/// for a file bind mount or a device); returns an `O_PATH` descriptor.
pub fn touch(root: BorrowedFd, path: &Path) -> nix::Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, OFlag::O_PATH) {
        return Ok(fd);
    }
    let (dir, name) = split(path)?;
    let dirfd = mkdir_all(root, dir, 0o755)?;
    let parent = reopen_dir(&dirfd)?;
    match nix::fcntl::openat(
        Some(parent.as_raw_fd()),
        name,
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(0o644),
    ) {
        // SAFETY: openat returned a fresh descriptor we now own.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    open_in_root(root, path, OFlag::O_PATH)
}

/// The parent directory (resolved in root, opened for *at calls) and the
/// last component of `path`.
pub fn parent_of<'p>(
    root: BorrowedFd,
    path: &'p Path,
) -> nix::Result<(OwnedFd, &'p std::ffi::OsStr)> {
    let (dir, name) = split(path)?;
    let dirfd = mkdir_all(root, dir, 0o755)?;
    Ok((reopen_dir(&dirfd)?, name))
}

fn split(path: &Path) -> nix::Result<(&Path, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or(Errno::EINVAL)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    Ok((dir, name))
}

/// Turns an `O_PATH` directory descriptor into one usable with *at calls.
pub fn reopen_dir(fd: &OwnedFd) -> nix::Result<OwnedFd> {
    let raw = nix::fcntl::openat(
        Some(fd.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: openat returned a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The magic link through which the kernel reaches exactly what `fd` refers
/// to, for syscalls such as mount(2) that only take paths.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `stx_attributes` of `path` and the mask of those the kernel reports,
/// not following a final symlink.
pub fn statx_attributes(path: &Path) -> Result<(u64, u64), Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: zeroed memory is a valid `statx` (plain integers); statx
    // writes only into `buf`, and `c` is NUL-terminated.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT,
            0,
            &mut buf,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok((buf.stx_attributes, buf.stx_attributes_mask))
}

fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect()
}

/// Copies the tree below directory `from` into directory `to`, keeping
/// modes and owners: what `tmpcopyup` needs to fill a fresh tmpfs with what
/// the image had at that path. Symlinks are copied as links, never
/// followed; device nodes and sockets are skipped (a tmpfs over /dev is not
/// what this is for).
pub fn copy_tree(from: BorrowedFd, to: BorrowedFd) -> nix::Result<()> {
    use nix::dir::{Dir, Type};
    use nix::sys::stat::{FchmodatFlags, fchmodat, fstatat};
    use nix::unistd::fchownat;
    let dup = nix::unistd::dup(from.as_raw_fd())?;
    let mut dir = Dir::from_fd(dup)?;
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let st = fstatat(
            Some(from.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let kind = entry
            .file_type()
            .unwrap_or(match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => Type::Directory,
                libc::S_IFREG => Type::File,
                libc::S_IFLNK => Type::Symlink,
                _ => Type::Socket,
            });
        match kind {
            Type::Directory => {
                nix::sys::stat::mkdirat(Some(to.as_raw_fd()), name, mode)?;
                let open = |d: BorrowedFd| -> nix::Result<OwnedFd> {
                    let fd = nix::fcntl::openat(
                        Some(d.as_raw_fd()),
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )?;
                    // SAFETY: openat returned a fresh descriptor we now own.
                    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
                };
                let (src, dst) = (open(from)?, open(to)?);
                copy_tree(src.as_fd(), dst.as_fd())?;
            }
            Type::File => {
                let ro = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let src = nix::fcntl::openat(Some(from.as_raw_fd()), name, ro, Mode::empty())?;
                let wo = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
                let dst = nix::fcntl::openat(Some(to.as_raw_fd()), name, wo, mode)?;
                // SAFETY: both are fresh descriptors from openat, owned here.
                let (mut src, mut dst) = unsafe {
                    (
                        std::fs::File::from_raw_fd(src),
                        std::fs::File::from_raw_fd(dst),
                    )
                };
                std::io::copy(&mut src, &mut dst)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            }
            Type::Symlink => {
                let target = nix::fcntl::readlinkat(Some(from.as_raw_fd()), name)?;
                nix::unistd::symlinkat(target.as_os_str(), Some(to.as_raw_fd()), name)?;
            }
            Type::Fifo => nix::unistd::mkfifoat(Some(to.as_raw_fd()), name, mode)?,
            _ => continue,
        }
        fchownat(
            Some(to.as_raw_fd()),
            name,
            Some(nix::unistd::Uid::from_raw(st.st_uid)),
            Some(nix::unistd::Gid::from_raw(st.st_gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        if kind != Type::Symlink {
            // After the chown, which clears set-id bits.
            fchmodat(
                Some(to.as_raw_fd()),
                name,
                mode,
                FchmodatFlags::FollowSymlink,
            )?;
        }
    }
    Ok(())
}

/// Stdio that is the host's /dev/null (a caller's `</dev/null`) becomes
/// the container's own: the host's sits on a mount the container cannot
/// see, which CRIU cannot checkpoint. Called in the container's root.
pub fn reopen_dev_null_stdio() -> nix::Result<()> {
    use nix::sys::stat::{fstat, makedev};
    let is_null =
        |st: &libc::stat| st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == makedev(1, 3);
    let needs: Vec<i32> = (0..3)
        .filter(|fd| fstat(*fd).is_ok_and(|st| is_null(&st)))
        .collect();
    if needs.is_empty() {
        return Ok(());
    }
    // Opened first and checked by its descriptor: what the path named is
    // what gets used.
    let flags = OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let Ok(ours) = nix::fcntl::open("/dev/null", flags, nix::sys::stat::Mode::empty()) else {
        return Ok(());
    };
    // SAFETY: open returned a fresh descriptor we now own.
    let ours = unsafe { OwnedFd::from_raw_fd(ours) };
    let st = fstat(ours.as_raw_fd())?;
    if !is_null(&st) {
        return Ok(());
    }
    for fd in needs {
        let cur = fstat(fd)?;
        if (cur.st_dev, cur.st_ino) != (st.st_dev, st.st_ino) {
            nix::unistd::dup2(ours.as_raw_fd(), fd)?;
        }
    }
    Ok(())
}
