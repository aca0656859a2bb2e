//! The container's processes: how the init is spawned (`spawn`), how it
//! talks to the runtime (`sync`), and what it does until execve (`init`).

pub mod init;
pub mod launch;
pub mod sealed;
pub mod spawn;
pub mod sync;
