//! `start`: release a created container's init to exec the user's process,
//! then run poststart hooks. `run` uses [`release`] over its sync channel.

use std::path::Path;

use anyhow::{Result, bail};

use super::saved_hook_state;
use crate::linux::hooks;
use crate::process::sync::{self, Channel, ToInit, ToParent};
use crate::state::{START_SOCKET, State, StateDir, Status};

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let mut state = dir.load(id)?;
    match state.current_status() {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        s => bail!("cannot start an already {} container", s.as_str()),
    }
    if state.config.process().is_none() {
        // The init still waits; it reports the missing process itself.
    }
    let sock = dir.short_path(START_SOCKET);
    let chan = sync::connect_start(&sock)?;
    let result = release(&chan, &dir, &mut state);
    let _ = std::fs::remove_file(&sock);
    result
}

/// Sends Start, waits for the init's execve (seen as EOF: the socket is
/// close-on-exec) or its error, records `running` and runs poststart hooks.
pub fn release(chan: &Channel, dir: &StateDir, state: &mut State) -> Result<()> {
    let hook_state = saved_hook_state(state, Status::Created);
    chan.send(&ToInit::Start { state: hook_state })?;
    match chan.recv::<ToParent>()? {
        None => {}
        Some(ToParent::Failed(e)) => bail!("container {}: {e}", state.id),
        Some(other) => bail!("container {}: unexpected message {other:?}", state.id),
    }
    state.status = Status::Running;
    dir.save(state)?;
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
