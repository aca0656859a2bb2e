//! `vzrun create <id>`

use std::path::PathBuf;

use anyhow::Result;

use super::Global;
use crate::container::create::{CreateOpts, Mode, create};

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Path to the bundle directory (default: the current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is set
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives a pidfd of the container's init
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra file descriptors (from 3 on) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

impl CreateArgs {
    pub fn opts<'a>(&'a self, g: &'a Global) -> CreateOpts<'a> {
        CreateOpts {
            root: &g.root,
            id: &self.id,
            bundle: &self.bundle,
            console_socket: self.console_socket.as_deref(),
            pid_file: self.pid_file.as_deref(),
            pidfd_socket: self.pidfd_socket.as_deref(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            defaults: g.defaults(),
            foreground: false,
        }
    }
}

pub fn run(g: &Global, a: CreateArgs) -> Result<i32> {
    create(&a.opts(g), Mode::Create)?;
    Ok(0)
}
