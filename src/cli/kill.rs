//! `vzrun kill <id> [signal]`: the signal as a name (`KILL`, `SIGKILL`) or a
//! number; SIGTERM by default, as runc.

use std::str::FromStr;

use anyhow::Result;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the signal to every process in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let sig = parse_signal(&a.signal)?;
    crate::container::kill::kill(&g.root, &a.id, sig, a.all)?;
    Ok(0)
}

/// Parses a signal the way runc's `kill` does: `KILL`, `SIGKILL` or `9`.
/// Real-time signals are numbers (`34`) or `RTMIN+3` / `RTMAX-1` (podman
/// stops systemd containers with SIGRTMIN+3).
pub fn parse_signal(s: &str) -> Result<i32> {
    use nix::sys::signal::Signal;
    let unknown = || anyhow::anyhow!("unknown signal {s:?}");
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=max).contains(&n) {
            Ok(n)
        } else {
            Err(unknown())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: i32, off: &str, sign: i32| -> Result<i32> {
        let n = if off.is_empty() {
            0
        } else {
            off.parse::<i32>().map_err(|_| unknown())?
        };
        let sig = base + sign * n;
        if (min..=max).contains(&sig) {
            Ok(sig)
        } else {
            Err(unknown())
        }
    };
    if let Some(off) = name.strip_prefix("RTMIN") {
        return rt(min, off.trim_start_matches('+'), 1);
    }
    if let Some(off) = name.strip_prefix("RTMAX") {
        return rt(max, off.trim_start_matches('-'), -1);
    }
    Signal::from_str(&format!("SIG{name}"))
        .map(|s| s as i32)
        .map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL as i32);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM as i32);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert_eq!(parse_signal("SIGRTMAX").unwrap(), libc::SIGRTMAX());
        assert_eq!(parse_signal("37").unwrap(), 37);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("RTMIN+99").is_err());
    }
}
