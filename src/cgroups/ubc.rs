//! OpenVZ's user beancounters on top of cgroups: each resource has a
//! barrier and a limit, and reports held / maxheld / failcnt, as
//! `/proc/user_beancounters` did. Settings come from `config.json`
//! annotations (`org.openvz.ubc.<resource>` = `barrier:limit`) and from
//! `vzrun update --ubc`; they become ordinary `linux.resources` fields and
//! rlimits, so the cgroup files stay the one truth.
//!
//! Units are OpenVZ's: pages (4 KiB) for the `*pages` resources, bytes for
//! `kmemsize`, counts for `numproc` and `numfile`, cpu.shares for
//! `cpuunits` and percent of one CPU for `cpulimit`. Unlimited shows as
//! 9223372036854775807 (`cpulimit`: 0, as in OpenVZ).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use serde::Serialize;

use nix::sys::resource::Resource;

use super::{read_keyed, read_u64, unified};

pub const UNLIMITED: u64 = i64::MAX as u64;
const PAGE: u64 = 4096;
pub const ANNOTATION_PREFIX: &str = "org.openvz.ubc.";

/// The resources, in the order the table prints them.
pub const RESOURCES: &[&str] = &[
    "kmemsize",
    "lockedpages",
    "shmpages",
    "numproc",
    "physpages",
    "swappages",
    "numfile",
    "cpuunits",
    "cpulimit",
    "diskspace",
    "diskinodes",
];

/// A `barrier:limit` pair in the resource's base unit (bytes for the page
/// resources); `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub barrier: Option<u64>,
    pub limit: Option<u64>,
}

/// Parses `barrier:limit` (or one value for both). Numbers of the page
/// resources are pages unless they carry a k/m/g suffix (bytes); `unlimited`
/// lifts the limit.
pub fn parse(resource: &str, text: &str) -> Result<Setting> {
    if !RESOURCES.contains(&resource) {
        bail!(
            "unknown beancounter {resource:?} (known: {})",
            RESOURCES.join(", ")
        );
    }
    let pages = resource.ends_with("pages");
    let one = |v: &str| -> Result<Option<u64>> {
        let v = v.trim();
        if v == "unlimited" {
            return Ok(None);
        }
        let (num, mult) = match v.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                let m = match c.to_ascii_lowercase() {
                    'k' => 1 << 10,
                    'm' => 1 << 20,
                    'g' => 1 << 30,
                    _ => bail!("{resource}: bad suffix in {v:?} (use k, m or g)"),
                };
                (&v[..i], m)
            }
            _ => (v, if pages { PAGE } else { 1 }),
        };
        let n: u64 = num
            .parse()
            .with_context(|| format!("{resource}: {v:?} is not a number or \"unlimited\""))?;
        n.checked_mul(mult)
            .filter(|b| *b <= i64::MAX as u64)
            .map(Some)
            .with_context(|| format!("{resource}: {v:?} is too large"))
    };
    let (b, l) = text.split_once(':').unwrap_or((text, text));
    let s = Setting {
        barrier: one(b)?,
        limit: one(l)?,
    };
    if let (Some(b), Some(l)) = (s.barrier, s.limit)
        && b > l
    {
        bail!("{resource}: barrier {b} is above limit {l}");
    }
    if resource == "cpulimit" && s.limit.is_some_and(|l| l == 0) {
        bail!("cpulimit: 0 would stop the container (use \"unlimited\")");
    }
    Ok(s)
}

/// The settings found in config.json's annotations.
pub fn from_annotations(
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Result<BTreeMap<String, Setting>> {
    let mut out = BTreeMap::new();
    for (k, v) in annotations.into_iter().flatten() {
        if let Some(res) = k.strip_prefix(ANNOTATION_PREFIX) {
            let s = parse(res, v).with_context(|| format!("annotations.{k:?}"))?;
            out.insert(res.to_string(), s);
        }
    }
    Ok(out)
}

/// What the settings ask of the process's rlimits: (RLIMIT, soft, hard).
pub fn rlimits(settings: &BTreeMap<String, Setting>) -> Vec<(Resource, u64, u64)> {
    let lim = |v: Option<u64>| v.unwrap_or(libc::RLIM_INFINITY);
    settings
        .iter()
        .filter_map(|(res, s)| {
            let r = match res.as_str() {
                "lockedpages" => Resource::RLIMIT_MEMLOCK,
                "numfile" => Resource::RLIMIT_NOFILE,
                _ => return None,
            };
            Some((r, lim(s.barrier), lim(s.limit)))
        })
        .collect()
}

/// Folds the cgroup side of `settings` into `resources`. A field the
/// resources already set explicitly wins, with a warning; `memory_limit`
/// is the container's memory limit, which a swap limit builds on.
pub fn merge(
    settings: &BTreeMap<String, Setting>,
    resources: &mut LinuxResources,
    explicit: &LinuxResources,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let signed = |v: Option<u64>| v.map_or(-1, |v| v as i64);
    let mem = explicit.memory().unwrap_or_default();
    let cpu = explicit.cpu().clone().unwrap_or_default();
    for (res, s) in settings {
        let mut conflict = |field: &str| {
            warn(format!(
                "beancounter {res}: linux.resources.{field} is set too and wins"
            ))
        };
        match res.as_str() {
            "physpages" => {
                let m = resources
                    .memory_mut()
                    .get_or_insert_with(LinuxMemory::default);
                if mem.limit().is_some() {
                    conflict("memory.limit");
                } else {
                    m.set_limit(Some(signed(s.limit)));
                }
                // The barrier is where reclaim starts: v1's soft limit,
                // v2's memory.high.
                if super::unified() {
                    let high = explicit
                        .unified()
                        .as_ref()
                        .and_then(|u| u.get("memory.high"));
                    if high.is_some() {
                        conflict("unified.memory.high");
                    } else {
                        let v = s.barrier.map_or("max".to_string(), |b| b.to_string());
                        resources
                            .unified_mut()
                            .get_or_insert_with(Default::default)
                            .insert("memory.high".to_string(), v);
                    }
                } else if mem.reservation().is_some() {
                    conflict("memory.reservation");
                } else if let Some(b) = s.barrier {
                    m.set_reservation(Some(b as i64));
                }
            }
            "swappages" => {
                if mem.swap().is_some() {
                    conflict("memory.swap");
                    continue;
                }
                let m = resources
                    .memory_mut()
                    .get_or_insert_with(LinuxMemory::default);
                // runc's memory.swap is memory plus swap.
                let swap = match (m.limit().filter(|l| *l > 0), s.limit) {
                    (Some(l), Some(sw)) => l.saturating_add(sw as i64),
                    _ => -1,
                };
                m.set_swap(Some(swap));
            }
            "numproc" => {
                if explicit.pids().is_some() {
                    conflict("pids.limit");
                } else {
                    let mut p = LinuxPids::default();
                    p.set_limit(signed(s.limit));
                    resources.set_pids(Some(p));
                }
            }
            "kmemsize" => {
                if mem.kernel().is_some() {
                    conflict("memory.kernel");
                } else {
                    resources
                        .memory_mut()
                        .get_or_insert_with(LinuxMemory::default)
                        .set_kernel(Some(signed(s.limit)));
                }
            }
            "cpuunits" => {
                if cpu.shares().is_some() {
                    conflict("cpu.shares");
                } else if let Some(l) = s.limit {
                    resources
                        .cpu_mut()
                        .get_or_insert_with(LinuxCpu::default)
                        .set_shares(Some(l));
                }
            }
            "cpulimit" => {
                if cpu.quota().is_some() {
                    conflict("cpu.quota");
                } else {
                    let c = resources.cpu_mut().get_or_insert_with(LinuxCpu::default);
                    let period = c.period().unwrap_or(100_000);
                    c.set_period(Some(period));
                    c.set_quota(Some(s.limit.map_or(-1, |pct| (pct * period / 100) as i64)));
                }
            }
            "shmpages" => bail!(
                "beancounter shmpages: cgroups cannot limit shared memory apart from the rest \
                 of memory; it is accounted only (use physpages)"
            ),
            // rlimits and disk quota, applied by the caller.
            "lockedpages" | "numfile" | "diskspace" | "diskinodes" => {}
            other => bail!("unknown beancounter {other:?}"),
        }
    }
    Ok(())
}

/// The disk quota the settings ask for: diskspace and diskinodes as
/// (barrier, limit); `None` when neither is set.
#[allow(clippy::type_complexity)]
pub fn disk(
    settings: &BTreeMap<String, Setting>,
) -> Option<(
    (Option<u64>, Option<u64>),
    Option<(Option<u64>, Option<u64>)>,
)> {
    let pair = |s: &Setting| (s.barrier, s.limit);
    let space = settings.get("diskspace").map(pair);
    let inodes = settings.get("diskinodes").map(pair);
    (space.is_some() || inodes.is_some()).then(|| (space.unwrap_or((None, None)), inodes))
}

/// A disk quota's row: `held` as the filesystem counts it, the peak kept
/// with the others.
pub fn disk_row(
    resource: &str,
    held: u64,
    (barrier, limit): (Option<u64>, Option<u64>),
    peaks: &mut Peaks,
) -> Row {
    let p = peaks.entry(resource.to_string()).or_insert(0);
    *p = (*p).max(held);
    Row {
        resource: resource.to_string(),
        held,
        maxheld: *p,
        barrier: barrier.unwrap_or(UNLIMITED),
        limit: limit.unwrap_or(UNLIMITED),
        // The filesystems keep no count of refused writes.
        failcnt: 0,
    }
}

/// One line of the table.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub resource: String,
    pub held: u64,
    pub maxheld: u64,
    pub barrier: u64,
    pub limit: u64,
    pub failcnt: u64,
}

/// The peaks vzrun keeps for counters whose kernel has no peak file,
/// updated on every read (stored in the container's state directory).
pub type Peaks = BTreeMap<String, u64>;

/// Reads the beancounters of the container whose cgroup is `cg` and whose
/// processes are `pids` (the init first).
pub fn read(cg: &Path, pids: &[i32], peaks: &mut Peaks) -> Vec<Row> {
    let v2 = unified();
    let pages = |b: u64| b / PAGE;
    // Limits: v1 writes "no limit" as a huge page-aligned number, v2 as
    // "max" (read_u64 gives None).
    let lim_bytes = |v: Option<u64>| match v {
        Some(b) if b < (1 << 62) => pages(b),
        _ => UNLIMITED,
    };
    let mut peak = |name: &str, held: u64, kernel_peak: Option<u64>| {
        let p = peaks.entry(name.to_string()).or_insert(0);
        *p = (*p).max(held).max(kernel_peak.unwrap_or(0));
        *p
    };
    let mut rows = Vec::new();
    let mstat: BTreeMap<String, u64> = read_keyed(cg, "memory", "memory.stat")
        .into_iter()
        .collect();

    // kmemsize (bytes)
    let (k_held, k_peak, k_lim, k_fail) = if v2 {
        (
            mstat.get("kernel").copied().unwrap_or(0),
            None,
            UNLIMITED,
            0,
        )
    } else {
        let lim = read_u64(cg, "memory", "memory.kmem.limit_in_bytes");
        (
            read_u64(cg, "memory", "memory.kmem.usage_in_bytes").unwrap_or(0),
            read_u64(cg, "memory", "memory.kmem.max_usage_in_bytes"),
            lim.filter(|l| *l < (1 << 62)).unwrap_or(UNLIMITED),
            read_u64(cg, "memory", "memory.kmem.failcnt").unwrap_or(0),
        )
    };
    rows.push(Row {
        resource: "kmemsize".into(),
        held: k_held,
        maxheld: peak("kmemsize", k_held, k_peak),
        barrier: k_lim,
        limit: k_lim,
        failcnt: k_fail,
    });

    // lockedpages and numfile: the processes' own counts against the
    // init's rlimits.
    let (mut locked_kb, mut files) = (0u64, 0u64);
    for pid in pids {
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            locked_kb += st
                .lines()
                .find_map(|l| l.strip_prefix("VmLck:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        files += std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    }
    let limits = pids
        .first()
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/limits")).ok())
        .unwrap_or_default();
    let rlimit = |name: &str, scale: u64| -> (u64, u64) {
        let line = limits.lines().find(|l| l.starts_with(name));
        let mut f = line
            .map(|l| l[name.len()..].split_whitespace())
            .into_iter()
            .flatten();
        let mut one = || match f.next() {
            Some("unlimited") | None => UNLIMITED,
            Some(n) => n.parse::<u64>().map_or(UNLIMITED, |n| n / scale),
        };
        (one(), one())
    };
    let locked = locked_kb * 1024 / PAGE;
    let (b, l) = rlimit("Max locked memory", PAGE);
    rows.push(Row {
        resource: "lockedpages".into(),
        held: locked,
        maxheld: peak("lockedpages", locked, None),
        barrier: b,
        limit: l,
        failcnt: 0,
    });

    // shmpages: accounted, never limited on its own.
    let shm = pages(mstat.get("shmem").copied().unwrap_or(0));
    rows.push(Row {
        resource: "shmpages".into(),
        held: shm,
        maxheld: peak("shmpages", shm, None),
        barrier: UNLIMITED,
        limit: UNLIMITED,
        failcnt: 0,
    });

    // numproc
    let n = read_u64(cg, "pids", "pids.current").unwrap_or(pids.len() as u64);
    let n_lim = read_u64(cg, "pids", "pids.max").unwrap_or(UNLIMITED);
    let n_fail = read_keyed(cg, "pids", "pids.events")
        .into_iter()
        .find_map(|(k, v)| (k == "max").then_some(v))
        .unwrap_or(0);
    rows.push(Row {
        resource: "numproc".into(),
        held: n,
        maxheld: peak("numproc", n, read_u64(cg, "pids", "pids.peak")),
        barrier: n_lim,
        limit: n_lim,
        failcnt: n_fail,
    });

    // physpages and swappages
    let (usage, mpeak, soft, hard, mfail, swap, swpeak, swlim, swfail);
    if v2 {
        let events: BTreeMap<String, u64> = read_keyed(cg, "memory", "memory.events")
            .into_iter()
            .collect();
        let swev: BTreeMap<String, u64> = read_keyed(cg, "memory", "memory.swap.events")
            .into_iter()
            .collect();
        usage = read_u64(cg, "memory", "memory.current").unwrap_or(0);
        mpeak = read_u64(cg, "memory", "memory.peak");
        soft = lim_bytes(read_u64(cg, "memory", "memory.high"));
        hard = lim_bytes(read_u64(cg, "memory", "memory.max"));
        mfail = events.get("max").copied().unwrap_or(0);
        swap = read_u64(cg, "memory", "memory.swap.current").unwrap_or(0);
        swpeak = read_u64(cg, "memory", "memory.swap.peak");
        swlim = lim_bytes(read_u64(cg, "memory", "memory.swap.max"));
        swfail = swev.get("max").copied().unwrap_or(0);
    } else {
        usage = read_u64(cg, "memory", "memory.usage_in_bytes").unwrap_or(0);
        mpeak = read_u64(cg, "memory", "memory.max_usage_in_bytes");
        soft = lim_bytes(read_u64(cg, "memory", "memory.soft_limit_in_bytes"));
        let max = read_u64(cg, "memory", "memory.limit_in_bytes");
        hard = lim_bytes(max);
        mfail = read_u64(cg, "memory", "memory.failcnt").unwrap_or(0);
        let memsw = read_u64(cg, "memory", "memory.memsw.usage_in_bytes").unwrap_or(usage);
        swap = memsw.saturating_sub(usage);
        swpeak = None;
        let memsw_max = read_u64(cg, "memory", "memory.memsw.limit_in_bytes");
        swlim = match (max, memsw_max) {
            (Some(m), Some(s)) if s < (1 << 62) => pages(s.saturating_sub(m)),
            _ => UNLIMITED,
        };
        swfail = read_u64(cg, "memory", "memory.memsw.failcnt").unwrap_or(0);
    }
    rows.push(Row {
        resource: "physpages".into(),
        held: pages(usage),
        maxheld: peak("physpages", pages(usage), mpeak.map(pages)),
        barrier: soft,
        limit: hard,
        failcnt: mfail,
    });
    rows.push(Row {
        resource: "swappages".into(),
        held: pages(swap),
        maxheld: peak("swappages", pages(swap), swpeak.map(pages)),
        barrier: swlim,
        limit: swlim,
        failcnt: swfail,
    });

    let (b, l) = rlimit("Max open files", 1);
    rows.push(Row {
        resource: "numfile".into(),
        held: files,
        maxheld: peak("numfile", files, None),
        barrier: b,
        limit: l,
        failcnt: 0,
    });

    // cpuunits: the weight; cpulimit: quota in percent of one CPU, with
    // the periods the quota throttled as its failcnt.
    let shares = if v2 {
        read_u64(cg, "cpu", "cpu.weight").map(|w| 2 + (w.saturating_sub(1) * 262_142) / 9_999)
    } else {
        read_u64(cg, "cpu", "cpu.shares")
    }
    .unwrap_or(1024);
    rows.push(Row {
        resource: "cpuunits".into(),
        held: 0,
        maxheld: 0,
        barrier: shares,
        limit: shares,
        failcnt: 0,
    });
    let (quota, period) = if v2 {
        let text = super::read(cg, "cpu", "cpu.max").unwrap_or_default();
        let mut f = text.split_whitespace();
        (
            f.next().and_then(|q| q.parse::<u64>().ok()),
            f.next().and_then(|p| p.parse::<u64>().ok()),
        )
    } else {
        (
            super::read(cg, "cpu", "cpu.cfs_quota_us")
                .and_then(|q| q.trim().parse::<i64>().ok())
                .filter(|q| *q > 0)
                .map(|q| q as u64),
            read_u64(cg, "cpu", "cpu.cfs_period_us"),
        )
    };
    let pct = match (quota, period) {
        (Some(q), Some(p)) if p > 0 => q * 100 / p,
        _ => 0,
    };
    let throttled = read_keyed(cg, "cpu", "cpu.stat")
        .into_iter()
        .find_map(|(k, v)| (k == "nr_throttled").then_some(v))
        .unwrap_or(0);
    rows.push(Row {
        resource: "cpulimit".into(),
        held: 0,
        maxheld: 0,
        barrier: pct,
        limit: pct,
        failcnt: throttled,
    });
    rows.extend(hugepages(cg, &mut peak));
    rows
}

/// `hugetlb.<size>` per huge page size the hugetlb controller has for
/// the container, in pages of that size: from its v1 hierarchy, or from
/// the v2 files where hugetlb is on cgroup v2 (unified or hybrid).
fn hugepages(cg: &Path, peak: &mut impl FnMut(&str, u64, Option<u64>) -> u64) -> Vec<Row> {
    let v2 = super::speaks_v2("hugetlb");
    let mut rows = Vec::new();
    for size in super::hugepage_sizes() {
        let f = |v1: &str, v2_name: &str| {
            let name = if v2 { v2_name } else { v1 };
            format!("hugetlb.{size}.{name}")
        };
        let Some(usage) = read_u64(cg, "hugetlb", &f("usage_in_bytes", "current")) else {
            continue;
        };
        let page = page_bytes(&size);
        let in_pages = |b: u64| b / page;
        let limit = match read_u64(cg, "hugetlb", &f("limit_in_bytes", "max")) {
            Some(b) if b < (1 << 62) => in_pages(b),
            _ => UNLIMITED,
        };
        let (kernel_peak, failcnt) = if v2 {
            let events = read_keyed(cg, "hugetlb", &f("events", "events"));
            (
                None,
                events
                    .into_iter()
                    .find_map(|(k, v)| (k == "max").then_some(v))
                    .unwrap_or(0),
            )
        } else {
            // A reservation refused at mmap counts in rsvd.failcnt.
            let fails = |name: &str| read_u64(cg, "hugetlb", &f(name, "")).unwrap_or(0);
            (
                read_u64(cg, "hugetlb", &f("max_usage_in_bytes", "")).map(in_pages),
                fails("failcnt") + fails("rsvd.failcnt"),
            )
        };
        let resource = format!("hugetlb.{size}");
        let held = in_pages(usage);
        rows.push(Row {
            maxheld: peak(&resource, held, kernel_peak),
            resource,
            held,
            barrier: limit,
            limit,
            failcnt,
        });
    }
    rows
}

/// The bytes of a huge page named as hugetlb names it (`2MB`).
fn page_bytes(size: &str) -> u64 {
    let digits: String = size.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(1);
    match &size[digits.len()..] {
        "GB" => n << 30,
        "MB" => n << 20,
        "KB" => n << 10,
        _ => n,
    }
}

/// The table as OpenVZ printed it, one block per container.
pub fn format_table(blocks: &[(String, Vec<Row>)]) -> String {
    let mut out = String::from(
        "       uid  resource                     held              maxheld              barrier                limit              failcnt\n",
    );
    for (id, rows) in blocks {
        for (i, r) in rows.iter().enumerate() {
            let who = if i == 0 {
                format!("{id}:")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{who:>10}  {:<12} {:>20} {:>20} {:>20} {:>20} {:>20}\n",
                r.resource, r.held, r.maxheld, r.barrier, r.limit, r.failcnt
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openvz_values() {
        let s = parse("physpages", "1000:2000").unwrap();
        assert_eq!((s.barrier, s.limit), (Some(1000 * PAGE), Some(2000 * PAGE)));
        let s = parse("physpages", "256m:unlimited").unwrap();
        assert_eq!((s.barrier, s.limit), (Some(256 << 20), None));
        let s = parse("numproc", "64").unwrap();
        assert_eq!((s.barrier, s.limit), (Some(64), Some(64)));
        assert!(
            parse("nosuch", "1")
                .unwrap_err()
                .to_string()
                .contains("nosuch")
        );
        assert!(parse("numproc", "-5").is_err());
        assert!(
            parse("numproc", "10:5")
                .unwrap_err()
                .to_string()
                .contains("above")
        );
        assert!(parse("physpages", "12x").is_err());
        // Disk space is in bytes, inodes are counts.
        let s = parse("diskspace", "100m:120m").unwrap();
        assert_eq!((s.barrier, s.limit), (Some(100 << 20), Some(120 << 20)));
        let s = parse("diskinodes", "1000:2000").unwrap();
        assert_eq!((s.barrier, s.limit), (Some(1000), Some(2000)));
    }

    #[test]
    fn explicit_resources_win_with_a_warning() {
        let mut settings = BTreeMap::new();
        settings.insert(
            "physpages".to_string(),
            parse("physpages", "1g:2g").unwrap(),
        );
        settings.insert("numproc".to_string(), parse("numproc", "100").unwrap());
        let explicit: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":7}}"#).unwrap();
        let mut res = explicit.clone();
        let mut warnings = Vec::new();
        merge(&settings, &mut res, &explicit, &mut |w| warnings.push(w)).unwrap();
        assert_eq!(res.pids().unwrap().limit(), 7);
        assert_eq!(res.memory().unwrap().limit(), Some(2 << 30));
        if super::super::unified() {
            assert_eq!(
                res.unified().as_ref().unwrap()["memory.high"],
                (1u64 << 30).to_string()
            );
        } else {
            assert_eq!(res.memory().unwrap().reservation(), Some(1 << 30));
        }
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("numproc"));
    }
}
