//! `kill`: signal the container's init, or with `--all` every process in
//! its cgroup. The init is signalled through a pidfd opened and then checked
//! against the recorded start time, so a recycled pid is never hit.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Live;
use crate::linux::pidfd;
use crate::state::{StateDir, Status};

pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load(id)?;
    let status = state.current_status();
    if all {
        // Without a cgroup, a container whose processes cannot be told
        // apart is refused rather than signalled blindly.
        let pids = match super::processes(&state) {
            Err(e) if state.no_cgroup => return Err(e),
            found => found.unwrap_or_default(),
        };
        for pid in pids {
            // A number, not nix's Signal: real-time signals have no name
            // there.
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(pid, signal) };
        }
        if signal == libc::SIGKILL {
            super::pause::thaw_to_die(&state);
        }
        return Ok(());
    }
    // runc's words: CRI-O reads "container not running" as "already gone".
    if status == Status::Stopped {
        bail!("cannot kill container {id}: container not running");
    }
    signal_init(state.pid, state.start_time, signal)
        .with_context(|| format!("container {id}: send signal {signal}"))?;
    if signal == libc::SIGKILL {
        super::pause::thaw_to_die(&state);
    }
    Ok(())
}

pub fn signal_init(pid: i32, start_time: u64, signal: i32) -> Result<()> {
    let Ok(fd) = pidfd::open(pid) else {
        bail!("container not running");
    };
    // The pidfd pins the process we opened; if its start time matches, it
    // is the container's init and stays so for as long as we hold it.
    match super::status::process_start_time(pid) {
        Some((t, true)) if t == start_time => {}
        _ => bail!("container not running"),
    }
    pidfd::send_signal(&fd, signal).context("pidfd_send_signal")
}
