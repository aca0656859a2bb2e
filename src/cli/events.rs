//! `vzrun events [--stats] [--interval 5s] <id>`: with `--stats`, one
//! runc-shaped stats object; without, a stats event every interval and an
//! `oom` event whenever the kernel's OOM killer acts in the container,
//! until the container stops.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::Global;
use crate::container::stats;
use crate::container::{Live, Status};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the container's statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events (e.g. 5s, 500ms, 1m)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    if a.stats {
        println!("{}", stats::stats_event(&g.root, &a.id)?);
        return Ok(0);
    }
    let interval = parse_duration(&a.interval)?;
    let state = stats::state(&g.root, &a.id)?;
    let mut ooms = stats::oom_kills(&state);
    let mut next = Instant::now();
    // OOM kills are looked for more often than stats are printed.
    let tick = interval.min(Duration::from_millis(100));
    loop {
        // The stop is read before the OOM count, so a kill that ended the
        // container is still reported.
        let stopped = state.current_status() == Status::Stopped;
        let now_ooms = stats::oom_kills(&state);
        if now_ooms > ooms {
            ooms = now_ooms;
            let oom = stats::Event {
                kind: "oom",
                id: &a.id,
                data: None,
            };
            println!("{oom}");
        }
        if stopped {
            return Ok(0);
        }
        if Instant::now() >= next {
            match stats::stats_event(&g.root, &a.id) {
                Ok(ev) => println!("{ev}"),
                Err(_) if state.current_status() == Status::Stopped => return Ok(0),
                Err(e) => return Err(e),
            }
            next += interval;
        }
        std::thread::sleep(tick);
    }
}

/// A Go-style duration: 500ms, 5s, 1m, 1h.
fn parse_duration(s: &str) -> Result<Duration> {
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("--interval: {s:?} is not a duration like 5s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("--interval: {s:?}: unknown unit {unit:?} (ms, s, m, h)"),
    };
    if secs <= 0.0 {
        bail!("--interval: {s:?} must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}
