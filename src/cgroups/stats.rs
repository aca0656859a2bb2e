//! Container statistics shaped as runc's `events` prints them, so tools
//! written against runc's JSON (`{"type":"stats","id":…,"data":{…}}`) read
//! ours unchanged.

use std::collections::HashMap;
use std::path::Path;

use libcgroups::stats::{BlkioDeviceStat, HugeTlbStats, MemoryData, Stats};
use serde_json::{Value, json};

/// The `data` object of a runc `stats` event.
pub fn to_runc(s: &Stats) -> Value {
    let mem = |m: &MemoryData| json!({"usage": m.usage, "max": m.max_usage, "failcnt": m.fail_count, "limit": m.limit});
    let blk = |v: &[BlkioDeviceStat]| -> Value {
        v.iter()
            .map(|e| {
                json!({"major": e.major, "minor": e.minor,
                       "op": e.op_type.clone().unwrap_or_default(), "value": e.value})
            })
            .collect()
    };
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
        "memory": {
            "cache": s.memory.cache,
            "usage": mem(&s.memory.memory),
            "swap": mem(&s.memory.memswap),
            "kernel": mem(&s.memory.kernel),
            "kernelTCP": mem(&s.memory.kernel_tcp),
            "raw": s.memory.stats,
        },
        "pids": {"current": s.pids.current, "limit": s.pids.limit},
        "blkio": {
            "ioServiceBytesRecursive": blk(&s.blkio.service_bytes),
            "ioServicedRecursive": blk(&s.blkio.serviced),
            "ioQueueRecursive": blk(&s.blkio.queued),
            "ioServiceTimeRecursive": blk(&s.blkio.service_time),
            "ioWaitTimeRecursive": blk(&s.blkio.wait_time),
            "ioMergedRecursive": blk(&s.blkio.merged),
            "ioTimeRecursive": blk(&s.blkio.time),
            "sectorsRecursive": blk(&s.blkio.sectors),
        },
        "hugetlb": hugetlb,
    })
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
