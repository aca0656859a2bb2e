//! Linux security modules: `process.apparmorProfile` and
//! `process.selinuxLabel`, applied to the next execve by writing the
//! process's own attr files. A profile on a host without AppArmor is refused
//! when config.json is loaded; an SELinux label on a host without SELinux is
//! ignored, as runc does.

use std::path::Path;

use super::procfs;
use crate::process::protocol::{At, SetupResult, Step};

/// Whether SELinux is enabled on this host (a label means nothing
/// without it).
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

pub fn apply(apparmor: Option<&str>, selinux: Option<&str>) -> SetupResult<()> {
    if let Some(profile) = apparmor.filter(|p| !p.is_empty()) {
        // Newer kernels have a per-LSM directory; older ones only the
        // shared file.
        let path = if procfs::open("self/attr/apparmor", nix::fcntl::OFlag::O_PATH).is_ok() {
            "self/attr/apparmor/exec"
        } else {
            "self/attr/exec"
        };
        procfs::write(path, format!("exec {profile}").as_bytes())
            .at(Step::Lsm, format!("apparmor profile {profile}"))?;
    }
    if let Some(label) = selinux.filter(|l| !l.is_empty())
        && selinux_enabled()
    {
        procfs::write("self/attr/exec", label.as_bytes())
            .at(Step::Lsm, format!("selinux label {label}"))?;
    }
    Ok(())
}
