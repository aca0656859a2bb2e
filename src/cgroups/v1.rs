//! `linux.resources` written to a cgroupfs v1 cgroup directly: a write per
//! setting into the controller's own hierarchy, or, for a controller that a
//! hybrid host binds to its cgroup2 mount, into the container's cgroup
//! there (`super::file` decides which).
//!
//! A libcgroups v1 manager reads /proc/self/mountinfo and /proc/self/cgroup
//! once per controller, each through a freshly verified procfs handle,
//! before it writes anything: about 560 syscalls and 1.2 ms of every
//! `create` here. The files and their rules are the kernel's (cgroup-v1
//! documentation); what each setting means is the runtime-spec's.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxResources};

use super::devices::DeviceList;
use super::{file, read};

pub fn apply(path: &Path, r: &LinuxResources, disable_oom_killer: bool) -> Result<()> {
    if let Some(c) = r.cpu() {
        cpu(path, c)?;
    }
    if let Some(m) = r.memory() {
        memory(path, m, disable_oom_killer)?;
    }
    if let Some(p) = r.pids() {
        // Since runtime-spec 1.3, 0 is a limit (no new process); below 0
        // is none.
        let v = if p.limit() >= 0 {
            p.limit().to_string()
        } else {
            "max".to_string()
        };
        write(path, "pids", "pids.max", &v)?;
    }
    if let Some(b) = r.block_io() {
        block_io(path, b)?;
    }
    for h in r.hugepage_limits().iter().flatten() {
        let size = h.page_size();
        let digits: String = size.chars().take_while(char::is_ascii_digit).collect();
        if !digits.parse::<u64>().is_ok_and(u64::is_power_of_two) {
            bail!("linux.resources.hugepageLimits: page size {size:?} is not a power of two");
        }
        let limit = h.limit().to_string();
        // On a hybrid host hugetlb may sit on the cgroup2 mount: v2 names.
        let (max, rsvd) = if super::speaks_v2("hugetlb") {
            (
                format!("hugetlb.{size}.max"),
                format!("hugetlb.{size}.rsvd.max"),
            )
        } else {
            (
                format!("hugetlb.{size}.limit_in_bytes"),
                format!("hugetlb.{size}.rsvd.limit_in_bytes"),
            )
        };
        write(path, "hugetlb", &max, &limit).context("linux.resources.hugepageLimits")?;
        if file(path, "hugetlb", &rsvd).exists() {
            write(path, "hugetlb", &rsvd, &limit).context("linux.resources.hugepageLimits")?;
        }
    }
    // Keys for controllers on a hybrid host's cgroup2 mount
    // (check_resources refused every other key before anything ran).
    for (key, value) in r.unified().iter().flatten() {
        let controller = key.split('.').next().unwrap_or_default();
        write(path, controller, key, value)
            .with_context(|| format!("linux.resources.unified.{key}"))?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            write(path, "net_cls", "net_cls.classid", &id.to_string())?;
        }
        for p in n.priorities().iter().flatten() {
            let line = format!("{} {}", p.name(), p.priority());
            write(path, "net_prio", "net_prio.ifpriomap", &line)?;
        }
    }
    devices(path, r.devices().as_deref())
}

fn cpu(path: &Path, c: &LinuxCpu) -> Result<()> {
    // Both were filled from the parent when the cgroup was joined (a v1
    // cpuset takes no process without them), so either order works.
    if let Some(mems) = c.mems().as_deref().filter(|m| !m.is_empty()) {
        write(path, "cpuset", "cpuset.mems", mems)?;
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|c| !c.is_empty()) {
        write(path, "cpuset", "cpuset.cpus", cpus)?;
    }
    // 0 means "unset" for all but burst and idle, as in runc.
    let settings = [
        (
            "cpu.shares",
            c.shares().filter(|v| *v != 0).map(|v| v as i64),
        ),
        (
            "cpu.cfs_period_us",
            c.period().filter(|v| *v != 0).map(|v| v as i64),
        ),
        ("cpu.cfs_quota_us", c.quota().filter(|v| *v != 0)),
        ("cpu.cfs_burst_us", c.burst().map(|v| v as i64)),
        (
            "cpu.rt_period_us",
            c.realtime_period().filter(|v| *v != 0).map(|v| v as i64),
        ),
        (
            "cpu.rt_runtime_us",
            c.realtime_runtime().filter(|v| *v != 0),
        ),
        ("cpu.idle", c.idle()),
    ];
    for (name, v) in settings {
        let Some(v) = v else { continue };
        let written = write(path, "cpu", name, &v.to_string());
        // A period below the group's current realtime runtime is refused
        // until the runtime comes down: then the runtime goes first.
        if name == "cpu.rt_period_us"
            && let Err(e) = written
        {
            match c
                .realtime_runtime()
                .filter(|r| *r != 0 && is_errno(&e, libc::EINVAL))
            {
                Some(rt) => write(path, "cpu", "cpu.rt_runtime_us", &rt.to_string())
                    .and_then(|()| write(path, "cpu", name, &v.to_string()))?,
                None => return Err(e),
            }
            continue;
        }
        written?;
    }
    Ok(())
}

/// memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes
/// (memory plus swap), so the one that grows is written first.
fn memory(path: &Path, m: &LinuxMemory, disable_oom_killer: bool) -> Result<()> {
    const LIMIT: &str = "memory.limit_in_bytes";
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    let limit = m.limit().filter(|l| *l != 0);
    // Unlimited memory also lifts a memory+swap limit left from before.
    let swap = match (limit, m.swap().filter(|s| *s != 0)) {
        (Some(-1), None) if file(path, "memory", MEMSW).exists() => Some(-1),
        (_, s) => s,
    };
    let set_limit = |v: i64| -> Result<()> {
        write(path, "memory", LIMIT, &v.to_string()).map_err(|e| {
            if is_errno(&e, libc::EBUSY) {
                let usage = read(path, "memory", "memory.usage_in_bytes").unwrap_or_default();
                e.context(format!(
                    "linux.resources.memory.limit: {v} is below the memory in use ({} bytes)",
                    usage.trim()
                ))
            } else if is_errno(&e, libc::EINVAL) {
                let memsw = read(path, "memory", MEMSW).unwrap_or_default();
                e.context(format!(
                    "linux.resources.memory.limit: {v} is above the memory+swap limit ({}); \
                     raise memory.swap with it",
                    memsw.trim()
                ))
            } else {
                e
            }
        })
    };
    let set_swap = |v: i64| -> Result<()> {
        if !file(path, "memory", MEMSW).exists() {
            bail!(
                "linux.resources.memory.swap: this kernel does not account swap \
                 (no {MEMSW}; boot with swapaccount=1)"
            );
        }
        write(path, "memory", MEMSW, &v.to_string()).map_err(|e| {
            if is_errno(&e, libc::EBUSY) {
                e.context(format!(
                    "linux.resources.memory.swap: {v} is below the memory+swap in use"
                ))
            } else {
                e
            }
        })
    };
    match (limit, swap) {
        (Some(l), Some(s)) => {
            let current: i64 = read(path, "memory", LIMIT)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(i64::MAX);
            if s == -1 || s > current {
                set_swap(s)?;
                set_limit(l)?;
            } else {
                set_limit(l)?;
                set_swap(s)?;
            }
        }
        (Some(l), None) => set_limit(l)?,
        (None, Some(s)) => set_swap(s)?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        write(path, "memory", "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    let oom = if disable_oom_killer { "1" } else { "0" };
    write(path, "memory", "memory.oom_control", oom)?;
    if let Some(s) = m.swappiness() {
        if s > 100 {
            bail!("linux.resources.memory.swappiness: {s} is above 100");
        }
        write(path, "memory", "memory.swappiness", &s.to_string())?;
    }
    if let Some(k) = m.kernel() {
        write(path, "memory", "memory.kmem.limit_in_bytes", &k.to_string())?;
    }
    if let Some(k) = m.kernel_tcp() {
        write(
            path,
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            &k.to_string(),
        )?;
    }
    Ok(())
}

fn block_io(path: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        // CFQ's file, or BFQ's where CFQ is gone (same 10..1000 scale);
        // a kernel with neither scheduler weighs no groups at all.
        let name = ["blkio.weight", "blkio.bfq.weight"]
            .into_iter()
            .find(|n| file(path, "blkio", n).exists())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "linux.resources.blockIO.weight: this host's blkio controller has no \
                     weights (neither CFQ's blkio.weight nor BFQ's blkio.bfq.weight: no I/O \
                     scheduler in this kernel weighs cgroups)"
                )
            })?;
        write(path, "blkio", name, &w.to_string())?;
    }
    // CFQ had leaf weights (the weight of a group's own tasks against its
    // children); BFQ, the only weighting scheduler left, has none.
    let leaf_refused = |field: &str| {
        anyhow::anyhow!(
            "linux.resources.blockIO.{field}: this host's blkio controller has no leaf \
             weights (no blkio.leaf_weight: BFQ has none)"
        )
    };
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        if !file(path, "blkio", "blkio.leaf_weight").exists() {
            return Err(leaf_refused("leafWeight"));
        }
        write(path, "blkio", "blkio.leaf_weight", &w.to_string())?;
    }
    let device_file = if file(path, "blkio", "blkio.weight_device").exists() {
        "blkio.weight_device"
    } else {
        "blkio.bfq.weight_device"
    };
    // Refused before any device is written, so a failed update has nothing
    // half-written to undo.
    let devices = b.weight_device().as_deref().unwrap_or(&[]);
    if devices.iter().any(|d| d.leaf_weight().is_some())
        && !file(path, "blkio", "blkio.leaf_weight_device").exists()
    {
        return Err(leaf_refused("weightDevice.leafWeight"));
    }
    for d in devices {
        if let Some(w) = d.weight() {
            let line = format!("{}:{} {w}", d.major(), d.minor());
            write(path, "blkio", device_file, &line)
                .context("linux.resources.blockIO.weightDevice (the disk's I/O scheduler must weigh groups: bfq)")?;
        }
        if let Some(w) = d.leaf_weight() {
            let line = format!("{}:{} {w}", d.major(), d.minor());
            write(path, "blkio", "blkio.leaf_weight_device", &line)?;
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (name, devices) in throttles {
        for d in devices.iter().flatten() {
            let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            write(path, "blkio", name, &line)?;
        }
    }
    Ok(())
}

/// The config's rules, then the devices every container gets, as the
/// difference from what the cgroup holds now (`devices.rs`): no window
/// with fewer or more devices than the old or the new rules give. `None`
/// leaves them as they are.
fn devices(path: &Path, rules: Option<&[LinuxDeviceCgroup]>) -> Result<()> {
    let Some(rules) = rules else {
        return Ok(());
    };
    let list = |p: &Path| {
        let f = file(p, "devices", "devices.list");
        std::fs::read_to_string(&f)
            .map(|t| DeviceList::parse(&t))
            .with_context(|| format!("read {}", f.display()))
    };
    let now = list(path)?;
    // A new cgroup starts as a copy of its parent's list.
    let parent = list(path.parent().unwrap_or(Path::new("/")))?;
    let always: Vec<String> = super::devices::always_allowed()
        .iter()
        .map(super::devices::rule_line)
        .collect();
    let want = DeviceList::after(&parent, rules, &always);
    for (allow, line) in now.writes_to(&want) {
        let name = if allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(path, "devices", name, &line)?;
    }
    Ok(())
}

/// One write of `value` to the container's file `name` of `controller`,
/// as a single write(2): cgroupfs parses each write on its own.
fn write(path: &Path, controller: &str, name: &str, value: &str) -> Result<()> {
    let f = file(path, controller, name);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .and_then(|mut w| w.write_all(value.as_bytes()))
        .map_err(|e| {
            let missing = e.kind() == std::io::ErrorKind::NotFound;
            let e = anyhow::Error::from(e).context(format!("write {value:?} to {}", f.display()));
            if missing && !super::controller_available(controller) {
                e.context(format!(
                    "the {controller} controller is not mounted on this host"
                ))
            } else if missing && super::on_hybrid_v2(controller) {
                e.context(format!(
                    "the {controller} controller (on the cgroup v2 mount) is not enabled for \
                     this cgroup: a cgroup above it holds processes, and cgroup v2 lets such \
                     a cgroup pass on no controllers; use a cgroupsPath outside it"
                ))
            } else {
                e
            }
        })
}

fn is_errno(e: &anyhow::Error, errno: i32) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.raw_os_error() == Some(errno))
}
