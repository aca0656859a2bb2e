//! `vzrun beancounters [--format table|json] [<id>...]`: OpenVZ's
//! /proc/user_beancounters table for the given containers, or for every
//! container under the root.

use anyhow::{Result, bail};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Container ids (all when none)
    pub ids: Vec<String>,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    if !matches!(a.format.as_str(), "table" | "json") {
        bail!(
            "--format: unknown format {:?} (use table or json)",
            a.format
        );
    }
    let ids = if a.ids.is_empty() {
        crate::container::status::ids(&g.root)?
    } else {
        a.ids
    };
    let mut blocks = Vec::new();
    for id in ids {
        let rows = crate::container::stats::beancounters(&g.root, &id)?;
        blocks.push((id, rows));
    }
    if a.format == "json" {
        #[derive(serde::Serialize)]
        struct Container<'a> {
            id: &'a str,
            resources: &'a [crate::container::stats::Row],
        }
        let v: Vec<_> = blocks
            .iter()
            .map(|(id, rows)| Container {
                id,
                resources: rows,
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", crate::container::stats::format_table(&blocks));
    }
    Ok(0)
}
