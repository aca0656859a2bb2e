//! `vzrun pause <id>` and `vzrun resume <id>`.

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn pause(g: &Global, a: Args) -> Result<i32> {
    crate::container::pause::pause(&g.root, &a.id, true)?;
    Ok(0)
}

pub fn resume(g: &Global, a: Args) -> Result<i32> {
    crate::container::pause::pause(&g.root, &a.id, false)?;
    Ok(0)
}
