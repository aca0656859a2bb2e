//! Container statistics shaped as runc's `events` prints them, so tools
//! written against runc's JSON (`{"type":"stats","id":…,"data":{…}}`) read
//! ours unchanged.

use std::collections::HashMap;
use std::path::Path;

use libcgroups::stats::{BlkioDeviceStat, HugeTlbStats, MemoryData, Stats};
use serde_json::{Value, json};

/// The `data` object of a runc `stats` event, with runc's keys: empty
/// lists and a zero cache are left out (runc's omitempty), and the Intel
/// RDT and network sections, which vzrun has no data for, are empty as in
/// runc without them. `path` is the container's cgroup, for the cpuset.
pub fn to_runc(s: &Stats, path: &Path) -> Value {
    let mem = |m: &MemoryData| json!({"usage": m.usage, "max": m.max_usage, "failcnt": m.fail_count, "limit": m.limit});
    let blk = |v: &[BlkioDeviceStat]| -> Value {
        v.iter()
            .map(|e| {
                json!({"major": e.major, "minor": e.minor,
                       "op": e.op_type.clone().unwrap_or_default(), "value": e.value})
            })
            .collect()
    };
    let b = &s.blkio;
    let blkio: serde_json::Map<String, Value> = [
        ("ioServiceBytesRecursive", &b.service_bytes),
        ("ioServicedRecursive", &b.serviced),
        ("ioQueueRecursive", &b.queued),
        ("ioServiceTimeRecursive", &b.service_time),
        ("ioWaitTimeRecursive", &b.wait_time),
        ("ioMergedRecursive", &b.merged),
        ("ioTimeRecursive", &b.time),
        ("sectorsRecursive", &b.sectors),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_string(), blk(v)))
    .collect();
    let mut memory = json!({
        "usage": mem(&s.memory.memory),
        "swap": mem(&s.memory.memswap),
        "kernel": mem(&s.memory.kernel),
        "kernelTCP": mem(&s.memory.kernel_tcp),
        "raw": s.memory.stats,
    });
    if s.memory.cache != 0 {
        memory["cache"] = json!(s.memory.cache);
    }
    let hugetlb: serde_json::Map<String, Value> = s
        .hugetlb
        .iter()
        .map(|(size, h)| {
            (
                size.clone(),
                json!({"usage": h.usage, "max": h.max_usage, "failcnt": h.fail_count}),
            )
        })
        .collect();
    let c = &s.cpu;
    json!({
        "cpu": {
            "usage": {
                "total": c.usage.usage_total,
                "percpu": c.usage.per_core_usage_total,
                "percpu_kernel": c.usage.per_core_usage_kernel,
                "percpu_user": c.usage.per_core_usage_user,
                "kernel": c.usage.usage_kernel,
                "user": c.usage.usage_user,
            },
            "throttling": {
                "periods": c.throttling.periods,
                "throttled_periods": c.throttling.throttled_periods,
                "throttled_time": c.throttling.throttled_time,
            },
        },
        "cpuset": cpuset(path),
        "memory": memory,
        "pids": {"current": s.pids.current, "limit": s.pids.limit},
        "blkio": blkio,
        "hugetlb": hugetlb,
        "intel_rdt": {},
        "network_interfaces": null,
    })
}

/// runc's `cpuset` section: the CPUs and memory nodes as lists, and the v1
/// flags (0 where the file does not exist, as on cgroup v2).
fn cpuset(path: &Path) -> Value {
    let read = |name: &str| std::fs::read_to_string(super::file(path, "cpuset", name)).ok();
    let list = |name: &str, v2: &str| -> Value {
        let text = read(name).or_else(|| read(v2)).unwrap_or_default();
        json!(super::parse_list(text.trim()).unwrap_or_default())
    };
    let mut out = serde_json::Map::new();
    out.insert("cpus".into(), list("cpuset.cpus", "cpuset.cpus.effective"));
    out.insert("mems".into(), list("cpuset.mems", "cpuset.mems.effective"));
    for flag in [
        "cpu_exclusive",
        "mem_hardwall",
        "mem_exclusive",
        "memory_migrate",
        "memory_spread_page",
        "memory_spread_slab",
        "memory_pressure",
        "sched_load_balance",
        "sched_relax_domain_level",
    ] {
        let v: i64 = read(&format!("cpuset.{flag}"))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        out.insert(flag.into(), json!(v));
    }
    Value::Object(out)
}

/// Statistics of a cgroup v2 directory, from the files that exist there
/// (a controller that is not enabled simply reads as zeros).
pub fn read_v2(path: &Path) -> Stats {
    use super::{read, read_keyed, read_u64};
    let keyed = |f: &str| -> HashMap<String, u64> { read_keyed(path, "", f).into_iter().collect() };
    let limit = |f: &str| read_u64(path, "", f).unwrap_or(u64::MAX);
    let mut s = Stats::default();

    let cpu = keyed("cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage.usage_total = us("usage_usec");
    s.cpu.usage.usage_user = us("user_usec");
    s.cpu.usage.usage_kernel = us("system_usec");
    s.cpu.throttling.periods = cpu.get("nr_periods").copied().unwrap_or(0);
    s.cpu.throttling.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
    s.cpu.throttling.throttled_time = us("throttled_usec");

    let events = keyed("memory.events");
    let swap_events = keyed("memory.swap.events");
    s.memory.memory = MemoryData {
        usage: read_u64(path, "", "memory.current").unwrap_or(0),
        max_usage: read_u64(path, "", "memory.peak").unwrap_or(0),
        fail_count: events.get("max").copied().unwrap_or(0),
        limit: limit("memory.max"),
    };
    s.memory.memswap = MemoryData {
        usage: read_u64(path, "", "memory.swap.current").unwrap_or(0),
        max_usage: read_u64(path, "", "memory.swap.peak").unwrap_or(0),
        fail_count: swap_events.get("max").copied().unwrap_or(0),
        limit: limit("memory.swap.max"),
    };
    s.memory.stats = keyed("memory.stat");
    s.memory.cache = s.memory.stats.get("file").copied().unwrap_or(0);
    s.memory.hierarchy = true;

    s.pids.current = read_u64(path, "", "pids.current").unwrap_or(0);
    s.pids.limit = read_u64(path, "", "pids.max").unwrap_or(0);

    // io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ..."
    for line in read(path, "", "io.stat").unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut s.blkio.service_bytes, "Read"),
                "wbytes" => (&mut s.blkio.service_bytes, "Write"),
                "rios" => (&mut s.blkio.serviced, "Read"),
                "wios" => (&mut s.blkio.serviced, "Write"),
                _ => continue,
            };
            list.push(BlkioDeviceStat {
                major,
                minor,
                op_type: Some(op.to_string()),
                value,
            });
        }
    }

    s.hugetlb = hugetlb_v2(path);
    s
}

/// hugetlb statistics from v2 files, per page size the kernel has: in the
/// unified directory, or on a hybrid host's cgroup2 mount. v2 keeps no
/// peak.
pub fn hugetlb_v2(path: &Path) -> HashMap<String, HugeTlbStats> {
    use super::{read_keyed, read_u64};
    let mut out = HashMap::new();
    for size in super::hugepage_sizes() {
        if let Some(usage) = read_u64(path, "hugetlb", &format!("hugetlb.{size}.current")) {
            let fail_count = read_keyed(path, "hugetlb", &format!("hugetlb.{size}.events"))
                .into_iter()
                .find_map(|(k, v)| (k == "max").then_some(v))
                .unwrap_or(0);
            out.insert(
                size,
                HugeTlbStats {
                    usage,
                    max_usage: 0,
                    fail_count,
                },
            );
        }
    }
    out
}
