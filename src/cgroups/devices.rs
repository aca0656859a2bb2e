//! `linux.resources.devices` changed without a window. The v1 devices
//! controller is a default (allow or deny) with exceptions, changed one
//! line at a time: replaying a container's rules from "deny everything"
//! would leave it without its devices for a moment, and replaying them on
//! top of the old ones would not take an old allowance back. Instead the
//! rules are played on a model of the kernel's list, and only the
//! difference is written: allowances first, then withdrawals, so at every
//! moment each device is allowed by the old rules or by the new ones.
//! On cgroup v2 the eBPF filter that holds the rules is replaced in one
//! step (`replace_v2_filter`).

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType};

/// Devices every container may use whatever its rules say, after them:
/// creating any node (`m`), and the standard ones (null, zero, full, tty,
/// urandom, random, console, the pty master and slaves, tun).
const ALWAYS_ALLOWED: [(char, Option<i64>, Option<i64>, &str); 12] = [
    ('c', Some(1), Some(3), "rwm"),
    ('c', Some(1), Some(5), "rwm"),
    ('c', Some(1), Some(7), "rwm"),
    ('c', Some(5), Some(0), "rwm"),
    ('c', Some(1), Some(9), "rwm"),
    ('c', Some(1), Some(8), "rwm"),
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(5), Some(1), "rwm"),
    ('c', Some(136), None, "rwm"),
    ('c', Some(5), Some(2), "rwm"),
    ('c', Some(10), Some(200), "rwm"),
];

/// [`ALWAYS_ALLOWED`] as allow rules.
pub fn always_allowed() -> Vec<LinuxDeviceCgroup> {
    ALWAYS_ALLOWED
        .iter()
        .map(|(t, major, minor, access)| {
            let mut b = LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(if *t == 'b' {
                    LinuxDeviceType::B
                } else {
                    LinuxDeviceType::C
                })
                .access(*access);
            if let Some(m) = major {
                b = b.major(*m);
            }
            if let Some(m) = minor {
                b = b.minor(*m);
            }
            b.build().expect("a complete device rule")
        })
        .collect()
}

/// cgroup v2: replaces the one eBPF device filter attached to the cgroup
/// at `dir` by one for `rules` (then [`ALWAYS_ALLOWED`]) in a single
/// BPF_PROG_ATTACH with BPF_F_REPLACE. libcgroups, which runs next, puts
/// its program beside the one attached and then detaches that one: while
/// both are attached a device must pass both, so without this an update
/// would briefly leave only the devices the old and new rules share. With
/// no filter attached yet (a new container) there is nothing to replace.
pub fn replace_v2_filter(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    use libcgroups::v2::devices::{bpf::prog, emulator::Emulator, program::Program};
    let cgroup = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    let attached = prog::query(cgroup.as_raw_fd()).context("list the device filters")?;
    // SAFETY: each descriptor was returned to us by the query and is ours.
    let attached: Vec<std::os::fd::OwnedFd> = attached
        .iter()
        .map(|p| unsafe { std::os::fd::FromRawFd::from_raw_fd(p.fd) })
        .collect();
    let [old] = attached.as_slice() else {
        return Ok(());
    };
    let mut emulator = Emulator::with_default_allow(false);
    emulator.add_rules(rules);
    emulator.add_rules(&always_allowed());
    let program = Program::from_rules(&emulator.rules, emulator.default_allow)
        .context("build the device filter")?;
    prog::bump_memlock_rlimit().context("raise RLIMIT_MEMLOCK for the device filter")?;
    let new = prog::load("Apache", program.bytecodes()).context("load the device filter")?;
    // SAFETY: the descriptor was just returned by the load and is ours.
    let new: std::os::fd::OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(new) };
    #[repr(C)]
    struct AttachAttr {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        replace_bpf_fd: u32,
    }
    const BPF_PROG_ATTACH: libc::c_long = 8;
    const BPF_CGROUP_DEVICE: u32 = 6;
    const BPF_F_ALLOW_MULTI: u32 = 2;
    const BPF_F_REPLACE: u32 = 4;
    let attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: new.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI | BPF_F_REPLACE,
        replace_bpf_fd: old.as_raw_fd() as u32,
    };
    // SAFETY: bpf(2) reads a bpf_attr prefix of the size given from a
    // repr(C) struct of the kernel's layout that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const AttachAttr,
            std::mem::size_of::<AttachAttr>(),
        )
    };
    nix::errno::Errno::result(rc)
        .map(drop)
        .with_context(|| format!("replace the device filter of {}", dir.display()))
}

/// Type (`a`, `c`, `b`), major and minor (`None` is `*`).
type Key = (char, Option<i64>, Option<i64>);

const R: u8 = 1;
const W: u8 = 2;
const M: u8 = 4;

/// What the devices controller holds for a cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList {
    default_allow: bool,
    exceptions: BTreeMap<Key, u8>,
}

impl DeviceList {
    /// A cgroup's list as `devices.list` shows it: in allow-by-default
    /// mode only `a *:* rwm` (the kernel does not show the exceptions).
    pub fn parse(text: &str) -> DeviceList {
        let mut list = DeviceList {
            default_allow: false,
            exceptions: BTreeMap::new(),
        };
        for line in text.lines() {
            let Some((key, access)) = parse_line(line) else {
                continue;
            };
            if key.0 == 'a' {
                list.default_allow = true;
                list.exceptions.clear();
                break;
            }
            *list.exceptions.entry(key).or_default() |= access;
        }
        list
    }

    /// The list a cgroup that starts as `parent` ends with after `rules`,
    /// in order, and then `always` (allowances every container gets).
    pub fn after(parent: &DeviceList, rules: &[LinuxDeviceCgroup], always: &[String]) -> Self {
        let mut list = parent.clone();
        for r in rules {
            list.write(r.allow(), &rule_line(r));
        }
        for a in always {
            list.write(true, a);
        }
        list
    }

    /// What writing `line` to devices.allow (or .deny) does in the kernel.
    fn write(&mut self, allow: bool, line: &str) {
        let Some((key, access)) = parse_line(line) else {
            return;
        };
        if key.0 == 'a' {
            // "a" resets the default and forgets every exception.
            self.default_allow = allow;
            self.exceptions.clear();
            return;
        }
        if allow == self.default_allow {
            // Same as the default: the exception's bits are withdrawn.
            if let Some(bits) = self.exceptions.get_mut(&key) {
                *bits &= !access;
                if *bits == 0 {
                    self.exceptions.remove(&key);
                }
            }
        } else {
            *self.exceptions.entry(key).or_default() |= access;
        }
    }

    /// The writes that take a cgroup from `self` to `to`: `(allow, line)`
    /// for devices.allow or devices.deny.
    pub fn writes_to(&self, to: &DeviceList) -> Vec<(bool, String)> {
        // The kernel hides the exceptions of an allow-by-default list, so
        // from one (or to a different default) the list is reset with "a".
        if self.default_allow || self.default_allow != to.default_allow {
            let mut out = vec![(to.default_allow, "a *:* rwm".to_string())];
            for (k, a) in &to.exceptions {
                out.push((!to.default_allow, line(k, *a)));
            }
            return out;
        }
        let bits = |l: &DeviceList, k: &Key| l.exceptions.get(k).copied().unwrap_or(0);
        let mut out = Vec::new();
        for (k, a) in &to.exceptions {
            let missing = a & !bits(self, k);
            if missing != 0 {
                out.push((true, line(k, missing)));
            }
        }
        for (k, a) in &self.exceptions {
            let extra = a & !bits(to, k);
            if extra != 0 {
                out.push((false, line(k, extra)));
            }
        }
        out
    }
}

/// One rule as the kernel's `devices.allow` line.
pub fn rule_line(d: &LinuxDeviceCgroup) -> String {
    let t = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::P => 'p',
        LinuxDeviceType::A => 'a',
    };
    // The spec's default: a rule without access covers all of it (an
    // empty access would make the kernel ignore the rule).
    let access = d
        .access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
    format!("{t} {}:{} {access}", n(d.major()), n(d.minor()))
}

fn parse_line(line: &str) -> Option<(Key, u8)> {
    let mut parts = line.split_whitespace();
    let t = parts.next()?.chars().next()?;
    if t == 'a' {
        return Some((('a', None, None), R | W | M));
    }
    let (major, minor) = parts.next()?.split_once(':')?;
    let n = |s: &str| if s == "*" { None } else { s.parse().ok() };
    let mut access = 0;
    for c in parts.next().unwrap_or("rwm").chars() {
        access |= match c {
            'r' => R,
            'w' => W,
            'm' => M,
            _ => 0,
        };
    }
    Some(((t, n(major), n(minor)), access))
}

fn line(k: &Key, access: u8) -> String {
    let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
    let mut a = String::new();
    for (bit, c) in [(R, 'r'), (W, 'w'), (M, 'm')] {
        if access & bit != 0 {
            a.push(c);
        }
    }
    format!("{} {}:{} {a}", k.0, n(k.1), n(k.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(
        allow: bool,
        t: LinuxDeviceType,
        major: i64,
        minor: i64,
        access: &str,
    ) -> LinuxDeviceCgroup {
        LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(t)
            .major(major)
            .minor(minor)
            .access(access)
            .build()
            .unwrap()
    }

    fn deny_all() -> LinuxDeviceCgroup {
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap()
    }

    #[test]
    fn an_update_writes_only_the_difference_allowances_first() {
        let host = DeviceList::parse("a *:* rwm\n");
        let always = ["c 1:3 rwm".to_string()];
        let fuse = rule(true, LinuxDeviceType::C, 10, 229, "rw");
        let tun = rule(true, LinuxDeviceType::C, 10, 200, "rwm");
        let old = DeviceList::after(&host, &[deny_all(), fuse.clone()], &always);
        let new = DeviceList::after(&host, &[deny_all(), tun], &always);
        assert_eq!(
            old.writes_to(&new),
            [
                (true, "c 10:200 rwm".to_string()),
                (false, "c 10:229 rw".to_string())
            ]
        );
        // No change, no write: nothing to open a window.
        assert!(old.writes_to(&old).is_empty());
        // The kernel's own view of the old list parses to the same model.
        assert_eq!(DeviceList::parse("c 1:3 rwm\nc 10:229 rw\n"), old);
    }

    #[test]
    fn from_allow_all_the_list_is_reset_first() {
        let host = DeviceList::parse("a *:* rwm\n");
        let new = DeviceList::after(&host, &[deny_all()], &["c 1:3 rwm".to_string()]);
        assert_eq!(
            host.writes_to(&new),
            [
                (false, "a *:* rwm".to_string()),
                (true, "c 1:3 rwm".to_string())
            ]
        );
    }

    #[test]
    fn a_deny_withdraws_only_its_bits() {
        let host = DeviceList::parse("a *:* rwm\n");
        let rules = [
            deny_all(),
            rule(true, LinuxDeviceType::C, 10, 229, "rwm"),
            rule(false, LinuxDeviceType::C, 10, 229, "w"),
        ];
        let l = DeviceList::after(&host, &rules, &[]);
        assert_eq!(l, DeviceList::parse("c 10:229 rm\n"));
    }

    #[test]
    fn device_rules_are_written_as_the_kernel_reads_them() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(rule_line(&deny_all), "a *:* rwm");
        let fuse = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(rule_line(&fuse), "c 10:229 rw");
        let any_block = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::B)
            .build()
            .unwrap();
        assert_eq!(rule_line(&any_block), "b *:* rwm");
    }
}
