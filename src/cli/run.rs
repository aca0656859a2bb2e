//! `vzrun run <id>`: create and start; in the foreground, wait and exit
//! with the container's status.

use anyhow::Result;

use super::Global;
use crate::container::create::CreateOpts;
use crate::container::run::RunOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::CreateArgs,
    /// Return once the container is started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    if a.detach && a.keep {
        anyhow::bail!("--detach and --keep cannot be used together");
    }
    crate::container::run::run(&RunOpts {
        create: CreateOpts {
            foreground: !a.detach,
            ..a.create.opts(g)
        },
        detach: a.detach,
        keep: a.keep,
    })
}
