//! Where a created container's init waits for `vzrun start`: not in a copy
//! of the runtime, which keeps its heap, its stack and the pages its
//! start-up relocated for as long as the container is not started (about
//! 0.9 MiB of Pss each), but in vzrun-wait (`waiter/main.rs`, built by
//! build.rs and embedded here), a few pages that accept the start
//! connection and execve the process (about 20 KiB).
//!
//! The init takes this path only when nothing of the runtime is needed
//! after the go; see `init::hand_over_the_wait`.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, RawFd};

use anyhow::{Context, Result, bail};

static PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vzrun-wait"));

/// What vzrun-wait is told: where start connects, what to send if the
/// execve fails, and what to execve.
pub struct Handover<'a> {
    pub listener: RawFd,
    /// The protocol's failure message for this execve, cut where the
    /// errno goes.
    pub failure: (String, String),
    pub path: &'a CStr,
    pub argv: &'a [CString],
    pub envp: &'a [CString],
}

/// Whether a seccomp filter lets the hand-over through: the calls the
/// init makes for it under a filter loaded before the wait (the memfd,
/// its seals, the exec) and vzrun-wait's own. A profile that refuses one
/// (or kills for it) keeps the wait in the runtime, whose calls after the
/// go it had to allow anyway.
pub fn allowed_by(f: &crate::linux::seccomp::Filter) -> bool {
    // Pointers and descriptors as placeholders: profiles test flags and
    // commands, not addresses.
    const P: u64 = 0x1000;
    const FD: u64 = 5;
    let memfd_flags = (libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | libc::MFD_EXEC) as u64;
    let calls: [(libc::c_long, [u64; 6]); 14] = [
        (libc::SYS_memfd_create, [P, memfd_flags, 0, 0, 0, 0]),
        (libc::SYS_write, [FD, P, PROGRAM.len() as u64, 0, 0, 0]),
        (
            libc::SYS_fcntl,
            [FD, libc::F_ADD_SEALS as u64, 0xf, 0, 0, 0],
        ),
        (libc::SYS_fcntl, [FD, libc::F_SETFD as u64, 0, 0, 0, 0]),
        (
            libc::SYS_rt_sigprocmask,
            [libc::SIG_BLOCK as u64, P, 0, 8, 0, 0],
        ),
        (
            libc::SYS_rt_sigaction,
            [libc::SIGTERM as u64, P, P, 8, 0, 0],
        ),
        (
            libc::SYS_execveat,
            [FD, P, P, P, libc::AT_EMPTY_PATH as u64, 0],
        ),
        // vzrun-wait (waiter/main.rs)
        (
            libc::SYS_prctl,
            [libc::PR_SET_DUMPABLE as u64, 0, 0, 0, 0, 0],
        ),
        (
            libc::SYS_rt_sigprocmask,
            [libc::SIG_SETMASK as u64, P, 0, 8, 0, 0],
        ),
        (
            libc::SYS_accept4,
            [FD, 0, 0, libc::SOCK_CLOEXEC as u64, 0, 0],
        ),
        (libc::SYS_recvfrom, [FD, P, 9, 0, 0, 0]),
        (libc::SYS_close, [FD, 0, 0, 0, 0, 0]),
        (
            libc::SYS_sendmsg,
            [FD, P, libc::MSG_NOSIGNAL as u64, 0, 0, 0],
        ),
        (libc::SYS_exit_group, [1, 0, 0, 0, 0, 0]),
    ];
    calls.iter().all(|(nr, args)| f.allows(*nr, *args))
}

/// Execs vzrun-wait from a sealed memfd. Returns only if that could not
/// be done; the caller then waits itself.
pub fn exec(h: &Handover) -> Result<()> {
    if PROGRAM.is_empty() {
        bail!("no vzrun-wait for this architecture");
    }
    let memfd = super::readonly_exe::sealed_memfd(c"vzrun-wait", &mut &PROGRAM[..])?;
    let c = |s: &str| CString::new(s).context("NUL byte in vzrun-wait's arguments");
    let mut args = vec![
        c("vzrun-wait")?,
        c(&h.listener.to_string())?,
        c(&h.failure.0)?,
        c(&h.failure.1)?,
        h.path.to_owned(),
    ];
    args.extend(h.argv.iter().cloned());
    let e = nix::unistd::fexecve(memfd.as_raw_fd(), &args, h.envp).unwrap_err();
    Err(e).context("exec vzrun-wait")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(json: &str) -> crate::linux::seccomp::Filter {
        crate::linux::seccomp::compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    const NEEDED: &str = r#""memfd_create","write","fcntl","rt_sigprocmask","rt_sigaction",
        "execveat","prctl","accept4","recvfrom","close","sendmsg","exit_group""#;

    #[test]
    fn a_profile_must_allow_every_call_of_the_hand_over() {
        assert!(allowed_by(&filter(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#
        )));
        let allow_list = |names: &str| {
            filter(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                    {{"names":[{names}],"action":"SCMP_ACT_ALLOW"}}]}}"#
            ))
        };
        assert!(allowed_by(&allow_list(NEEDED)));
        assert!(!allowed_by(&allow_list(
            &NEEDED.replace(r#""memfd_create","#, "")
        )));
        assert!(!allowed_by(&allow_list(
            &NEEDED.replace(r#""accept4","#, "")
        )));
        // A rule on the flags the hand-over uses counts too.
        assert!(!allowed_by(&filter(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["prctl"],"action":"SCMP_ACT_KILL",
                 "args":[{"index":0,"value":4,"op":"SCMP_CMP_EQ"}]}]}"#
        )));
    }
}
