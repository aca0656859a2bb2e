//! `vzrun kill <id> [signal]`: the signal as a name (`KILL`, `SIGKILL`) or a
//! number; SIGTERM by default, as runc.

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the signal to every process in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let sig = crate::spec::parse_signal(&a.signal)?;
    crate::container::kill::kill(&g.root, &a.id, sig, a.all)?;
    Ok(0)
}
