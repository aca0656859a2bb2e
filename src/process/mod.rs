//! The container's processes: how a child is forked (`spawn`), how the
//! runtime starts and answers it (`launch`), how the two talk
//! (`protocol`), what the child does until execve (`init`), where a
//! created container's init waits for start (`waiter`), and the
//! read-only re-exec that keeps the runtime's binary out of the
//! container's reach (`readonly_exe`).

pub mod init;
pub mod launch;
pub mod protocol;
pub mod readonly_exe;
pub mod spawn;
pub mod waiter;
