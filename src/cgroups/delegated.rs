//! `linux.resources` written straight into a cgroup v2 subtree delegated
//! to an unprivileged caller (rootless). libcgroups' v2 manager cannot be
//! used there: it always loads a device eBPF program, which only root may.
//! Each field goes to the file the kernel documents for it, with runc's
//! conversions from the v1-shaped spec; a field cgroup v2 has no file for
//! is refused by name.

use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::Cgroup;

impl Cgroup {
    /// What `apply` does, for a caller who owns only the container's
    /// cgroup: no device rules (the user namespace keeps devices out).
    pub fn apply_delegated_v2(&self, r: &LinuxResources) -> Result<()> {
        let dir = Path::new(super::ROOT).join(self.path.strip_prefix("/").unwrap_or(&self.path));
        let mut files: Vec<(&str, String, String)> = Vec::new();
        if let Some(p) = r.pids() {
            let v = if p.limit() >= 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            files.push(("pids", "pids.max".into(), v));
        }
        if let Some(m) = r.memory() {
            memory(m, &mut files)?;
        }
        if let Some(c) = r.cpu() {
            cpu(c, &dir, &mut files)?;
        }
        if let Some(b) = r.block_io() {
            block_io(b, &mut files)?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            let name = format!("hugetlb.{}.max", h.page_size());
            files.push(("hugepageLimits", name, h.limit().to_string()));
        }
        for (dev, l) in r.rdma().iter().flatten() {
            let mut v = dev.clone();
            if let Some(n) = l.hca_handles() {
                v.push_str(&format!(" hca_handle={n}"));
            }
            if let Some(n) = l.hca_objects() {
                v.push_str(&format!(" hca_object={n}"));
            }
            files.push(("rdma", "rdma.max".into(), v));
        }
        if r.network().is_some() {
            bail!("linux.resources.network: cgroup v2 has no net_cls or net_prio controller");
        }
        for (key, v) in r.unified().iter().flatten() {
            if key.contains('/') || key.starts_with('.') || !key.contains('.') {
                bail!("linux.resources.unified: {key:?} is not a cgroup file name");
            }
            files.push(("unified", key.clone(), v.clone()));
        }
        for (field, name, v) in files {
            let f = dir.join(&name);
            std::fs::write(&f, &v).with_context(|| {
                let why = if f.exists() {
                    ""
                } else {
                    " (is its controller delegated to the user?)"
                };
                format!(
                    "linux.resources.{field}: write {v:?} to {}{why}",
                    f.display()
                )
            })?;
        }
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
            self.set_io_weight(w)?;
        }
        Ok(())
    }
}

fn bytes(v: i64) -> String {
    if v >= 0 { v.to_string() } else { "max".into() }
}

fn memory(m: &LinuxMemory, files: &mut Vec<(&str, String, String)>) -> Result<()> {
    if m.swappiness().is_some() {
        bail!("linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness");
    }
    if m.kernel().is_some_and(|k| k > 0) {
        bail!("linux.resources.memory.kernel: cgroup v2 has no separate kernel memory limit");
    }
    if m.kernel_tcp().is_some_and(|k| k > 0) {
        bail!("linux.resources.memory.kernelTCP: cgroup v2 has no separate TCP memory limit");
    }
    if m.disable_oom_killer() == Some(true) {
        bail!("linux.resources.memory.disableOOMKiller: cgroup v2 cannot turn the OOM killer off");
    }
    // 0, as everywhere in runc's configs, leaves the value alone.
    if let Some(l) = m.limit().filter(|l| *l != 0) {
        files.push(("memory", "memory.max".into(), bytes(l)));
    }
    if let Some(l) = m.reservation().filter(|l| *l != 0) {
        files.push(("memory", "memory.low".into(), bytes(l)));
    }
    // The spec's swap is memory plus swap (v1's memsw); v2 limits swap
    // alone.
    if let Some(s) = m.swap().filter(|s| *s != 0) {
        let v = match (s, m.limit()) {
            (-1, _) => "max".to_string(),
            (s, Some(l)) if l >= 0 => (s - l).to_string(),
            _ => bail!(
                "linux.resources.memory.swap: {s} needs memory.limit on cgroup v2 (swap.max is \
                 swap minus the limit)"
            ),
        };
        files.push(("memory", "memory.swap.max".into(), v));
    }
    Ok(())
}

fn cpu(c: &LinuxCpu, dir: &Path, files: &mut Vec<(&str, String, String)>) -> Result<()> {
    if c.realtime_runtime().is_some_and(|v| v != 0) {
        bail!("linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time CPU budget");
    }
    if c.realtime_period().is_some_and(|v| v != 0) {
        bail!("linux.resources.cpu.realtimePeriod: cgroup v2 has no real-time CPU budget");
    }
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        files.push(("cpu", "cpu.weight".into(), weight_of(shares).to_string()));
    }
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        // The half not given stays as it is (an update of the period alone
        // must not lift the quota).
        let now = std::fs::read_to_string(dir.join("cpu.max")).unwrap_or_default();
        let mut now = now.split_whitespace();
        let (now_quota, now_period) = (now.next().unwrap_or("max"), now.next().unwrap_or("100000"));
        let quota = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".into(),
            None => now_quota.to_string(),
        };
        let period = period.map_or(now_period.to_string(), |p| p.to_string());
        files.push(("cpu", "cpu.max".into(), format!("{quota} {period}")));
    }
    if let Some(b) = c.burst() {
        files.push(("cpu", "cpu.max.burst".into(), b.to_string()));
    }
    if let Some(i) = c.idle() {
        files.push(("cpu", "cpu.idle".into(), i.to_string()));
    }
    // mems before cpus: the kernel wants both non-empty.
    if let Some(m) = c.mems().clone().filter(|m| !m.is_empty()) {
        files.push(("cpu.mems", "cpuset.mems".into(), m));
    }
    if let Some(cpus) = c.cpus().clone().filter(|c| !c.is_empty()) {
        files.push(("cpu.cpus", "cpuset.cpus".into(), cpus));
    }
    Ok(())
}

/// cgroup v1 shares (2..262144, default 1024) as a v2 weight (1..10000,
/// default 100): the quadratic fit of runc 1.3.2's release notes, which
/// keeps the ends and the defaults, and which the privileged path's
/// libcgroups uses too.
fn weight_of(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64).clamp(1, 10_000)
}

fn block_io(b: &LinuxBlockIo, files: &mut Vec<(&str, String, String)>) -> Result<()> {
    if b.leaf_weight().is_some() {
        bail!("linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weight");
    }
    for d in b.weight_device().iter().flatten() {
        if d.leaf_weight().is_some() {
            bail!("linux.resources.blockIO.weightDevice: cgroup v2 has no leaf weight");
        }
        if let Some(w) = d.weight() {
            if !(10..=1000).contains(&w) {
                bail!("linux.resources.blockIO.weightDevice: {w} is outside 10..1000");
            }
            let weight = 1 + (u32::from(w) - 10) * 9999 / 990;
            let v = format!("{}:{} {weight}", d.major(), d.minor());
            files.push(("blockIO.weightDevice", "io.weight".into(), v));
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, devs) in throttles {
        for d in devs.iter().flatten() {
            let v = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
            files.push(("blockIO", "io.max".into(), v));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxMemoryBuilder, LinuxThrottleDeviceBuilder};

    #[test]
    fn swap_is_converted_to_swap_alone() {
        let mut files = Vec::new();
        let m = LinuxMemoryBuilder::default()
            .limit(100)
            .swap(300)
            .build()
            .unwrap();
        memory(&m, &mut files).unwrap();
        assert!(files.contains(&("memory", "memory.swap.max".into(), "200".into())));
        let m = LinuxMemoryBuilder::default().swap(300).build().unwrap();
        let e = memory(&m, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("needs memory.limit"), "{e}");
        let m = LinuxMemoryBuilder::default()
            .swappiness(10u64)
            .build()
            .unwrap();
        let e = memory(&m, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("memory.swappiness"), "{e}");
    }

    #[test]
    fn shares_map_to_weights_as_on_the_privileged_path() {
        assert_eq!(weight_of(2), 1);
        assert_eq!(weight_of(1024), 100);
        assert_eq!(weight_of(512), 59);
        assert_eq!(weight_of(262_144), 10_000);
    }

    #[test]
    fn throttles_name_their_device() {
        let mut files = Vec::new();
        let t = LinuxThrottleDeviceBuilder::default()
            .major(8)
            .minor(0)
            .rate(1024u64)
            .build()
            .unwrap();
        let b = LinuxBlockIoBuilder::default()
            .throttle_write_iops_device(vec![t])
            .build()
            .unwrap();
        block_io(&b, &mut files).unwrap();
        assert_eq!(
            files,
            [("blockIO", "io.max".into(), "8:0 wiops=1024".into())]
        );
    }
}
