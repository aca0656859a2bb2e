//! Lifecycle hooks: each runs with the container's state JSON on stdin, its
//! own `args` and `env`, and an optional `timeout` in seconds. Used by the
//! runtime (prestart, createRuntime, poststart, poststop) and by the init
//! (createContainer, startContainer).

use std::io::{Read, Seek, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::Hook;

/// Runs `hooks` in order; the first failure stops the rest.
/// The time the hooks that run in the container's process
/// (createContainer, startContainer) may take by their timeouts, for the
/// runtime that waits meanwhile.
pub fn in_container_timeouts(hooks: Option<&oci_spec::runtime::Hooks>) -> std::time::Duration {
    let secs = hooks
        .into_iter()
        .flat_map(|h| {
            let c = h.create_container().iter().flatten();
            c.chain(h.start_container().iter().flatten())
        })
        .filter_map(|h| h.timeout())
        .fold(0u64, |sum, t| sum.saturating_add(t.max(0) as u64));
    // Capped (at about 136 years), so that adding it to a clock reading
    // cannot overflow whatever a config says.
    std::time::Duration::from_secs(secs.min(u32::MAX as u64))
}

pub fn run_all(kind: &str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    run_each(kind, hooks, state, &[])
}

/// As [`run_all`], but a hook without an `env` of its own gets `env` (the
/// container process's: runc gives it to startContainer hooks).
pub fn run_all_inheriting(kind: &str, hooks: &[Hook], state: &[u8], env: &[String]) -> Result<()> {
    run_each(kind, hooks, state, env)
}

fn run_each(kind: &str, hooks: &[Hook], state: &[u8], env: &[String]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run(h, state, env).with_context(|| format!("{kind} hook #{i} ({})", h.path().display()))?;
    }
    Ok(())
}

fn run(hook: &Hook, state: &[u8], inherited: &[String]) -> Result<()> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args()
        && let Some((arg0, rest)) = args.split_first()
    {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().as_deref().unwrap_or(inherited) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to a memfd rather than a pipe: a chatty hook cannot block
    // on a full pipe while we wait for it, and its output ends up in the
    // error message when it fails.
    let out = memfd("vzrun-hook-output")?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out.try_clone()?));
    let mut child = cmd.spawn().context("start")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let status = match hook.timeout() {
        Some(t) if t > 0 => {
            if !wait_exit(child.id() as i32, t)? {
                let _ = child.kill();
                let _ = child.wait();
                bail!("timed out after {t}s");
            }
            child.wait()?
        }
        // Non-positive timeouts are refused when config.json is loaded.
        _ => child.wait()?,
    };
    if status.success() {
        return Ok(());
    }
    let mut out = std::fs::File::from(out);
    let mut text = String::new();
    let _ = out.rewind();
    let _ = out.read_to_string(&mut text);
    let text = text.trim();
    // Keep the end of a chatty hook's output: that is where errors are,
    // and the message must fit in one sync packet and one log line.
    const KEEP: usize = 4096;
    let text = match text.char_indices().rev().nth(KEEP) {
        Some((i, _)) => &text[i..],
        None => text,
    };
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".into(),
    };
    if text.is_empty() {
        bail!("{how}")
    }
    bail!("{how}: {text}")
}

/// Waits up to `secs` for the process to exit, without reaping it.
fn wait_exit(pid: i32, secs: i64) -> Result<bool> {
    let fd = super::pidfd::open(pid).context("pidfd_open")?;
    let limit = std::time::Duration::from_secs(secs.max(0) as u64);
    super::pidfd::wait_exit(&fd, limit).context("poll")
}

fn memfd(name: &str) -> Result<OwnedFd> {
    let name = std::ffi::CString::new(name)?;
    // SAFETY: `name` is a valid C string for the duration of the call.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: a fresh descriptor from memfd_create, owned by us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
