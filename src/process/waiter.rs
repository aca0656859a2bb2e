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
