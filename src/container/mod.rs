//! Lifecycle operations, one file each, called by the CLI: `create`,
//! `start`, `kill`, `delete`, the foreground wait of `run`, `exec`,
//! `update`, `pause`/`resume`, and the readers behind `events` and
//! `beancounters`; `status` says what a recorded container is now. This
//! module holds what they share: the hook state, the recorded cgroup, and
//! tearing a container down.

pub mod checkpoint;
pub mod crash;
pub mod create;
pub mod delete;
pub mod exec;
pub mod features;
pub mod foreground;
pub mod kill;
pub mod pause;
pub mod restore;
pub mod run;
pub mod start;
pub mod stats;
pub mod status;
pub mod update;

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cgroups::Cgroup;
use crate::linux::hooks;
use crate::spec::Plan;
use crate::state::{State, StateDir};
pub use status::{Live, OciState};

// What the CLI needs from the floors below, so that it talks to this
// module only.
pub use crate::linux::lxcfs::{DEFAULT_PATH as LXCFS_PATH, View as ProcView};
pub use crate::process::readonly_exe::ensure as reexec_from_readonly_binary;
pub use crate::spec::{Defaults, OCI_VERSION};
pub use crate::state::{DEFAULT_ROOT, Status};

/// The runtime-spec state that hooks read on stdin, for a container being
/// created.
pub fn hook_state(plan: &Plan, pid: i32, status: Status) -> String {
    OciState::for_hook(
        &plan.id,
        pid,
        status,
        &plan.bundle,
        plan.spec.annotations().as_ref(),
    )
    .to_json()
}

/// The same for a recorded container.
pub fn saved_hook_state(state: &State, status: Status) -> String {
    OciState::for_hook(
        &state.id,
        state.pid,
        status,
        &state.bundle,
        state.config.annotations().as_ref(),
    )
    .to_json()
}

/// The state root when `--root` is not given: `$XDG_RUNTIME_DIR/vzrun` for
/// an unprivileged caller, and for root in a user namespace that a user's
/// podman made (USER unset or naming someone else), as runc decides; else
/// DEFAULT_ROOT.
pub fn default_root() -> std::path::PathBuf {
    let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) else {
        return std::path::PathBuf::from(DEFAULT_ROOT);
    };
    let honour = if !nix::unistd::geteuid().is_root() {
        true
    } else if crate::linux::user::in_initial_user_namespace() {
        false
    } else {
        std::env::var("USER").map_or(true, |u| u != "root")
    };
    if honour {
        std::path::Path::new(&xdg).join("vzrun")
    } else {
        std::path::PathBuf::from(DEFAULT_ROOT)
    }
}

/// Sets the disk quota the plan asks for on the filesystem that holds the
/// container's writes, before any process of the container exists, and
/// records it in the state.
fn set_disk_quota(plan: &Plan, state: &mut State, dir: &StateDir) -> Result<()> {
    let Some((space, inodes)) = plan.disk_quota else {
        return Ok(());
    };
    let at = crate::linux::quota::writes_of(&plan.rootfs).context("beancounter diskspace")?;
    let q = crate::linux::quota::set(&at, space, inodes).context("beancounter diskspace")?;
    if space.0.is_some() && space.0 != space.1 && q.kind == crate::linux::quota::Kind::Btrfs {
        crate::logging::warn(format!(
            "container {}: beancounter diskspace: btrfs enforces the limit only; the barrier \
             is shown, not enforced",
            plan.id
        ));
    }
    crate::logging::debug(format!(
        "container {}: disk quota on {} ({} {})",
        plan.id,
        at.display(),
        q.kind.name(),
        q.id
    ));
    state.disk_quota = Some(disk_record(q, space, inodes));
    dir.save(state)
}

/// What the state records of a quota set with these limits.
fn disk_record(
    q: crate::linux::quota::Quota,
    space: crate::linux::quota::Pair,
    inodes: Option<crate::linux::quota::Pair>,
) -> crate::state::DiskQuota {
    crate::state::DiskQuota {
        kind: q.kind.name().to_string(),
        path: q.path,
        id: q.id,
        space,
        inodes,
    }
}

/// The quota a state records, as linux/quota.rs knows it.
fn quota_of(d: &crate::state::DiskQuota) -> Result<crate::linux::quota::Quota> {
    Ok(crate::linux::quota::Quota {
        kind: crate::linux::quota::Kind::from_name(&d.kind)?,
        path: d.path.clone(),
        id: d.id,
    })
}

/// Lifts the container's disk quota, if it has one.
fn lift_disk_quota(state: &State) -> Result<()> {
    match &state.disk_quota {
        Some(d) => crate::linux::quota::remove(&quota_of(d)?)
            .with_context(|| format!("lift the disk quota on {}", d.path.display())),
        None => Ok(()),
    }
}

/// Whether the container's config makes a namespace of `typ` of its own
/// (not one joined by path).
pub fn makes_namespace(state: &State, typ: oci_spec::runtime::LinuxNamespaceType) -> bool {
    state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .any(|n| n.typ() == typ && n.path().is_none())
}

/// Whether this runtime runs without root's privileges on the host.
pub fn runs_rootless() -> bool {
    crate::linux::user::rootless()
}

/// A cgroup operation the kernel refused for want of permission (an
/// unprivileged caller's, typically).
fn permission_denied(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(|e| e.raw_os_error())
            .is_some_and(|n| matches!(n, libc::EACCES | libc::EPERM | libc::EROFS))
    })
}

/// The cgroup a container's state records: a systemd scope or a path.
pub fn cgroup_of(state: &State) -> Result<Cgroup> {
    if state.no_cgroup {
        anyhow::bail!(
            "container {} has no cgroup of its own (made by an unprivileged user without a \
             delegated cgroup): pause, update and statistics need one",
            state.id
        );
    }
    match &state.systemd_unit {
        Some(unit) => Cgroup::systemd(unit, &state.cgroup_path, &state.id),
        None => Ok(Cgroup::new(&state.cgroup_path, &state.id)),
    }
}

/// The container's processes: its cgroup's, or without one (rootless) the
/// processes in its init's pid namespace.
pub fn processes(state: &State) -> Result<Vec<i32>> {
    if !state.no_cgroup {
        return cgroup_of(state)?.pids();
    }
    // Only a pid namespace of the container's own tells its processes
    // from the caller's (a shared one would name every process the user
    // has), and only while the recorded init holds it (a recycled pid
    // would name a stranger's).
    if !makes_namespace(state, oci_spec::runtime::LinuxNamespaceType::Pid) {
        bail!(
            "container {}: linux.namespaces has no pid namespace of its own, and the container \
             no cgroup: its processes cannot be told from the caller's",
            state.id
        );
    }
    let Ok(_pinned) = crate::linux::pidfd::open(state.pid) else {
        return Ok(Vec::new());
    };
    if !matches!(status::process_start_time(state.pid), Some((t, _)) if t == state.start_time) {
        return Ok(Vec::new());
    }
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let init = ns(&state.pid.to_string())
        .with_context(|| format!("container {}: its init {} is gone", state.id, state.pid))?;
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .context("read /proc")?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()).as_ref() == Some(&init))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Removes a stopped container: its mounts in the caller's table (no mount
/// namespace of its own), its cgroup (if it made it), then poststop hooks
/// (whose failure is only a warning, per the runtime-spec), then its state.
pub fn destroy(dir: StateDir, state: &State) -> Result<()> {
    lift_disk_quota(state).with_context(|| format!("container {}", state.id))?;
    if state.shared_root {
        let at = dir.path.join(crate::linux::shared_root::DIR);
        crate::linux::shared_root::release(&at)
            .with_context(|| format!("container {}", state.id))?;
    }
    if state.cgroup_owned {
        cgroup_of(state)
            .and_then(|c| c.remove())
            .with_context(|| format!("container {}", state.id))?;
    }
    crash::point("delete:cgroup-removed");
    run_poststop(state);
    dir.remove()
}

pub fn run_poststop(state: &State) {
    let hooks = state.config.hooks().as_ref();
    if let Some(h) = hooks.and_then(|h| h.poststop().clone()) {
        let s = saved_hook_state(state, Status::Stopped);
        if let Err(e) = hooks::run_all("poststop", &h, s.as_bytes()) {
            crate::logging::warn(format!("container {}: {e:#}", state.id));
        }
    }
}

/// Waits until `pid` (not necessarily our child) has exited, up to `limit`.
pub fn wait_gone(pid: i32, limit: Duration) -> Result<()> {
    // Already gone (ESRCH) is what we wait for.
    let Ok(fd) = crate::linux::pidfd::open(pid) else {
        return Ok(());
    };
    match crate::linux::pidfd::wait_exit(&fd, limit) {
        Ok(true) => Ok(()),
        Ok(false) => bail!("process {pid} did not exit within {limit:?}"),
        Err(e) => Err(e).context("poll pidfd"),
    }
}

/// `--pidfd-socket` (runc 1.2+): a pidfd of the container's process, sent
/// with SCM_RIGHTS, so that a supervisor holds a handle no recycled pid can
/// redirect.
pub fn send_pidfd(socket: &std::path::Path, pid: i32) -> Result<()> {
    let what = || format!("--pidfd-socket {}", socket.display());
    let conn = crate::linux::tty::connect(socket).with_context(what)?;
    let fd = crate::linux::pidfd::open(pid).with_context(|| format!("pidfd of process {pid}"))?;
    crate::linux::tty::send_fd(&conn, "pidfd", std::os::fd::AsRawFd::as_raw_fd(&fd))
        .with_context(what)
}

/// Sets a process's `oomScoreAdj` from the runtime, through the pinned
/// procfs, before the process runs anything of the container's.
pub fn set_oom_score_adj(pid: i32, adj: i32) -> anyhow::Result<()> {
    crate::linux::procfs::write(&format!("{pid}/oom_score_adj"), adj.to_string().as_bytes())
        .with_context(|| {
            format!("process.oomScoreAdj: set {adj} (lowering it needs CAP_SYS_RESOURCE)")
        })
}
