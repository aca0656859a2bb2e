//! `run`: create, start, and in the foreground wait for the container's
//! init while forwarding signals to it; exit with its status (128+N when a
//! signal N killed it). The runtime is a subreaper, so the init and any
//! orphans that reach us are reaped here.

use anyhow::Result;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::create::{CreateOpts, Mode, create};
use super::start::release;

pub struct RunOpts<'a> {
    pub create: CreateOpts<'a>,
    pub detach: bool,
    pub keep: bool,
}

/// Returns the exit status the runtime should exit with.
pub fn run(o: &RunOpts) -> Result<i32> {
    // Block signals before the init exists so that none sent in between is
    // lost; the init restores its own mask before anything else.
    let signals = forwarded_signals();
    if !o.detach {
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None)?;
    }
    let c = create(&o.create, Mode::Run)?;
    let mut state = c.state;
    if let Err(e) = release(&c.chan, &c.dir, &mut state) {
        let _ = waitpid(Pid::from_raw(state.pid), None);
        let _ = super::destroy(c.dir, &state);
        return Err(e);
    }
    drop(c.chan);
    if o.detach {
        return Ok(0);
    }
    let status = wait(state.pid, &signals)?;
    if !o.keep {
        let dir = c.dir;
        super::destroy(dir, &state)?;
    }
    Ok(status)
}

fn wait(init: i32, signals: &SigSet) -> Result<i32> {
    loop {
        let sig = signals.wait()?;
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(Pid::from_raw(init), sig);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => return Ok(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid.as_raw() == init => {
                    return Ok(128 + s as i32);
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                // An orphan that was reparented to us: reaped, nothing more.
                Ok(_) => continue,
            }
        }
    }
}

/// Every signal a process can catch, which is what runc forwards, plus
/// SIGCHLD, which tells us to reap.
fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in Signal::iterator() {
        // Faults are the runtime's own; blocking them would change nothing.
        let fault = matches!(
            s,
            Signal::SIGSEGV | Signal::SIGBUS | Signal::SIGILL | Signal::SIGFPE | Signal::SIGTRAP
        );
        if !fault && !matches!(s, Signal::SIGKILL | Signal::SIGSTOP) {
            set.add(s);
        }
    }
    set
}
