//! `vzrun ps [--format table|json] <id> [ps options]`: as runc, runs the
//! host's `ps` (with `-ef` unless options are given) and keeps the lines of
//! the container's processes; `--format json` prints their pids.
//!
//! Options that only shape the output (`-o pid,comm`, `-f`) get `-e` in
//! front: ps's default selection (the caller's euid and terminal) would
//! otherwise hide the container's processes from a caller at a terminal.
//! `-e` rather than `-p <pids>`, which busybox's ps lacks.

use anyhow::{Context, Result, bail};

use super::Global;

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
    let pids = crate::container::stats::pids(&g.root, &a.id)?;
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
    if !selects(&args) {
        args.insert(0, "-e".to_string());
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

/// Whether ps options may choose processes: anything but the output-only
/// options counts as a selection and is passed on untouched.
fn selects(args: &[String]) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" | "-O" | "--format" | "--sort" | "-k" => {
                it.next();
            }
            "--no-headers" | "--headers" => {}
            a if a.starts_with("--format=") || a.starts_with("--sort=") => {}
            a if a.starts_with("-o") || a.starts_with("-O") => {}
            a if a.len() > 1
                && a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].chars().all(|c| "fFlHjwcyTLM".contains(c)) => {}
            _ => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::selects;

    fn s(args: &[&str]) -> bool {
        selects(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn output_options_select_nothing() {
        assert!(!s(&["-o", "pid,comm"]));
        assert!(!s(&["-f", "--sort=pid", "-opid"]));
        assert!(s(&["-ef"]));
        assert!(s(&["aux"]));
        assert!(s(&["-u", "root", "-o", "pid"]));
    }
}
