//! `vzrun features`: the runtime-spec features document (runc's JSON) for
//! this binary on this host.

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_g: &Global, _a: Args) -> Result<i32> {
    let doc = crate::container::features::features();
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(0)
}
