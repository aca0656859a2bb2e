//! `linux.seccomp`: compiled to a classic BPF program before fork, loaded
//! by the container's process just before it starts the user's program.
//!
//! The program checks the architecture first (the i386 ABI is live on
//! x86_64 hosts, so every listed architecture gets its own section with its
//! own syscall numbers, and unlisted ones are killed), then finds the
//! syscall with a binary search over intervals of syscall numbers that
//! share an outcome, so the cost per syscall grows with log(intervals), not
//! with the profile's length.

mod syscalls;

use anyhow::{Result, bail};
use nix::errno::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::process::protocol::{SetupError, SetupResult, Step};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const FLAG_NEW_LISTENER: u32 = 8;
const RET_ALLOW: u32 = 0x7fff_0000;

// struct seccomp_data: nr, arch, instruction_pointer, args[6].
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

// Classic BPF opcodes.
const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const JMP_JSET_K: u16 = 0x45;
const ALU_AND_K: u16 = 0x54;
const RET_K: u16 = 0x06;

/// Runs a program on a seccomp_data as the kernel would; `None` for an
/// instruction this compiler never emits or a jump out of the program.
fn verdict(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> Option<u32> {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let (mut acc, mut pc) = (0u32, 0usize);
    loop {
        let i = prog.get(pc)?;
        pc += 1;
        match i.code {
            LD_W_ABS => {
                let at = i.k as usize;
                acc = u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?);
            }
            ALU_AND_K => acc &= i.k,
            RET_K => return Some(i.k),
            JMP_JA => pc += i.k as usize,
            code => {
                let t = match code {
                    JMP_JEQ_K => acc == i.k,
                    JMP_JGT_K => acc > i.k,
                    JMP_JGE_K => acc >= i.k,
                    JMP_JSET_K => acc & i.k != 0,
                    _ => return None,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
        }
    }
}

/// A compiled filter, ready to load.
#[derive(Clone, Debug)]
pub struct Filter {
    prog: Vec<libc::sock_filter>,
    flags: u32,
    /// `SCMP_ACT_NOTIFY` is used: the kernel hands out a listener fd that
    /// goes to `listenerPath`, with the container's state.
    pub notify: Option<Notify>,
}

#[derive(Clone, Debug)]
pub struct Notify {
    pub listener_path: std::path::PathBuf,
    pub metadata: Option<String>,
}

impl Notify {
    /// Hands the listener fd to the agent connected at `socket`, with the
    /// container's state (`state`, the JSON hooks get), as the
    /// runtime-spec's `listenerPath` describes.
    pub fn send_to_agent(
        &self,
        socket: &std::os::fd::OwnedFd,
        state: &str,
        fd: std::os::fd::BorrowedFd,
    ) -> nix::Result<()> {
        let state: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
        let mut msg = serde_json::json!({
            // The state's, which is the runtime's.
            "ociVersion": state["ociVersion"],
            "fds": ["seccompFd"],
            "pid": state["pid"],
            "state": state,
        });
        if let Some(m) = &self.metadata {
            msg["metadata"] = serde_json::Value::String(m.clone());
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&fd);
        crate::linux::tty::send_fd(socket, &msg.to_string(), fd)
    }
}

impl Filter {
    pub fn instructions(&self) -> usize {
        self.prog.len()
    }

    /// Whether the filter lets this process (x86_64) make syscall `nr`
    /// with `args` (allowed or only logged), asked before the runtime
    /// makes a call that a profile may not expect of it.
    pub fn allows(&self, nr: libc::c_long, args: [u64; 6]) -> bool {
        if !cfg!(target_arch = "x86_64") {
            return false;
        }
        matches!(
            verdict(&self.prog, AUDIT_ARCH_X86_64, nr as u32, args).map(|r| r & 0xffff_0000),
            Some(RET_ALLOW | RET_LOG)
        )
    }

    /// Installs the filter on the calling thread (and, with TSYNC, all);
    /// returns the user-notification fd when the filter has one.
    pub fn load(&self) -> SetupResult<Option<std::os::fd::OwnedFd>> {
        let fprog = libc::sock_fprog {
            len: self.prog.len() as u16,
            filter: self.prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `fprog` points at our instructions, which outlive the
        // call; the kernel copies the program.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(SetupError::new(Step::Seccomp, "").errno(Errno::last()));
        }
        if self.notify.is_none() {
            return Ok(None);
        }
        // SAFETY: with NEW_LISTENER the kernel returned a fresh descriptor.
        Ok(Some(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(rc as i32)
        }))
    }
}

/// One condition on a syscall argument.
#[derive(Clone, Copy, Debug)]
struct ArgCheck {
    index: u32,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

#[derive(Clone, Debug)]
struct Rule {
    ret: u32,
    args: Vec<ArgCheck>,
}

/// The actions, operators and architectures a profile may name (x32 is
/// handled by killing its calls), for `vzrun features`.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
pub const ARCHES: &[&str] = &["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"];

/// The filter flags of the spec, with their seccomp(2) values.
pub const FLAGS: &[(&str, u32)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", 1),
    ("SECCOMP_FILTER_FLAG_LOG", 2),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4),
    ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 32),
];

/// The flags this kernel takes: seccomp(SET_MODE_FILTER) with a flag and
/// no program fails with EFAULT when it knows the flag (it got as far as
/// reading the program) and EINVAL when it does not.
pub fn supported_flags() -> Vec<&'static str> {
    FLAGS
        .iter()
        .filter(|(_, bit)| {
            // WAIT_KILLABLE_RECV is only taken with a listener.
            let bits = if *bit == 32 {
                *bit | FLAG_NEW_LISTENER
            } else {
                *bit
            };
            // SAFETY: a null program makes the kernel fail before it could
            // load anything; no memory of ours is read or written.
            let rc = unsafe {
                libc::syscall(libc::SYS_seccomp, 1, bits, std::ptr::null::<libc::c_void>())
            };
            rc == -1 && nix::errno::Errno::last() == nix::errno::Errno::EFAULT
        })
        .map(|(n, _)| *n)
        .collect()
}

/// Compiles `linux.seccomp`. Errors name the rule and field.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    let started = std::time::Instant::now();
    let default = action(s.default_action(), s.default_errno_ret())
        .map_err(|e| anyhow::anyhow!("linux.seccomp.defaultAction: {e}"))?;
    let mut flags = 0u32;
    let given = s.flags().as_deref().unwrap_or(&[]);
    let supported = if given.is_empty() {
        Vec::new()
    } else {
        supported_flags()
    };
    for f in given {
        let name = match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => "SECCOMP_FILTER_FLAG_TSYNC",
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => "SECCOMP_FILTER_FLAG_LOG",
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
            }
        };
        if !supported.contains(&name) {
            bail!("linux.seccomp.flags: {name} is not supported by this kernel");
        }
        flags |= FLAGS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, b)| *b);
    }
    let arches = s.architectures().clone().unwrap_or_default();
    let want = |a: Arch| arches.is_empty() && a == Arch::ScmpArchX86_64 || arches.contains(&a);
    let native = want(Arch::ScmpArchX86_64) || arches.contains(&Arch::ScmpArchNative);
    let i386 = want(Arch::ScmpArchX86);
    let x32 = want(Arch::ScmpArchX32);

    // Rules per architecture, keyed by syscall number, in profile order.
    let mut x86_64: Vec<(u32, Rule)> = Vec::new();
    let mut x86: Vec<(u32, Rule)> = Vec::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let ret = action(sc.action(), sc.errno_ret())
            .map_err(|e| anyhow::anyhow!("linux.seccomp.syscalls[{i}].action: {e}"))?;
        let mut args = Vec::new();
        for (j, a) in sc.args().iter().flatten().enumerate() {
            if a.index() > 5 {
                bail!(
                    "linux.seccomp.syscalls[{i}].args[{j}].index: {} is above 5 (syscalls have six arguments)",
                    a.index()
                );
            }
            // A missing valueTwo is 0, as serializers that omit zero values
            // (Go's omitempty) write "masked equals zero".
            args.push(ArgCheck {
                index: a.index() as u32,
                op: a.op(),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
            });
        }
        for name in sc.names() {
            let rule = Rule {
                ret,
                args: args.clone(),
            };
            let mut known = false;
            if let Some(nr) = lookup(syscalls::X86_64, name) {
                x86_64.push((nr, rule.clone()));
                known = true;
            }
            if let Some(nr) = lookup(syscalls::I386, name) {
                x86.push((nr, rule));
                known = true;
            }
            if !known {
                // A name this architecture lacks is skipped, as runc does.
                crate::logging::debug(format!(
                    "seccomp: syscall {name:?} is unknown here, skipped"
                ));
            }
        }
    }

    let mut asm = Asm::default();
    let (l64, l32, bad) = (asm.label(), asm.label(), asm.label());
    asm.stmt(LD_W_ABS, OFF_ARCH);
    asm.jump(JMP_JEQ_K, AUDIT_ARCH_X86_64, l64, NEXT);
    asm.jump(JMP_JEQ_K, AUDIT_ARCH_I386, l32, bad);
    asm.place(bad);
    asm.stmt(RET_K, RET_KILL_PROCESS);

    asm.place(l64);
    if native {
        asm.stmt(LD_W_ABS, OFF_NR);
        // x32 syscalls arrive with the x86_64 token and bit 30 set: the
        // profile's x86_64 rules must not apply to them.
        let not_x32 = asm.label();
        let x32_calls = asm.label();
        asm.jump(JMP_JSET_K, X32_SYSCALL_BIT, x32_calls, not_x32);
        asm.place(x32_calls);
        asm.stmt(RET_K, if x32 { default } else { RET_KILL_PROCESS });
        asm.place(not_x32);
        section(&mut asm, &x86_64, default, false);
    } else {
        asm.stmt(RET_K, RET_KILL_PROCESS);
    }

    asm.place(l32);
    if i386 {
        asm.stmt(LD_W_ABS, OFF_NR);
        section(&mut asm, &x86, default, true);
    } else {
        asm.stmt(RET_K, RET_KILL_PROCESS);
    }

    let prog = asm.assemble()?;
    if prog.len() > 4096 {
        bail!(
            "linux.seccomp: the filter needs {} instructions, over the kernel's 4096",
            prog.len()
        );
    }
    let uses_notify = default == RET_USER_NOTIF
        || x86_64
            .iter()
            .chain(&x86)
            .any(|(_, r)| r.ret == RET_USER_NOTIF);
    let notify = match (uses_notify, s.listener_path()) {
        (false, _) => None,
        (true, None) => {
            bail!("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener socket")
        }
        (true, Some(p)) => {
            flags |= FLAG_NEW_LISTENER;
            Some(Notify {
                listener_path: p.clone(),
                metadata: s.listener_metadata().clone(),
            })
        }
    };
    crate::logging::debug(format!(
        "seccomp: {} rules compiled to {} BPF instructions in {:?}",
        s.syscalls().as_ref().map_or(0, |v| v.len()),
        prog.len(),
        started.elapsed()
    ));
    Ok(Filter {
        prog,
        flags,
        notify,
    })
}

fn lookup(table: &[(&str, u32)], name: &str) -> Option<u32> {
    table
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| table[i].1)
}

/// The BPF return value of an action.
fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<u32> {
    use LinuxSeccompAction as A;
    Ok(match a {
        A::ScmpActAllow => RET_ALLOW,
        A::ScmpActErrno => RET_ERRNO | (errno.unwrap_or(libc::EPERM as u32) & 0xffff),
        A::ScmpActKill | A::ScmpActKillThread => RET_KILL_THREAD,
        A::ScmpActKillProcess => RET_KILL_PROCESS,
        A::ScmpActTrap => RET_TRAP,
        A::ScmpActTrace => RET_TRACE | (errno.unwrap_or(0) & 0xffff),
        A::ScmpActLog => RET_LOG,
        A::ScmpActNotify => RET_USER_NOTIF,
    })
}

/// What a run of syscall numbers leads to: a plain return, or the
/// argument checks of one syscall.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    Args(usize),
}

/// The rules of one architecture; the accumulator holds the syscall number
/// on entry. The numbers 0..=u32::MAX are cut into intervals with one
/// outcome each (neighbours with the same return merged, so a profile that
/// allows 370 syscalls is a few dozen intervals), found by a binary search
/// whose leaves are the returns themselves: the cost of a syscall grows
/// with log(intervals) and the program stays far below the kernel's limit.
fn section(asm: &mut Asm, rules: &[(u32, Rule)], default: u32, is_32bit: bool) {
    // A stable sort keeps each syscall's rules in profile order.
    let mut sorted: Vec<&(u32, Rule)> = rules.iter().collect();
    sorted.sort_by_key(|(nr, _)| *nr);
    let groups: Vec<&[&(u32, Rule)]> = sorted.chunk_by(|a, b| a.0 == b.0).collect();
    let mut intervals: Vec<(u32, Outcome)> = vec![(0, Outcome::Ret(default))];
    let mut push = |start: u32, out: Outcome| {
        if intervals.last().is_some_and(|(s, _)| *s == start) {
            intervals.pop();
        }
        if intervals
            .last()
            .is_none_or(|(_, o)| *o != out || matches!(out, Outcome::Args(_)))
        {
            intervals.push((start, out));
        }
    };
    for (i, group) in groups.iter().enumerate() {
        let nr = group[0].0;
        // A rule without arguments decides the syscall whatever its place,
        // and the first such rule wins: libseccomp keeps the shortest rule
        // for a syscall and drops the conditions of the others, so a profile
        // means the same under runc and crun as here.
        let out = match group.iter().find(|(_, r)| r.args.is_empty()) {
            Some((_, r)) => Outcome::Ret(r.ret),
            None => Outcome::Args(i),
        };
        push(nr, out);
        if let Some(after) = nr.checked_add(1) {
            push(after, Outcome::Ret(default));
        }
    }
    // A syscall newer than every one the profile names gets ENOSYS rather
    // than a default that refuses it: programs then fall back to the older
    // call (glibc from clone3 to clone), as under runc. A default that lets
    // calls through stays as it is.
    let refuses = matches!(
        default & 0xffff_0000,
        RET_ERRNO | RET_TRAP | RET_KILL_PROCESS
    ) || default == RET_KILL_THREAD;
    if let Some(after) = groups.last().and_then(|g| g[0].0.checked_add(1))
        && refuses
    {
        push(after, Outcome::Ret(RET_ERRNO | libc::ENOSYS as u32));
    }
    tree(asm, &intervals, &groups, default, is_32bit);
}

fn tree(
    asm: &mut Asm,
    intervals: &[(u32, Outcome)],
    groups: &[&[&(u32, Rule)]],
    default: u32,
    is_32bit: bool,
) {
    if let [(_, out)] = intervals {
        match *out {
            Outcome::Ret(r) => asm.stmt(RET_K, r),
            Outcome::Args(g) => {
                // Every rule here has conditions; the first that holds wins.
                for (_, rule) in groups[g].iter().copied() {
                    let next = asm.label();
                    for check in &rule.args {
                        arg_check(asm, check, next, is_32bit);
                    }
                    asm.stmt(RET_K, rule.ret);
                    asm.place(next);
                }
                asm.stmt(RET_K, default);
            }
        }
        return;
    }
    let mid = intervals.len() / 2;
    let right = asm.label();
    asm.jump(JMP_JGE_K, intervals[mid].0, right, NEXT);
    tree(asm, &intervals[..mid], groups, default, is_32bit);
    asm.place(right);
    tree(asm, &intervals[mid..], groups, default, is_32bit);
}

/// Falls through when the argument satisfies the check, jumps to `fail`
/// otherwise. 64-bit values are compared as high then low words; a 32-bit
/// ABI only has the low word.
fn arg_check(asm: &mut Asm, c: &ArgCheck, fail: Label, is_32bit: bool) {
    use LinuxSeccompOperator as Op;
    let lo_off = OFF_ARGS + 8 * c.index;
    let hi_off = lo_off + 4;
    let (vhi, vlo) = ((c.value >> 32) as u32, c.value as u32);
    let (ehi, elo) = ((c.value_two >> 32) as u32, c.value_two as u32);
    let pass = asm.label();
    if is_32bit {
        asm.stmt(LD_W_ABS, lo_off);
        low_compare(asm, c.op, vlo, elo, pass, fail);
        asm.place(pass);
        return;
    }
    let low = asm.label();
    asm.stmt(LD_W_ABS, hi_off);
    match c.op {
        Op::ScmpCmpEq => asm.jump(JMP_JEQ_K, vhi, low, fail),
        Op::ScmpCmpNe => asm.jump(JMP_JEQ_K, vhi, low, pass),
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            asm.jump(JMP_JGT_K, vhi, pass, NEXT);
            asm.jump(JMP_JEQ_K, vhi, low, fail);
        }
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            asm.jump(JMP_JGE_K, vhi, NEXT, pass);
            asm.jump(JMP_JEQ_K, vhi, low, fail);
        }
        Op::ScmpCmpMaskedEq => {
            asm.stmt(ALU_AND_K, vhi);
            asm.jump(JMP_JEQ_K, ehi, low, fail);
        }
    }
    asm.place(low);
    asm.stmt(LD_W_ABS, lo_off);
    low_compare(asm, c.op, vlo, elo, pass, fail);
    asm.place(pass);
}

/// The comparison of the loaded low word.
fn low_compare(
    asm: &mut Asm,
    op: LinuxSeccompOperator,
    v: u32,
    expect: u32,
    pass: Label,
    fail: Label,
) {
    use LinuxSeccompOperator as Op;
    match op {
        Op::ScmpCmpEq => asm.jump(JMP_JEQ_K, v, pass, fail),
        Op::ScmpCmpNe => asm.jump(JMP_JEQ_K, v, fail, pass),
        Op::ScmpCmpGt => asm.jump(JMP_JGT_K, v, pass, fail),
        Op::ScmpCmpGe => asm.jump(JMP_JGE_K, v, pass, fail),
        Op::ScmpCmpLt => asm.jump(JMP_JGE_K, v, fail, pass),
        Op::ScmpCmpLe => asm.jump(JMP_JGT_K, v, fail, pass),
        Op::ScmpCmpMaskedEq => {
            asm.stmt(ALU_AND_K, v);
            asm.jump(JMP_JEQ_K, expect, pass, fail);
        }
    }
}

/// A jump target. `NEXT` is the instruction after the jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

const NEXT: Label = Label(usize::MAX);

#[derive(Clone, Copy, Debug)]
enum Ins {
    Stmt(u16, u32),
    Jump(u16, u32, Label, Label),
    Place(Label),
}

/// A tiny assembler: labels, and conditional jumps that become a short
/// jump plus `ja` trampolines when their target is beyond 255
/// instructions (the reach of a BPF conditional jump).
#[derive(Default)]
struct Asm {
    ins: Vec<Ins>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.ins.push(Ins::Stmt(code, k));
    }
    fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.ins.push(Ins::Jump(code, k, jt, jf));
    }
    fn place(&mut self, l: Label) {
        self.ins.push(Ins::Place(l));
    }

    fn assemble(&self) -> Result<Vec<libc::sock_filter>> {
        // Which conditional jumps need trampolines; grows until stable.
        let mut long = vec![false; self.ins.len()];
        loop {
            let (pos, at) = self.layout(&long);
            let mut changed = false;
            for (i, ins) in self.ins.iter().enumerate() {
                if let Ins::Jump(_, _, jt, jf) = ins
                    && !long[i]
                {
                    let from = pos[i] + 1;
                    let far = |l: Label| l != NEXT && at[l.0] - from > 255;
                    if far(*jt) || far(*jf) {
                        long[i] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return Ok(self.emit(&long, &pos, &at));
            }
        }
    }

    /// Position of each instruction and of each label.
    fn layout(&self, long: &[bool]) -> (Vec<usize>, Vec<usize>) {
        let mut pos = Vec::with_capacity(self.ins.len());
        let mut at = vec![usize::MAX; self.labels];
        let mut p = 0;
        for (i, ins) in self.ins.iter().enumerate() {
            pos.push(p);
            match ins {
                Ins::Place(l) => at[l.0] = p,
                Ins::Jump(..) if long[i] => p += 3,
                _ => p += 1,
            }
        }
        (pos, at)
    }

    fn emit(&self, long: &[bool], pos: &[usize], at: &[usize]) -> Vec<libc::sock_filter> {
        let f = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        let mut out = Vec::new();
        for (i, ins) in self.ins.iter().enumerate() {
            let next = pos[i] + 1;
            let target = |l: Label, from: usize| if l == NEXT { 0 } else { at[l.0] - from };
            match *ins {
                Ins::Stmt(code, k) => out.push(f(code, 0, 0, k)),
                Ins::Place(_) => {}
                Ins::Jump(code, k, jt, jf) if !long[i] => {
                    out.push(f(code, target(jt, next) as u8, target(jf, next) as u8, k));
                }
                Ins::Jump(code, k, jt, jf) => {
                    // jxx k, 0, 1; ja jt; ja jf
                    out.push(f(code, 0, 1, k));
                    let (t, e) = (next + 1, next + 2);
                    let to = |l: Label, from: usize| {
                        if l == NEXT {
                            (next + 2) - from
                        } else {
                            at[l.0] - from
                        }
                    };
                    out.push(f(JMP_JA, 0, 0, to(jt, t) as u32));
                    out.push(f(JMP_JA, 0, 0, to(jf, e) as u32));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        verdict(prog, arch, nr, args).expect("a program we compiled")
    }

    fn filter(json: &str) -> Filter {
        compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn actions_arches_and_args() {
        let f = filter(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[
                  {"names":["getppid","read","write"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                  {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":22,
                   "args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"},{"index":2,"value":9,"op":"SCMP_CMP_EQ"}]},
                  {"names":["socket"],"action":"SCMP_ACT_ALLOW",
                   "args":[{"index":2,"value":9,"op":"SCMP_CMP_NE"}]},
                  {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":5,
                   "args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]},
                  {"names":["rmdir"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                  {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                   "args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},
                  {"names":["clone"],"action":"SCMP_ACT_ALLOW",
                   "args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]}
                ]}"#,
        );
        let p = &f.prog;
        let a64 = AUDIT_ARCH_X86_64;
        assert_eq!(run(p, a64, 110, [0; 6]), RET_ALLOW, "getppid");
        assert_eq!(run(p, a64, 83, [0; 6]), RET_ERRNO | 1, "mkdir");
        assert_eq!(run(p, a64, 85, [0; 6]), RET_ERRNO | 38, "creat: default");
        // The first rule without arguments decides rmdir alone.
        assert_eq!(run(p, a64, 84, [0; 6]), RET_ALLOW, "rmdir");
        assert_eq!(
            run(p, a64, 41, [16, 3, 9, 0, 0, 0]),
            RET_ERRNO | 22,
            "netlink audit"
        );
        assert_eq!(
            run(p, a64, 41, [16, 3, 0, 0, 0, 0]),
            RET_ALLOW,
            "other netlink"
        );
        assert_eq!(run(p, a64, 41, [2, 1, 0, 0, 0, 0]), RET_ALLOW, "inet");
        assert_eq!(run(p, a64, 135, [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            run(p, a64, 135, [0x1_ffff_ffff, 0, 0, 0, 0, 0]),
            RET_ERRNO | 38,
            "high word counts"
        );
        assert_eq!(
            run(p, a64, 56, [0x11, 0, 0, 0, 0, 0]),
            RET_ALLOW,
            "clone without ns flags"
        );
        assert_eq!(
            run(p, a64, 56, [0x2000_0000, 0, 0, 0, 0, 0]),
            RET_ERRNO | 38,
            "clone(CLONE_NEWPID)"
        );
        // The i386 ABI uses its own numbers: 39 is mkdir there, 64 getppid.
        let a32 = AUDIT_ARCH_I386;
        assert_eq!(run(p, a32, 39, [0; 6]), RET_ERRNO | 1, "i386 mkdir");
        assert_eq!(run(p, a32, 64, [0; 6]), RET_ALLOW, "i386 getppid");
        assert_eq!(
            run(p, a32, 83, [0; 6]),
            RET_ERRNO | 38,
            "i386 83 is symlink: default"
        );
        // x32 calls and unknown architectures.
        assert_eq!(run(p, a64, 83 | X32_SYSCALL_BIT, [0; 6]), RET_KILL_PROCESS);
        assert_eq!(run(p, 0xc000_00b7, 83, [0; 6]), RET_KILL_PROCESS);
    }

    #[test]
    fn comparisons() {
        for (op, v, cases) in [
            (
                "SCMP_CMP_NE",
                5u64,
                [(5u64, false), (6, true), (0x1_0000_0005, true)],
            ),
            (
                "SCMP_CMP_LT",
                5,
                [(4, true), (5, false), (0x1_0000_0000, false)],
            ),
            ("SCMP_CMP_LE", 5, [(5, true), (6, false), (0, true)]),
            (
                "SCMP_CMP_GT",
                5,
                [(6, true), (5, false), (0x1_0000_0000, true)],
            ),
            (
                "SCMP_CMP_GE",
                0x1_0000_0000,
                [
                    (0x1_0000_0000, true),
                    (0xffff_ffff, false),
                    (0x2_0000_0000, true),
                ],
            ),
        ] {
            let f = filter(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS",
                    "args":[{{"index":3,"value":{v},"op":"{op}"}}]}}]}}"#
            ));
            for (arg, killed) in cases {
                let r = run(&f.prog, AUDIT_ARCH_X86_64, 110, [0, 0, 0, arg, 0, 0]);
                assert_eq!(r == RET_KILL_PROCESS, killed, "{op} {v:#x} vs {arg:#x}");
            }
        }
    }

    #[test]
    fn large_profiles_need_trampolines_and_stay_correct() {
        // Every x86_64 syscall with an argument rule: bodies far from the
        // search tree force long jumps.
        let names: Vec<String> = syscalls::X86_64
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect();
        let f = filter(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
                {{"names":[{}],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":7,"op":"SCMP_CMP_NE"}}]}}]}}"#,
            names.join(",")
        ));
        for (_, nr) in syscalls::X86_64 {
            assert_eq!(
                run(&f.prog, AUDIT_ARCH_X86_64, *nr, [1, 0, 0, 0, 0, 0]),
                RET_ALLOW,
                "{nr}"
            );
            assert_eq!(
                run(&f.prog, AUDIT_ARCH_X86_64, *nr, [7, 0, 0, 0, 0, 0]),
                RET_ERRNO | 1,
                "{nr}"
            );
        }
    }

    #[test]
    fn podmans_default_profile_is_small_and_exact() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/podman-default-seccomp.json"
        );
        let s: LinuxSeccomp =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let f = compile(&s).unwrap();
        assert!(f.prog.len() < 512, "{} instructions", f.prog.len());
        // Every syscall number of both ABIs (and some beyond) gets what the
        // profile's first matching rule says, as libseccomp decides it.
        for (arch, table) in [
            (AUDIT_ARCH_X86_64, syscalls::X86_64),
            (AUDIT_ARCH_I386, syscalls::I386),
        ] {
            let mut expected: std::collections::HashMap<u32, u32> =
                std::collections::HashMap::new();
            for sc in s
                .syscalls()
                .iter()
                .flatten()
                .filter(|sc| sc.args().is_none())
            {
                for name in sc.names() {
                    if let Some(nr) = lookup(table, name) {
                        expected
                            .entry(nr)
                            .or_insert(action(sc.action(), sc.errno_ret()).unwrap());
                    }
                }
            }
            for nr in 0..1024 {
                if table
                    .iter()
                    .any(|(n, num)| *num == nr && *n == "personality")
                {
                    continue;
                }
                let want = expected.get(&nr).copied().unwrap_or(RET_ERRNO | 38);
                assert_eq!(
                    run(&f.prog, arch, nr, [0; 6]),
                    want,
                    "arch {arch:#x} nr {nr}"
                );
            }
            let personality = lookup(table, "personality").unwrap();
            for (persona, want) in [
                (0, RET_ALLOW),
                (8, RET_ALLOW),
                (0xffff_ffff, RET_ALLOW),
                (0x0400000, RET_ERRNO | 38),
            ] {
                assert_eq!(
                    run(&f.prog, arch, personality, [persona, 0, 0, 0, 0, 0]),
                    want
                );
            }
        }
    }

    #[test]
    fn bad_rules_name_the_field() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"},
                {"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        let e = compile(&s).unwrap_err().to_string();
        assert!(e.contains("linux.seccomp.syscalls[1].args[0].index"), "{e}");
    }
}
