//! Log lines shaped like runc's (logrus): `--log-format text` writes
//! `time="..." level=error msg="..."`, `--log-format json` writes
//! `{"level":"error","msg":"...","time":"..."}`. containerd's shim shows the
//! `msg` of the last error line to users, so the JSON shape is an interface.
//!
//! This module owns where log lines go and how timestamps are formatted. It
//! does not decide what is logged: errors are logged once, in `main`.
//!
//! Debug lines carry `elapsed`, the milliseconds since logging was set up
//! (the command's start; a forked init keeps counting from its runtime's),
//! so `--debug` shows where a command's time goes step by step.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: Format,
    min: Level,
    started: Instant,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets up logging once, before any command runs. Without `--log` lines go
/// to stderr, as runc does.
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    let file = match path {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("open log file {}", p.display()))?,
        ),
        None => None,
    };
    let min = if debug { Level::Debug } else { Level::Info };
    let _ = LOGGER.set(Logger {
        file,
        format,
        min,
        started: Instant::now(),
    });
    Ok(())
}

/// True when log lines go to a file, so `main` must also print errors to
/// stderr for the user (runc does the same).
pub fn logs_to_file() -> bool {
    LOGGER.get().is_some_and(|l| l.file.is_some())
}

pub fn enabled(level: Level) -> bool {
    LOGGER
        .get()
        .map_or(level >= Level::Info, |l| level >= l.min)
}

pub fn log(level: Level, msg: &str) {
    if !enabled(level) {
        return;
    }
    let (format, file, started) = match LOGGER.get() {
        Some(l) => (l.format, l.file.as_ref(), Some(l.started)),
        None => (Format::Text, None, None),
    };
    let time = rfc3339(SystemTime::now(), false);
    let elapsed = started
        .filter(|_| level == Level::Debug)
        .map(|t| format!("{:.3}ms", t.elapsed().as_secs_f64() * 1000.0));
    let line = match format {
        Format::Json => {
            let mut v = serde_json::json!({"level": level.name(), "msg": msg, "time": time});
            if let Some(e) = elapsed {
                v["elapsed"] = e.into();
            }
            format!("{v}\n")
        }
        Format::Text => format!(
            "time=\"{}\" level={} msg={}{}\n",
            time,
            level.name(),
            quote_text(msg),
            elapsed.map(|e| format!(" elapsed={e}")).unwrap_or_default()
        ),
    };
    // A failed log write has nowhere better to go; ignore it.
    match file {
        Some(mut f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

pub fn debug(msg: impl AsRef<str>) {
    log(Level::Debug, msg.as_ref());
}

pub fn warn(msg: impl AsRef<str>) {
    log(Level::Warn, msg.as_ref());
}

pub fn error(msg: impl AsRef<str>) {
    log(Level::Error, msg.as_ref());
}

/// logrus quotes a value when it has anything but plain word characters.
fn quote_text(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

/// RFC 3339 in UTC, with nanoseconds when asked (runc's `created` field is
/// Go's RFC3339Nano, which trims trailing zeros).
pub fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, day) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let mut out = format!("{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}");
    if nanos && d.subsec_nanos() != 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t, false), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(t, true), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(UNIX_EPOCH, true), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn text_values_are_quoted_like_logrus() {
        assert_eq!(quote_text("plain"), "plain");
        assert_eq!(quote_text("two words"), "\"two words\"");
    }
}
