//! `vzrun spec`: writes the default `config.json` that runc writes (a
//! `sh` with a terminal, the usual mounts and namespaces, three
//! capabilities), or its `--rootless` variant.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write config.json to (default: the current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a config for a container run by an unprivileged user
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(_g: &Global, a: Args) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("File config.json exists. Remove it first");
    }
    let spec = if a.rootless {
        rootless(default_spec())
    } else {
        default_spec()
    };
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    spec.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))?;
    std::fs::write(&path, out).with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

pub fn default_spec() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": crate::container::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "vzrun",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// runc's rootless changes: a user namespace mapping the caller to root, no
/// network namespace, no cgroup resources, `/sys` bound from the host, and
/// no `gid=5` on devpts (that group is not mapped).
fn rootless(mut s: Value) -> Value {
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let linux = &mut s["linux"];
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    let ns = linux["namespaces"]
        .as_array_mut()
        .expect("default has namespaces");
    ns.retain(|n| n["type"] != "network");
    ns.push(json!({"type": "user"}));
    if let Some(o) = linux.as_object_mut() {
        o.remove("resources");
    }
    for m in s["mounts"].as_array_mut().expect("default has mounts") {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if m["destination"] == "/dev/pts"
            && let Some(opts) = m["options"].as_array_mut()
        {
            opts.retain(|o| o != "gid=5");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_spec_parses_into_a_valid_plan_shape() {
        let text = serde_json::to_vec(&super::default_spec()).unwrap();
        crate::spec::parse(&text).unwrap();
        let rl = serde_json::to_vec(&super::rootless(super::default_spec())).unwrap();
        crate::spec::parse(&rl).unwrap();
    }
}
