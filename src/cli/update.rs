//! `vzrun update [flags] <id>`: runc's flags, `-r resources.json` (or `-r -`
//! for stdin, as containerd's shim sends it), and `--ubc
//! <resource>=<barrier>:<limit>` for OpenVZ beancounters.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Resources as JSON (linux.resources); "-" reads stdin
    #[arg(short = 'r', long = "resources")]
    pub resources: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g, t; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for none)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS burst in microseconds (runc 1.2+)
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// 1 makes the cgroup SCHED_IDLE-like (cpu.idle), 0 undoes it
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    pub cpu_idle: Option<i64>,
    /// CPU realtime runtime in microseconds
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU realtime period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPUs to run on (e.g. 0-1,3)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 for none)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Intel RDT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema", hide = true)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema", hide = true)]
    pub mem_bw_schema: Option<String>,
    /// OpenVZ beancounter, as RESOURCE=BARRIER:LIMIT (repeatable)
    #[arg(long = "ubc", value_name = "RESOURCE=BARRIER:LIMIT")]
    pub ubc: Vec<String>,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let id = a.id.clone();
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("container {id}: Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported");
    }
    let mut beancounters = BTreeMap::new();
    for u in &a.ubc {
        let (res, val) = u.split_once('=').with_context(|| {
            format!("container {id}: --ubc {u:?}: expected RESOURCE=BARRIER:LIMIT")
        })?;
        let s = crate::container::update::parse_ubc(res, val)
            .with_context(|| format!("container {id}: --ubc {u:?}"))?;
        beancounters.insert(res.to_string(), s);
    }
    let resources = match &a.resources {
        Some(src) => {
            if flags_given(&a) {
                bail!("container {id}: give either -r/--resources or the limit flags, not both");
            }
            let (name, text) = if src == "-" {
                let mut t = String::new();
                std::io::stdin()
                    .read_to_string(&mut t)
                    .context("read resources from stdin")?;
                ("<stdin>".to_string(), t)
            } else {
                let t = std::fs::read_to_string(src).with_context(|| format!("read {src}"))?;
                (src.clone(), t)
            };
            crate::container::update::parse_resources(&name, text.as_bytes())
                .with_context(|| format!("container {id}: resources"))?
        }
        None => from_flags(&a).with_context(|| format!("container {id}"))?,
    };
    crate::container::update::update(&g.root, &id, resources, beancounters)?;
    Ok(0)
}

fn flags_given(a: &Args) -> bool {
    a.memory.is_some()
        || a.memory_swap.is_some()
        || a.memory_reservation.is_some()
        || a.cpu_share.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_burst.is_some()
        || a.cpu_idle.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
        || a.pids_limit.is_some()
        || a.blkio_weight.is_some()
}

fn from_flags(a: &Args) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| parse_bytes(s).with_context(|| format!("{flag} {s:?}")))
            .transpose()
    };
    let (limit, swap, reservation) = (
        bytes("--memory", &a.memory)?,
        bytes("--memory-swap", &a.memory_swap)?,
        bytes("--memory-reservation", &a.memory_reservation)?,
    );
    if limit.is_some() || swap.is_some() || reservation.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(limit);
        m.set_swap(swap);
        m.set_reservation(reservation);
        r.set_memory(Some(m));
    }
    let mut c = LinuxCpu::default();
    c.set_shares(a.cpu_share);
    c.set_quota(a.cpu_quota);
    c.set_period(a.cpu_period);
    c.set_burst(a.cpu_burst);
    if let Some(i) = a.cpu_idle {
        if !(0..=1).contains(&i) {
            bail!("--cpu-idle {i}: must be 0 or 1");
        }
        c.set_idle(Some(i));
    }
    c.set_realtime_runtime(a.cpu_rt_runtime);
    c.set_realtime_period(a.cpu_rt_period);
    c.set_cpus(a.cpuset_cpus.clone());
    c.set_mems(a.cpuset_mems.clone());
    if c != LinuxCpu::default() {
        r.set_cpu(Some(c));
    }
    if let Some(p) = a.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(p);
        r.set_pids(Some(pids));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// A size as runc's flags take it: bytes, or with a k/m/g/t/p suffix
/// (optionally followed by "b"), or -1 for no limit.
fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        Some('p') => (&t[..t.len() - 1], 50),
        _ => (t, 0),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("not a size (use e.g. 512m, 1g or -1)"))?;
    if n.is_nan() || n < 0.0 {
        bail!("a size cannot be negative (-1 means no limit)");
    }
    let v = n * (1u64 << shift) as f64;
    if v > i64::MAX as f64 {
        bail!("too large");
    }
    Ok(v as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("-5").is_err());
        assert!(parse_bytes("lots").is_err());
    }
}
