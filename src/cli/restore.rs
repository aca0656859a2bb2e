//! `vzrun restore <id>`: a container from a checkpoint's images, with
//! runc's flags (see `container::restore`).

use std::path::PathBuf;

use anyhow::Result;

use super::Global;
use crate::container::restore::RestoreOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: super::checkpoint::Common,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not become the subreaper of the restored process
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Refused: CRIU restores the root and mounts itself
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Restore with a different LSM profile
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// Restore with a different LSM mount context
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    crate::container::restore::restore(&RestoreOpts {
        root: &g.root,
        id: &a.id,
        bundle: &a.bundle,
        criu: a.common.flags(g),
        console_socket: a.console_socket.as_deref(),
        detach: a.detach,
        pid_file: a.pid_file.as_deref(),
        no_subreaper: a.no_subreaper,
        no_pivot: a.no_pivot,
        lsm_profile: a.lsm_profile.as_deref(),
        lsm_mount_context: a.lsm_mount_context.as_deref(),
        defaults: g.defaults(),
    })
}
