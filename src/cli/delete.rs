//! `vzrun delete <id>`

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container first if it is not stopped
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    crate::container::delete::delete(&g.root, &a.id, a.force)?;
    Ok(0)
}
