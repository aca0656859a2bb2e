//! The container's cgroup: create it, put the init in it, apply
//! `linux.resources`, freeze it, read its pids and statistics, remove it.
//! cgroupfs v1 is written here (`v1`): creating, joining, limits and
//! removal, the steps of every `create`, `exec` and `delete`. cgroup v2 and
//! systemd scopes, and freezing, pids and statistics on v1, go through
//! libcgroups. `stats` shapes the statistics as runc's `events` does,
//! `ubc` shows them as OpenVZ's beancounters.
//!
//! A hybrid host (v1 hierarchies plus a cgroup2 mount at
//! `/sys/fs/cgroup/unified`) may bind some controllers to that cgroup2
//! mount instead of a v1 hierarchy (this project's machines boot with
//! hugetlb there). Each controller is used where it is: when the cgroup2
//! mount holds controllers, the container gets a cgroup there too, made,
//! joined and removed with its v1 ones, and those controllers' files are
//! v2 files in it ([`file`] routes them).
//!
//! `cgroupsPath` as runc's cgroupfs driver resolves it: an absolute path is
//! taken from the root of each hierarchy; a relative one, or the container
//! id when the path is empty, is placed under the cgroup the runtime itself
//! runs in. This module does not decide when cgroups are made or removed:
//! the lifecycle code in `container/` does.

mod delegated;
mod devices;
pub mod stats;
pub mod ubc;
mod v1;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use libcgroups::common::{
    AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt, FreezerState,
    create_cgroup_manager,
};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

const ROOT: &str = "/sys/fs/cgroup";
/// Where a hybrid host mounts its cgroup2 hierarchy (systemd's place, and
/// this machine's).
const HYBRID_ROOT: &str = "/sys/fs/cgroup/unified";

pub struct Cgroup {
    path: PathBuf,
    id: String,
    /// Made on first use: a v1 manager reads the mount table and
    /// /proc/self/cgroup once per controller (about a millisecond), which
    /// `create` and `update` on v1 do without.
    manager: OnceCell<AnyCgroupManager>,
    /// A systemd scope: some knobs go to its files, not its properties.
    systemd: bool,
}

impl Cgroup {
    /// A transient scope unit made through systemd (`--systemd-cgroup`),
    /// for `cgroupsPath` as `slice:prefix:name`, whose cgroup is `path`
    /// ([`systemd_path`]); systemd creates the cgroup when the first
    /// process joins, and removes it when the unit stops. An unprivileged
    /// caller talks to its user's systemd instance on the session bus.
    pub fn systemd(unit: &str, path: &Path, id: &str) -> Result<Cgroup> {
        // Without systemd libcgroups quietly takes the slice:prefix:name
        // for a cgroupfs path.
        if !Path::new("/run/systemd/system").exists() {
            let who = if is_root_user() {
                "systemd"
            } else {
                "the user's systemd instance"
            };
            anyhow::bail!(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system), \
                 so {who} cannot make the scope {unit}"
            );
        }
        let manager = create_cgroup_manager(CgroupConfig {
            cgroup_path: PathBuf::from(unit),
            systemd_cgroup: true,
            container_name: id.to_string(),
        })
        .with_context(|| {
            if is_root_user() {
                format!("connect to systemd for the scope of {unit}")
            } else {
                format!(
                    "connect to the user's systemd instance for the scope of {unit} (is it \
                     running, e.g. `loginctl enable-linger`, and is XDG_RUNTIME_DIR or \
                     DBUS_SESSION_BUS_ADDRESS set?)"
                )
            }
        })?;
        Ok(Cgroup {
            path: path.to_path_buf(),
            id: id.to_string(),
            manager: OnceCell::from(manager),
            systemd: true,
        })
    }

    /// The cgroupfs cgroup at `path`; nothing is created on disk until
    /// [`Cgroup::join`].
    pub fn new(path: &Path, id: &str) -> Cgroup {
        Cgroup {
            path: path.to_path_buf(),
            id: id.to_string(),
            manager: OnceCell::new(),
            systemd: false,
        }
    }

    fn manager(&self) -> Result<&AnyCgroupManager> {
        if let Some(m) = self.manager.get() {
            return Ok(m);
        }
        let m = create_cgroup_manager(CgroupConfig {
            cgroup_path: self.path.clone(),
            systemd_cgroup: false,
            container_name: self.id.clone(),
        })
        .with_context(|| format!("cgroup {}", self.path.display()))?;
        Ok(self.manager.get_or_init(|| m))
    }

    /// Whether [`Cgroup::join`] is two steps of our own, [`Cgroup::make_dirs`]
    /// then [`Cgroup::enter_made`] (cgroupfs v1), rather than one of a
    /// manager's (v2, systemd).
    pub fn in_two_steps(&self) -> bool {
        !self.systemd && !unified()
    }

    /// The cgroup's directory in every hierarchy.
    pub fn make_dirs(&self) -> Result<()> {
        for d in &dirs_of(&self.path) {
            std::fs::create_dir_all(d).with_context(|| format!("create cgroup {}", d.display()))?;
        }
        if !hybrid_controllers().is_empty() {
            enable_hybrid_controllers(&self.path)?;
        }
        Ok(())
    }

    /// Moves `pid` into the cgroup [`Cgroup::make_dirs`] made.
    pub fn enter_made(&self, pid: i32) -> Result<()> {
        enter_dirs(&self.path, &dirs_of(&self.path), pid)
    }

    /// Creates the cgroup in every hierarchy and moves `pid` into it. On
    /// v1 this needs no manager: a directory and a write per hierarchy.
    pub fn join(&self, pid: i32) -> Result<()> {
        if self.in_two_steps() {
            self.make_dirs()?;
            return self.enter_made(pid);
        }
        // libcgroups' v2 manager creates missing parents with a check then
        // a mkdir, which fails when two containers under one new parent
        // are created at once; create_dir_all takes such races in stride.
        if unified()
            && let Some(parent) = self.path.parent()
        {
            let dir = Path::new(ROOT).join(parent.strip_prefix("/").unwrap_or(parent));
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            // A parent the caller may not write (rootless without
            // delegation) fails here as the io error it is: libcgroups'
            // own error would not say so to the caller.
            // The effective ids decide, as for the writes that follow.
            if let Err(e) = nix::unistd::faccessat(
                None,
                &dir,
                nix::unistd::AccessFlags::W_OK,
                nix::fcntl::AtFlags::AT_EACCESS,
            ) {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("create cgroup below {}", dir.display()));
            }
        }
        let joined = self
            .manager()?
            .add_task(Pid::from_raw(pid))
            .with_context(|| format!("join cgroup {}", self.path.display()));
        if joined.is_err()
            && unified()
            && let Some(busy) = self.path.ancestors().skip(1).find(|a| {
                a.parent().is_some()
                    && read(a, "", "cgroup.procs").is_some_and(|p| !p.trim().is_empty())
            })
        {
            // The v2 rule behind the kernel's bare EBUSY/EOPNOTSUPP.
            return joined.with_context(|| {
                format!(
                    "cgroup v2: {} has processes of its own, and a cgroup with processes cannot \
                     have child cgroups with controllers; use a cgroupsPath outside it",
                    busy.display()
                )
            });
        }
        joined
    }

    pub fn apply(&self, resources: &LinuxResources, disable_oom_killer: bool) -> Result<()> {
        self.host_supports(resources)?;
        if !self.systemd && !unified() {
            v1::apply(&self.path, resources, disable_oom_killer).with_context(|| {
                format!("apply linux.resources to cgroup {}", self.path.display())
            })?;
            self.check_kmem(resources);
            return Ok(());
        }
        // libcgroups' v2 conversion of blockIO.weight overflows a u16 for
        // every weight above 16: the weight is written here instead.
        let mut own = None;
        if unified()
            && let Some(w) = resources.block_io().as_ref().and_then(|b| b.weight())
        {
            let mut r = resources.clone();
            if let Some(b) = r.block_io_mut() {
                b.set_weight(None);
            }
            own = Some((r, w));
        }
        let resources = own.as_ref().map_or(resources, |(r, _)| r);
        // Written after the manager's own, which systemd follows by
        // rewriting its unit's files (io.weight back to its default).
        let io_weight = own.as_ref().map(|(_, w)| *w);
        // libcgroups sends systemd AllowedCPUs/AllowedMemoryNodes as the
        // wrong D-Bus type, which systemd rejects, and has no property for
        // the CFS burst or idle: in a scope (delegated to us) those files
        // are written directly instead.
        let mut scope_files: Vec<(&str, String)> = Vec::new();
        let stripped;
        let resources = if self.systemd
            && let Some(c) = resources.cpu()
            && (c.cpus().is_some()
                || c.mems().is_some()
                || c.burst().is_some()
                || c.idle().is_some())
        {
            let mut r = resources.clone();
            if let Some(rc) = r.cpu_mut() {
                // mems before cpus: the kernel wants both non-empty.
                if let Some(m) = rc.mems().clone().filter(|m| !m.is_empty()) {
                    scope_files.push(("cpuset.mems", m));
                }
                if let Some(cpus) = rc.cpus().clone().filter(|c| !c.is_empty()) {
                    scope_files.push(("cpuset.cpus", cpus));
                }
                if let Some(b) = rc.burst() {
                    scope_files.push(("cpu.max.burst", b.to_string()));
                }
                if let Some(i) = rc.idle() {
                    scope_files.push(("cpu.idle", i.to_string()));
                }
                rc.set_cpus(None);
                rc.set_mems(None);
                rc.set_burst(None);
                rc.set_idle(None);
            }
            stripped = r;
            &stripped
        } else {
            resources
        };
        let dir = Path::new(ROOT).join(self.path.strip_prefix("/").unwrap_or(&self.path));
        // Device filters are eBPF programs, which only root may load or
        // list; an unprivileged caller's user namespace keeps host devices
        // out instead (the caller drops the rules).
        let device_filter = is_root_user();
        if unified() && device_filter {
            devices::replace_v2_filter(&dir, resources.devices().as_deref().unwrap_or(&[]))
                .with_context(|| {
                    format!("linux.resources.devices: cgroup {}", self.path.display())
                })?;
        }
        let opt = ControllerOpt {
            resources,
            disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        };
        self.manager()?
            .apply(&opt)
            .with_context(|| format!("apply linux.resources to cgroup {}", self.path.display()))?;
        self.check_kmem(resources);
        if let Some(w) = io_weight {
            self.set_io_weight(w)?;
        }
        for (name, v) in scope_files {
            let f = file(&self.path, "cpu", name);
            std::fs::write(&f, &v)
                .with_context(|| format!("linux.resources.cpu: write {v} to {}", f.display()))?;
        }
        // systemd enables no hugetlb controller for its units, and
        // libcgroups then skips the limits without a word.
        if self.systemd {
            for h in resources.hugepage_limits().iter().flatten() {
                let f = file(
                    &self.path,
                    "hugetlb",
                    &format!("hugetlb.{}.max", h.page_size()),
                );
                if !f.exists() {
                    anyhow::bail!(
                        "linux.resources.hugepageLimits: systemd does not enable the hugetlb \
                         controller for the scope {} (no {})",
                        self.path.display(),
                        f.display()
                    );
                }
            }
        }
        // systemd's scopes get no device filter from libcgroups: the same
        // eBPF program as the cgroupfs driver's is attached here.
        if self.systemd && device_filter {
            libcgroups::v2::devices::Devices::apply_devices(&dir, resources.devices())
                .with_context(|| {
                    format!("linux.resources.devices: cgroup {}", self.path.display())
                })?;
        }
        // Since runtime-spec 1.3 a pids limit of 0 is a real limit (no new
        // processes at all); libcgroups still reads it as "no limit".
        if resources.pids().is_some_and(|p| p.limit() == 0) {
            let f = file(&self.path, "pids", "pids.max");
            std::fs::write(&f, "0").with_context(|| format!("write 0 to {}", f.display()))?;
        }
        Ok(())
    }

    fn check_kmem(&self, resources: &LinuxResources) {
        if let Some(kmem) = resources
            .memory()
            .and_then(|m| m.kernel())
            .filter(|k| *k > 0)
            && read_u64(&self.path, "memory", "memory.kmem.limit_in_bytes") != Some(kmem as u64)
        {
            crate::logging::warn(
                "linux.resources.memory.kernel: this kernel does not enforce kernel memory \
                 limits (ignored); kernel memory is still charged to memory.limit",
            );
        }
    }

    /// blockIO.weight (10..1000, v1's scale) on v2: io.bfq.weight takes
    /// the same scale, io.weight 1..10000.
    fn set_io_weight(&self, w: u16) -> Result<()> {
        if !(10..=1000).contains(&w) {
            anyhow::bail!("linux.resources.blockIO.weight: {w} is outside 10..1000");
        }
        let bfq = file(&self.path, "io", "io.bfq.weight");
        let (f, v) = if bfq.exists() {
            (bfq, w.to_string())
        } else {
            let weight = 1 + (u32::from(w) - 10) * 9999 / 990;
            (
                file(&self.path, "io", "io.weight"),
                format!("default {weight}"),
            )
        };
        std::fs::write(&f, v).with_context(|| {
            format!(
                "linux.resources.blockIO.weight: write {w} to {}",
                f.display()
            )
        })
    }

    /// Refuses what this host's cgroups cannot do, naming the field,
    /// rather than letting it be skipped or fail with a file name only.
    fn host_supports(&self, r: &LinuxResources) -> Result<()> {
        // On a hybrid host vzrun writes v2 files for hugetlb (and unified
        // keys) on the cgroup2 mount; another controller bound there has
        // no writer yet.
        if !self.systemd && !unified() {
            let asked = [
                ("memory", "memory", r.memory().is_some()),
                ("cpu", "cpu", r.cpu().as_ref().is_some_and(cfs_or_rt_set)),
                (
                    "cpu.cpus/mems",
                    "cpuset",
                    r.cpu()
                        .as_ref()
                        .is_some_and(|c| c.cpus().is_some() || c.mems().is_some()),
                ),
                ("pids", "pids", r.pids().is_some()),
                ("blockIO", "blkio", r.block_io().is_some()),
                ("blockIO", "io", r.block_io().is_some()),
                (
                    "devices",
                    "devices",
                    r.devices().as_ref().is_some_and(|d| !d.is_empty()),
                ),
            ];
            if let Some((field, ctrl, _)) = asked
                .iter()
                .find(|(_, ctrl, set)| *set && on_hybrid_v2(ctrl))
            {
                anyhow::bail!(
                    "linux.resources.{field}: the {ctrl} controller is on this hybrid host's \
                     cgroup2 mount ({HYBRID_ROOT}), where vzrun writes only hugetlb limits"
                );
            }
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() && !controller_available("net_cls") {
                anyhow::bail!(
                    "linux.resources.network.classID: the net_cls controller is not available on this host"
                );
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty())
                && !controller_available("net_prio")
            {
                anyhow::bail!(
                    "linux.resources.network.priorities: the net_prio controller is not available on this host"
                );
            }
        }
        if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
            && !self.systemd
            && !controller_available("hugetlb")
        {
            anyhow::bail!(
                "linux.resources.hugepageLimits: the hugetlb controller is not available on this \
                 host (neither a v1 hierarchy nor on the cgroup2 mount)"
            );
        }
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) && !controller_available("rdma") {
            anyhow::bail!(
                "linux.resources.rdma: the rdma controller is not available on this host"
            );
        }
        if unified() {
            if r.cpu()
                .as_ref()
                .is_some_and(|c| c.realtime_runtime().is_some() || c.realtime_period().is_some())
            {
                anyhow::bail!(
                    "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no \
                     realtime scheduling groups"
                );
            }
            // cgroup v2 has no such knobs; like runc, go on without them.
            if let Some(m) = r.memory() {
                for (field, set) in [
                    ("swappiness", m.swappiness().is_some()),
                    ("disableOOMKiller", m.disable_oom_killer().unwrap_or(false)),
                    ("kernel", m.kernel().is_some()),
                    ("kernelTCP", m.kernel_tcp().is_some()),
                ] {
                    if set {
                        crate::logging::warn(format!(
                            "linux.resources.memory.{field}: not supported on cgroup v2 (ignored)"
                        ));
                    }
                }
            }
        }
        if let Some(rt) = r
            .cpu()
            .as_ref()
            .and_then(|c| c.realtime_runtime())
            .filter(|r| *r > 0)
            && !unified()
        {
            // The kernel only grants a group the realtime time its parent
            // has; a fresh parent has none.
            let parent = self.path.parent().unwrap_or(Path::new("/"));
            let granted = std::fs::read_to_string(file(parent, "cpu", "cpu.rt_runtime_us"))
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0);
            if rt > granted {
                anyhow::bail!(
                    "linux.resources.cpu.realtimeRuntime: {rt} µs is more than the parent cgroup {} \
                     grants ({granted} µs in its cpu.rt_runtime_us)",
                    parent.display()
                );
            }
        }
        Ok(())
    }

    pub fn pids(&self) -> Result<Vec<i32>> {
        let pids = self
            .manager()?
            .get_all_pids()
            .with_context(|| format!("list processes of cgroup {}", self.path.display()))?;
        Ok(pids.into_iter().map(|p| p.as_raw()).collect())
    }

    /// Freezes (`pause`) or thaws (`resume`) every process of the cgroup;
    /// returns once the kernel reports the new state.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        let (state, what) = if frozen {
            (FreezerState::Frozen, "freeze")
        } else {
            (FreezerState::Thawed, "thaw")
        };
        self.manager()?
            .freeze(state)
            .with_context(|| format!("{what} cgroup {}", self.path.display()))
    }

    pub fn stats(&self) -> Result<libcgroups::stats::Stats> {
        // libcgroups' v2 reader fails on the first controller the cgroup
        // lacks (systemd never enables hugetlb for its units): v2 is read
        // here, from whatever files exist.
        if unified() {
            return Ok(stats::read_v2(&self.path));
        }
        let mut s = self
            .manager()?
            .stats()
            .with_context(|| format!("read statistics of cgroup {}", self.path.display()))?;
        // libcgroups' v1 manager knows nothing of a hybrid cgroup2 mount.
        if on_hybrid_v2("hugetlb") {
            s.hugetlb = stats::hugetlb_v2(&self.path);
        }
        Ok(s)
    }

    /// Removes the cgroup from every hierarchy (killing anything left in
    /// it, sub-cgroups included); a systemd scope through systemd.
    pub fn remove(&self) -> Result<()> {
        if !self.systemd {
            return remove(&self.path);
        }
        self.manager()?
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

/// Whether the cgroup at `path` already exists frozen (v1 freezer state
/// FROZEN or FREEZING, v2 `cgroup.freeze` 1): an init put there could
/// never run, and the cgroup not be removed while it waits.
pub fn frozen(path: &Path) -> bool {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if unified() {
        return std::fs::read_to_string(Path::new(ROOT).join(rel).join("cgroup.freeze"))
            .is_ok_and(|v| v.trim() == "1");
    }
    std::fs::read_to_string(
        Path::new(ROOT)
            .join("freezer")
            .join(rel)
            .join("freezer.state"),
    )
    .is_ok_and(|v| matches!(v.trim(), "FROZEN" | "FREEZING"))
}

/// The v1 controllers a container's cgroup is made in (libcgroups'):
/// named hierarchies (`systemd`) and others under /sys/fs/cgroup are not
/// the container's.
const V1_CONTROLLERS: [&str; 12] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

/// The directories of cgroup `path`: one per v1 controller (and the one on
/// a hybrid host's cgroup2 mount when that holds controllers), or the one
/// of v2, whether they exist or not. Co-mounted controllers (`cpu` and
/// `cpuacct` linked to `cpu,cpuacct`) name one directory twice. A
/// controller is found by its own name under /sys/fs/cgroup, as every
/// distribution mounts or links it; a hierarchy mounted only as
/// `cpu,cpuacct` with no such links is not found.
fn dirs_of(path: &Path) -> Vec<PathBuf> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if unified() {
        return vec![Path::new(ROOT).join(rel)];
    }
    let mut dirs: Vec<PathBuf> = V1_CONTROLLERS
        .iter()
        .map(|c| Path::new(ROOT).join(c))
        .filter(|d| d.is_dir())
        .map(|d| d.join(rel))
        .collect();
    dirs.extend(hybrid_dir(path));
    dirs
}

/// Moves `pid` into the existing cgroup `path` in every hierarchy that has
/// it, as `exec` needs: a write per hierarchy, where a libcgroups manager
/// reads the mount table and /proc/self/cgroup for each controller first.
pub fn enter(path: &Path, pid: i32) -> Result<()> {
    enter_dirs(path, &dirs_of(path), pid)
}

/// `exec --cgroup`: moves `pid` into `sub` (below the container's cgroup
/// `container`) in every hierarchy where it exists, and into the
/// container's own cgroup in the others (a sub-cgroup made by hand in one
/// hierarchy only), so that no controller leaves it outside the container.
pub fn enter_below(container: &Path, sub: &Path, pid: i32) -> Result<()> {
    let dirs: Vec<PathBuf> = dirs_of(sub)
        .into_iter()
        .zip(dirs_of(container))
        .map(|(s, c)| if s.is_dir() { s } else { c })
        .collect();
    enter_dirs(sub, &dirs, pid)
}

/// [`enter`] with the directories already listed (`Cgroup::join` has just
/// made them).
fn enter_dirs(path: &Path, dirs: &[PathBuf], pid: i32) -> Result<()> {
    let mut joined = false;
    for d in dirs {
        let procs = d.join("cgroup.procs");
        // Opening is the existence check: no stat before it on create's
        // and exec's path.
        let mut f = match std::fs::OpenOptions::new().write(true).open(&procs) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("join cgroup: open {}", procs.display()));
            }
        };
        inherit_cpuset(d)?;
        std::io::Write::write_all(&mut f, pid.to_string().as_bytes())
            .with_context(|| format!("join cgroup: write {}", procs.display()))?;
        joined = true;
    }
    if !joined {
        anyhow::bail!("cgroup {} does not exist", path.display());
    }
    Ok(())
}

/// A v1 cpuset cgroup with no cpus or mems takes no process (ENOSPC): one
/// made by hand (`exec --cgroup sub`) gets its parent's, each empty level
/// from the top down. v2 has no such rule, and copying would pin the
/// cgroup to today's cpus.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let filled = |d: &Path, file: &str| {
        std::fs::read_to_string(d.join(file)).is_ok_and(|v| !v.trim().is_empty())
    };
    // The usual case (a container's own cgroup) costs two reads. A hybrid
    // host's cgroup2 mount has no such rule, whatever it holds.
    if unified()
        || dir.starts_with(HYBRID_ROOT)
        || !dir.join("cpuset.cpus").exists()
        || (filled(dir, "cpuset.cpus") && filled(dir, "cpuset.mems"))
    {
        return Ok(());
    }
    let levels: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| a.join("cpuset.cpus").exists())
        .collect();
    for pair in levels.windows(2).rev() {
        let (child, parent) = (pair[0], pair[1]);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = child.join(file);
            if !filled(child, file) {
                let from = std::fs::read_to_string(parent.join(file))
                    .with_context(|| format!("read {}", parent.join(file).display()))?;
                std::fs::write(&own, from.trim())
                    .with_context(|| format!("write {}", own.display()))?;
            }
        }
    }
    Ok(())
}

/// Removes the cgroupfs cgroup `path` (not a systemd scope) in every
/// hierarchy, with the sub-cgroups made in it (deepest first) and killing
/// what is left, the way `delete` needs it and without a libcgroups manager
/// (see [`enter`]). An rmdir is retried briefly while killed processes
/// leave.
pub fn remove(path: &Path) -> Result<()> {
    let mut dirs = dirs_of(path);
    // A named v1 hierarchy (name=systemd) too: vzrun never joins one, but a
    // CRIU restore puts the tasks under the container's path in every
    // hierarchy the checkpoint recorded.
    if !unified() {
        let rel = path.strip_prefix("/").unwrap_or(path);
        for e in std::fs::read_dir(ROOT).into_iter().flatten().flatten() {
            let named =
                e.file_type().is_ok_and(|t| t.is_dir()) && e.path() != Path::new(HYBRID_ROOT);
            let d = e.path().join(rel);
            if named && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    for d in dirs {
        if d.is_dir() {
            remove_tree(&d)?;
        }
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> Result<()> {
    let subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    for sub in subs {
        remove_tree(&sub)?;
    }
    let mut delay = std::time::Duration::from_millis(10);
    for tries in 1.. {
        kill_all(dir);
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if tries == 6 => {
                return Err(e).with_context(|| format!("remove cgroup {}", dir.display()));
            }
            Err(_) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}

/// SIGKILL to everything in one cgroup: v2's cgroup.kill at once, else
/// each pid (read again on every try, for what forked meanwhile).
fn kill_all(dir: &Path) {
    // Opened without O_CREAT, so that v1 (which has none) falls through.
    let killed = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.kill"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"1"));
    if killed.is_ok() {
        return;
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
}

/// Whether this host's cgroups have `controller` at all.
pub fn controller_available(controller: &str) -> bool {
    if on_hybrid_v2(controller) {
        return true;
    }
    if unified() {
        std::fs::read_to_string(Path::new(ROOT).join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|x| x == controller))
    } else {
        Path::new(ROOT).join(controller).exists()
    }
}

/// Whether `linux.resources.cpu` sets anything of the cpu controller (as
/// opposed to the cpuset one).
fn cfs_or_rt_set(c: &oci_spec::runtime::LinuxCpu) -> bool {
    c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some()
        || c.idle().is_some()
}

/// Whether the host's cgroups are v2 only; asked once per process (the
/// cgroup steps ask before every file).
pub fn unified() -> bool {
    static UNIFIED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *UNIFIED.get_or_init(|| Path::new(ROOT).join("cgroup.controllers").exists())
}

/// The controllers a hybrid host binds to its cgroup2 mount rather than to
/// a v1 hierarchy (a controller is in one or the other, never both);
/// empty on a v1 host without that mount, on a systemd hybrid host (whose
/// cgroup2 mount holds none) and on a unified host. Asked once per
/// process.
pub fn hybrid_controllers() -> &'static [String] {
    static HYBRID: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    HYBRID.get_or_init(|| {
        if unified() {
            return Vec::new();
        }
        std::fs::read_to_string(Path::new(HYBRID_ROOT).join("cgroup.controllers"))
            .map(|c| c.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    })
}

/// Whether `controller` is on a hybrid host's cgroup2 mount: its files are
/// v2 files in the container's cgroup there.
pub fn on_hybrid_v2(controller: &str) -> bool {
    hybrid_controllers().iter().any(|c| c == controller)
}

/// Whether `controller`'s files are v2 files (`hugetlb.2MB.max`, not
/// `hugetlb.2MB.limit_in_bytes`): on a unified host, or bound to a hybrid
/// host's cgroup2 mount.
pub fn speaks_v2(controller: &str) -> bool {
    unified() || on_hybrid_v2(controller)
}

/// The container's cgroup on a hybrid host's cgroup2 mount, where that
/// mount holds controllers (and so the container has a cgroup there).
pub fn hybrid_dir(path: &Path) -> Option<PathBuf> {
    if hybrid_controllers().is_empty() {
        return None;
    }
    Some(Path::new(HYBRID_ROOT).join(path.strip_prefix("/").unwrap_or(path)))
}

/// Enables the hybrid cgroup2 mount's controllers for the container's
/// cgroup there: each level from the mount's root down to the cgroup's
/// parent must list them in `cgroup.subtree_control` (as a v2 runtime
/// does on every ancestor), top down, since a level can only pass on what
/// it was given. A level that already lists them costs one read.
fn enable_hybrid_controllers(path: &Path) -> Result<()> {
    let want = hybrid_controllers();
    let rel = path.strip_prefix("/").unwrap_or(path);
    let mut level = PathBuf::from(HYBRID_ROOT);
    let mut parents: Vec<PathBuf> = vec![level.clone()];
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            level.push(c);
            parents.push(level.clone());
        }
    }
    for dir in parents {
        let f = dir.join("cgroup.subtree_control");
        let on = std::fs::read_to_string(&f)
            .with_context(|| format!("cgroup v2 (hybrid): read {}", f.display()))?;
        let missing: Vec<String> = want
            .iter()
            .filter(|c| !on.split_whitespace().any(|x| x == c.as_str()))
            .map(|c| format!("+{c}"))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let line = missing.join(" ");
        if let Err(e) = std::fs::write(&f, &line) {
            // A level with processes of its own (the caller's cgroup, for
            // a relative cgroupsPath) may pass on no controllers in v2.
            // The container is still placed below it, without them: only
            // a limit for one of them fails then, and says why
            // (v1::write).
            if dir != Path::new(HYBRID_ROOT)
                && std::fs::read_to_string(dir.join("cgroup.procs"))
                    .is_ok_and(|p| !p.trim().is_empty())
            {
                crate::logging::debug(format!(
                    "cgroup v2 (hybrid): {} holds processes; {line:?} not enabled below it",
                    dir.display()
                ));
                return Ok(());
            }
            return Err(e)
                .with_context(|| format!("cgroup v2 (hybrid): write {line:?} to {}", f.display()));
        }
    }
    Ok(())
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

/// The container's file `name` of `controller` (v1: under that
/// controller's hierarchy; v2: in the one unified directory), as text.
pub fn read(path: &Path, controller: &str, name: &str) -> Option<String> {
    std::fs::read_to_string(file(path, controller, name)).ok()
}

/// The path of a controller file of the cgroup at `path`: under the
/// controller's v1 hierarchy, in the one unified directory, or in the
/// container's cgroup on a hybrid host's cgroup2 mount.
pub fn file(path: &Path, controller: &str, name: &str) -> PathBuf {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if unified() {
        Path::new(ROOT).join(rel).join(name)
    } else if on_hybrid_v2(controller) {
        Path::new(HYBRID_ROOT).join(rel).join(name)
    } else {
        Path::new(ROOT).join(controller).join(rel).join(name)
    }
}

/// A number read from a controller file; `max` (v2) is `None`, as is a
/// missing file.
pub fn read_u64(path: &Path, controller: &str, name: &str) -> Option<u64> {
    read(path, controller, name)?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, pids.events...).
pub fn read_keyed(path: &Path, controller: &str, name: &str) -> Vec<(String, u64)> {
    read(path, controller, name)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The first `linux.resources` field that sets a limit, judged by value
/// (an empty `cpu: {}`, a 0 or -1 that leaves the value alone, are not
/// limits; a pids limit of 0 is, since runtime-spec 1.3). Device rules are
/// not limits: without a cgroup the user namespace keeps devices from the
/// container anyway.
pub fn limits_set(r: &LinuxResources) -> Option<&'static str> {
    let pos = |v: Option<i64>| v.is_some_and(|v| v > 0);
    let memory = r.memory().as_ref().is_some_and(|m| {
        pos(m.limit())
            || pos(m.reservation())
            || pos(m.swap())
            || pos(m.kernel())
            || pos(m.kernel_tcp())
            || m.swappiness().is_some()
            || m.disable_oom_killer() == Some(true)
    });
    let cpu = r.cpu().as_ref().is_some_and(|c| {
        c.shares().is_some_and(|s| s > 0)
            || pos(c.quota())
            || c.cpus().as_ref().is_some_and(|s| !s.is_empty())
            || c.mems().as_ref().is_some_and(|s| !s.is_empty())
            || pos(c.realtime_runtime())
            || c.burst().is_some_and(|b| b > 0)
            || c.idle().is_some_and(|i| i != 0)
    });
    let block_io = r.block_io().as_ref().is_some_and(|b| {
        let any = |v: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
            v.as_ref().is_some_and(|v| !v.is_empty())
        };
        b.weight().is_some()
            || b.leaf_weight().is_some()
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || any(b.throttle_read_bps_device())
            || any(b.throttle_write_bps_device())
            || any(b.throttle_read_iops_device())
            || any(b.throttle_write_iops_device())
    });
    let set = [
        ("memory", memory),
        ("cpu", cpu),
        ("pids", r.pids().as_ref().is_some_and(|p| p.limit() >= 0)),
        ("blockIO", block_io),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|v| !v.is_empty())),
        (
            "unified",
            r.unified().as_ref().is_some_and(|v| !v.is_empty()),
        ),
    ];
    set.into_iter().find(|(_, on)| *on).map(|(f, _)| f)
}

/// Checks values the kernel would refuse or misread, before anything is
/// written: the caller names the field, this names the value.
pub fn check_resources(r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        for (field, v) in [
            ("memory.limit", m.limit()),
            ("memory.reservation", m.reservation()),
            ("memory.swap", m.swap()),
        ] {
            if let Some(v) = v
                && v < -1
            {
                anyhow::bail!("{field}: {v} is negative (use -1 for no limit)");
            }
        }
        if let (Some(l), Some(s)) = (m.limit(), m.swap())
            && l > 0
            && s >= 0
            && s < l
        {
            anyhow::bail!(
                "memory.swap: {s} is below memory.limit {l} (swap counts memory plus swap)"
            );
        }
        if let Some(sw) = m.swappiness()
            && sw > 100
        {
            anyhow::bail!("memory.swappiness: {sw} is above 100");
        }
    }
    if let Some(c) = r.cpu() {
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
        let online_nodes = std::fs::read_to_string("/sys/devices/system/node/online")
            .unwrap_or_else(|_| "0".into());
        for (field, list, host) in [
            ("cpu.cpus", c.cpus().as_deref(), online.trim()),
            ("cpu.mems", c.mems().as_deref(), online_nodes.trim()),
        ] {
            let Some(list) = list.filter(|l| !l.is_empty()) else {
                continue;
            };
            let want = parse_list(list)
                .with_context(|| format!("{field}: {list:?} is not a list like 0-2,4"))?;
            let have = parse_list(host).unwrap_or_default();
            if let Some(bad) = want.iter().find(|n| !have.contains(n)) {
                anyhow::bail!(
                    "{field}: {list:?} names {bad}, which this host does not have (online: {host})"
                );
            }
        }
        if let Some(p) = c.period()
            && p > 0
            && !(1000..=1_000_000).contains(&p)
        {
            anyhow::bail!("cpu.period: {p} is outside 1000..1000000 microseconds");
        }
    }
    if let Some(p) = r.pids()
        && p.limit() < -1
    {
        anyhow::bail!(
            "pids.limit: {} is negative (use -1 for no limit)",
            p.limit()
        );
    }
    if let Some(keys) = r.unified().as_ref().filter(|u| !u.is_empty())
        && !unified()
    {
        check_hybrid_keys(keys.keys().map(String::as_str))?;
    }
    Ok(())
}

/// `unified` keys on a host that is not v2 only: each must be a file of a
/// controller bound to the hybrid cgroup2 mount (`hugetlb.2MB.max` here as
/// booted); any other key is refused, named, before anything is written.
fn check_hybrid_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut refused = Vec::new();
    for key in keys {
        if key.contains('/') || key.starts_with('.') {
            anyhow::bail!("unified: {key:?} is not a cgroup file name");
        }
        if !on_hybrid_v2(key.split('.').next().unwrap_or_default()) {
            refused.push(key);
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    let keys = refused.join(", ");
    match hybrid_controllers() {
        [] => anyhow::bail!(
            "unified: {keys}: cgroup v2 settings need a cgroup v2 host; this host uses cgroup v1"
        ),
        on_v2 => anyhow::bail!(
            "unified: {keys}: on this hybrid host only {} on cgroup v2 ({HYBRID_ROOT}); \
             the other controllers are cgroup v1 here",
            if on_v2.len() == 1 {
                format!("{} is", on_v2[0])
            } else {
                format!("{} are", on_v2.join(", "))
            }
        ),
    }
}

/// The huge page sizes this kernel has, named as hugetlb's cgroup files
/// name them (`2MB`, `1GB`), smallest first.
pub fn hugepage_sizes() -> Vec<String> {
    let mut kb: Vec<u64> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    kb.sort_unstable();
    kb.into_iter().map(hugepage_name).collect()
}

fn hugepage_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

/// A kernel list such as `0-3,6`.
pub fn parse_list(s: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse()?, b.trim().parse()?);
                anyhow::ensure!(a <= b, "range {part} goes backwards");
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse()?),
        }
    }
    Ok(out)
}

/// Whether libcgroups talks to the system's systemd (root of the initial
/// user namespace) or to the caller's user instance: its rule, read the
/// same way.
fn is_root_user() -> bool {
    nix::unistd::geteuid().is_root()
        && std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| m.contains("4294967295"))
}

/// Where systemd puts the scope `slice:prefix:name`: the slice expanded
/// into its parents (`a-b.slice` is `/a.slice/a-b.slice`), then
/// `prefix-name.scope`; no slice means system.slice. With `user`, the
/// host uid of an unprivileged caller, the scope is its user instance's:
/// under `user@UID.service`, user.slice by default.
pub fn systemd_path(unit: &str, user: Option<u32>) -> Result<PathBuf> {
    let parts: Vec<&str> = unit.split(':').collect();
    let (slice, prefix, name) = match parts[..] {
        [slice, prefix, name] => (slice, prefix, name),
        [prefix, name] => ("", prefix, name),
        _ => anyhow::bail!(
            "linux.cgroupsPath {unit:?}: with --systemd-cgroup it must be slice:prefix:name"
        ),
    };
    if name.is_empty() || name.contains('/') || prefix.contains('/') || slice.contains('/') {
        anyhow::bail!("linux.cgroupsPath {unit:?}: not a valid slice:prefix:name");
    }
    let slice = match (slice, user) {
        ("", None) => "system.slice",
        ("", Some(_)) => "user.slice",
        (s, _) => s,
    };
    let Some(stem) = slice.strip_suffix(".slice") else {
        anyhow::bail!("linux.cgroupsPath {unit:?}: {slice:?} is not a slice (.slice)");
    };
    let mut path = match user {
        None => PathBuf::from("/"),
        Some(uid) => PathBuf::from(format!("/user.slice/user-{uid}.slice/user@{uid}.service")),
    };
    if stem != "-" {
        let mut acc = String::new();
        for part in stem.split('-') {
            if part.is_empty() {
                anyhow::bail!("linux.cgroupsPath {unit:?}: invalid slice name {slice:?}");
            }
            if !acc.is_empty() {
                acc.push('-');
            }
            acc.push_str(part);
            path.push(format!("{acc}.slice"));
        }
    }
    let scope = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    path.push(scope);
    Ok(path)
}

/// Resolves `linux.cgroupsPath` as runc's cgroupfs driver does: absolute
/// paths start at the hierarchy root; a relative path, or the container id
/// when there is none, goes under the runtime's own cgroup.
pub fn resolve(path: Option<&Path>, id: &str) -> Result<PathBuf> {
    let rel = match path {
        Some(p) if p.is_absolute() => return Ok(p.to_path_buf()),
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from(id),
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
    let parent = own_cgroup(&own, unified())
        .context("find the runtime's own cgroup in /proc/self/cgroup")?;
    Ok(parent.join(rel))
}

/// The runtime's cgroup from /proc/self/cgroup: the unified entry on a v2
/// host, the memory controller's on a v1 or hybrid one.
fn own_cgroup(text: &str, unified: bool) -> Option<PathBuf> {
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let ours = if unified {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == "memory")
        };
        ours.then(|| PathBuf::from(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroup_per_layout() {
        let text = "12:memory:/agent/a\n11:cpu,cpuacct:/agent/b\n0::/unified/c\n";
        assert_eq!(own_cgroup(text, false), Some(PathBuf::from("/agent/a")));
        assert_eq!(own_cgroup(text, true), Some(PathBuf::from("/unified/c")));
        assert_eq!(own_cgroup("1:cpu:/x\n", false), None);
    }

    #[test]
    fn systemd_scopes_live_in_their_slice() {
        let p = |u| systemd_path(u, None).map(|p| p.display().to_string());
        assert_eq!(
            p("system.slice:docker:abc").unwrap(),
            "/system.slice/docker-abc.scope"
        );
        assert_eq!(p("a-b.slice:v:1").unwrap(), "/a.slice/a-b.slice/v-1.scope");
        assert_eq!(p(":v:1").unwrap(), "/system.slice/v-1.scope");
        assert_eq!(p("v:1").unwrap(), "/system.slice/v-1.scope");
        assert!(
            p("/vzrun/x")
                .unwrap_err()
                .to_string()
                .contains("slice:prefix:name")
        );
        assert!(p("notaslice:v:1").is_err());
        let user = |u| systemd_path(u, Some(1000)).unwrap().display().to_string();
        assert_eq!(
            user(":v:1"),
            "/user.slice/user-1000.slice/user@1000.service/user.slice/v-1.scope"
        );
        assert_eq!(
            user("app.slice:v:1"),
            "/user.slice/user-1000.slice/user@1000.service/app.slice/v-1.scope"
        );
    }

    #[test]
    fn limits_are_judged_by_value() {
        let r = |j: serde_json::Value| -> LinuxResources { serde_json::from_value(j).unwrap() };
        assert_eq!(
            limits_set(&r(serde_json::json!({"cpu": {}, "blockIO": {}}))),
            None
        );
        assert_eq!(
            limits_set(&r(serde_json::json!({"pids": {"limit": -1}}))),
            None
        );
        assert_eq!(
            limits_set(&r(serde_json::json!({"memory": {"limit": 0}}))),
            None
        );
        assert_eq!(
            limits_set(&r(serde_json::json!({"pids": {"limit": 0}}))),
            Some("pids")
        );
        assert_eq!(
            limits_set(&r(serde_json::json!({"cpu": {"cpus": "0"}}))),
            Some("cpu")
        );
    }

    #[test]
    fn hugepage_sizes_are_named_as_the_cgroup_files_name_them() {
        assert_eq!(hugepage_name(2048), "2MB");
        assert_eq!(hugepage_name(1 << 20), "1GB");
        assert_eq!(hugepage_name(64), "64KB");
    }

    #[test]
    fn absolute_paths_are_kept() {
        assert_eq!(
            resolve(Some(Path::new("/a/b")), "id").unwrap(),
            PathBuf::from("/a/b")
        );
    }
}
