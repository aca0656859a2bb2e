//! `delete`: remove a stopped container (with `--force`, kill it first).
//! Deleting one that is not stopped without `--force` fails, as the
//! runtime-spec asks; `--force` on an id that does not exist succeeds, which
//! containerd relies on.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;

use super::Live;
use super::{destroy, kill::signal_init, wait_gone};
use crate::state::{NotExist, StateDir, Status};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = match StateDir::open(root, id) {
        Ok(d) => d,
        Err(e) if force && e.is::<NotExist>() => {
            crate::state::remove_unplaced(root);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let state = match dir.load(id) {
        Ok(s) => s,
        Err(e) if e.is::<NotExist>() => {
            // A directory without state is what an interrupted create leaves.
            dir.remove()?;
            return if force { Ok(()) } else { Err(e) };
        }
        // Unreadable state (a damaged file): what the cgroup recorded at
        // create holds is killed, the cgroup and the directory removed.
        Err(e) if force => {
            crate::logging::warn(format!("container {id}: {e:#}; removing what is left"));
            if let Some(p) = dir.read_file(crate::state::CGROUP_FILE) {
                let path = std::path::PathBuf::from(String::from_utf8_lossy(&p).into_owned());
                crate::cgroups::remove(&path)
                    .with_context(|| format!("container {id}: cgroup {}", path.display()))?;
            }
            return dir.remove();
        }
        Err(e) => return Err(e),
    };
    match state.current_status() {
        // A create killed on the way: nothing it started may outlive the
        // delete, even in a cgroup that is not ours to remove.
        Status::Stopped if state.abandoned => {
            for pid in super::processes(&state).unwrap_or_default() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        Status::Stopped => {}
        _ if force => {
            let _ = signal_init(state.pid, state.start_time, libc::SIGKILL);
            for pid in super::processes(&state).unwrap_or_default() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            super::pause::thaw_to_die(&state);
            wait_gone(state.pid, Duration::from_secs(10))?;
            super::crash::point("delete:killed");
        }
        s => bail!(
            "cannot delete container {id} that is not stopped: {}",
            s.as_str()
        ),
    }
    destroy(dir, &state)
}
