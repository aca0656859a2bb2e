//! `vzrun state <id>`: the runtime-spec state as indented JSON.

use anyhow::Result;

use super::Global;
use crate::container::Live;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let state = crate::container::status::read(&g.root, &a.id)?;
    let view = crate::container::OciState::of(&state, state.current_status());
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(0)
}
