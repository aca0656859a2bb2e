//! `checkpoint`: the container's process tree written to images by CRIU
//! (`linux::criu`), as runc does it. CRIU is told which mounts come from
//! the host (bind mounts of the config and the container's cgroup
//! directories), so that restore asks for them again instead of carrying
//! host paths in the images; which network namespace the config joined;
//! and what the init's stdio was (`descriptors.json`, for restore to hand
//! the new caller's pipes in). Without `--leave-running` the container is
//! gone afterwards, as under runc.

use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::Live;
use crate::linux::criu::{self, CgroupMode, Opts, Request};
use crate::state::{State, StateDir, Status};

/// The flags `checkpoint` and `restore` share.
pub struct CriuFlags<'a> {
    /// `--criu`.
    pub binary: Option<&'a Path>,
    pub image_path: &'a Path,
    pub work_path: Option<&'a Path>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub lazy_pages: bool,
    pub manage_cgroups_mode: Option<&'a str>,
    pub empty_ns: &'a [String],
    pub auto_dedup: bool,
}

pub struct CheckpointOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub criu: CriuFlags<'a>,
    pub parent_path: Option<&'a str>,
    pub leave_running: bool,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
    pub status_fd: Option<i32>,
    pub page_server: Option<&'a str>,
    pub pre_dump: bool,
}

/// Where the init's stdio was, in the image directory.
pub const DESCRIPTORS: &str = "descriptors.json";
/// The key restore gives the network namespace the config joined.
pub const EXTERNAL_NETNS: &str = "extRootNetNS";

pub fn checkpoint(o: &CheckpointOpts) -> Result<()> {
    let id = o.id;
    let dir = StateDir::open(o.root, id)?;
    let state = dir.load(id)?;
    match state.current_status() {
        Status::Running | Status::Paused => {}
        s => bail!(
            "container {id} is {}: only a running container can be checkpointed",
            s.as_str()
        ),
    }
    checkpoint_loaded(o, &state).with_context(|| format!("checkpoint container {id}"))?;
    if o.leave_running || o.pre_dump {
        return Ok(());
    }
    // CRIU killed the tree once it was written: the container is gone, and
    // its cgroup and state with it.
    super::wait_gone(state.pid, std::time::Duration::from_secs(10))?;
    super::destroy(dir, &state)
}

fn checkpoint_loaded(o: &CheckpointOpts, state: &State) -> Result<()> {
    criu::check_version(o.criu.binary)?;
    if o.criu.lazy_pages {
        lazy_pipe_allowed()?;
    }
    let images = private_dir(o.criu.image_path).context("--image-path")?;
    if let Some(parent) = o.parent_path.filter(|_| o.page_server.is_none()) {
        // CRIU resolves it from the image directory (made just now), as
        // runc documents; with a page server, on the page server's side.
        let p = o.criu.image_path.join(parent);
        if !p.is_dir() {
            bail!(
                "--parent-path {parent}: no checkpoint at {} (the path is relative to \
                 --image-path)",
                p.display()
            );
        }
    }
    let work = match o.criu.work_path {
        Some(p) => Some(private_dir(p).context("--work-path")?),
        None => None,
    };
    let log_dir = o.criu.work_path.unwrap_or(o.criu.image_path);
    let mut opts = common_opts(&o.criu, &images, work.as_ref())?;
    opts.pid = Some(state.pid);
    opts.root = Some(state.rootfs.display().to_string());
    opts.leave_running = o.leave_running || o.pre_dump;
    opts.tcp_skip_in_flight = o.tcp_skip_in_flight;
    opts.link_remap = o.link_remap;
    opts.status_fd = o.status_fd;
    opts.parent_img = o.parent_path.map(String::from);
    opts.track_mem = o.pre_dump || o.parent_path.is_some();
    if let Some(ps) = o.page_server {
        let (address, port) = ps
            .rsplit_once(':')
            .and_then(|(a, p)| Some((a.to_string(), p.parse().ok()?)))
            .with_context(|| format!("--page-server {ps:?}: not ADDRESS:PORT"))?;
        opts.page_server = Some((address, port));
    }
    opts.freeze_cgroup = freezer(state);
    opts.orphan_pts_master = state
        .config
        .process()
        .as_ref()
        .is_some_and(|p| p.terminal().unwrap_or(false));
    opts.ext_mounts = external_mounts(state)?
        .into_iter()
        .chain(masked_files(state))
        .map(|m| (m.clone(), m))
        .collect();
    if let Some(ino) = joined_netns(state)? {
        opts.external.push(format!("net[{ino}]:{EXTERNAL_NETNS}"));
    }
    let log = if o.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    opts.log_file = log.into();
    save_descriptors(state.pid, o.criu.image_path)?;
    let req = if o.pre_dump {
        Request::PreDump
    } else {
        Request::Dump
    };
    criu::call(req, &opts, &mut |_| Ok(()))
        .map_err(|e| e.context(format!("criu: {}", criu::log_context(&log_dir.join(log)))))?;
    Ok(())
}

/// The pipe CRIU's lazy page server reads pages through: CRIU asks for
/// 819 pages, which the kernel rounds up to 1024 (4 MiB).
const LAZY_PIPE_BYTES: u64 = 4 << 20;

/// CRIU (4.1 and 4.2) sizes that pipe without checking the answer: when
/// the kernel refuses, the dump stops on the first page the target asks
/// for ("page-pipe: splice: -1: Bad file descriptor") with the container
/// frozen until then. Refuse before freezing anything, with the way out.
/// The kernel asks for CAP_SYS_RESOURCE in the initial user namespace:
/// the capability in any other one does not count.
fn lazy_pipe_allowed() -> Result<()> {
    let privileged = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false)
        && crate::linux::user::in_initial_user_namespace();
    if privileged {
        return Ok(());
    }
    let path = "/proc/sys/fs/pipe-max-size";
    let max: u64 = std::fs::read_to_string(path)
        .with_context(|| format!("read {path}"))?
        .trim()
        .parse()
        .with_context(|| format!("{path}: not a number"))?;
    if max < LAZY_PIPE_BYTES {
        bail!(
            "--lazy-pages: CRIU's page server needs a pipe of {LAZY_PIPE_BYTES} bytes, \
             above fs.pipe-max-size ({max}), and without CAP_SYS_RESOURCE it cannot have one; \
             raise it first (sysctl -w fs.pipe-max-size={LAZY_PIPE_BYTES})"
        );
    }
    Ok(())
}

/// The options both directions take from the shared flags.
pub fn common_opts(
    f: &CriuFlags,
    images: &std::fs::File,
    work: Option<&std::fs::File>,
) -> Result<Opts> {
    let mut empty_ns = 0;
    for ns in f.empty_ns {
        match ns.as_str() {
            "network" => empty_ns |= libc::CLONE_NEWNET as u32,
            other => bail!("--empty-ns {other}: only the network namespace can be left empty"),
        }
    }
    Ok(Opts {
        binary: f.binary.map(Path::to_path_buf),
        images_dir: Some(images.as_raw_fd()),
        work_dir: work.map(|w| w.as_raw_fd()),
        tcp_established: f.tcp_established,
        ext_unix_sk: f.ext_unix_sk,
        shell_job: f.shell_job,
        file_locks: f.file_locks,
        lazy_pages: f.lazy_pages,
        auto_dedup: f.auto_dedup,
        empty_ns,
        // The runtime makes, joins and limits the container's cgroup
        // itself (restore puts CRIU in it first): by default CRIU leaves
        // cgroups alone, which also keeps two restores at once from
        // meeting in CRIU's cgroup yard.
        cgroup_mode: Some(match f.manage_cgroups_mode {
            Some(m) => CgroupMode::parse(m)?,
            None => CgroupMode::Ignore,
        }),
        ..Opts::default()
    })
}

/// A directory for images or CRIU's work files: made 0700 (images hold
/// the container's memory), opened for CRIU.
pub fn private_dir(p: &Path) -> Result<std::fs::File> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .with_context(|| format!("create {}", p.display()))?;
    let dir = std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    // One that existed keeps no wider mode than a new one gets.
    use std::os::unix::fs::PermissionsExt;
    dir.set_permissions(std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 0700 {}", p.display()))?;
    Ok(dir)
}

/// The container's mounts that come from the host, by their path inside
/// the container: the config's bind mounts, (without a cgroup namespace)
/// the cgroup directories the runtime binds at or below a `cgroup` mount,
/// and lxcfs's files of a virtual /proc (FUSE, which CRIU cannot dump).
/// Taken from the config (never from paths resolved in the image), and
/// for the others from the kernel's mount table of the init.
pub fn external_mounts(state: &State) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cgroup_dests = Vec::new();
    let own_cgroupns = super::makes_namespace(state, oci_spec::runtime::LinuxNamespaceType::Cgroup);
    for m in state.config.mounts().iter().flatten() {
        let dest = m.destination().display().to_string();
        let opts = m.options().as_deref().unwrap_or(&[]);
        let bind =
            m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
        if bind {
            out.push(dest);
        } else if !own_cgroupns && matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2")) {
            cgroup_dests.push(dest);
        }
    }
    let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", state.pid))
        .context("read the container's mount table")?;
    for line in info.lines() {
        let mut f = line.split(' ');
        let Some(point) = f.nth(4) else { continue };
        let fstype = line.split(" - ").nth(1).and_then(|r| r.split(' ').next());
        let below = cgroup_dests.iter().any(|d| Path::new(point).starts_with(d));
        let ours = match fstype {
            Some("cgroup") | Some("cgroup2") => below,
            Some("fuse.lxcfs") => true,
            _ => false,
        };
        if ours && !out.iter().any(|o| o == point) {
            out.push(point.to_string());
        }
    }
    Ok(out)
}

/// The masked paths that are files in the container: `/dev/null` is bound
/// over them, and restore binds it again (the paths are the config's; the
/// container's view is only asked whether each is a file).
pub fn masked_files(state: &State) -> Vec<String> {
    let masked = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    masked
        .into_iter()
        .filter(|p| {
            let inside = format!("/proc/{}/root{p}", state.pid);
            std::fs::metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .collect()
}

/// The inode of the network namespace the config joined by path, if any.
fn joined_netns(state: &State) -> Result<Option<u64>> {
    use std::os::unix::fs::MetadataExt;
    let linux = state.config.linux().as_ref();
    let joined = linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
        .and_then(|n| n.path().clone());
    let Some(path) = joined else {
        return Ok(None);
    };
    let ino = std::fs::metadata(format!("/proc/{}/ns/net", state.pid))
        .with_context(|| format!("the network namespace joined from {}", path.display()))?
        .ino();
    Ok(Some(ino))
}

/// The freezer cgroup CRIU freezes the tree with.
fn freezer(state: &State) -> Option<String> {
    let rel = state
        .cgroup_path
        .strip_prefix("/")
        .unwrap_or(&state.cgroup_path);
    let v1 = Path::new("/sys/fs/cgroup/freezer").join(rel);
    if v1.is_dir() {
        return Some(v1.display().to_string());
    }
    let v2 = Path::new("/sys/fs/cgroup").join(rel);
    v2.join("cgroup.freeze")
        .exists()
        .then(|| v2.display().to_string())
}

/// The init's stdio as the kernel names it (`pipe:[123]`, `/dev/null`,
/// `/dev/pts/0`), for restore.
fn save_descriptors(pid: i32, images: &Path) -> Result<()> {
    let names: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    let path: PathBuf = images.join(DESCRIPTORS);
    std::fs::write(&path, serde_json::to_string(&names)?)
        .with_context(|| format!("write {}", path.display()))
}
