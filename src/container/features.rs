//! `features`: what this binary supports on this host, in the shape of the
//! runtime-spec's features.md (runc's JSON), so that CRI-O and containerd
//! learn it at start. Every value is what vzrun really does here: a field
//! it refuses is reported disabled, not promised.

use serde_json::{Value, json};

use crate::linux::{lsm, mounts, seccomp};

pub fn features() -> Value {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::spec::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": mounts::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": true,
                "systemdUser": true,
                "rdma": crate::cgroups::unified(),
            },
            "seccomp": {
                "enabled": true,
                "actions": seccomp::ACTIONS,
                "operators": seccomp::OPERATORS,
                "archs": seccomp::ARCHES,
                "knownFlags": seccomp::FLAGS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                "supportedFlags": seccomp::supported_flags(),
            },
            "apparmor": {"enabled": crate::spec::apparmor_enabled()},
            "selinux": {"enabled": lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true},
            "memoryPolicy": {
                "modes": ["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE",
                          "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED",
                          "MPOL_PREFERRED_MANY", "MPOL_LOCAL"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES",
                          "MPOL_F_STATIC_NODES"],
            },
        },
        "annotations": {
            "org.openvz.vzrun.version": env!("CARGO_PKG_VERSION"),
            "org.openvz.vzrun.commit": env!("VZRUN_COMMIT"),
            "org.opencontainers.runc.checkpoint.enabled": "false",
        },
    })
}
