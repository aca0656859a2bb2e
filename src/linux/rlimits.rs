//! `process.rlimits`, resolved to resource numbers before fork and applied
//! with setrlimit(2) in the init, before the user is switched.

use anyhow::Result;
use nix::sys::resource::{Resource, setrlimit};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::process::protocol::{SetupError, SetupResult, Step};

#[derive(Clone, Copy, Debug)]
pub struct Rlimit {
    pub resource: Resource,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

impl Rlimit {
    pub fn from_spec(r: &PosixRlimit) -> Result<Rlimit> {
        use PosixRlimitType as T;
        let (resource, name) = match r.typ() {
            T::RlimitCpu => (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
            T::RlimitFsize => (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
            T::RlimitData => (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
            T::RlimitStack => (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
            T::RlimitCore => (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
            T::RlimitRss => (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
            T::RlimitNproc => (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
            T::RlimitNofile => (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
            T::RlimitMemlock => (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
            T::RlimitAs => (Resource::RLIMIT_AS, "RLIMIT_AS"),
            T::RlimitLocks => (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
            T::RlimitSigpending => (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
            T::RlimitMsgqueue => (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
            T::RlimitNice => (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
            T::RlimitRtprio => (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
            T::RlimitRttime => (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
        };
        if r.soft() > r.hard() {
            anyhow::bail!(
                "{name}: soft limit {} is above hard limit {}",
                r.soft(),
                r.hard()
            );
        }
        Ok(Rlimit {
            resource,
            name,
            soft: r.soft(),
            hard: r.hard(),
        })
    }

    pub fn apply(&self) -> SetupResult<()> {
        setrlimit(self.resource, self.soft, self.hard).map_err(|errno| {
            let why = if errno == nix::errno::Errno::EPERM {
                " (raising a hard limit needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            SetupError::new(Step::Rlimit, self.name)
                .detail(format!("soft {} hard {}{why}", self.soft, self.hard))
                .errno(errno)
        })
    }
}
