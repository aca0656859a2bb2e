//! `restore`: a container brought back from a checkpoint's images by CRIU,
//! under a new (or the same) id, with the bundle's config. The runtime
//! makes what CRIU does not carry: the state directory, the cgroup (CRIU
//! itself is put in it, so every process it restores lands there), the
//! rootfs as a mount point for CRIU's root, the host sides of the external
//! mounts (from the config: the bind sources and this container's cgroup
//! directories), the joined network namespace, and the caller's pipes for
//! the stdio the checkpoint recorded. The restored init is our child
//! (`rst_sibling`), waited for in the foreground as `run` does. A failure
//! leaves no state, cgroup or mount behind.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::MsFlags;

use super::checkpoint::{CriuFlags, DESCRIPTORS, EXTERNAL_NETNS, common_opts};
use super::foreground::{self, Signals};
use crate::cgroups::Cgroup;
use crate::linux::criu::{self, Notice, Request};
use crate::linux::hooks;
use crate::spec::{self, Placement, Plan};
use crate::state::{State, StateDir, Status};

pub struct RestoreOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub criu: CriuFlags<'a>,
    pub console_socket: Option<&'a Path>,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub no_subreaper: bool,
    pub no_pivot: bool,
    pub lsm_profile: Option<&'a str>,
    pub lsm_mount_context: Option<&'a str>,
    pub defaults: super::Defaults,
}

/// Where CRIU gets the rootfs as a mount point of its own, in the state
/// directory.
const CRIU_ROOT: &str = "criu-root";

/// Returns the exit status to exit with (the container's in the
/// foreground, 0 with `--detach`).
pub fn restore(o: &RestoreOpts) -> Result<i32> {
    let id = o.id;
    crate::state::check_id(id)?;
    let selinux = crate::linux::lsm::selinux_enabled();
    if o.lsm_profile.is_some() && !selinux && !crate::spec::apparmor_enabled() {
        bail!(
            "container {id}: --lsm-profile: neither AppArmor nor SELinux is enabled on \
             this host"
        );
    }
    if o.lsm_mount_context.is_some() && !selinux {
        bail!("container {id}: --lsm-mount-context: SELinux is not enabled on this host");
    }
    if o.no_pivot {
        bail!(
            "restore container {id}: --no-pivot is not supported: CRIU restores the \
             container's root and mounts itself"
        );
    }
    criu::check_version(o.criu.binary).with_context(|| format!("restore container {id}"))?;

    if !o.criu.image_path.is_dir() {
        bail!(
            "restore container {id}: --image-path {}: no checkpoint there",
            o.criu.image_path.display()
        );
    }
    if !o.criu.tcp_established && holds_established_tcp(o.criu.image_path) {
        bail!(
            "restore container {id}: the checkpoint in {} holds established TCP \
             connections: restore them with --tcp-established",
            o.criu.image_path.display()
        );
    }
    let plan = spec::load(
        o.bundle,
        id,
        &Placement {
            state_dir: &o.root.join(id),
            defaults: &o.defaults,
        },
    )?;
    let signals = Signals::forwarded();
    if !o.detach {
        signals.block()?;
    }
    let (dir, cgroup, mut state) = super::create::new_container(o.root, id, &plan, true)?;
    let restored = dir
        .save(&state)
        .and_then(|()| super::set_disk_quota(&plan, &mut state, &dir))
        .and_then(|()| restore_into(o, &plan, &dir, &cgroup, &mut state));
    if let Err(e) = restored {
        if state.pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(state.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(state.pid), None);
        }
        for pid in cgroup.pids().unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if state.cgroup_owned
            && let Err(ce) = cgroup.remove()
        {
            crate::logging::warn(format!("container {id}: cleanup: {ce:#}"));
        }
        if let Err(qe) = super::lift_disk_quota(&state) {
            crate::logging::warn(format!("container {id}: cleanup: {qe:#}"));
        }
        let _ = dir.remove();
        return Err(e.context(format!("restore container {id}")));
    }
    crate::logging::debug(format!("container {id}: restored, init pid {}", state.pid));
    if o.detach {
        return Ok(0);
    }
    dir.unlock()?;
    let status = foreground::wait(state.pid, &signals, None)?;
    if dir.lock()? {
        super::destroy(dir, &state)?;
    }
    Ok(status)
}

/// CRIU writes a stream image per established connection; without
/// --tcp-established its restore fails on the first one with a bare
/// "Unable to open fd".
fn holds_established_tcp(images: &Path) -> bool {
    std::fs::read_dir(images).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("tcp-stream-"))
    })
}

fn restore_into(
    o: &RestoreOpts,
    plan: &Plan,
    dir: &StateDir,
    cgroup: &Cgroup,
    state: &mut State,
) -> Result<()> {
    let images = std::fs::File::open(o.criu.image_path)
        .with_context(|| format!("open {}", o.criu.image_path.display()))?;
    let work = match o.criu.work_path {
        Some(p) => Some(super::checkpoint::private_dir(p).context("--work-path")?),
        None => None,
    };
    let log = o
        .criu
        .work_path
        .unwrap_or(o.criu.image_path)
        .join("restore.log");
    let mut opts = common_opts(&o.criu, &images, work.as_ref())?;
    opts.rst_sibling = true;
    opts.log_file = "restore.log".into();
    opts.lsm_profile = o.lsm_profile.map(String::from);
    opts.lsm_mount_context = o.lsm_mount_context.map(String::from);
    opts.cgroup_root = Some(plan.cgroup_path.display().to_string());
    // A terminal: CRIU makes a new pty pair and sends its master, which
    // goes to --console-socket as at create.
    let terminal = plan
        .process
        .as_ref()
        .is_some_and(|p| p.process.terminal().unwrap_or(false));
    opts.orphan_pts_master = terminal;
    let console = match (terminal, o.console_socket) {
        (true, Some(s)) => Some(
            crate::linux::tty::connect(s)
                .with_context(|| format!("--console-socket {}", s.display()))?,
        ),
        (true, None) => bail!("process.terminal: restoring a terminal needs --console-socket"),
        (false, _) => None,
    };
    // External mounts: the config's bind sources, this container's cgroup
    // directories; names from the config only.
    for m in plan.mounts.iter() {
        let dest = m.destination.display().to_string();
        if m.bind {
            let source = m.source.as_ref().expect("a bind mount has a source");
            opts.ext_mounts.push((dest, source.display().to_string()));
        } else if m.typ == "cgroup" || m.typ == "cgroup2" {
            for (inside, host) in
                crate::linux::mounts::cgroup_binds(&m.destination, &plan.cgroup_path)
            {
                opts.ext_mounts
                    .push((inside.display().to_string(), host.display().to_string()));
            }
        }
    }
    // Masked files get the host's /dev/null, as at create (CRIU only
    // looks up the ones the images name).
    for p in &plan.masked_paths {
        opts.ext_mounts.push((p.clone(), "/dev/null".into()));
    }
    // The network namespace the config joins, for the one the checkpoint
    // recorded as external.
    let netns = match joined_netns(plan) {
        Some(p) => Some(
            std::fs::File::open(&p)
                .with_context(|| format!("open network namespace {}", p.display()))?,
        ),
        None => None,
    };
    if let Some(ns) = &netns {
        opts.inherit_fds
            .push((EXTERNAL_NETNS.into(), ns.as_raw_fd()));
    }
    // Pipes the checkpointed init had as stdio become ours (the caller's).
    // Handed over as copies above 2: CRIU closes an inherited descriptor
    // once it took it, and with --shell-job it needs its own stdin after.
    let mut stdio_copies = Vec::new();
    if let Ok(text) = std::fs::read_to_string(o.criu.image_path.join(DESCRIPTORS)) {
        let names: Vec<String> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a list of names", DESCRIPTORS))?;
        for (fd, name) in names.iter().enumerate().take(3) {
            if name.starts_with("pipe:") {
                let copy =
                    nix::fcntl::fcntl(fd as i32, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
                        .with_context(|| format!("restore needs a pipe as fd {fd} for {name}"))?;
                // SAFETY: fcntl just made this descriptor for us alone.
                let copy = unsafe { OwnedFd::from_raw_fd(copy) };
                opts.inherit_fds.push((name.clone(), copy.as_raw_fd()));
                stdio_copies.push(copy);
            }
        }
    }
    if !o.no_subreaper {
        crate::process::spawn::become_subreaper().context("become a subreaper")?;
    }
    make_mountpoints(plan)?;
    // CRIU's root is the rootfs bound in a mount namespace of CRIU's own
    // (criu::Opts::root_bind): on a shared /run a bind made here would
    // propagate to every peer namespace and outlive us there.
    let root = RootDir::new(&dir.path.join(CRIU_ROOT))?;
    opts.root = Some(root.0.display().to_string());
    opts.root_bind = Some((plan.rootfs.clone(), root.0.clone()));
    opts.root_read_only = plan.readonly_root;
    let hooks = plan.spec.hooks().clone().unwrap_or_default();
    let mut notify = |n: Notice| -> Result<()> {
        match n.script.as_str() {
            "setup-namespaces" => {
                let pid = n.pid.context("setup-namespaces without a pid")?;
                let s = super::hook_state(plan, pid, Status::Created);
                hooks::run_all(
                    "prestart",
                    hooks.prestart().as_deref().unwrap_or(&[]),
                    s.as_bytes(),
                )?;
                let cr = hooks.create_runtime().as_deref().unwrap_or(&[]);
                hooks::run_all("createRuntime", cr, s.as_bytes())
            }
            "orphan-pts-master" => {
                let (Some(fd), Some(sock)) = (n.fd, console.as_ref()) else {
                    bail!("criu sent no pty master");
                };
                crate::linux::tty::send_fd(sock, "console", fd.as_raw_fd())
                    .context("send the pty master to --console-socket")
            }
            // The tree is restored but not resumed: whatever the config
            // makes read-only must be so, whatever the images said.
            "post-restore" => {
                let pid = n.pid.context("post-restore without a pid")?;
                check_read_only(plan, pid)
            }
            _ => Ok(()),
        }
    };
    let resources = &plan.resources;
    let no_oom_kill = resources
        .memory()
        .as_ref()
        .and_then(|m| m.disable_oom_killer())
        .unwrap_or(false);
    // CRIU goes into the cgroup with its limits (and device rules) in
    // force before it forks anything: no restored process ever runs
    // without them.
    let mut place = |criu_pid: i32| -> Result<()> {
        cgroup.join(criu_pid)?;
        cgroup.apply(resources, no_oom_kill)
    };
    let answer = criu::call_placed(Request::Restore, &opts, &mut place, &mut notify)
        .map_err(|e| e.context(format!("criu: {}", criu::log_context(&log))));
    drop(root);
    let pid = answer?.pid.context("criu restored no process")?;
    state.pid = pid;
    let (start_time, _) =
        super::status::process_start_time(pid).context("the restored init exited at once")?;
    state.start_time = start_time;
    state.status = Status::Running;
    dir.save(state)?;
    if let Some(p) = o.pid_file {
        super::create::write_pid_file(p, pid)?;
    }
    Ok(())
}

/// The mount points CRIU mounts on, made in the rootfs as create makes
/// them (a restore may get a fresh copy of the image, without the files
/// an engine's binds were made on), resolved inside the rootfs. Not below
/// a tmpfs (CRIU restores it with its contents) or a kernel filesystem
/// (whose directories are not the image's).
fn make_mountpoints(plan: &Plan) -> Result<()> {
    use crate::linux::fs;
    let root = std::fs::File::open(&plan.rootfs)
        .with_context(|| format!("open rootfs {}", plan.rootfs.display()))?;
    let tmpfs: Vec<&Path> = plan
        .mounts
        .iter()
        .filter(|m| !m.bind && matches!(m.typ.as_str(), "tmpfs" | "proc" | "sysfs" | "devpts"))
        .map(|m| m.destination.as_path())
        .collect();
    for m in &plan.mounts {
        let d = &m.destination;
        if tmpfs.iter().any(|t| d.starts_with(t) && d != t) {
            continue;
        }
        refuse_symlink(&root, d)?;
        let file = m.bind
            && m.source
                .as_ref()
                .is_some_and(|s| std::fs::metadata(s).is_ok_and(|md| !md.is_dir()));
        let made = if file {
            fs::touch(std::os::fd::AsFd::as_fd(&root), d).map(drop)
        } else {
            fs::mkdir_all(std::os::fd::AsFd::as_fd(&root), d, 0o755).map(drop)
        };
        made.with_context(|| format!("mount point {} in the rootfs", d.display()))?;
        refuse_symlink(&root, d)?;
    }
    Ok(())
}

/// A mount destination reached through a symlink is refused on restore:
/// CRIU would resolve it as a plain path (and a checkpoint of such a
/// container fails anyway, its external mount keys being the config's).
fn refuse_symlink(root: &std::fs::File, dest: &Path) -> Result<()> {
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    const RESOLVE_IN_ROOT: u64 = 0x10;
    match crate::linux::fs::openat2(
        std::os::fd::AsFd::as_fd(root),
        dest,
        nix::fcntl::OFlag::O_PATH,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
    ) {
        Err(nix::errno::Errno::ELOOP) => bail!(
            "mounts: {} is a symlink, or is reached through one, in the rootfs: refused on restore",
            dest.display()
        ),
        _ => Ok(()),
    }
}

/// Every mount the config makes read-only (and the root, with
/// `root.readonly`) is read-only in the restored tree of `pid`.
fn check_read_only(plan: &Plan, pid: i32) -> Result<()> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .context("read the restored container's mount table")?;
    let read_only = |point: &Path| -> Option<bool> {
        info.lines().rev().find_map(|l| {
            let mut f = l.split(' ');
            let p = f.nth(4)?;
            let opts = f.next()?;
            (Path::new(p) == point).then(|| opts.split(',').any(|o| o == "ro"))
        })
    };
    let mut want: Vec<&Path> = plan
        .mounts
        .iter()
        .filter(|m| m.flags.contains(MsFlags::MS_RDONLY))
        .map(|m| m.destination.as_path())
        .collect();
    if plan.readonly_root {
        want.push(Path::new("/"));
    }
    for p in &want {
        if read_only(p) == Some(false) {
            bail!(
                "{} is writable in the restored container although the config makes it \
                 read-only",
                p.display()
            );
        }
    }
    Ok(())
}

fn joined_netns(plan: &Plan) -> Option<PathBuf> {
    plan.namespaces
        .join
        .iter()
        .find(|(f, _)| *f == nix::sched::CloneFlags::CLONE_NEWNET)
        .map(|(_, p)| p.clone())
}

/// The empty directory CRIU's root is bound on, removed on drop.
struct RootDir(PathBuf);

impl RootDir {
    fn new(path: &Path) -> Result<RootDir> {
        std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
        Ok(RootDir(path.to_path_buf()))
    }
}

impl Drop for RootDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
