//! What a failed step of the container's setup tells the runtime: the step,
//! the path it worked on and the errno, carried whole over the protocol and
//! shown to the user as one line (`mount /proc on /x: permission denied`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The setup steps of a container's init (and of an exec'd process), named
/// as a user reads them in an error message: `describe` starts the line,
/// the path follows.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Sync,
    JoinNamespace,
    CreateNamespace,
    TimeOffsets,
    Fork,
    BecomeRoot,
    Dumpable,
    Session,
    Keyring,
    Hostname,
    Domainname,
    Sysctl,
    Loopback,
    RootPropagation,
    BindRootfs,
    Mount,
    CreateDevice,
    Symlink,
    PivotRoot,
    MaskPath,
    ReadonlyPath,
    ReadonlyRoot,
    Console,
    Rlimit,
    Personality,
    MemoryPolicy,
    Scheduler,
    IoPriority,
    NoNewPrivileges,
    Capabilities,
    Seccomp,
    Lsm,
    SetUser,
    Chdir,
    Hook,
    Process,
    Executable,
    Exec,
}

impl Step {
    fn describe(self) -> &'static str {
        match self {
            Step::Sync => "talk to the runtime",
            Step::JoinNamespace => "join namespace",
            Step::CreateNamespace => "create namespaces",
            Step::TimeOffsets => "set time namespace offsets",
            Step::Fork => "fork the container init",
            Step::BecomeRoot => "become root in the user namespace",
            Step::Dumpable => "hide the runtime's /proc entries (dumpable)",
            Step::Session => "start a new session",
            Step::Keyring => "join the container's session keyring",
            Step::Hostname => "set hostname",
            Step::Domainname => "set domainname",
            Step::Sysctl => "set sysctl",
            Step::Loopback => "bring up the loopback device",
            Step::RootPropagation => "set mount propagation of /",
            Step::BindRootfs => "bind mount rootfs",
            Step::Mount => "mount",
            Step::CreateDevice => "create device",
            Step::Symlink => "create symlink",
            Step::PivotRoot => "pivot_root",
            Step::MaskPath => "mask path",
            Step::ReadonlyPath => "make path read-only",
            Step::ReadonlyRoot => "make rootfs read-only",
            Step::Console => "set up console",
            Step::Rlimit => "set rlimit",
            Step::Personality => "set personality (linux.personality)",
            Step::MemoryPolicy => "set memory policy (linux.memoryPolicy)",
            Step::Scheduler => "set scheduler (process.scheduler)",
            Step::IoPriority => "set I/O priority (process.ioPriority)",
            Step::NoNewPrivileges => "set no_new_privs",
            Step::Capabilities => "set capabilities",
            Step::Seccomp => "load seccomp filter",
            Step::Lsm => "apply",
            Step::SetUser => "set user",
            Step::Chdir => "chdir to process.cwd",
            Step::Hook => "run hook",
            Step::Process => "prepare the process",
            Step::Executable => "find the executable",
            Step::Exec => "exec",
        }
    }
}

/// A failure inside the container's init, carried to the runtime whole.
#[derive(Serialize, Deserialize, Debug, Clone, thiserror::Error)]
pub struct SetupError {
    pub step: Step,
    pub path: Option<String>,
    pub detail: Option<String>,
    pub errno: Option<i32>,
}

impl SetupError {
    pub fn new(step: Step, path: impl fmt::Display) -> SetupError {
        SetupError {
            step,
            path: Some(path.to_string()).filter(|p| !p.is_empty()),
            detail: None,
            errno: None,
        }
    }

    pub fn errno(mut self, errno: nix::errno::Errno) -> SetupError {
        self.errno = Some(errno as i32);
        self
    }

    pub fn detail(mut self, detail: impl fmt::Display) -> SetupError {
        self.detail = Some(detail.to_string());
        self
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.step.describe())?;
        if let Some(p) = &self.path {
            write!(f, " {p}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        if let Some(e) = self.errno {
            write!(
                f,
                ": {}",
                nix::errno::Errno::from_raw(e).desc().to_lowercase()
            )?;
        }
        Ok(())
    }
}

pub type SetupResult<T> = Result<T, SetupError>;

/// Attaches a step and a path to a failed syscall.
pub trait At<T> {
    fn at(self, step: Step, path: impl fmt::Display) -> SetupResult<T>;
}

impl<T> At<T> for nix::Result<T> {
    fn at(self, step: Step, path: impl fmt::Display) -> SetupResult<T> {
        self.map_err(|e| SetupError::new(step, path).errno(e))
    }
}

impl<T> At<T> for std::io::Result<T> {
    fn at(self, step: Step, path: impl fmt::Display) -> SetupResult<T> {
        self.map_err(|e| match e.raw_os_error() {
            Some(n) => SetupError::new(step, path).errno(nix::errno::Errno::from_raw(n)),
            None => SetupError::new(step, path).detail(e),
        })
    }
}
