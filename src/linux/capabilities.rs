//! `process.capabilities`: names become bitmasks before fork; in the init
//! the bounding set is dropped first (while we still hold CAP_SETPCAP), the
//! user is switched with keep-caps, then effective/permitted/inheritable are
//! set with one capset(2) and ambient capabilities raised one by one.

use std::str::FromStr;

use anyhow::{Context, Result};
use nix::errno::Errno;
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::process::protocol::{SetupError, SetupResult, Step};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

impl CapSets {
    pub fn from_spec(c: &LinuxCapabilities) -> Result<CapSets> {
        Ok(CapSets {
            bounding: mask(c.bounding(), "bounding")?,
            effective: mask(c.effective(), "effective")?,
            inheritable: mask(c.inheritable(), "inheritable")?,
            permitted: mask(c.permitted(), "permitted")?,
            ambient: mask(c.ambient(), "ambient")?,
        })
    }

    /// The names of the ambient capabilities the kernel will not raise
    /// (not both permitted and inheritable). runc 1.2+ warns and goes on
    /// without them, and so does vzrun (`apply` skips them).
    pub fn unraisable_ambient(&self, c: &LinuxCapabilities) -> Vec<String> {
        let raisable = self.permitted & self.inheritable;
        c.ambient()
            .iter()
            .flatten()
            .filter_map(|cap| {
                let name = serde_json::to_value(cap).ok()?.as_str()?.to_string();
                let bit = caps::Capability::from_str(&name).ok()?.index();
                (raisable & (1 << bit) == 0).then_some(name)
            })
            .collect()
    }

    /// Drops every capability not in the bounding set.
    pub fn drop_bounding(&self) -> SetupResult<()> {
        for cap in 0..64u64 {
            if self.bounding & (1 << cap) != 0 {
                continue;
            }
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if rc != 0 {
                match Errno::last() {
                    // Past the last capability this kernel knows.
                    Errno::EINVAL => break,
                    e => {
                        return Err(SetupError::new(Step::Capabilities, "")
                            .detail(format!("drop capability {cap} from the bounding set"))
                            .errno(e));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets effective, permitted and inheritable, then the ambient set.
    pub fn apply(&self) -> SetupResult<()> {
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [
            CapData {
                effective: self.effective as u32,
                permitted: self.permitted as u32,
                inheritable: self.inheritable as u32,
            },
            CapData {
                effective: (self.effective >> 32) as u32,
                permitted: (self.permitted >> 32) as u32,
                inheritable: (self.inheritable >> 32) as u32,
            },
        ];
        // SAFETY: header and data are correctly laid out v3 capability
        // structs (two data elements) that live across the call.
        let rc =
            unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
        if rc != 0 {
            return Err(SetupError::new(Step::Capabilities, "")
                .detail("capset")
                .errno(Errno::last()));
        }
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        // The kernel only lets a capability be ambient when it is also
        // permitted and inheritable; runc's default config lists ambient
        // capabilities without inheritable ones, and runc skips those too.
        let raisable = self.ambient & self.permitted & self.inheritable;
        for cap in 0..64u64 {
            if raisable & (1 << cap) == 0 {
                continue;
            }
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            if rc != 0 {
                return Err(SetupError::new(Step::Capabilities, "")
                    .detail(format!("raise ambient capability {cap}"))
                    .errno(Errno::last()));
            }
        }
        Ok(())
    }
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn mask(set: &Option<Capabilities>, which: &str) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.iter().flatten() {
        // oci-spec serializes a capability as its kernel name, "CAP_KILL".
        let name = serde_json::to_value(cap)?;
        let name = name.as_str().unwrap_or_default();
        let c = caps::Capability::from_str(name)
            .with_context(|| format!("{which}: unknown capability {name}"))?;
        m |= 1 << c.index();
    }
    Ok(m)
}

/// Keeps permitted capabilities across the switch away from uid 0.
pub fn keep_caps(on: bool) -> SetupResult<()> {
    nix::sys::prctl::set_keepcaps(on).map_err(|e| {
        SetupError::new(Step::Capabilities, "")
            .detail("keep capabilities")
            .errno(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_default_set() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL"]}"#,
        )
        .unwrap();
        let s = CapSets::from_spec(&c).unwrap();
        assert_eq!(s.bounding, 0x2000_0420);
        assert_eq!(s.effective, 1 << 5);
        assert_eq!(s.ambient, 0);
    }
}
