//! `run`: create, start, and in the foreground wait for the container's
//! init (see `foreground`); exit with its status. Without `--keep` the
//! container is deleted once it has stopped.

use anyhow::Result;

use super::create::{CreateOpts, Mode, create};
use super::foreground::{self, Signals};
use super::start::release;
use crate::linux::tty;
use crate::process::spawn::Children;

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
    // Until the init runs the user's process and we wait for it: a failure
    // kills it and removes the container.
    let mut init = Children::default();
    init.push(state.pid);
    let started = release(&c.end, &c.dir, &mut state)
        .and_then(|()| c.pty_socket.as_ref().map(tty::recv_fd).transpose());
    let pty = match started {
        Ok(pty) => pty,
        Err(e) => {
            init.kill_all();
            let _ = super::destroy(c.dir, &state);
            return Err(e);
        }
    };
    init.keep();
    drop(c.end);
    if o.detach {
        return Ok(0);
    }
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
