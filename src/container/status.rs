//! What a recorded container is now, and how the runtime-spec shows it:
//! the live status (is its init the process recorded, is its cgroup
//! frozen, has it exec'd yet) and the one state document that `state`,
//! `list` and every hook read.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::spec::OCI_VERSION;
use anyhow::Result;

use crate::state::{self, Annotations, Config, State, Status};

/// The status of a recorded container as it is now, not as last written.
pub trait Live {
    fn current_status(&self) -> Status;
}

impl<C: Config> Live for State<C> {
    fn current_status(&self) -> Status {
        if self.status == Status::Creating {
            // Written before the init exists. A create that was killed
            // leaves it behind with nothing running: stopped, for `delete`
            // to clean up.
            return if self.abandoned {
                Status::Stopped
            } else {
                Status::Creating
            };
        }
        if self.pid <= 0 || !process_matches(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if crate::cgroups::is_frozen(&self.cgroup_path) {
            return Status::Paused;
        }
        // A `start` interrupted after the init exec'd never recorded
        // `running`: the init no longer runs the runtime's binary then.
        if self.status == Status::Created && !runs_own_binary(self.pid) {
            return Status::Running;
        }
        self.status
    }
}

/// A container's recorded state, read without its lock (state.json is
/// replaced atomically); what a killed create left is explained.
pub fn read(root: &Path, id: &str) -> Result<State> {
    let s = state::read(root, id)?;
    if s.abandoned {
        crate::logging::warn(format!(
            "container {id}: its create did not finish (the runtime was killed or crashed); \
             `delete {id}` removes what it left"
        ));
    }
    Ok(s)
}

/// Every container id under `root`, sorted.
pub fn ids(root: &Path) -> Result<Vec<String>> {
    state::list_ids(root)
}

/// What `list` shows: each container's state (its config parsed only for
/// the annotations) with the uid that owns its state directory. A
/// container being created or deleted right now has no readable state;
/// runc skips those too.
pub fn list(root: &Path) -> Result<Vec<(State<Annotations>, Option<u32>)>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for id in state::list_ids(root)? {
        let Ok(s) = state::read_summary(root, &id) else {
            continue;
        };
        let owner = std::fs::metadata(root.join(&id)).map(|m| m.uid()).ok();
        out.push((s, owner));
    }
    Ok(out)
}

/// The runtime-spec state of a container. `state` and `list` print it with
/// runc's extra fields (rootfs, created, owner), in runc's order; hooks get
/// it without them.
#[derive(Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'a str>,
}

impl<'a> OciState<'a> {
    /// The state a hook reads on stdin.
    pub fn for_hook(
        id: &'a str,
        pid: i32,
        status: Status,
        bundle: &'a Path,
        annotations: Option<&'a HashMap<String, String>>,
    ) -> OciState<'a> {
        OciState {
            oci_version: OCI_VERSION,
            id,
            pid,
            status: status.as_str(),
            bundle,
            rootfs: None,
            created: None,
            annotations: annotations.filter(|a| !a.is_empty()),
            owner: None,
        }
    }

    /// What `state` and `list` show for a recorded container in `status`;
    /// `pid` is 0 once stopped.
    pub fn of<C: Config>(state: &'a State<C>, status: Status) -> OciState<'a> {
        let pid = if status == Status::Stopped {
            0
        } else {
            state.pid
        };
        OciState {
            rootfs: Some(&state.rootfs),
            created: Some(&state.created),
            owner: Some(&state.owner),
            ..OciState::for_hook(
                &state.id,
                pid,
                status,
                &state.bundle,
                state.config.annotations(),
            )
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a state serializes")
    }
}

/// The start time of a process (clock ticks since boot) and whether it is
/// still running, i.e. neither a zombie nor gone.
pub fn process_start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the
    // last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    // `rest` starts at field 3 (state); start time is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state != "Z" && state != "X"))
}

/// Whether `pid` still runs the runtime's binary: compared by inode, since
/// the init's view of the path (a bind mount in another mount namespace)
/// is not ours; a sealed memfd copy (the unprivileged re-exec) is ours by
/// its name.
fn runs_own_binary(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let exe = format!("/proc/{pid}/exe");
    match (std::fs::metadata(&exe), std::fs::metadata("/proc/self/exe")) {
        (Ok(theirs), Ok(ours)) if theirs.dev() == ours.dev() && theirs.ino() == ours.ino() => true,
        // Only a differing binary costs the second look.
        (Ok(_), Ok(_)) => std::fs::read_link(&exe).is_ok_and(|l| {
            l.to_string_lossy()
                .starts_with(crate::process::readonly_exe::MEMFD_PATH)
        }),
        // Unreadable: trust what was recorded.
        _ => true,
    }
}

fn process_matches(pid: i32, start_time: u64) -> bool {
    matches!(process_start_time(pid), Some((t, true)) if t == start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_readable() {
        let (t, alive) = process_start_time(std::process::id() as i32).unwrap();
        assert!(t > 0 && alive);
    }

    #[test]
    fn state_has_runcs_fields_in_runcs_order_and_hooks_get_the_spec_ones() {
        let bundle = Path::new("/b");
        let hook = OciState::for_hook("c1", 42, Status::Created, bundle, None).to_json();
        assert_eq!(
            hook,
            r#"{"ociVersion":"1.3.0","id":"c1","pid":42,"status":"created","bundle":"/b"}"#
        );
        let full = OciState {
            rootfs: Some(Path::new("/b/rootfs")),
            created: Some("2026-01-01T00:00:00Z"),
            owner: Some(""),
            ..OciState::for_hook("c1", 0, Status::Stopped, bundle, None)
        }
        .to_json();
        assert_eq!(
            full,
            r#"{"ociVersion":"1.3.0","id":"c1","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","owner":""}"#
        );
    }
}
