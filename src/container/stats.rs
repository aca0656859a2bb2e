//! What `events`, `ps` and `beancounters` read: the container's cgroup
//! statistics in runc's shape, its OOM kills, and its beancounters with
//! the peaks vzrun keeps in the state directory.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{Live, cgroup_of};
use crate::cgroups;
use crate::cgroups::ubc::{self, Peaks};
pub use crate::cgroups::ubc::{Row, format_table};
use crate::state::{State, StateDir, Status};

const PEAKS_FILE: &str = "beancounters.json";

/// The container's state, refusing one that has no cgroup to read.
fn load(root: &Path, id: &str) -> Result<(StateDir, State)> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load(id)?;
    if state.current_status() == Status::Creating {
        bail!("container {id} is still being created");
    }
    Ok((dir, state))
}

/// One line of `events`, with runc's keys in runc's order (line-oriented
/// readers rely on it): `{"type":…,"id":…,"data":…}`.
#[derive(serde::Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl std::fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// runc's `{"type":"stats","id":…,"data":{…}}` event.
pub fn stats_event<'a>(root: &Path, id: &'a str) -> Result<Event<'a>> {
    let (_dir, state) = load(root, id)?;
    if state.current_status() == Status::Stopped {
        bail!("container {id} is not running");
    }
    let s = cgroup_of(&state)?.stats()?;
    Ok(Event {
        kind: "stats",
        id,
        data: Some(cgroups::stats::to_runc(&s, &state.cgroup_path)),
    })
}

/// How many times the kernel's OOM killer acted in the container's cgroup.
pub fn oom_kills(state: &State) -> u64 {
    let (file, key) = if cgroups::unified() {
        ("memory.events", "oom_kill")
    } else {
        ("memory.oom_control", "oom_kill")
    };
    cgroups::read_keyed(&state.cgroup_path, "memory", file)
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
        .unwrap_or(0)
}

/// The processes in the container's cgroup (`ps`).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let state = crate::state::read(root, id)?;
    super::processes(&state)
}

pub fn state(root: &Path, id: &str) -> Result<State> {
    Ok(load(root, id)?.1)
}

/// The container's beancounters; the peaks kept for counters without a
/// kernel peak are updated on the way.
pub fn beancounters(root: &Path, id: &str) -> Result<Vec<Row>> {
    let (dir, state) = load(root, id)?;
    let mut pids = cgroup_of(&state)?.pids().unwrap_or_default();
    // The init first: the rlimits shown are its.
    if state.current_status() != Status::Stopped {
        pids.retain(|p| *p != state.pid);
        pids.insert(0, state.pid);
    }
    let mut peaks: Peaks = dir
        .read_file(PEAKS_FILE)
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default();
    let mut rows = ubc::read(&state.cgroup_path, &pids, &mut peaks);
    if let Some(d) = &state.disk_quota {
        let used = crate::linux::quota::usage(&super::quota_of(d)?)
            .with_context(|| format!("container {id}: disk quota usage of {}", d.path.display()))?;
        rows.push(ubc::disk_row("diskspace", used.bytes, d.space, &mut peaks));
        if let (Some(n), Some(pair)) = (used.inodes, d.inodes) {
            rows.push(ubc::disk_row("diskinodes", n, pair, &mut peaks));
        }
    }
    dir.write_file(PEAKS_FILE, &serde_json::to_vec(&peaks)?)?;
    Ok(rows)
}
