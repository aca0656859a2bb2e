//! Loads a bundle's `config.json` and turns it into a [`Plan`]: everything
//! the container's setup needs, parsed and checked before anything forks, so
//! that bad input fails with the file and field named and the host untouched.
//!
//! This module does no setup itself and makes no syscalls beyond reading the
//! bundle.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Mount, Process, Spec};

use crate::linux::capabilities::CapSets;
use crate::linux::devices::Device;
use crate::linux::mounts::MountPlan;
use crate::linux::namespaces::{IdMap, clone_newtime};
use crate::linux::rlimits::Rlimit;
use crate::linux::sched::{IoPriority, MemoryPolicy, SchedAttr};
use nix::sched::CpuSet;

/// The spec version this runtime implements and writes into state.
pub const OCI_VERSION: &str = "1.3.0";

/// A validated container configuration: everything a container's init or
/// an exec'd process needs, resolved before anything forks. Immutable once
/// built; the child reads only this, never the raw config.
pub struct Plan {
    pub id: String,
    pub bundle: PathBuf,
    /// The config as given: stored in state.json, read by hooks' states.
    pub spec: Spec,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub readonly_root: bool,
    pub namespaces: Namespaces,
    pub mounts: Vec<MountPlan>,
    pub rootfs_propagation: MsFlags,
    /// `None` when config.json has no `process`: that is only an error at
    /// `start` (runtime-spec: create must still work).
    pub process: Option<ProcessPlan>,
    pub sysctls: Vec<(String, String)>,
    /// Non-empty `hostname` and `domainname`.
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// The default devices and `linux.devices`, to create in /dev.
    pub devices: Vec<Device>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// The hooks the child runs itself (the others run in the runtime).
    pub hooks: ChildHooks,
    /// Where the container's cgroup is: `cgroupsPath` resolved as runc's
    /// cgroupfs driver does, or where systemd puts the scope.
    pub cgroup_path: PathBuf,
    /// With `--systemd-cgroup`: the scope unit `slice:prefix:name`.
    pub systemd_unit: Option<String>,
    /// `linux.resources` with the beancounter annotations folded in.
    pub resources: LinuxResources,
    /// The disk quota the beancounter annotations ask for (diskspace,
    /// diskinodes), which the filesystem enforces (linux/quota.rs).
    pub disk_quota: Option<(crate::linux::quota::Pair, Option<crate::linux::quota::Pair>)>,
    /// `linux.personality` and `linux.memoryPolicy`, for the init and
    /// exec'd processes alike.
    pub personality: Option<libc::c_ulong>,
    pub memory_policy: Option<MemoryPolicy>,
    /// `linux.netDevices`: moved in by the runtime before the create hooks.
    pub net_devices: Vec<crate::linux::netdev::NetDevice>,
    /// `linux.seccomp`, compiled; the init and exec'd processes load it.
    pub seccomp: Option<crate::linux::seccomp::Filter>,
    /// No mount namespace in the config: where the runtime binds the
    /// rootfs in the caller's mount table (in the state directory), the
    /// container's root (a chroot; linux/shared_root.rs). `exec` passes it
    /// as `Launch::root` instead.
    pub shared_root: Option<PathBuf>,
}

/// The hooks that run inside the container, in the child.
#[derive(Default)]
pub struct ChildHooks {
    pub create_container: Vec<oci_spec::runtime::Hook>,
    pub start_container: Vec<oci_spec::runtime::Hook>,
}

/// Where the runtime will keep the container: what the plan resolves that
/// is not in the bundle.
pub struct Placement<'a> {
    /// `<root>/<id>`, the state directory to be.
    pub state_dir: &'a Path,
    pub defaults: &'a Defaults,
}

/// What the runtime's global flags decide for every new container.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// `--systemd-cgroup`: `cgroupsPath` names a systemd scope.
    pub systemd_cgroup: bool,
    /// `--proc-view`, unless the container's annotation says otherwise.
    pub proc_view: crate::linux::lxcfs::View,
    /// `--lxcfs-path`: where lxcfs is mounted.
    pub lxcfs_path: PathBuf,
}

/// What the container's process needs beyond the raw spec: capabilities
/// as bitmasks and rlimits as resource numbers, so that nothing has to be
/// parsed between fork and exec.
pub struct ProcessPlan {
    pub process: Process,
    pub caps: Option<CapSets>,
    pub rlimits: Vec<Rlimit>,
    /// `exec --user name[:group]`: looked up in the container's
    /// /etc/passwd and /etc/group, which only the child can read.
    pub user_lookup: Option<String>,
    pub scheduler: Option<SchedAttr>,
    pub io_priority: Option<IoPriority>,
    /// `execCPUAffinity` (initial, final): for exec'd processes only, set
    /// by the runtime before and after the move into the cgroup.
    pub exec_cpu_affinity: (Option<CpuSet>, Option<CpuSet>),
}

pub struct Namespaces {
    /// Namespaces created fresh for the container.
    pub new: CloneFlags,
    /// Namespaces joined by path, user namespace first.
    pub join: Vec<(CloneFlags, PathBuf)>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    /// `linux.timeOffsets`, as written to `/proc/self/timens_offsets`.
    pub time_offsets: Vec<(String, i64, u32)>,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            new: CloneFlags::empty(),
            join: Vec::new(),
            uid_mappings: Vec::new(),
            gid_mappings: Vec::new(),
            time_offsets: Vec::new(),
        }
    }
}

impl Namespaces {
    pub fn has(&self, flag: CloneFlags) -> bool {
        self.new.contains(flag) || self.join.iter().any(|(f, _)| *f == flag)
    }
}

/// Loads and validates `<bundle>/config.json` for container `id`.
pub fn load(bundle: &Path, id: &str, at: &Placement) -> Result<Plan> {
    let bundle = std::fs::canonicalize(bundle)
        .with_context(|| format!("container {id}: bundle {}", bundle.display()))?;
    let config = bundle.join("config.json");
    let text = std::fs::read(&config)
        .with_context(|| format!("container {id}: read {}", config.display()))?;
    let spec = parse(&text).with_context(|| format!("container {id}: {}", config.display()))?;
    plan(spec, bundle, id, at).with_context(|| format!("container {id}: {}", config.display()))
}

/// Parses config.json text; a type error names the JSON path of the field.
pub fn parse(text: &[u8]) -> Result<Spec> {
    refuse_nul(text)?;
    let de = &mut serde_json::Deserializer::from_slice(text);
    match serde_path_to_error::deserialize::<_, Spec>(de) {
        Ok(spec) => Ok(spec),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                bail!("invalid JSON: {inner}")
            }
            bail!("{path}: {inner}")
        }
    }
}

/// [`plan`] for the fuzz targets (src/fuzz.rs), which load no file.
pub fn plan_for_fuzzing(spec: Spec, bundle: PathBuf, id: &str, at: &Placement) -> Result<Plan> {
    plan(spec, bundle, id, at)
}

/// Refuses a string holding a NUL byte, naming its JSON path: no path,
/// argument, name or value the kernel takes can hold one, and it would
/// otherwise fail far from the field (or cut the string short). JSON can
/// only spell NUL as `\u0000`, so text without that escape is passed at
/// the cost of one scan.
pub fn refuse_nul(text: &[u8]) -> Result<()> {
    if !text.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    fn find(v: &serde_json::Value, path: &mut String) -> bool {
        let len = path.len();
        let found = match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().enumerate().any(|(i, x)| {
                path.truncate(len);
                path.push_str(&format!("[{i}]"));
                find(x, path)
            }),
            serde_json::Value::Object(o) => o.iter().any(|(k, x)| {
                path.truncate(len);
                if k.contains('\0') {
                    return true;
                }
                path.push_str(&format!("{}{k}", if len == 0 { "" } else { "." }));
                find(x, path)
            }),
            _ => false,
        };
        if !found {
            path.truncate(len);
        }
        found
    }
    // Text that does not parse is left to the typed parse's error.
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) else {
        return Ok(());
    };
    let mut path = String::new();
    if find(&v, &mut path) {
        let at = if path.is_empty() { "." } else { &path };
        bail!("{at}: a NUL byte in a string (no Linux interface takes one)");
    }
    Ok(())
}

fn plan(spec: Spec, bundle: PathBuf, id: &str, at: &Placement) -> Result<Plan> {
    check_version(spec.version())?;
    let root = spec.root().as_ref().context("root: missing")?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    // Canonical, so that it can be found among mount points.
    let rootfs = std::fs::canonicalize(&rootfs)
        .with_context(|| format!("root.path: {}", rootfs.display()))?;
    let meta =
        std::fs::metadata(&rootfs).with_context(|| format!("root.path: {}", rootfs.display()))?;
    if !meta.is_dir() {
        bail!("root.path: {} is not a directory", rootfs.display());
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let namespaces = namespaces(&linux)?;

    let mut process = match spec.process() {
        Some(p) => Some(process_plan(p)?),
        None => None,
    };

    // Beancounters from annotations become resources and rlimits; what
    // the config sets explicitly wins.
    let ubc = crate::cgroups::ubc::from_annotations(spec.annotations().as_ref())?;
    let explicit = linux.resources().clone().unwrap_or_default();
    let mut resources = explicit.clone();
    let warn = &mut |w: String| crate::logging::warn(format!("container {id}: {w}"));
    crate::cgroups::ubc::merge(&ubc, &mut resources, &explicit, warn).context("annotations")?;
    crate::cgroups::check_resources(&resources).context("linux.resources")?;
    let disk_quota = crate::cgroups::ubc::disk(&ubc);
    if let Some(pp) = process.as_mut() {
        for (resource, soft, hard) in crate::cgroups::ubc::rlimits(&ubc) {
            let (name, ubc_name) = if resource == nix::sys::resource::Resource::RLIMIT_MEMLOCK {
                ("RLIMIT_MEMLOCK", "lockedpages")
            } else {
                ("RLIMIT_NOFILE", "numfile")
            };
            if pp.rlimits.iter().any(|r| r.resource == resource) {
                warn(format!(
                    "beancounter {ubc_name}: process.rlimits sets {name} too and wins"
                ));
                continue;
            }
            pp.rlimits.push(Rlimit {
                resource,
                name,
                soft,
                hard,
            });
        }
    }

    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mounts.push(mount_plan(m, &bundle, &namespaces).with_context(|| format!("mounts[{i}]"))?);
    }
    add_virtual_proc(&spec, at.defaults, &bundle, &namespaces, &mut mounts)?;
    let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(p) => crate::linux::mounts::propagation(p)
            .with_context(|| format!("linux.rootfsPropagation: unknown value {p:?}"))?,
    };

    let mut sysctls: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctls.sort();
    for (key, _) in &sysctls {
        check_sysctl(key, &namespaces).with_context(|| format!("linux.sysctl: {key:?}"))?;
    }

    // Without a uts namespace of its own the container would rename the
    // host (or the container whose namespace it joined).
    // A uts namespace the config lists (made fresh or joined by path) is
    // the container's to name; without one it would rename the host.
    let own_uts = namespaces.has(CloneFlags::CLONE_NEWUTS);
    let shared_mounts = !namespaces.has(CloneFlags::CLONE_NEWNS);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("hostname: setting the hostname needs a new uts namespace");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("domainname: setting the domainname needs a new uts namespace");
    }
    // Without a mount namespace the container shares the caller's mount
    // table (linux/shared_root.rs), whose root's propagation is not the
    // container's to choose.
    if shared_mounts {
        if linux
            .rootfs_propagation()
            .as_deref()
            .is_some_and(|p| !p.is_empty())
        {
            bail!(
                "linux.rootfsPropagation: needs a mount namespace of the container's own \
                 (linux.namespaces has none)"
            );
        }
        // Its mounts and device nodes would be made in the caller's table,
        // where a new user namespace has no rights.
        if namespaces.has(CloneFlags::CLONE_NEWUSER) {
            bail!("linux.namespaces: a new user namespace needs a mount namespace too");
        }
        // The container's mounts are kept from the host's peers
        // (linux/shared_root.rs), which a propagation option would undo.
        if let Some(i) = mounts.iter().position(|m| !m.propagation.is_empty()) {
            bail!(
                "mounts[{i}]: propagation options need a mount namespace of the container's own \
                 (linux.namespaces has none)"
            );
        }
    }
    if let Some(h) = spec.hooks() {
        check_hooks(h)?;
    }

    let (cgroup_path, systemd_unit) = cgroup_placement(&linux, id, at.defaults.systemd_cgroup)?;
    let shared_root = shared_mounts.then(|| at.state_dir.join(crate::linux::shared_root::DIR));
    let hooks = spec.hooks().clone().unwrap_or_default();

    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(crate::linux::seccomp::compile)
        .transpose()?;
    let (personality, memory_policy) = process_domain(&linux)?;
    let net_devices = net_devices(&linux, &namespaces)?;
    refuse_unsupported(&linux)?;
    Ok(Plan {
        net_devices,
        seccomp,
        personality,
        memory_policy,
        id: id.to_string(),
        bundle,
        readonly_root: root.readonly().unwrap_or(false),
        rootfs,
        namespaces,
        mounts,
        rootfs_propagation,
        process,
        sysctls,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|d| !d.is_empty()),
        devices: crate::linux::devices::plan(linux.devices().as_deref().unwrap_or(&[])),
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        hooks: ChildHooks {
            create_container: hooks.create_container().clone().unwrap_or_default(),
            start_container: hooks.start_container().clone().unwrap_or_default(),
        },
        cgroup_path,
        systemd_unit,
        resources,
        disk_quota,
        shared_root,
        spec,
    })
}

/// With a virtual /proc view (linux/lxcfs.rs), lxcfs's files bound over
/// the container's own, right after its /proc and /sys mounts.
fn add_virtual_proc(
    spec: &Spec,
    defaults: &Defaults,
    bundle: &Path,
    namespaces: &Namespaces,
    mounts: &mut Vec<MountPlan>,
) -> Result<()> {
    use crate::linux::lxcfs;
    let asked = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(lxcfs::ANNOTATION))
        .map(String::as_str);
    if lxcfs::view(asked, defaults.proc_view)? == lxcfs::View::Host {
        return Ok(());
    }
    let last = |dest: &str| {
        mounts
            .iter()
            .rposition(|m| m.destination == Path::new(dest))
    };
    let Some(proc_at) = last("/proc") else {
        bail!(
            "annotations[{:?}] virtual: the config mounts no /proc to virtualise",
            lxcfs::ANNOTATION
        );
    };
    let sys_at = last("/sys");
    let mut binds = Vec::new();
    for (source, dest) in lxcfs::binds(&defaults.lxcfs_path, sys_at.is_some())? {
        let m = oci_spec::runtime::MountBuilder::default()
            .destination(dest)
            .typ("bind")
            .source(source)
            .options(vec!["rbind".to_string()])
            .build()
            .context("a bind of lxcfs")?;
        binds.push(mount_plan(&m, bundle, namespaces)?);
    }
    let at = proc_at.max(sys_at.unwrap_or(0)) + 1;
    mounts.splice(at..at, binds);
    Ok(())
}

/// `linux.personality` and `linux.memoryPolicy`, which every process of
/// the container gets (exec'd ones too).
pub fn process_domain(
    linux: &oci_spec::runtime::Linux,
) -> Result<(Option<libc::c_ulong>, Option<MemoryPolicy>)> {
    let personality = linux
        .personality()
        .as_ref()
        .map(crate::linux::sched::personality)
        .transpose()
        .context("linux.personality")?;
    let memory_policy = linux
        .memory_policy()
        .as_ref()
        .map(MemoryPolicy::from_spec)
        .transpose()
        .context("linux.memoryPolicy")?;
    Ok((personality, memory_policy))
}

/// Fields of runtime-spec 1.3 that vzrun does not apply yet: refused by
/// name rather than ignored, so that nobody believes a setting holds when
/// it does not.
/// `linux.netDevices`: they go into the container's network namespace,
/// so it must have one (runc refuses the host's too).
fn net_devices(
    linux: &oci_spec::runtime::Linux,
    ns: &Namespaces,
) -> Result<Vec<crate::linux::netdev::NetDevice>> {
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(Vec::new());
    };
    if !ns.has(CloneFlags::CLONE_NEWNET) {
        bail!(
            "linux.netDevices: the container has no network namespace of its own \
             (add one to linux.namespaces)"
        );
    }
    crate::linux::netdev::plan(devices)
}

fn refuse_unsupported(linux: &oci_spec::runtime::Linux) -> Result<()> {
    if linux.intel_rdt().is_some() {
        if !std::path::Path::new("/sys/fs/resctrl/info").exists() {
            bail!("linux.intelRdt: resctrl is not mounted on this host");
        }
        bail!("linux.intelRdt: Intel RDT is not supported yet");
    }
    Ok(())
}

/// The container's cgroup: with `--systemd-cgroup`, `cgroupsPath` names a
/// scope (`slice:prefix:name`, `:vzrun:<id>` when empty) and systemd
/// decides where its cgroup goes; else the path resolved as runc's
/// cgroupfs driver does.
fn cgroup_placement(
    linux: &oci_spec::runtime::Linux,
    id: &str,
    systemd: bool,
) -> Result<(PathBuf, Option<String>)> {
    if systemd {
        let unit = linux
            .cgroups_path()
            .as_ref()
            .map(|p| p.display().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| format!(":vzrun:{id}"));
        let user = crate::linux::user::rootless().then(crate::linux::user::host_uid);
        let path = crate::cgroups::systemd_path(&unit, user)?;
        return Ok((path, Some(unit)));
    }
    if let Some(p) = linux.cgroups_path()
        && p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("linux.cgroupsPath: {} must not contain \"..\"", p.display());
    }
    let path = crate::cgroups::resolve(linux.cgroups_path().as_deref(), id)
        .context("linux.cgroupsPath")?;
    Ok((path, None))
}

fn check_hooks(h: &oci_spec::runtime::Hooks) -> Result<()> {
    let kinds = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (kind, hooks) in kinds {
        for (i, hook) in hooks.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                bail!(
                    "hooks.{kind}[{i}].path: {} must be absolute",
                    hook.path().display()
                );
            }
            if let Some(t) = hook.timeout()
                && t <= 0
            {
                bail!("hooks.{kind}[{i}].timeout: must be positive, got {t}");
            }
        }
    }
    Ok(())
}

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Every 1.x version is accepted: the spec promises compatibility within a
/// major version, and conformance tools write the newest minor.
fn check_version(v: &str) -> Result<()> {
    let major = v.split('.').next().unwrap_or("");
    match major {
        "1" => Ok(()),
        "" => bail!("ociVersion: missing"),
        _ => bail!(
            "ociVersion: {v:?} is not supported (this runtime implements 1.x, up to {OCI_VERSION})"
        ),
    }
}

pub fn process_plan(p: &Process) -> Result<ProcessPlan> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args: must name the program to run");
    }
    // A profile that is asked for but cannot be applied must not be
    // silently dropped; an SELinux label on a host without SELinux means
    // nothing and is ignored, as runc does.
    if let Some(profile) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty())
        && !apparmor_enabled()
    {
        bail!(
            "process.apparmorProfile: {profile:?} is set but AppArmor is not enabled on this host"
        );
    }
    if !p.cwd().is_absolute() {
        bail!("process.cwd: {:?} must be an absolute path", p.cwd());
    }
    let caps = match p.capabilities() {
        Some(c) => {
            let sets = CapSets::from_spec(c).context("process.capabilities")?;
            // runc's own default config lists ambient capabilities with no
            // inheritable ones at all: that asks for nothing, and is only
            // worth a debug line. With some inheritable, a missing one is a
            // mistake worth runc's warning.
            let none_inheritable = c.inheritable().as_ref().is_none_or(|i| i.is_empty());
            for name in sets.unraisable_ambient(c) {
                let msg = format!(
                    "process.capabilities.ambient: can't raise ambient capability {name}: \
                     it is not in the inheritable and permitted sets; ignored"
                );
                if none_inheritable {
                    crate::logging::debug(msg);
                } else {
                    crate::logging::warn(msg);
                }
            }
            Some(sets)
        }
        None => None,
    };
    let mut rlimits = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        rlimits.push(Rlimit::from_spec(r).with_context(|| format!("process.rlimits[{i}]"))?);
    }
    let scheduler = p
        .scheduler()
        .as_ref()
        .map(SchedAttr::from_spec)
        .transpose()
        .context("process.scheduler")?;
    let io_priority = p
        .io_priority()
        .as_ref()
        .map(IoPriority::from_spec)
        .transpose()
        .context("process.ioPriority")?;
    let affinity = p.exec_cpu_affinity().as_ref();
    let cpus = |field: &str, list: Option<&String>| {
        list.map(|l| crate::linux::sched::cpu_set(l))
            .transpose()
            .with_context(|| format!("process.execCPUAffinity.{field}"))
    };
    let exec_cpu_affinity = (
        cpus("initial", affinity.and_then(|a| a.initial().as_ref()))?,
        cpus(
            "final",
            affinity.and_then(|a| a.cpu_affinity_final().as_ref()),
        )?,
    );
    Ok(ProcessPlan {
        process: p.clone(),
        caps,
        rlimits,
        user_lookup: None,
        scheduler,
        io_priority,
        exec_cpu_affinity,
    })
}

fn namespaces(linux: &oci_spec::runtime::Linux) -> Result<Namespaces> {
    let mut ns = Namespaces::default();
    let mut seen = CloneFlags::empty();
    for (i, n) in linux.namespaces().iter().flatten().enumerate() {
        let flag = clone_flag(n.typ());
        if seen.contains(flag) {
            bail!("linux.namespaces[{i}]: {} namespace listed twice", n.typ());
        }
        seen |= flag;
        match n.path() {
            Some(p) if !p.as_os_str().is_empty() => {
                if !p.exists() {
                    bail!("linux.namespaces[{i}].path: {} does not exist", p.display());
                }
                ns.join.push((flag, p.clone()));
            }
            _ => ns.new |= flag,
        }
    }
    // Namespaces created later are owned by the user namespace in force
    // then, so a joined user namespace must be entered before all others.
    ns.join
        .sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);

    let maps = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<IdMap> {
        m.iter()
            .flatten()
            .map(|m| IdMap {
                container: m.container_id(),
                host: m.host_id(),
                size: m.size(),
            })
            .collect()
    };
    ns.uid_mappings = maps(linux.uid_mappings());
    ns.gid_mappings = maps(linux.gid_mappings());
    if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
        if ns.uid_mappings.is_empty() || ns.gid_mappings.is_empty() {
            bail!("linux.uidMappings/gidMappings: a new user namespace needs both mappings");
        }
        for (field, maps) in [
            ("uidMappings", &ns.uid_mappings),
            ("gidMappings", &ns.gid_mappings),
        ] {
            if let Some(m) = maps.iter().find(|m| m.size == 0) {
                bail!(
                    "linux.{field}: mapping of container id {} has size 0",
                    m.container
                );
            }
        }
    } else if !ns.uid_mappings.is_empty() && !ns.has(CloneFlags::CLONE_NEWUSER) {
        bail!("linux.uidMappings: mappings need a user namespace");
    }

    if let Some(offsets) = linux.time_offsets() {
        if !ns.new.contains(clone_newtime()) {
            bail!("linux.timeOffsets: offsets need a new time namespace");
        }
        let mut v: Vec<_> = offsets.iter().collect();
        v.sort_by_key(|(k, _)| k.as_str());
        for (clock, off) in v {
            if clock != "monotonic" && clock != "boottime" {
                bail!("linux.timeOffsets: unknown clock {clock:?}");
            }
            ns.time_offsets.push((
                clock.clone(),
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0),
            ));
        }
    }
    Ok(ns)
}

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => clone_newtime(),
    }
}

fn mount_plan(m: &Mount, bundle: &Path, ns: &Namespaces) -> Result<MountPlan> {
    let dest = m.destination();
    if !dest.is_absolute() {
        bail!("destination: {} must be an absolute path", dest.display());
    }
    let mut plan = MountPlan::from_spec(m, bundle)?;
    // `idmap` without mappings of its own takes the container's.
    if let Some(idmap) = plan.idmap.as_mut().filter(|i| i.uids.is_empty()) {
        if ns.uid_mappings.is_empty() {
            bail!(
                "idmap: {} gives no uidMappings/gidMappings and the container has no \
                 user namespace mappings to take",
                dest.display()
            );
        }
        idmap.uids = ns.uid_mappings.clone();
        idmap.gids = ns.gid_mappings.clone();
    }
    drop_unmapped_devpts_gid(&mut plan, ns);
    Ok(plan)
}

/// devpts's `gid=` names a group of the container; in a user namespace
/// that does not map it (a rootless config mapping one id) the kernel
/// refuses the mount (EINVAL). The option is dropped then (runc 1.1
/// refuses the config instead): the ptys' group is then their creator's,
/// which the container maps.
fn drop_unmapped_devpts_gid(plan: &mut MountPlan, ns: &Namespaces) {
    if plan.typ != "devpts" || ns.gid_mappings.is_empty() {
        return;
    }
    let mapped = |gid: u32| {
        ns.gid_mappings
            .iter()
            .any(|m| gid >= m.container && gid - m.container < m.size)
    };
    let kept: Vec<&str> = plan
        .data
        .split(',')
        .filter(|o| match o.strip_prefix("gid=").map(str::parse::<u32>) {
            Some(Ok(gid)) => mapped(gid),
            _ => true,
        })
        .collect();
    plan.data = kept.join(",");
}

/// Only sysctls that belong to a namespace the container owns may be set:
/// anything else would change the host.
fn check_sysctl(key: &str, ns: &Namespaces) -> Result<()> {
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if ns.has(CloneFlags::CLONE_NEWIPC) {
            return Ok(());
        }
        bail!("needs an ipc namespace");
    }
    if key.starts_with("net.") {
        if ns.has(CloneFlags::CLONE_NEWNET) {
            return Ok(());
        }
        bail!("needs a network namespace");
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if ns.has(CloneFlags::CLONE_NEWUTS) {
            return Ok(());
        }
        bail!("needs a uts namespace");
    }
    bail!("is not namespaced: setting it would change the host")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for v in ["1.0.0", "1.0.2-dev", "1.2.0", "1.3.0"] {
            assert!(check_version(v).is_ok(), "{v}");
        }
        assert!(check_version("2.0.0").is_err());
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse(
            br#"{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"pid"},{"type":"foo"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("linux.namespaces[1].type"), "{e}");
    }
}
