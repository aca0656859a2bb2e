//! CRIU, driven over its RPC interface: `criu swrk FD` answers requests on
//! a SOCK_SEQPACKET socket, one protobuf message per packet (`rpc.proto` in
//! CRIU's tree names the fields). While it works it sends notifications
//! ("setup-namespaces", "post-restore", "orphan-pts-master", ...), each
//! answered before it goes on; the last packet is the request's answer.
//! Descriptors named in the options (the image and work directories, the
//! status fd, inherited stdio) are CRIU's own: it is our child and gets
//! them open across exec.

mod wire;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};

use anyhow::{Context, Result, bail};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, send, socketpair};
use wire::Encoder;

/// The oldest CRIU that restores on today's kernels (3.x fails on the vDSO
/// of Linux 6.13 and later).
const MIN_VERSION: (u64, u64) = (4, 0);

/// `--manage-cgroups-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupMode {
    Ignore = 0,
    Soft = 3,
    Full = 4,
    Strict = 5,
}

impl CgroupMode {
    pub fn parse(s: &str) -> Result<CgroupMode> {
        Ok(match s {
            "ignore" => CgroupMode::Ignore,
            "soft" => CgroupMode::Soft,
            "full" => CgroupMode::Full,
            "strict" => CgroupMode::Strict,
            _ => bail!("--manage-cgroups-mode: {s:?} is not soft, full, strict or ignore"),
        })
    }
}

/// The options of a dump or restore (`criu_opts`); descriptors are ours,
/// handed to CRIU as they are.
#[derive(Clone, Default)]
pub struct Opts {
    /// `--criu`: the binary to run (default `criu` from PATH).
    pub binary: Option<PathBuf>,
    /// `(rootfs, mount point)`: the rootfs bound at the mount point in a
    /// mount namespace of CRIU's own (restore: CRIU wants its root to be
    /// a mount point; made there, the bind propagates nowhere and goes
    /// away with CRIU). `root` names the mount point.
    pub root_bind: Option<(PathBuf, PathBuf)>,
    /// The root bind read-only (`root.readonly`): CRIU takes the root
    /// mount as it finds it, not as the images recorded it.
    pub root_read_only: bool,
    pub images_dir: Option<RawFd>,
    pub work_dir: Option<RawFd>,
    pub pid: Option<i32>,
    pub log_file: String,
    pub root: Option<String>,
    pub parent_img: Option<String>,
    pub leave_running: bool,
    pub ext_unix_sk: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub link_remap: bool,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    pub track_mem: bool,
    /// A pty slave whose master is outside the tree (the console socket's
    /// receiver holds it): on dump it is allowed, on restore CRIU makes a
    /// new pair and sends the master in an "orphan-pts-master" notice.
    pub orphan_pts_master: bool,
    pub rst_sibling: bool,
    pub page_server: Option<(String, i32)>,
    pub status_fd: Option<RawFd>,
    pub empty_ns: u32,
    pub cgroup_mode: Option<CgroupMode>,
    pub cgroup_root: Option<String>,
    pub freeze_cgroup: Option<String>,
    pub lsm_profile: Option<String>,
    /// The SELinux context CRIU puts in place of the one the images'
    /// mounts had (a restore into another pod, as CRI-O does).
    pub lsm_mount_context: Option<String>,
    /// `(key, value)`: on dump a mount point and its name in the images,
    /// on restore that name and the host path to mount there.
    pub ext_mounts: Vec<(String, String)>,
    /// `--external` entries (`net[INODE]:KEY`, ...).
    pub external: Vec<String>,
    /// `(key, fd)`: a resource of the images taken from our descriptor.
    pub inherit_fds: Vec<(String, RawFd)>,
}

impl Opts {
    fn encode(&self) -> Encoder {
        let mut e = Encoder::default();
        // images_dir_fd is required even for requests that do not read it.
        e.int(1, self.images_dir.unwrap_or(-1) as i64);
        if let Some(pid) = self.pid {
            e.int(2, pid as i64);
        }
        for (field, on) in [
            (3, self.leave_running),
            (4, self.ext_unix_sk),
            (5, self.tcp_established),
            (7, self.shell_job),
            (8, self.file_locks),
            (12, true), // notify_scripts: we answer the notifications
            (15, self.track_mem),
            (16, self.auto_dedup),
            (18, self.link_remap),
            (26, self.rst_sibling),
            (46, self.tcp_skip_in_flight),
            (48, self.lazy_pages),
            (50, self.orphan_pts_master),
        ] {
            if on {
                e.bool(field, true);
            }
        }
        e.int(9, 4); // log_level: CRIU's debug level, for the log file
        e.str(10, &self.log_file);
        if let Some((address, port)) = &self.page_server {
            let mut ps = Encoder::default();
            ps.str(1, address).int(2, *port as i64);
            e.message(11, &ps);
        }
        if let Some(root) = &self.root {
            e.str(13, root);
        }
        if let Some(p) = &self.parent_img {
            e.str(14, p);
        }
        if let Some(fd) = self.work_dir {
            e.int(17, fd as i64);
        }
        for (key, val) in &self.ext_mounts {
            let mut m = Encoder::default();
            m.str(1, key).str(2, val);
            e.message(23, &m);
        }
        if let Some(mode) = self.cgroup_mode {
            e.bool(24, mode != CgroupMode::Ignore);
            e.int(34, mode as i64);
        }
        if let Some(path) = &self.cgroup_root {
            let mut m = Encoder::default();
            m.str(2, path);
            e.message(25, &m);
        }
        for (key, fd) in &self.inherit_fds {
            let mut m = Encoder::default();
            m.str(1, key).int(2, *fd as i64);
            e.message(27, &m);
        }
        for x in &self.external {
            e.str(37, x);
        }
        if self.empty_ns != 0 {
            e.int(38, self.empty_ns as i64);
        }
        if let Some(c) = &self.freeze_cgroup {
            e.str(44, c);
        }
        if let Some(fd) = self.status_fd {
            e.int(49, fd as i64);
        }
        if let Some(p) = &self.lsm_profile {
            e.str(53, p);
        }
        if let Some(c) = &self.lsm_mount_context {
            e.str(63, c);
        }
        e
    }

    /// Our descriptors CRIU must inherit.
    fn fds(&self) -> Vec<RawFd> {
        let mut v: Vec<RawFd> = [self.images_dir, self.work_dir, self.status_fd]
            .into_iter()
            .flatten()
            .collect();
        v.extend(self.inherit_fds.iter().map(|(_, fd)| *fd));
        v
    }
}

/// Request types (`criu_req_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Dump = 1,
    Restore = 2,
    PreDump = 4,
    Notify = 6,
    Version = 10,
}

/// A notification from CRIU during a request: the script name, the pid it
/// is about, and the descriptor that came with it (orphan-pts-master).
pub struct Notice {
    pub script: String,
    pub pid: Option<i32>,
    pub fd: Option<OwnedFd>,
}

/// A CRIU answer that succeeded.
#[derive(Debug, Default)]
pub struct Answer {
    /// The restored tree's root (restore).
    pub pid: Option<i32>,
    /// `(major, minor, sublevel)` (version).
    pub version: Option<(u64, u64, u64)>,
}

/// The `criu` binary (`binary`, else from PATH), checked to be 4.0 or
/// newer.
pub fn check_version(binary: Option<&std::path::Path>) -> Result<(u64, u64, u64)> {
    let opts = Opts {
        binary: binary.map(PathBuf::from),
        ..Opts::default()
    };
    let v = call(Request::Version, &opts, &mut |_| Ok(()))?
        .version
        .context("criu answered without a version")?;
    if (v.0, v.1) < MIN_VERSION {
        bail!(
            "criu {}.{}.{} is too old: checkpoint/restore needs CRIU {}.{} or newer \
             (hack/install-criu.sh installs one)",
            v.0,
            v.1,
            v.2,
            MIN_VERSION.0,
            MIN_VERSION.1
        );
    }
    Ok(v)
}

/// Runs one request in a fresh `criu swrk`, answering notifications with
/// `notify` (an error there fails the request).
pub fn call(
    req: Request,
    opts: &Opts,
    notify: &mut dyn FnMut(Notice) -> Result<()>,
) -> Result<Answer> {
    call_placed(req, opts, &mut |_| Ok(()), notify)
}

/// As [`call`], with `place` run on CRIU's pid before the request is sent
/// (restore puts CRIU in the container's cgroup, so that every process it
/// forks starts there).
pub fn call_placed(
    req: Request,
    opts: &Opts,
    place: &mut dyn FnMut(i32) -> Result<()>,
    notify: &mut dyn FnMut(Notice) -> Result<()>,
) -> Result<Answer> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for criu")?;
    let mut child = spawn(opts, &theirs)?;
    drop(theirs);
    let result = place(child.id() as i32)
        .and_then(|()| dirs_in_criu_namespace(child.id() as i32, opts))
        .and_then(|(opts, _dirs)| converse(&ours, req, &opts, notify));
    // After a pre-dump CRIU waits for the dump that would follow; the
    // runtime does one request per CRIU, so it is stopped here (closing
    // the socket alone would make it exit with an error on stderr).
    if req == Request::PreDump && result.is_ok() {
        let _ = child.kill();
    }
    drop(ours);
    let status = child.wait().context("wait for criu")?;
    let answer = result?;
    if req != Request::Restore && req != Request::PreDump && !status.success() {
        bail!("criu exited with {status}");
    }
    Ok(answer)
}

/// CRIU opens the image and work directories through our descriptors
/// (`/proc/OUR_PID/fd/N`) and works in the latter. With a mount namespace
/// of its own (`root_bind`), descriptors opened in ours would leave it
/// working on mounts of another namespace, where it cannot mount (its
/// cgroup yard fails with EINVAL): the directories are opened again by
/// path through CRIU's root, so that they are its namespace's mounts.
/// The new descriptors must stay open until the request is answered.
fn dirs_in_criu_namespace(criu: i32, opts: &Opts) -> Result<(Opts, Vec<OwnedFd>)> {
    let mut opts = opts.clone();
    let mut held = Vec::new();
    if opts.root_bind.is_none() {
        return Ok((opts, held));
    }
    for dir in [&mut opts.images_dir, &mut opts.work_dir]
        .into_iter()
        .flatten()
    {
        let path = std::fs::read_link(format!("/proc/self/fd/{dir}"))
            .with_context(|| format!("find the path of CRIU's directory (fd {dir})"))?;
        let mut there = PathBuf::from(format!("/proc/{criu}/root"));
        there.push(path.strip_prefix("/").unwrap_or(&path));
        let f = std::fs::File::open(&there)
            .with_context(|| format!("open {} in CRIU's mount namespace", path.display()))?;
        *dir = f.as_raw_fd();
        held.push(OwnedFd::from(f));
    }
    Ok((opts, held))
}

fn spawn(opts: &Opts, sock: &OwnedFd) -> Result<Child> {
    use std::os::unix::ffi::OsStrExt;
    let mut keep = opts.fds();
    keep.push(sock.as_raw_fd());
    let binary = opts.binary.clone().unwrap_or_else(|| PathBuf::from("criu"));
    let cstr = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let bind = match &opts.root_bind {
        Some((from, to)) => Some((cstr(from)?, cstr(to)?)),
        None => None,
    };
    let read_only = opts.root_read_only;
    let mut cmd = Command::new(&binary);
    cmd.arg("swrk").arg(sock.as_raw_fd().to_string());
    // SAFETY: the closure runs in the forked child before exec and only
    // makes raw fcntl, unshare and mount syscalls, which are
    // async-signal-safe; `keep` and the C strings were made before the
    // fork and are only read.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &keep {
                let flags = libc::fcntl(*fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(*fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some((from, to)) = &bind {
                let none = std::ptr::null::<libc::c_char>();
                if libc::unshare(libc::CLONE_NEWNS) != 0
                    || libc::mount(
                        none,
                        c"/".as_ptr(),
                        none,
                        libc::MS_SLAVE | libc::MS_REC,
                        std::ptr::null(),
                    ) != 0
                    || libc::mount(
                        from.as_ptr(),
                        to.as_ptr(),
                        none,
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
                if read_only && libc::mount(none, to.as_ptr(), none, ro, std::ptr::null()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "{} is not there: checkpoint/restore needs CRIU {}.{} or newer \
                 (hack/install-criu.sh installs one)",
                binary.display(),
                MIN_VERSION.0,
                MIN_VERSION.1
            )
        } else {
            anyhow::Error::from(e).context("start criu swrk")
        }
    })
}

fn converse(
    sock: &OwnedFd,
    req: Request,
    opts: &Opts,
    notify: &mut dyn FnMut(Notice) -> Result<()>,
) -> Result<Answer> {
    let mut e = Encoder::default();
    e.int(1, req as i64);
    if req != Request::Version {
        e.message(2, &opts.encode());
    }
    send(sock.as_raw_fd(), &e.finish(), MsgFlags::empty()).context("send the request to criu")?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (len, fd) = receive(sock, &mut buf)?;
        if len == 0 {
            bail!("criu closed the connection without an answer");
        }
        let f = wire::fields(&buf[..len])
            .map_err(|e| anyhow::anyhow!("criu's answer does not parse: {e}"))?;
        let ty = wire::int(&f, 1).unwrap_or(0);
        let success = wire::int(&f, 2).unwrap_or(0) != 0;
        if ty == Request::Notify as u64 {
            let n = wire::bytes(&f, 5).map(wire::fields).transpose();
            let n = n.map_err(|e| anyhow::anyhow!("criu's notification does not parse: {e}"))?;
            let n = n.unwrap_or_default();
            let script = wire::bytes(&n, 1)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default();
            let pid = wire::int(&n, 2).map(|p| p as i32);
            let ok = notify(Notice {
                script: script.clone(),
                pid,
                fd,
            });
            let mut r = Encoder::default();
            r.int(1, Request::Notify as i64).bool(3, ok.is_ok());

            send(sock.as_raw_fd(), &r.finish(), MsgFlags::empty())
                .context("answer criu's notification")?;
            ok.with_context(|| format!("criu notification {script:?}"))?;
            continue;
        }
        if !success {
            let msg = wire::bytes(&f, 9)
                .map(|s| String::from_utf8_lossy(s).trim().to_string())
                .filter(|s| !s.is_empty() && !harmless(s));
            let errno = wire::int(&f, 7).map(|e| e as i32).filter(|e| *e != 0);
            let what = match (msg, errno) {
                (Some(m), _) => m,
                (None, Some(e)) => std::io::Error::from_raw_os_error(e).to_string(),
                (None, None) => "criu failed".to_string(),
            };
            bail!("{what}");
        }
        let mut answer = Answer::default();
        if let Some(r) = wire::bytes(&f, 4) {
            let r = wire::fields(r).map_err(|e| anyhow::anyhow!("restore answer: {e}"))?;
            answer.pid = wire::int(&r, 1).map(|p| p as i32);
        }
        if let Some(v) = wire::bytes(&f, 10) {
            let v = wire::fields(v).map_err(|e| anyhow::anyhow!("version answer: {e}"))?;
            answer.version = Some((
                wire::int(&v, 1).unwrap_or(0),
                wire::int(&v, 2).unwrap_or(0),
                wire::int(&v, 4).unwrap_or(0),
            ));
        }
        return Ok(answer);
    }
}

/// The context of a failed request: CRIU's log, and its last error lines
/// (CRIU's own message is only the first error it met, often a harmless
/// one).
pub fn log_context(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| (l.contains("Error (") || l.contains("Error:")) && !harmless(l))
        .collect();
    let last: Vec<&str> = errors.iter().rev().take(3).rev().copied().collect();
    if last.is_empty() {
        format!("see {}", log.display())
    } else {
        format!("{} (in {})", last.join("; "), log.display())
    }
}

/// An error CRIU logs on every run without CAP_SYS_RESOURCE (it tries to
/// raise its own descriptor limit and goes on): never the reason a
/// request failed, so never the one shown.
fn harmless(line: &str) -> bool {
    line.contains("rlimit: Can't setup RLIMIT_NOFILE")
}

/// One packet, with the descriptor that came with it (orphan-pts-master).
fn receive(sock: &OwnedFd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>)> {
    crate::process::protocol::recv_packet_with_fd(sock, buf).context("read criu's answer")
}
