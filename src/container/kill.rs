//! `kill`: signal the container's init, or with `--all` every process in
//! its cgroup. The init is signalled through a pidfd opened and then checked
//! against the recorded start time, so a recycled pid is never hit.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cgroups::Cgroup;
use crate::state::{StateDir, Status};

pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load(id)?;
    let status = state.current_status();
    if all {
        let cgroup = Cgroup::of(&state)?;
        for pid in cgroup.pids().unwrap_or_default() {
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(pid, signal) };
        }
        if signal == libc::SIGKILL {
            super::pause::thaw_to_die(&state);
        }
        return Ok(());
    }
    if status == Status::Stopped {
        bail!("container {id} is not running");
    }
    signal_init(state.pid, state.start_time, signal)
        .with_context(|| format!("container {id}: send signal {signal}"))?;
    if signal == libc::SIGKILL {
        super::pause::thaw_to_die(&state);
    }
    Ok(())
}

pub fn signal_init(pid: i32, start_time: u64, signal: i32) -> Result<()> {
    // SAFETY: pidfd_open takes integers and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        bail!("container is not running");
    }
    // SAFETY: a fresh descriptor from pidfd_open, owned by us alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // The pidfd pins the process we opened; if its start time matches, it
    // is the container's init and stays so for as long as we hold it.
    match crate::state::process_start_time(pid) {
        Some((t, true)) if t == start_time => {}
        _ => bail!("container is not running"),
    }
    // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("pidfd_send_signal");
    }
    Ok(())
}
