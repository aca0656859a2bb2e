//! `vzrun list`: runc's table, `--format json`, or `--quiet` ids.

use anyhow::Result;

use super::Global;
use crate::container::status;
use crate::container::{Live, OciState};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    // No state root yet is an empty list only for the default one (nothing
    // was created): a --root given and missing is a mistake worth an error,
    // as runc 1.2+ says.
    if g.root != crate::container::default_root() && !g.root.exists() {
        anyhow::bail!("open {}: no such file or directory", g.root.display());
    }
    let mut rows = Vec::new();
    for (s, uid) in status::list(&g.root)? {
        rows.push((s, uid.map(user_name).unwrap_or_default()));
    }
    if a.quiet {
        for (s, _) in &rows {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    if a.format == "json" {
        let views: Vec<OciState> = rows
            .iter()
            .map(|(s, owner)| OciState {
                owner: Some(owner),
                ..OciState::of(s, s.current_status())
            })
            .collect();
        if views.is_empty() {
            // runc encodes an empty list as JSON null.
            println!("null");
        } else {
            println!("{}", serde_json::to_string(&views)?);
        }
        return Ok(0);
    }
    let mut table = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for (s, owner) in &rows {
        let status = s.current_status();
        let v = OciState::of(s, status);
        table.push([
            s.id.clone(),
            v.pid.to_string(),
            status.as_str().to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            owner.clone(),
        ]);
    }
    print!("{}", format_table(&table));
    Ok(0)
}

/// Go's tabwriter as runc configures it: minimum cell width 12, padding 3;
/// the last column is not padded.
fn format_table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max((c.chars().count() + 3).max(12));
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// The owner's name from /etc/passwd, read once for the whole list.
fn user_name(uid: u32) -> String {
    static PASSWD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWD
        .get_or_init(|| std::fs::read_to_string("/etc/passwd").unwrap_or_default())
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2].parse() == Ok(uid))
        .map(|f| f[0].to_string())
        .unwrap_or_else(|| format!("#{uid}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_matches_runc_layout() {
        let rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
        assert_eq!(
            super::format_table(&rows),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}
