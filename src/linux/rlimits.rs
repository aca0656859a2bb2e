//! `process.rlimits`, resolved to resource numbers before fork and applied
//! with setrlimit(2) in the init, before the user is switched.

use anyhow::Result;
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::process::protocol::{SetupError, SetupResult, Step};

#[derive(Clone, Copy, Debug)]
pub struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

impl Rlimit {
    pub fn from_spec(r: &PosixRlimit) -> Result<Rlimit> {
        use PosixRlimitType as T;
        let (resource, name) = match r.typ() {
            T::RlimitCpu => (libc::RLIMIT_CPU, "RLIMIT_CPU"),
            T::RlimitFsize => (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
            T::RlimitData => (libc::RLIMIT_DATA, "RLIMIT_DATA"),
            T::RlimitStack => (libc::RLIMIT_STACK, "RLIMIT_STACK"),
            T::RlimitCore => (libc::RLIMIT_CORE, "RLIMIT_CORE"),
            T::RlimitRss => (libc::RLIMIT_RSS, "RLIMIT_RSS"),
            T::RlimitNproc => (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
            T::RlimitNofile => (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
            T::RlimitMemlock => (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
            T::RlimitAs => (libc::RLIMIT_AS, "RLIMIT_AS"),
            T::RlimitLocks => (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
            T::RlimitSigpending => (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
            T::RlimitMsgqueue => (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
            T::RlimitNice => (libc::RLIMIT_NICE, "RLIMIT_NICE"),
            T::RlimitRtprio => (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
            T::RlimitRttime => (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
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
        let lim = libc::rlimit {
            rlim_cur: self.soft,
            rlim_max: self.hard,
        };
        // SAFETY: setrlimit reads a valid rlimit struct that outlives the call.
        if unsafe { libc::setrlimit(self.resource, &lim) } != 0 {
            let errno = nix::errno::Errno::last();
            let mut e = SetupError::new(Step::Rlimit, self.name)
                .detail(format!("soft {} hard {}", self.soft, self.hard))
                .errno(errno);
            if errno == nix::errno::Errno::EPERM {
                e = e.detail(format!(
                    "soft {} hard {} (raising a hard limit needs CAP_SYS_RESOURCE)",
                    self.soft, self.hard
                ));
            }
            return Err(e);
        }
        Ok(())
    }
}
