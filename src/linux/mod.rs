//! The Linux side of a container, one file per concern. Functions here run
//! inside the container's init (between fork and exec) unless their module
//! says otherwise, and report failures as a
//! [`SetupError`](crate::process::protocol::SetupError): the step that
//! failed, the path it worked on and the errno, so that `create` can tell
//! the user exactly what went wrong inside the child.

pub mod capabilities;
pub mod criu;
pub mod devices;
pub mod fs;
pub mod hooks;
pub mod lsm;
pub mod lxcfs;
pub mod mounts;
pub mod namespaces;
pub mod netdev;
pub mod pidfd;
pub mod procfs;
pub mod quota;
pub mod rlimits;
pub mod rootfs;
pub mod sched;
pub mod seccomp;
pub mod shared_root;
pub mod tty;
pub mod user;
