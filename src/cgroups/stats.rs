//! Container statistics shaped as runc's `events` prints them, so tools
//! written against runc's JSON (`{"type":"stats","id":…,"data":{…}}`) read
//! ours unchanged.

use libcgroups::stats::{BlkioDeviceStat, MemoryData, Stats};
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
