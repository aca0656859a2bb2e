//! Lifecycle operations, one file each, called by the CLI: `create`,
//! `start`, `kill`, `delete`, the foreground wait of `run`, `exec`,
//! `update`, `pause`/`resume`, and the readers behind `events` and
//! `beancounters`. This module holds what they share: the hook state and
//! tearing a container down.

pub mod create;
pub mod delete;
pub mod exec;
pub mod foreground;
pub mod kill;
pub mod pause;
pub mod run;
pub mod start;
pub mod stats;
pub mod update;

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::cgroups::Cgroup;
use crate::linux::hooks;
use crate::spec::{OCI_VERSION, Plan};
use crate::state::{State, StateDir, Status};

/// The runtime-spec state that hooks read on stdin.
pub fn hook_state(plan: &Plan, pid: i32, status: Status) -> String {
    state_json(
        &plan.id,
        pid,
        status,
        &plan.bundle,
        plan.spec.annotations().as_ref(),
    )
}

fn state_json(
    id: &str,
    pid: i32,
    status: Status,
    bundle: &std::path::Path,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> String {
    let mut v = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status.as_str(),
        "pid": pid,
        "bundle": bundle,
    });
    if let Some(a) = annotations.filter(|a| !a.is_empty()) {
        v["annotations"] = serde_json::json!(a);
    }
    v.to_string()
}

pub fn saved_hook_state(state: &State, status: Status) -> String {
    state_json(
        &state.id,
        state.pid,
        status,
        &state.bundle,
        state.config.annotations().as_ref(),
    )
}

/// Removes a stopped container: its mounts in the caller's table (no mount
/// namespace of its own), its cgroup (if it made it), then poststop hooks
/// (whose failure is only a warning, per the runtime-spec), then its state.
pub fn destroy(dir: StateDir, state: &State) -> Result<()> {
    if state.shared_root {
        let at = dir.path.join(crate::linux::shared_root::DIR);
        crate::linux::shared_root::release(&at)
            .with_context(|| format!("container {}", state.id))?;
    }
    if state.cgroup_owned {
        Cgroup::of(state)
            .and_then(|c| c.remove())
            .with_context(|| format!("container {}", state.id))?;
    }
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
    // SAFETY: pidfd_open takes integers and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        // Already gone (ESRCH) is what we wait for.
        return Ok(());
    }
    // SAFETY: a fresh descriptor from pidfd_open, owned by us alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    match poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => bail!("process {pid} did not exit within {limit:?}"),
        Err(e) => Err(e).context("poll pidfd"),
    }
}

/// Sets a process's `oomScoreAdj` from the runtime, through the pinned
/// procfs, before the process runs anything of the container's.
pub fn set_oom_score_adj(pid: i32, adj: i32) -> anyhow::Result<()> {
    crate::linux::procfs::write(&format!("{pid}/oom_score_adj"), adj.to_string().as_bytes())
        .with_context(|| {
            format!("process.oomScoreAdj: set {adj} (lowering it needs CAP_SYS_RESOURCE)")
        })
}
