//! Linux security modules: `process.apparmorProfile` and
//! `process.selinuxLabel`, applied to the next execve by writing the
//! process's own attr files. A profile on a host without AppArmor is refused
//! when config.json is loaded; an SELinux label on a host without SELinux is
//! ignored, as runc does.

use std::path::Path;

use super::{At, SetupResult, Step};

/// Writes a /proc file after checking that it really is on procfs: a
/// mount placed over /proc by the container's config or image must not
/// receive the write (CVE-2025-52881).
fn write_proc(path: &str, data: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let st = nix::sys::statfs::fstatfs(&f).map_err(std::io::Error::from)?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(std::io::Error::other(format!("{path} is not on procfs")));
    }
    f.write_all(data.as_bytes())
}

pub fn apply(apparmor: Option<&str>, selinux: Option<&str>) -> SetupResult<()> {
    if let Some(profile) = apparmor.filter(|p| !p.is_empty()) {
        // Newer kernels have a per-LSM directory; older ones only the
        // shared file.
        let path = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        write_proc(path, &format!("exec {profile}"))
            .at(Step::Lsm, format!("apparmor profile {profile}"))?;
    }
    if let Some(label) = selinux.filter(|l| !l.is_empty())
        && Path::new("/sys/fs/selinux/enforce").exists()
    {
        write_proc("/proc/self/attr/exec", label)
            .at(Step::Lsm, format!("selinux label {label}"))?;
    }
    Ok(())
}
