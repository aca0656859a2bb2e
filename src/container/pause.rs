//! `pause` and `resume`: freeze and thaw every process of the container
//! through its cgroup (freezer v1, `cgroup.freeze` v2).

use std::path::Path;

use anyhow::{Result, bail};

use super::Live;
use crate::state::{StateDir, Status};

pub fn pause(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let mut state = dir.load(id)?;
    let status = state.current_status();
    let (want, next) = if frozen {
        (Status::Running, Status::Paused)
    } else {
        (Status::Paused, Status::Running)
    };
    if status != want && !(frozen && status == Status::Created) {
        bail!(
            "container {id} is {}, not {}",
            status.as_str(),
            want.as_str()
        );
    }
    super::cgroup_of(&state)?.freeze(frozen)?;
    // A created container that is paused and resumed is still created.
    if status != Status::Created {
        state.status = next;
        dir.save(&state)?;
    }
    Ok(())
}

/// Thaws a paused container after a fatal signal, so that its frozen
/// processes can die (v1 freezer tasks only act on signals once thawed).
pub fn thaw_to_die(state: &crate::state::State) {
    if crate::cgroups::is_frozen(&state.cgroup_path)
        && let Ok(c) = super::cgroup_of(state)
        && let Err(e) = c.freeze(false)
    {
        crate::logging::warn(format!("container {}: thaw: {e:#}", state.id));
    }
}
