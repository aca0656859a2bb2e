//! `vzrun checkpoint <id>`: runc's flags, through CRIU (see
//! `container::checkpoint`).

use std::path::PathBuf;

use anyhow::Result;

use super::Global;
use crate::container::checkpoint::{CheckpointOpts, CriuFlags};

/// The CRIU flags `checkpoint` and `restore` share.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Path for saving criu image files
    #[arg(long = "image-path", default_value = "checkpoint")]
    pub image_path: PathBuf,
    /// Path for saving work files and logs (default: the image path)
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Use lazy migration mechanism
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// Cgroups mode: soft, full, strict or ignore (default: the runtime manages the cgroup)
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but don't restore its properties (network)
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
}

impl Common {
    pub fn flags<'a>(&'a self, g: &'a Global) -> CriuFlags<'a> {
        CriuFlags {
            binary: g.criu.as_deref(),
            image_path: &self.image_path,
            work_path: self.work_path.as_deref(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            lazy_pages: self.lazy_pages,
            manage_cgroups_mode: self.manage_cgroups_mode.as_deref(),
            empty_ns: &self.empty_ns,
            auto_dedup: self.auto_dedup,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Path for previous criu image files in pre-dump
    #[arg(long = "parent-path")]
    pub parent_path: Option<String>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Allow TCP connections with data in flight to be skipped
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Allow one to link unlinked files back when possible
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    /// Criu writes \0 to this FD once lazy-pages is ready
    #[arg(long = "status-fd")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Dump container's memory information only, leave the container running
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    crate::container::checkpoint::checkpoint(&CheckpointOpts {
        root: &g.root,
        id: &a.id,
        criu: a.common.flags(g),
        parent_path: a.parent_path.as_deref(),
        leave_running: a.leave_running,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        link_remap: a.link_remap,
        status_fd: a.status_fd,
        page_server: a.page_server.as_deref(),
        pre_dump: a.pre_dump,
    })?;
    Ok(0)
}
