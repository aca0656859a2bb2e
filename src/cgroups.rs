//! A thin layer over libcgroups: create the container's cgroup, put the init
//! in it, apply `linux.resources`, read its pids, remove it.
//!
//! `cgroupsPath` semantics: an absolute path is taken from the root of each
//! hierarchy; a relative one (or the container id, when the path is empty) is
//! also placed under the hierarchy root. This module does not decide when
//! cgroups are made or removed: the lifecycle code in `container/` does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use libcgroups::common::{
    AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt, create_cgroup_manager,
};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

const ROOT: &str = "/sys/fs/cgroup";

pub struct Cgroup {
    path: PathBuf,
    manager: AnyCgroupManager,
}

impl Cgroup {
    /// Prepares the manager for `path`; nothing is created on disk until
    /// [`Cgroup::join`].
    pub fn new(path: &Path, id: &str) -> Result<Cgroup> {
        let manager = create_cgroup_manager(CgroupConfig {
            cgroup_path: path.to_path_buf(),
            systemd_cgroup: false,
            container_name: id.to_string(),
        })
        .with_context(|| format!("cgroup {}", path.display()))?;
        Ok(Cgroup {
            path: path.to_path_buf(),
            manager,
        })
    }

    /// Creates the cgroup in every hierarchy and moves `pid` into it.
    pub fn join(&self, pid: i32) -> Result<()> {
        self.manager
            .add_task(Pid::from_raw(pid))
            .with_context(|| format!("join cgroup {}", self.path.display()))
    }

    pub fn apply(&self, resources: &LinuxResources, disable_oom_killer: bool) -> Result<()> {
        let opt = ControllerOpt {
            resources,
            disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager
            .apply(&opt)
            .with_context(|| format!("apply linux.resources to cgroup {}", self.path.display()))
    }

    pub fn pids(&self) -> Result<Vec<i32>> {
        let pids = self
            .manager
            .get_all_pids()
            .with_context(|| format!("list processes of cgroup {}", self.path.display()))?;
        Ok(pids.into_iter().map(|p| p.as_raw()).collect())
    }

    /// Removes the cgroup from every hierarchy (killing anything left in it).
    pub fn remove(&self) -> Result<()> {
        self.manager
            .remove()
            .with_context(|| format!("remove cgroup {}", self.path.display()))
    }
}

/// Whether a cgroup already exists at `path` (in any hierarchy), and
/// whether processes are in it. A container never takes over a cgroup with
/// processes in it: removing the container would kill them.
pub fn probe(path: &Path) -> (bool, bool) {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let dirs: Vec<PathBuf> = if unified() {
        vec![Path::new(ROOT).join(rel)]
    } else {
        std::fs::read_dir(ROOT)
            .map(|rd| rd.flatten().map(|e| e.path().join(rel)).collect())
            .unwrap_or_default()
    };
    let mut exists = false;
    for d in dirs {
        if let Ok(procs) = std::fs::read_to_string(d.join("cgroup.procs")) {
            exists = true;
            if !procs.trim().is_empty() {
                return (true, true);
            }
        }
    }
    (exists, false)
}

fn unified() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// Whether the container's cgroup is frozen (`paused`); false when there is
/// no freezer or no such cgroup.
pub fn is_frozen(path: &Path) -> bool {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if unified() {
        std::fs::read_to_string(Path::new(ROOT).join(rel).join("cgroup.freeze"))
            .is_ok_and(|s| s.trim() == "1")
    } else {
        std::fs::read_to_string(
            Path::new(ROOT)
                .join("freezer")
                .join(rel)
                .join("freezer.state"),
        )
        .is_ok_and(|s| s.trim() == "FROZEN")
    }
}
