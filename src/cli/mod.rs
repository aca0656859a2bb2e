//! The command line, with runc's command and flag names so that podman,
//! containerd's shim and CRI runtimes can call vzrun wherever they call
//! runc. One file per command; none of them makes syscalls of its own.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

mod beancounters;
mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod run;
mod spec;
mod start;
mod state;
mod update;

#[derive(Parser, Debug)]
#[command(
    name = "vzrun",
    about = "vzrun: an OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The whole command line's definition, for the man pages and completions
/// (`examples/gen-docs.rs`).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

impl Cli {
    /// Parses the command line as runc's does: Go's flag parsing takes a
    /// long option with one dash too (containerd's shim sends
    /// `restore -no-subreaper`). Such an argument is given its second dash
    /// when it names a long option of the global flags or the command, up
    /// to the first positional argument (what follows an `exec` id is the
    /// process's own command line).
    pub fn parse_runc_style() -> Result<Cli, clap::Error> {
        use clap::CommandFactory;
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        Cli::try_parse_from(with_long_dashes(&Cli::command(), args))
    }
}

fn with_long_dashes(cli: &clap::Command, args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    // (long name, takes a value) of a command's options, and its short
    // options that take a value.
    let longs = |c: &clap::Command| -> Vec<(String, bool)> {
        c.get_arguments()
            .filter_map(|a| {
                let takes = a.get_action().takes_values();
                Some((a.get_long()?.to_string(), takes))
            })
            .collect()
    };
    let shorts = |c: &clap::Command| -> Vec<char> {
        c.get_arguments()
            .filter(|a| a.get_action().takes_values())
            .filter_map(|a| a.get_short())
            .collect()
    };
    let mut known = longs(cli);
    let mut short_values = shorts(cli);
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    out.extend(it.next());
    let mut in_command = false;
    let mut skip_value = false;
    let mut done = false;
    for arg in it {
        if done || skip_value {
            skip_value = false;
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str().map(str::to_string) else {
            // Not an option of ours: a positional argument.
            done = in_command;
            out.push(arg);
            continue;
        };
        if text == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        if let Some(rest) = text.strip_prefix("--").or_else(|| {
            text.strip_prefix('-')
                .filter(|r| r.len() > 1 && !r.starts_with('-'))
        }) {
            let name = rest.split('=').next().unwrap_or(rest);
            if let Some((_, takes)) = known.iter().find(|(n, _)| n == name) {
                skip_value = *takes && !rest.contains('=');
                out.push(format!("--{rest}").into());
                continue;
            }
            out.push(arg);
            continue;
        }
        if text.starts_with('-') {
            // `-e FOO`: a short option whose value follows.
            let mut chars = text.chars().skip(1);
            if let (Some(c), None) = (chars.next(), chars.next()) {
                skip_value = short_values.contains(&c);
            }
            out.push(arg);
            continue;
        }
        if !in_command && let Some(sub) = cli.find_subcommand(&text) {
            in_command = true;
            // The command's own options first: `spec --rootless` is a
            // switch, the global `--rootless` takes a value.
            let mut own = longs(sub);
            own.append(&mut known);
            known = own;
            short_values = shorts(sub);
        } else {
            // The command's first positional argument (the id).
            done = in_command;
        }
        out.push(arg);
    }
    out
}

#[derive(clap::Args, Debug)]
pub struct Global {
    /// Root directory for container state (default /run/vzrun, or
    /// $XDG_RUNTIME_DIR/vzrun for an unprivileged user)
    #[arg(long, global = true, default_value_os_t = crate::container::default_root())]
    pub root: PathBuf,

    /// Log file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,

    /// Log format
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,

    /// Let systemd manage the container's cgroup (a transient scope;
    /// cgroupsPath as slice:prefix:name)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,

    /// Rootless mode: true, false or auto (accepted for runc compatibility;
    /// before the command only, since `spec --rootless` is another flag)
    #[arg(long, value_name = "true|false|auto")]
    pub rootless: Option<String>,

    /// Path to the criu binary (checkpoint and restore)
    #[arg(long, global = true)]
    pub criu: Option<PathBuf>,

    /// What a new container's /proc shows unless its annotation
    /// org.openvz.proc says otherwise: the host's, or lxcfs's view of the
    /// container's own limits
    #[arg(long = "proc-view", global = true, value_enum, default_value = "host")]
    pub proc_view: ProcView,

    /// Where lxcfs is mounted (for the virtual /proc view)
    #[arg(long = "lxcfs-path", global = true, default_value = crate::container::LXCFS_PATH)]
    pub lxcfs_path: PathBuf,
}

impl Global {
    /// What the global flags decide for every new container.
    pub fn defaults(&self) -> crate::container::Defaults {
        crate::container::Defaults {
            systemd_cgroup: self.systemd_cgroup,
            proc_view: match self.proc_view {
                ProcView::Host => crate::container::ProcView::Host,
                ProcView::Virtual => crate::container::ProcView::Virtual,
            },
            lxcfs_path: self.lxcfs_path.clone(),
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcView {
    Host,
    Virtual,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container
    Create(create::CreateArgs),
    /// Start a created container
    Start(start::Args),
    /// Output the state of a container
    State(state::Args),
    /// Send a signal to the container's init process
    Kill(kill::Args),
    /// Delete a container
    Delete(delete::Args),
    /// Run a process in a running container
    Exec(Box<exec::Args>),
    /// Create and start a container
    Run(run::Args),
    /// List containers
    #[command(alias = "ps-all")]
    List(list::Args),
    /// Write a default config.json
    Spec(spec::Args),
    /// Change a container's resource limits while it runs
    Update(Box<update::Args>),
    /// Freeze every process of a container
    Pause(pause::Args),
    /// Thaw a paused container
    Resume(pause::Args),
    /// List a container's processes
    Ps(ps::Args),
    /// Print a container's statistics and OOM events
    Events(events::Args),
    /// OpenVZ beancounters: held, maxheld, barrier, limit, failcnt
    Beancounters(beancounters::Args),
    /// Show what this runtime supports on this host (JSON)
    Features(features::Args),
    /// Checkpoint a running container (CRIU)
    Checkpoint(Box<checkpoint::Args>),
    /// Restore a container from a checkpoint (CRIU)
    Restore(Box<restore::Args>),
}

/// An error that must end the runtime with a status other than 1 (`exec`
/// exits 255 on its own failures, as runc, so they differ from the
/// process's exit codes).
#[derive(Debug, thiserror::Error)]
#[error("{1:#}")]
pub struct ExitWith(pub i32, pub anyhow::Error);

/// Runs the command; the value is the process's exit status.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let g = &cli.global;
    if cli.version {
        print_version();
        return Ok(0);
    }
    let Some(cmd) = cli.command else {
        <Cli as clap::CommandFactory>::command().print_help()?;
        return Ok(0);
    };
    // Commands whose code runs inside a container run from a read-only
    // bind of the binary (CVE-2019-5736).
    if matches!(cmd, Command::Create(_) | Command::Run(_) | Command::Exec(_)) {
        crate::container::reexec_from_readonly_binary()?;
    }
    // vzrun is rootless exactly when it lacks root's privileges in the
    // initial user namespace; a value that says otherwise cannot be
    // honoured, and is refused rather than ignored.
    // (Asked only when the flag is given: other commands read nothing.)
    match g.rootless.as_deref() {
        None | Some("auto") => {}
        Some(r @ ("true" | "false")) => {
            let rootless = crate::container::runs_rootless();
            if (r == "true") != rootless {
                anyhow::bail!(
                    "--rootless={r}: not supported: vzrun runs rootless exactly when it lacks \
                     root's privileges in the initial user namespace, and here it {}",
                    if rootless { "does" } else { "has them" }
                );
            }
        }
        Some(r) => anyhow::bail!("--rootless: invalid value {r:?} (use true, false or auto)"),
    }
    // Commands that only print end as runc's do when their reader goes
    // away (`vzrun list | head -1`): killed by SIGPIPE rather than a panic
    // on EPIPE. The others keep Rust's ignored SIGPIPE: they write to hooks
    // and sockets, where EPIPE is an error to report.
    if matches!(
        cmd,
        Command::State(_)
            | Command::List(_)
            | Command::Ps(_)
            | Command::Events(_)
            | Command::Beancounters(_)
            | Command::Features(_)
    ) {
        // SAFETY: SIG_DFL installs no handler, so no code of ours can run
        // in signal context; nothing else in the process changes SIGPIPE.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match cmd {
        Command::Create(a) => create::run(g, a),
        Command::Start(a) => start::run(g, a),
        Command::State(a) => state::run(g, a),
        Command::Kill(a) => kill::run(g, a),
        Command::Delete(a) => delete::run(g, a),
        Command::Exec(a) => exec::run(g, *a),
        Command::Run(a) => run::run(g, a),
        Command::Checkpoint(a) => checkpoint::run(g, *a),
        Command::Restore(a) => restore::run(g, *a),
        Command::List(a) => list::run(g, a),
        Command::Spec(a) => spec::run(g, a),
        Command::Update(a) => update::run(g, *a),
        Command::Pause(a) => pause::pause(g, a),
        Command::Resume(a) => pause::resume(g, a),
        Command::Ps(a) => ps::run(g, a),
        Command::Events(a) => events::run(g, a),
        Command::Beancounters(a) => beancounters::run(g, a),
        Command::Features(a) => features::run(g, a),
    }
}

pub fn print_version() {
    use std::io::Write;
    // A reader that goes away early (`vzrun --version | head -1`) is fine.
    let _ = write!(
        std::io::stdout(),
        "vzrun version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("VZRUN_COMMIT"),
        crate::container::OCI_VERSION
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn rewrite(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(std::ffi::OsString::from).collect();
        with_long_dashes(&Cli::command(), args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn one_dash_long_options_are_taken_as_go_programs_send_them() {
        assert_eq!(
            rewrite(&[
                "vzrun",
                "-root",
                "/r",
                "--log-format",
                "json",
                "restore",
                "--image-path",
                "/img",
                "-no-subreaper",
                "id"
            ]),
            [
                "vzrun",
                "--root",
                "/r",
                "--log-format",
                "json",
                "restore",
                "--image-path",
                "/img",
                "--no-subreaper",
                "id"
            ]
        );
        // After the id, an exec'd command keeps its own options.
        assert_eq!(
            rewrite(&["vzrun", "exec", "-tty", "id", "tool", "-env", "-t"]),
            ["vzrun", "exec", "--tty", "id", "tool", "-env", "-t"]
        );
        // A short option's value is not the id; `spec -rootless` is spec's
        // switch, not the global option that takes a value.
        assert_eq!(
            rewrite(&["vzrun", "exec", "-e", "FOO=1", "-tty", "id"]),
            ["vzrun", "exec", "-e", "FOO=1", "--tty", "id"]
        );
        assert_eq!(
            rewrite(&["vzrun", "spec", "-rootless", "-bundle", "/x"]),
            ["vzrun", "spec", "--rootless", "--bundle", "/x"]
        );
        // Short options and unknown names stay as they are.
        assert_eq!(
            rewrite(&["vzrun", "kill", "-a", "id", "-9"]),
            ["vzrun", "kill", "-a", "id", "-9"]
        );
    }
}
