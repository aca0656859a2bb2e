//! `vzrun ps [--format table|json] <id> [ps options]`: as runc, runs the
//! host's `ps` (with `-ef` unless options are given) and keeps the lines of
//! the container's processes; `--format json` prints their pids.
//!
//! The container's pids are always added as `-p`: options such as
//! `-o pid,comm` select nothing by themselves, and ps's default selection
//! (the caller's terminal) would then hide the container under a terminal.

use anyhow::{Context, Result, bail};

use super::Global;
use crate::cgroups::Cgroup;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Container id
    pub id: String,
    /// Options for ps
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let state = crate::state::read(&g.root, &a.id)?;
    let pids = Cgroup::of(&state)?.pids()?;
    match a.format.as_str() {
        "json" => {
            println!("{}", serde_json::to_string(&pids)?);
            return Ok(0);
        }
        "table" => {}
        f => bail!("--format: unknown format {f:?} (use table or json)"),
    }
    let mut args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args
    };
    if !pids.is_empty() {
        let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        args.extend(["-p".to_string(), list.join(",")]);
    }
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .with_context(|| format!("ps {}: no PID column in its output", args.join(" ")))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
