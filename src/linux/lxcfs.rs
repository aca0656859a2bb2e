//! A /proc that tells the truth about the container, as OpenVZ's kernel
//! gave its containers: `free`, `top`, `nproc`, `uptime`, JVMs and build
//! tools read /proc/meminfo, /proc/cpuinfo, /proc/stat and
//! /sys/devices/system/cpu and would otherwise size themselves for the
//! whole host. lxcfs (a FUSE filesystem the host runs) computes those
//! files for whichever process reads them, from that process's cgroups;
//! the container gets its files bound over its own /proc and /sys ones.
//!
//! Asked for per container by the annotation `org.openvz.proc=virtual`
//! (`host` opts out), or for every container by the global
//! `--proc-view virtual`. The binds become ordinary mounts of the plan,
//! placed right after the container's /proc and /sys mounts and so before
//! masked and read-only paths apply; exec'd processes enter the same mount
//! namespace and see the same view. This module decides which binds; it
//! does not mount.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

pub const ANNOTATION: &str = "org.openvz.proc";

/// Where Debian's lxcfs service mounts it.
pub const DEFAULT_PATH: &str = "/var/lib/lxcfs";

/// The files and directories lxcfs virtualises, relative to its mount and
/// to the container's root. Those a given lxcfs lacks (slabinfo came in
/// 5.0) are left alone.
const VIRTUALISED: &[&str] = &[
    "proc/meminfo",
    "proc/cpuinfo",
    "proc/stat",
    "proc/uptime",
    "proc/loadavg",
    "proc/diskstats",
    "proc/swaps",
    "proc/slabinfo",
    "sys/devices/system/cpu",
];

/// FUSE's statfs magic, which lxcfs's mount reports.
const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The kernel's /proc, which describes the host.
    Host,
    /// lxcfs's files over /proc and /sys/devices/system/cpu.
    Virtual,
}

/// The view a container gets: its annotation's, else the runtime's default.
pub fn view(annotation: Option<&str>, default: View) -> Result<View> {
    match annotation {
        None => Ok(default),
        Some("virtual") => Ok(View::Virtual),
        Some("host") => Ok(View::Host),
        Some(other) => {
            bail!("annotations[{ANNOTATION:?}]: {other:?} is neither \"virtual\" nor \"host\"")
        }
    }
}

/// The binds (host source, container destination) of a virtual view from
/// the lxcfs mounted at `at`; an error when no lxcfs is mounted there.
/// `/sys` binds only when the container mounts a /sys of its own.
pub fn binds(at: &Path, with_sys: bool) -> Result<Vec<(PathBuf, PathBuf)>> {
    let fuse =
        nix::sys::statfs::statfs(at).is_ok_and(|s| s.filesystem_type().0 == FUSE_SUPER_MAGIC);
    if !fuse || !at.join("proc/meminfo").exists() {
        bail!(
            "annotations[{ANNOTATION:?}] virtual: lxcfs is not running at {} (no FUSE mount with \
             proc/meminfo there); start it (`lxcfs {}`) or name its mount with --lxcfs-path",
            at.display(),
            at.display()
        );
    }
    Ok(VIRTUALISED
        .iter()
        .filter(|f| with_sys || !f.starts_with("sys/"))
        .map(|f| (at.join(f), Path::new("/").join(f)))
        .filter(|(source, _)| source.exists())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotation_wins_over_the_default() {
        assert_eq!(view(None, View::Virtual).unwrap(), View::Virtual);
        assert_eq!(view(Some("host"), View::Virtual).unwrap(), View::Host);
        assert_eq!(view(Some("virtual"), View::Host).unwrap(), View::Virtual);
        let e = view(Some("yes"), View::Host).unwrap_err().to_string();
        assert!(
            e.contains("org.openvz.proc") && e.contains("\"yes\""),
            "{e}"
        );
    }

    #[test]
    fn no_lxcfs_is_an_error_naming_the_path() {
        let e = binds(Path::new("/tmp"), true).unwrap_err().to_string();
        assert!(e.contains("lxcfs is not running at /tmp"), "{e}");
    }
}
