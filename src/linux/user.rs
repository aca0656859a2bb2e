//! `process.user`: supplementary groups, gid and uid, and the `HOME` a
//! process gets when its environment has none (from the container's
//! `/etc/passwd`, as runc does).

use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};

use crate::process::protocol::{At, SetupError, SetupResult, Step};

/// Whether the runtime runs without root's privileges on the host: as
/// another user, or as root of a user namespace (rootless podman's).
pub fn rootless() -> bool {
    !nix::unistd::geteuid().is_root() || !in_initial_user_namespace()
}

/// The host uid the runtime acts as: its effective uid seen from the
/// initial user namespace (rootless podman runs it as root of a user
/// namespace that maps 0 to the user). Good enough for nested namespaces
/// only one level deep, which is what rootless setups make.
pub fn host_uid() -> u32 {
    let euid = nix::unistd::geteuid().as_raw();
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map_id(&map, euid).unwrap_or(euid)
}

/// `id` through an id map's lines (`inside outside count`).
fn map_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [inside, outside, count] = f[..] else {
            return None;
        };
        let id = u64::from(id);
        (id >= inside && id - inside < count).then(|| (outside + id - inside) as u32)
    })
}

/// The initial user namespace maps every id to itself.
pub fn in_initial_user_namespace() -> bool {
    // Unreadable: assume the initial one, so that root never loses the
    // device rules of its containers to a guess.
    std::fs::read_to_string("/proc/self/uid_map").map_or(true, |m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f == ["0", "0", "4294967295"]
    })
}

pub fn switch(uid: u32, gid: u32, additional: &[u32]) -> SetupResult<()> {
    let groups: Vec<Gid> = additional.iter().map(|g| Gid::from_raw(*g)).collect();
    // In a user namespace whose setgroups is "deny" this fails; that is only
    // an error when groups were asked for.
    if let Err(e) = setgroups(&groups)
        && !groups.is_empty()
    {
        return Err(e).at(Step::SetUser, format!("additionalGids {additional:?}"));
    }
    let g = Gid::from_raw(gid);
    setresgid(g, g, g).at(Step::SetUser, format!("gid {gid}"))?;
    let u = Uid::from_raw(uid);
    setresuid(u, u, u).at(Step::SetUser, format!("uid {uid}"))
}

/// A non-root process must be able to reopen its own stdio (programs log to
/// `/dev/stdout`): hand the pipes and sockets among fds 0-2 to the user
/// (uid only), as runc does, and the pty the container got (`own_tty`).
/// The caller's terminals and files stay as they are.
pub fn fix_stdio_owner(uid: u32, own_tty: bool) {
    if uid == 0 {
        return;
    }
    for fd in 0..3 {
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            continue;
        };
        let kind = st.st_mode & libc::S_IFMT;
        let ours =
            kind == libc::S_IFIFO || kind == libc::S_IFSOCK || (own_tty && kind == libc::S_IFCHR);
        if !ours || st.st_uid == uid {
            continue;
        }
        // SAFETY: fchown on an integer descriptor; failures are ignored.
        unsafe { libc::fchown(fd, uid, u32::MAX) };
    }
}

/// Resolves `user[:group]` (names or numbers) in the container's
/// /etc/passwd and /etc/group, as `exec --user` allows. Returns uid, gid
/// and the user's supplementary groups from /etc/group.
pub fn lookup(spec: &str) -> SetupResult<(u32, u32, Vec<u32>)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user || f[2] == user));
    let (uid, mut gid, name) = match (entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            f[0].to_string(),
        ),
        (None, Ok(n)) => (n, n, String::new()),
        (None, Err(_)) => {
            return Err(SetupError::new(Step::SetUser, user)
                .detail("no such user in the container's /etc/passwd"));
        }
    };
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let groups: Vec<Vec<&str>> = groups.lines().map(|l| l.split(':').collect()).collect();
    if let Some(g) = group {
        gid = match groups
            .iter()
            .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
        {
            Some(f) => f[2].parse().unwrap_or(0),
            None => g.parse().map_err(|_| {
                SetupError::new(Step::SetUser, g)
                    .detail("no such group in the container's /etc/group")
            })?,
        };
    }
    let extra = groups
        .iter()
        .filter(|f| f.len() >= 4 && !name.is_empty() && f[3].split(',').any(|m| m == name))
        .filter_map(|f| f[2].parse().ok())
        .collect();
    Ok((uid, gid, extra))
}

/// The home directory of `uid` in the container's `/etc/passwd`, or `/`.
pub fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .unwrap_or_else(|| "/".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_to_the_host() {
        assert_eq!(map_id("0 0 4294967295\n", 1000), Some(1000));
        assert_eq!(map_id("0 1000 1\n1 100000 65536\n", 0), Some(1000));
        assert_eq!(map_id("0 1000 1\n1 100000 65536\n", 5), Some(100004));
        assert_eq!(map_id("0 1000 1\n", 7), None);
    }
}
