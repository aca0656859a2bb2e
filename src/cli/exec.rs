//! `vzrun exec <id> [command...]`: run a process in a running container.

use std::path::PathBuf;

use anyhow::Result;

use super::Global;
use crate::container::exec::ExecOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A runtime-spec `process` JSON file to run instead of a command
    #[arg(short = 'p', long = "process")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket that receives a pidfd of the exec'd process
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Do not wait for the process to exit
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's host pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE), repeatable
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// User to run as: uid[:gid] or name[:group]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gid, repeatable
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability, repeatable
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Pass this many extra file descriptors (from 3 on)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run in this sub-cgroup of the container's cgroup
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let result = crate::container::exec::exec(&ExecOpts {
        root: &g.root,
        id: &a.id,
        process_file: a.process.as_deref(),
        command: &a.command,
        tty: a.tty,
        console_socket: a.console_socket.as_deref(),
        detach: a.detach,
        pid_file: a.pid_file.as_deref(),
        pidfd_socket: a.pidfd_socket.as_deref(),
        cwd: a.cwd.as_deref(),
        env: &a.env,
        user: a.user.as_deref(),
        additional_gids: &a.additional_gids,
        caps: &a.cap,
        no_new_privs: a.no_new_privs,
        apparmor: a.apparmor.as_deref(),
        process_label: a.process_label.as_deref(),
        preserve_fds: a.preserve_fds,
        cgroup: a.cgroup.as_deref(),
        ignore_paused: a.ignore_paused,
    });
    result.map_err(|e| super::ExitWith(255, e).into())
}
