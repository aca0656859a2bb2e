//! `run`: create, start, and in the foreground wait for the container's
//! init (see `foreground`); exit with its status. Without `--keep` the
//! container is deleted once it has stopped.

use anyhow::Result;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::create::{CreateOpts, Mode, create};
use super::foreground::{self, Signals};
use super::start::release;
use crate::linux::tty;

pub struct RunOpts<'a> {
    pub create: CreateOpts<'a>,
    pub detach: bool,
    pub keep: bool,
}

/// Returns the exit status the runtime should exit with.
pub fn run(o: &RunOpts) -> Result<i32> {
    let signals = Signals::forwarded();
    if !o.detach {
        signals.block()?;
    }
    let c = create(&o.create, Mode::Run)?;
    let mut state = c.state;
    if let Err(e) = release(&c.chan, &c.dir, &mut state) {
        let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(Pid::from_raw(state.pid), None);
        let _ = super::destroy(c.dir, &state);
        return Err(e);
    }
    drop(c.chan);
    if o.detach {
        return Ok(0);
    }
    let pty = match c.pty_socket.as_ref().map(tty::recv_fd).transpose() {
        Ok(p) => p,
        Err(e) => {
            let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(state.pid), None);
            let _ = super::destroy(c.dir, &state);
            return Err(e);
        }
    };
    // Other commands (kill, delete --force) must be able to act on the
    // container while we wait.
    c.dir.unlock()?;
    let status = foreground::wait(state.pid, &signals, pty)?;
    // Someone may have deleted it meanwhile; then there is nothing to do.
    if !o.keep && c.dir.lock()? {
        super::destroy(c.dir, &state)?;
    }
    Ok(status)
}
