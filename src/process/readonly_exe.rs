//! CVE-2019-5736: while the runtime's own code runs inside a container (the
//! init until it execs, an exec'd process until it execs), a process of the
//! container can reach the runtime's binary through `/proc/<pid>/exe`, or
//! make the runtime exec it (`#!/proc/self/exe`), and then overwrite it on
//! the host once nothing executes it.
//!
//! Commands that enter a container therefore re-exec themselves from a
//! read-only bind mount of their own binary, made in a mount namespace of
//! their own: `/proc/<pid>/exe` then lives on a read-only mount that the
//! container can neither write through nor remount. This costs one mount
//! namespace and one exec from the page cache; a sealed memfd copy (the
//! other well-known way) costs a copy of the whole binary on every start,
//! which measured four times as slow here.
//!
//! The re-exec'd runtime then goes back to its caller's mount namespace,
//! root and cwd (descriptors kept across the exec): the executable stays on
//! the read-only mount, which the reference keeps alive once the private
//! namespace is gone, while everything else (hooks, the container's own
//! mount namespace copied at clone, a container that shares the caller's
//! mount table) sees the caller's mounts, as the runtime-spec means by "the
//! runtime namespace".
//!
//! A caller without CAP_SYS_ADMIN (rootless) cannot make a mount
//! namespace: it re-execs from a sealed memfd copy instead (no write, grow
//! or shrink, the seals themselves sealed), paying the copy only there.
//!
//! Other commands (state, list, kill, delete, ...) never run inside a
//! container and pay nothing.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::statvfs::{FsFlags, statvfs};
use nix::unistd::{chroot, fchdir};

/// Set for the re-exec'd process, so that a bind that did not take cannot
/// make it loop; its value names the descriptors of the caller's mount
/// namespace, root and cwd ("ns,root,cwd").
const MARK: &str = "_VZRUN_RO_EXE";

/// The mark of a re-exec from a sealed memfd (nothing to go back to).
const SEALED: &str = "sealed";

/// How /proc/<pid>/exe names a process that runs the sealed copy: the
/// memfd's name (`memfd_create` below) after the kernel's `/memfd:`.
pub const MEMFD_PATH: &str = "/memfd:vzrun";

/// Re-execs from a read-only view of the binary unless this process
/// already runs from one. Returns only when it does.
pub fn ensure() -> Result<()> {
    if std::env::var(MARK).is_ok_and(|m| m == SEALED) && runs_sealed() {
        // SAFETY: single-threaded; nothing else reads the environment now.
        unsafe { std::env::remove_var(MARK) };
        return Ok(());
    }
    if statvfs("/proc/self/exe").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        let saved = std::env::var(MARK).ok();
        // SAFETY: single-threaded; nothing else reads the environment now.
        unsafe { std::env::remove_var(MARK) };
        if let Some(saved) = saved {
            return_to_caller(&saved)?;
        }
        return Ok(());
    }
    match std::env::var(MARK) {
        Ok(m) if m == SEALED => {
            bail!("the runtime does not run from its sealed copy after re-exec from it")
        }
        Ok(_) => bail!(
            "the runtime's binary is still writable after re-exec from a read-only bind mount"
        ),
        Err(_) => {}
    }
    // Kept open across the exec (no close-on-exec) to come back to.
    let keep = |path: &str, flags: OFlag| {
        nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty())
            .with_context(|| format!("open {path}"))
    };
    let caller = [
        keep("/proc/self/ns/mnt", OFlag::O_RDONLY)?,
        keep("/", OFlag::O_PATH | OFlag::O_DIRECTORY)?,
        keep(".", OFlag::O_PATH | OFlag::O_DIRECTORY)?,
    ];
    let exe = std::fs::read_link("/proc/self/exe").context("read /proc/self/exe")?;
    if exe.as_os_str().as_bytes().ends_with(b" (deleted)") {
        bail!(
            "the runtime's binary {} was replaced while it ran; run it again",
            exe.display()
        );
    }
    // Without CAP_SYS_ADMIN (EPERM) or past user.max_mnt_namespaces
    // (ENOSPC), the sealed copy protects as well, at the cost of a copy.
    match unshare(CloneFlags::CLONE_NEWNS) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::ENOSPC) => {
            // Nothing to come back to: the caller's namespace stays ours.
            for fd in caller {
                let _ = nix::unistd::close(fd);
            }
            return reexec_sealed_copy();
        }
        Err(e) => return Err(e).context("mount namespace for the runtime's binary"),
    }
    // The bind must stay in our namespace, never reach the host's.
    crate::linux::rootfs::make_parent_private(&exe)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("protect the runtime's binary")?;
    let ro = |flags: MsFlags| mount(Some(&exe), &exe, None::<&str>, flags, None::<&str>);
    ro(MsFlags::MS_BIND).with_context(|| format!("bind {} read-only", exe.display()))?;
    ro(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY)
        .with_context(|| format!("bind {} read-only", exe.display()))?;
    let mark = format!("{},{},{}", caller[0], caller[1], caller[2]);
    // SAFETY: single-threaded; nothing else reads the environment now.
    unsafe { std::env::set_var(MARK, mark) };
    reexec(&exe)
}

/// Back to the caller's mount namespace, root and cwd, whose descriptors
/// the mark names; setns resets root and cwd to the namespace's own.
fn return_to_caller(mark: &str) -> Result<()> {
    let fds: Vec<RawFd> = mark
        .split(',')
        .map(|f| f.parse())
        .collect::<Result<_, _>>()
        .ok()
        .filter(|v: &Vec<RawFd>| v.len() == 3 && v[0] != v[1] && v[1] != v[2] && v[0] != v[2])
        .filter(|v| {
            v.iter()
                .all(|fd| *fd > 2 && nix::fcntl::fcntl(*fd, nix::fcntl::F_GETFD).is_ok())
        })
        .with_context(|| format!("{MARK}: malformed ({mark:?})"))?;
    // SAFETY: the pre-exec runtime opened these three for us and nothing
    // else in this process knows of them.
    let [ns, root, cwd] = [0, 1, 2].map(|i| unsafe { OwnedFd::from_raw_fd(fds[i]) });
    match setns(&ns, CloneFlags::CLONE_NEWNS) {
        Ok(()) => {}
        // A caller in a user namespace that does not own its mount
        // namespace cannot come back; it keeps the private copy, as before
        // the return existed.
        Err(nix::errno::Errno::EPERM) => {
            crate::logging::warn(
                "cannot return to the caller's mount namespace (EPERM); hooks and the container \
                 see a private copy of it",
            );
            return Ok(());
        }
        Err(e) => return Err(e).context("return to the caller's mount namespace"),
    }
    fchdir(root.as_raw_fd()).context("return to the caller's root")?;
    chroot(".").context("return to the caller's root")?;
    fchdir(cwd.as_raw_fd()).context("return to the caller's working directory")?;
    Ok(())
}

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether this process runs from a memfd with every seal of SEALS.
fn runs_sealed() -> bool {
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS only reads the seals of a descriptor we own.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// The binary copied into a memfd, sealed, and exec'd from there.
fn reexec_sealed_copy() -> Result<()> {
    let mut exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let copy = sealed_memfd(c"vzrun", &mut exe).context("a sealed copy of the runtime")?;
    // SAFETY: single-threaded; nothing else reads the environment now.
    unsafe { std::env::set_var(MARK, SEALED) };
    let (args, env) = args_and_env()?;
    let e = nix::unistd::fexecve(copy.as_raw_fd(), &args, &env).unwrap_err();
    Err(e).with_context(|| format!("re-exec from the runtime's sealed memfd{}", noexec()))
}

/// An executable, close-on-exec memfd named `name` (so `/proc/<pid>/exe`
/// reads `/memfd:NAME`) holding `contents`, sealed against any change,
/// the seals themselves included.
pub(super) fn sealed_memfd(
    name: &std::ffi::CStr,
    contents: &mut impl std::io::Read,
) -> Result<OwnedFd> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let create = |flags: libc::c_uint| {
        // SAFETY: the name is a NUL-terminated string; the call takes no
        // other pointer.
        unsafe { libc::memfd_create(name.as_ptr(), flags) }
    };
    // MFD_EXEC (Linux 6.3) keeps it executable where vm.memfd_noexec
    // would not; older kernels do not know the flag and take none.
    let mut fd = create(flags | libc::MFD_EXEC);
    if fd < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINVAL {
        fd = create(flags);
    }
    if fd < 0 {
        return Err(nix::errno::Errno::last()).context("memfd_create");
    }
    // SAFETY: memfd_create just made this descriptor for us alone.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::copy(contents, &mut file).context("write the memfd")?;
    // SAFETY: F_ADD_SEALS takes an int argument and changes only the seals.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(nix::errno::Errno::last()).context("seal the memfd");
    }
    Ok(file.into())
}

/// Why a memfd may not run, when the host says so.
fn noexec() -> &'static str {
    if std::fs::read_to_string("/proc/sys/vm/memfd_noexec").is_ok_and(|v| v.trim() == "2") {
        " (vm.memfd_noexec is 2: memfds may not be executed on this host)"
    } else {
        ""
    }
}

fn args_and_env() -> Result<(Vec<CString>, Vec<CString>)> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("argument with a NUL byte")?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv)
        })
        .collect::<Result<_, _>>()
        .context("environment with a NUL byte")?;
    Ok((args, env))
}

fn reexec(exe: &Path) -> Result<()> {
    let path = CString::new(exe.as_os_str().as_bytes()).context("binary path")?;
    let (args, env) = args_and_env()?;
    let e = nix::unistd::execve(&path, &args, &env).unwrap_err();
    Err(e).with_context(|| format!("re-exec {}", exe.display()))
}
