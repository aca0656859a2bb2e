//! `vzrun start <id>`

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    crate::container::start::start(&g.root, &a.id)?;
    Ok(0)
}
