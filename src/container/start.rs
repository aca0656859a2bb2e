//! `start`: release a created container's init to exec the user's process,
//! then run poststart hooks. `run` uses [`release`] over its own end of the
//! protocol.

use std::path::Path;

use anyhow::{Result, bail};

use super::{Live, saved_hook_state};
use crate::linux::hooks;
use crate::process::protocol::{self, RuntimeEnd};
use crate::state::{START_SOCKET, State, StateDir, Status};

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let mut state = dir.load(id)?;
    match state.current_status() {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        s => bail!("cannot start an already {} container", s.as_str()),
    }
    // A config without a process is reported by the init itself, which
    // still waits for this start.
    let sock = dir.short_path(START_SOCKET);
    let mut end = protocol::connect_start(&sock)?;
    end.allow_hooks(crate::linux::hooks::in_container_timeouts(
        state.config.hooks().as_ref(),
    ));
    super::crash::point("start:connected");
    let result = release(&end, &dir, &mut state);
    let _ = std::fs::remove_file(&sock);
    result
}

/// Starts the init (it execs the user's process or reports why not),
/// records `running` and runs poststart hooks.
pub fn release(end: &RuntimeEnd, dir: &StateDir, state: &mut State) -> Result<()> {
    end.start(saved_hook_state(state, Status::Created))
        .map_err(|e| anyhow::anyhow!("container {}: {e:#}", state.id))?;
    super::crash::point("start:started");
    state.status = Status::Running;
    dir.save(state)?;
    crate::logging::debug(format!(
        "container {}: started, pid {} execs the process",
        state.id, state.pid
    ));
    if let Some(h) = state
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
    {
        let s = saved_hook_state(state, Status::Running);
        if let Err(e) = hooks::run_all("poststart", &h, s.as_bytes()) {
            crate::logging::warn(format!("container {}: {e:#}", state.id));
        }
    }
    Ok(())
}
