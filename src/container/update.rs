//! `update`: change a running (or created, or paused) container's limits
//! in place. Everything is checked before the first cgroup file is written;
//! if the kernel still refuses a value halfway, the previous limits are
//! written back, so a failed update leaves the container as it was.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use super::Live;
use crate::cgroups;
pub use crate::cgroups::ubc::parse as parse_ubc;
use crate::cgroups::ubc::{self, Setting};
use crate::state::{StateDir, Status};

pub fn update(
    root: &Path,
    id: &str,
    changes: LinuxResources,
    beancounters: BTreeMap<String, Setting>,
) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let mut state = dir.load(id)?;
    match state.current_status() {
        Status::Stopped | Status::Creating => bail!(
            "container {id} is {}: only a created, running or paused container can be updated",
            state.current_status().as_str()
        ),
        _ => {}
    }
    update_disk_quota(&dir, &mut state, &beancounters)
        .with_context(|| format!("container {id}: --ubc"))?;
    let mut wanted = changes.clone();
    let warn = &mut |w: String| crate::logging::warn(format!("container {id}: {w}"));
    ubc::merge(&beancounters, &mut wanted, &changes, warn)
        .with_context(|| format!("container {id}: --ubc"))?;
    cgroups::check_resources(&wanted).with_context(|| format!("container {id}: resources"))?;

    let old = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let merged = merge_resources(&old, &wanted)?;
    // The device rules in force, changed or not: cgroup v2's filter is
    // rebuilt on every update, and from these it is rebuilt the same.
    if wanted.devices().is_none() {
        wanted.set_devices(merged.devices().clone());
    }
    // Rootless, no device rules are written (see create).
    let mut old = old;
    if crate::linux::user::rootless() {
        wanted.set_devices(None);
        old.set_devices(None);
    }
    let memory = merged.memory().unwrap_or_default();
    if memory.check_before_update().unwrap_or(false)
        && let Some(limit) = wanted.memory().and_then(|m| m.limit()).filter(|l| *l > 0)
    {
        let usage = cgroups::read_u64(&state.cgroup_path, "memory", "memory.usage_in_bytes")
            .or_else(|| cgroups::read_u64(&state.cgroup_path, "memory", "memory.current"))
            .unwrap_or(0);
        if (limit as u64) < usage {
            bail!(
                "container {id}: memory limit {limit} is below the current usage {usage} \
                 (memory.checkBeforeUpdate is set)"
            );
        }
    }

    let cgroup = super::cgroup_of(&state)?;
    let no_oom_kill = memory.disable_oom_killer().unwrap_or(false);
    let delegated_v2 =
        crate::linux::user::rootless() && crate::cgroups::unified() && state.systemd_unit.is_none();
    let apply = |r: &oci_spec::runtime::LinuxResources| {
        if delegated_v2 {
            cgroup.apply_delegated_v2(r)
        } else {
            cgroup.apply(r, no_oom_kill)
        }
    };
    if let Err(e) = apply(&wanted) {
        if let Err(back) = apply(&old) {
            crate::logging::warn(format!(
                "container {id}: restoring the previous limits: {back:#}"
            ));
        }
        return Err(e.context(format!("container {id}: update")));
    }
    for (resource, soft, hard) in ubc::rlimits(&beancounters) {
        let rl = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        for pid in cgroup.pids()? {
            // SAFETY: prlimit reads `rl`, which outlives the call, and
            // writes nothing back (null old-limit pointer).
            let rc = unsafe {
                libc::prlimit(
                    pid,
                    resource as libc::__rlimit_resource_t,
                    &rl,
                    std::ptr::null_mut(),
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error()).with_context(|| {
                    format!(
                        "container {id}: set rlimit {resource:?} of pid {pid} to {soft}:{hard} \
                         (raising a hard limit needs CAP_SYS_RESOURCE)"
                    )
                });
            }
        }
    }

    super::crash::point("update:applied");
    let mut config = state.config.clone();
    let mut linux = config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(merged));
    config.set_linux(Some(linux));
    state.config = config;
    dir.save(&state)
}

/// `--ubc diskspace=` / `diskinodes=`: changes the quota in force, or sets
/// one now on the filesystem of the container's writes; recorded at once.
fn update_disk_quota(
    dir: &StateDir,
    state: &mut crate::state::State,
    beancounters: &BTreeMap<String, Setting>,
) -> Result<()> {
    let pair = |r: &str| beancounters.get(r).map(|s| (s.barrier, s.limit));
    let (space, inodes) = (pair("diskspace"), pair("diskinodes"));
    if space.is_none() && inodes.is_none() {
        return Ok(());
    }
    match state.disk_quota.as_mut() {
        Some(d) => {
            let space = space.unwrap_or(d.space);
            let inodes = inodes.or(d.inodes);
            crate::linux::quota::change(&super::quota_of(d)?, space, inodes)?;
            d.space = space;
            d.inodes = inodes;
        }
        None => {
            let space = space.unwrap_or((None, None));
            let at = crate::linux::quota::writes_of(&state.rootfs)?;
            let q = crate::linux::quota::set(&at, space, inodes)?;
            state.disk_quota = Some(super::disk_record(q, space, inodes));
        }
    }
    dir.save(state)
}

/// `update -r FILE`'s text (`name` is the file, or `<stdin>`); a type error
/// names the JSON path of the field.
pub fn parse_resources(name: &str, text: &[u8]) -> Result<LinuxResources> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de)
        .map_err(|e| anyhow::anyhow!("{name}: {}: {}", e.path(), e.inner()))
}

/// The container's recorded resources with `changes` laid over them,
/// field by field (a change to `memory.limit` keeps `memory.swap`).
pub fn merge_resources(old: &LinuxResources, changes: &LinuxResources) -> Result<LinuxResources> {
    fn lay(base: &mut Value, over: Value) {
        match (base, over) {
            (Value::Object(b), Value::Object(o)) => {
                for (k, v) in o {
                    lay(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, o) => *b = o,
        }
    }
    let mut base = serde_json::to_value(old)?;
    lay(&mut base, serde_json::to_value(changes)?);
    Ok(serde_json::from_value(base)?)
}
