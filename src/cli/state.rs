//! `vzrun state <id>`: the runtime-spec state as indented JSON.

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let state = crate::state::read(&g.root, &a.id)?;
    let view = state.view(state.current_status());
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(0)
}
