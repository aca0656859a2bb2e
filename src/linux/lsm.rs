//! Linux security modules: `process.apparmorProfile` and
//! `process.selinuxLabel`, applied to the next execve by writing the
//! process's own attr files. A profile on a host without AppArmor is refused
//! when config.json is loaded; an SELinux label on a host without SELinux is
//! ignored, as runc does.

use std::path::Path;

use super::{At, SetupResult, Step};

pub fn apply(apparmor: Option<&str>, selinux: Option<&str>) -> SetupResult<()> {
    if let Some(profile) = apparmor.filter(|p| !p.is_empty()) {
        // Newer kernels have a per-LSM directory; older ones only the
        // shared file.
        let path = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        std::fs::write(path, format!("exec {profile}"))
            .at(Step::Lsm, format!("apparmor profile {profile}"))?;
    }
    if let Some(label) = selinux.filter(|l| !l.is_empty())
        && Path::new("/sys/fs/selinux/enforce").exists()
    {
        std::fs::write("/proc/self/attr/exec", label)
            .at(Step::Lsm, format!("selinux label {label}"))?;
    }
    Ok(())
}
