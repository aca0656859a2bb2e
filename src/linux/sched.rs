//! How the container's process runs on the machine's CPUs, memory and
//! disks: `process.scheduler` (sched_setattr), `process.ioPriority`
//! (ioprio_set), `linux.personality` (personality) and `linux.memoryPolicy`
//! (set_mempolicy), each parsed from the config before fork and applied by
//! the child before it switches user; `process.execCPUAffinity`
//! (sched_setaffinity), set by the runtime on an exec'd process around its
//! move into the container's cgroup.

use anyhow::{Result, bail};
use nix::sched::CpuSet;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
    Scheduler,
};

use crate::process::protocol::{SetupError, SetupResult, Step};

/// `process.scheduler` as the kernel's `struct sched_attr` (its first,
/// 48-byte version, which every kernel since 3.14 takes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

impl SchedAttr {
    pub fn from_spec(s: &Scheduler) -> Result<SchedAttr> {
        use LinuxSchedulerPolicy as P;
        let policy = match s.policy() {
            P::SchedOther => libc::SCHED_OTHER,
            P::SchedFifo => libc::SCHED_FIFO,
            P::SchedRr => libc::SCHED_RR,
            P::SchedBatch => libc::SCHED_BATCH,
            P::SchedIdle => libc::SCHED_IDLE,
            P::SchedDeadline => 6,
            P::SchedIso => bail!("policy: SCHED_ISO is reserved and not implemented by Linux"),
        } as u32;
        let realtime = matches!(s.policy(), P::SchedFifo | P::SchedRr);
        let deadline = *s.policy() == P::SchedDeadline;
        let nice = s.nice().unwrap_or(0);
        if !(-20..=19).contains(&nice) {
            bail!("nice: {nice} is outside -20..19");
        }
        let priority = s.priority().unwrap_or(0);
        if realtime && !(1..=99).contains(&priority) {
            bail!("priority: {priority} is outside 1..99 for a real-time policy");
        }
        if !realtime && priority != 0 {
            bail!("priority: only SCHED_FIFO and SCHED_RR take a priority (got {priority})");
        }
        let (runtime, dl, period) = (
            s.runtime().unwrap_or(0),
            s.deadline().unwrap_or(0),
            s.period().unwrap_or(0),
        );
        if !deadline && (runtime | dl | period) != 0 {
            bail!("runtime/deadline/period: only SCHED_DEADLINE takes them");
        }
        if deadline && !(runtime <= dl && (period == 0 || dl <= period) && runtime > 0) {
            bail!(
                "runtime/deadline/period: SCHED_DEADLINE needs 0 < runtime ({runtime}) <= \
                 deadline ({dl}) <= period ({period}, 0 for the deadline)"
            );
        }
        let mut flags = 0u64;
        for f in s.flags().iter().flatten() {
            use LinuxSchedulerFlag as F;
            flags |= match f {
                F::SchedResetOnFork => 0x01,
                F::SchedFlagReclaim => 0x02,
                F::SchedFlagDLOverrun => 0x04,
                F::SchedFlagKeepPolicy => 0x08,
                F::SchedFlagKeepParams => 0x10,
                F::SchedFlagUtilClampMin | F::SchedFlagUtilClampMax => {
                    bail!("flags: {f}: the spec gives no clamp values to go with it")
                }
            };
        }
        Ok(SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy,
            flags,
            nice,
            priority: priority as u32,
            runtime,
            deadline: dl,
            period,
        })
    }

    pub fn apply(&self) -> SetupResult<()> {
        // SAFETY: sched_setattr reads a sched_attr of the size its first
        // field states, which is this struct's own (repr(C), the kernel's
        // first layout).
        let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, self as *const SchedAttr, 0) };
        nix::errno::Errno::result(rc).map(drop).map_err(|e| {
            let why = if e == nix::errno::Errno::EPERM {
                " (real-time and deadline policies need CAP_SYS_NICE)"
            } else {
                ""
            };
            SetupError::new(Step::Scheduler, format!("policy {}", self.policy))
                .detail(format!("sched_setattr{why}"))
                .errno(e)
        })
    }
}

/// `process.ioPriority` as ioprio_set(2) takes it: class << 13 | level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPriority(i32);

impl IoPriority {
    pub fn from_spec(p: &LinuxIOPriority) -> Result<IoPriority> {
        let class = match p.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        let level = p.priority();
        if !(0..=7).contains(&level) {
            bail!("priority: {level} is outside 0..7");
        }
        Ok(IoPriority(class << 13 | level as i32))
    }

    pub fn apply(self) -> SetupResult<()> {
        const IOPRIO_WHO_PROCESS: libc::c_int = 1;
        // SAFETY: ioprio_set takes integers only.
        let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, self.0) };
        nix::errno::Errno::result(rc)
            .map(drop)
            .map_err(|e| SetupError::new(Step::IoPriority, "").errno(e))
    }
}

/// `linux.personality`: the execution domain (flags have none defined by
/// the spec yet).
pub fn personality(p: &LinuxPersonality) -> Result<libc::c_ulong> {
    if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        bail!("flags: {f:?}: the spec defines no personality flags");
    }
    Ok(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    })
}

pub fn set_personality(persona: libc::c_ulong) -> SetupResult<()> {
    // SAFETY: personality takes an integer; -1 reports an error.
    let rc = unsafe { libc::personality(persona) };
    if rc == -1 {
        return Err(SetupError::new(Step::Personality, format!("{persona:#x}"))
            .errno(nix::errno::Errno::last()));
    }
    Ok(())
}

/// `linux.memoryPolicy` as set_mempolicy(2) takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPolicy {
    mode: libc::c_int,
    nodes: Vec<libc::c_ulong>,
}

impl MemoryPolicy {
    pub fn from_spec(p: &LinuxMemoryPolicy) -> Result<MemoryPolicy> {
        use MemoryPolicyModeType as M;
        let (mode, needs_nodes) = match p.mode() {
            M::MpolDefault => (0, false),
            M::MpolPreferred => (1, true),
            M::MpolBind => (2, true),
            M::MpolInterleave => (3, true),
            M::MpolLocal => (4, false),
            M::MpolPreferredMany => (5, true),
            M::MpolWeightedInterleave => (6, true),
        };
        let list = p.nodes().as_deref().unwrap_or("");
        if needs_nodes && list.is_empty() {
            bail!("nodes: {} needs nodes", p.mode());
        }
        if !needs_nodes && !list.is_empty() {
            bail!("nodes: {} takes no nodes", p.mode());
        }
        let bits = crate::cgroups::parse_list(list)
            .map_err(|e| anyhow::anyhow!("nodes: {list:?} is not a list like 0-1,3: {e}"))?;
        let word = libc::c_ulong::BITS as usize;
        let mut nodes = vec![0; bits.iter().max().map_or(1, |m| *m as usize / word + 1)];
        for b in bits {
            nodes[b as usize / word] |= 1 << (b as usize % word);
        }
        let mut mode_flags = mode;
        for f in p.flags().iter().flatten() {
            mode_flags |= match f {
                MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
                MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
                MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            };
        }
        Ok(MemoryPolicy {
            mode: mode_flags,
            nodes,
        })
    }

    pub fn apply(&self) -> SetupResult<()> {
        let max_node = self.nodes.len() * libc::c_ulong::BITS as usize;
        // SAFETY: set_mempolicy reads `max_node` bits from our vector,
        // which holds that many.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_set_mempolicy,
                self.mode,
                self.nodes.as_ptr(),
                max_node,
            )
        };
        nix::errno::Errno::result(rc).map(drop).map_err(|e| {
            SetupError::new(Step::MemoryPolicy, format!("mode {:#x}", self.mode)).errno(e)
        })
    }
}

/// A CPU list (`0-3,6`) as a set for sched_setaffinity.
pub fn cpu_set(list: &str) -> Result<CpuSet> {
    let mut set = CpuSet::new();
    let cpus = crate::cgroups::parse_list(list)
        .map_err(|e| anyhow::anyhow!("{list:?} is not a list like 0-3,6: {e}"))?;
    if cpus.is_empty() {
        bail!("{list:?} names no CPU");
    }
    for c in cpus {
        set.set(c as usize)
            .map_err(|_| anyhow::anyhow!("CPU {c} is beyond what a CPU set holds"))?;
    }
    Ok(set)
}

/// Pins process `pid` (the runtime's child) to `cpus`.
pub fn set_affinity(pid: i32, cpus: &CpuSet) -> nix::Result<()> {
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(pid), cpus)
}

/// The affinity a container process starts with: `initial` when the config
/// names one, else every CPU. A child inherits its caller's mask, and a
/// caller pinned to one CPU (`taskset`, a pinned shim) would pin the
/// container too: since Linux 6.5 joining a cpuset whose CPUs did not
/// change keeps the mask. The kernel narrows "every CPU" to what the
/// cpuset allows.
pub fn start_affinity(pid: i32, initial: Option<&CpuSet>) -> nix::Result<()> {
    match initial {
        Some(cpus) => set_affinity(pid, cpus),
        None => {
            let mut all = CpuSet::new();
            for c in 0..CpuSet::count() {
                all.set(c)?;
            }
            set_affinity(pid, &all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::SchedulerBuilder;

    #[test]
    fn schedulers_are_checked_before_the_kernel_sees_them() {
        let batch = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedBatch)
            .nice(5)
            .build()
            .unwrap();
        let a = SchedAttr::from_spec(&batch).unwrap();
        assert_eq!((a.size, a.policy, a.nice), (48, 3, 5));
        let fifo = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedFifo)
            .build()
            .unwrap();
        assert!(
            SchedAttr::from_spec(&fifo)
                .unwrap_err()
                .to_string()
                .contains("priority")
        );
        let iso = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedIso)
            .build()
            .unwrap();
        assert!(SchedAttr::from_spec(&iso).is_err());
    }

    #[test]
    fn memory_policy_nodes_become_a_bitmask() {
        let p: LinuxMemoryPolicy = serde_json::from_str(
            r#"{"mode":"MPOL_BIND","nodes":"0,2-3","flags":["MPOL_F_STATIC_NODES"]}"#,
        )
        .unwrap();
        let m = MemoryPolicy::from_spec(&p).unwrap();
        assert_eq!(m.mode, 2 | 1 << 15);
        assert_eq!(m.nodes, vec![0b1101]);
        let none: LinuxMemoryPolicy = serde_json::from_str(r#"{"mode":"MPOL_BIND"}"#).unwrap();
        assert!(MemoryPolicy::from_spec(&none).is_err());
    }
}
