//! The on-disk state of containers, files and locks only:
//! `<root>/<id>/state.json`, written atomically (temp file + rename), and a
//! per-container `flock` on the directory so that concurrent
//! `start`/`kill`/`delete` on one id are safe. What a state means now (is
//! the init alive, is the cgroup frozen) is `container::status`'s.
//!
//! The init's pid is stored with its start time (field 22 of
//! `/proc/<pid>/stat`): a pid that was reused by another process after the
//! container died is never mistaken for the container.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

pub const DEFAULT_ROOT: &str = "/run/vzrun";

const STATE_FILE: &str = "state.json";

/// The cgroup a container made, written once before its first process
/// exists: what `delete --force` empties and removes when state.json is
/// unreadable.
pub const CGROUP_FILE: &str = "cgroup.path";
/// The socket a created container's init waits on for `start`.
pub const START_SOCKET: &str = "start.sock";

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        }
    }
}

/// What `state.json` holds: the runtime-spec state plus what later commands
/// need (the init's start time, the cgroup, the config for hooks). `C` is
/// how much of the config a reader parses: all of it, or only its
/// annotations for `list` (parsing a whole config per container was most of
/// list's time).
#[derive(Serialize, Deserialize, Clone)]
pub struct State<C = Spec> {
    pub id: String,
    pub pid: i32,
    /// The init's start time in clock ticks since boot.
    pub start_time: u64,
    /// `created` until `start` has seen the user's process exec.
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, as runc.
    pub created: String,
    pub owner: String,
    pub cgroup_path: PathBuf,
    /// Whether this container made its cgroup: one it found in place is
    /// neither removed nor emptied at delete.
    #[serde(default = "yes")]
    pub cgroup_owned: bool,
    /// With `--systemd-cgroup`: the `slice:prefix:name` of the container's
    /// scope unit; `cgroup_path` is then where systemd put it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// Whether the container has a session keyring of its own (no
    /// `--no-new-keyring`); exec'd processes then join it too.
    #[serde(default = "yes")]
    pub new_keyring: bool,
    /// A container without a mount namespace: its root is the rootfs bind
    /// at `rootfs` in this state directory, in the caller's mount table,
    /// detached at delete (linux/shared_root.rs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_root: bool,
    /// Made by an unprivileged user with no cgroup it could write: the
    /// container runs in its caller's cgroup, and what needs a cgroup of
    /// its own (pause, update, stats) is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cgroup: bool,
    /// A disk quota set for the container, recorded before it is set so
    /// that `delete` lifts it whatever happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_quota: Option<DiskQuota>,
    pub config: C,
    /// Not stored: still `creating`, but no runtime is creating it any
    /// more (a create killed on the way, see [`abandoned`]).
    #[serde(skip)]
    pub abandoned: bool,
}

/// What linux/quota.rs set: its kind (`btrfs` or `project`), the directory
/// whose filesystem enforces it, the subvolume or project id, and the
/// barrier:limit pairs (bytes; inodes), `null` for unlimited.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DiskQuota {
    pub kind: String,
    pub path: PathBuf,
    pub id: u64,
    pub space: (Option<u64>, Option<u64>),
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes: Option<(Option<u64>, Option<u64>)>,
}

/// The part of the config a state's reader needs to show it.
pub trait Config {
    fn annotations(&self) -> Option<&std::collections::HashMap<String, String>>;
}

impl Config for Spec {
    fn annotations(&self) -> Option<&std::collections::HashMap<String, String>> {
        Spec::annotations(self).as_ref()
    }
}

/// Only the annotations of a stored config.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct Annotations {
    #[serde(default)]
    annotations: Option<std::collections::HashMap<String, String>>,
}

impl Config for Annotations {
    fn annotations(&self) -> Option<&std::collections::HashMap<String, String>> {
        self.annotations.as_ref()
    }
}

fn yes() -> bool {
    true
}

/// `<root>/<id>`, held open and locked for the life of the command.
pub struct StateDir {
    pub path: PathBuf,
    dir: File,
}

/// A state root must be the caller's own and writable by nobody else:
/// state found in another user's directory (a shared XDG_RUNTIME_DIR, a
/// planted `vzrun` directory) would name the pids to signal and the hooks
/// to run as the caller.
fn check_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("state root {}", root.display())),
    };
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "state root {}: owned by uid {}, not by this user (uid {me}); refusing another \
             user's state (use --root)",
            root.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "state root {}: writable by others (mode {:o}); refusing state anyone could plant",
            root.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(())
}

impl StateDir {
    /// Makes the directory of a new container; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        check_root(root)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("create state root {}", root.display()))?;
        let path = root.join(id);
        // Made under a name no id can have, locked, then renamed into
        // place: the id appears already locked, so no other command can
        // take it (or remove it as an interrupted create) before we hold it.
        // One per runtime process (no longer than any id): the rename
        // decides between creates of one id. One already there is what a
        // killed runtime with our pid left, as no live process has it.
        let tmp = root.join(format!("{NEW_PREFIX}{}", std::process::id()));
        let mut made = std::fs::DirBuilder::new().mode(0o700).create(&tmp);
        if made
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
        {
            let _ = std::fs::remove_dir(&tmp);
            made = std::fs::DirBuilder::new().mode(0o700).create(&tmp);
        }
        made.with_context(|| format!("create {}", tmp.display()))?;
        let dir = File::open(&tmp).with_context(|| format!("open {}", tmp.display()));
        let sd = dir.map(|dir| StateDir {
            path: tmp.clone(),
            dir,
        });
        let placed = sd.and_then(|sd| {
            sd.flock(libc::LOCK_EX)?;
            match nix::fcntl::renameat2(
                None,
                &tmp,
                None,
                &path,
                nix::fcntl::RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => Ok(sd),
                // A filesystem without RENAME_NOREPLACE (some network and
                // FUSE ones): the id's directory made directly, locked a
                // moment after it appears.
                Err(nix::errno::Errno::EINVAL) => {
                    let _ = std::fs::remove_dir(&tmp);
                    std::fs::DirBuilder::new()
                        .mode(0o700)
                        .create(&path)
                        .map_err(anyhow::Error::from)
                        .and_then(|()| {
                            let dir = File::open(&path)?;
                            let sd = StateDir {
                                path: path.clone(),
                                dir,
                            };
                            sd.flock(libc::LOCK_EX)?;
                            Ok(sd)
                        })
                        .with_context(|| format!("create {}", path.display()))
                }
                Err(e) => Err(std::io::Error::from(e))
                    .with_context(|| format!("create {}", path.display())),
            }
        });
        match placed {
            Ok(mut sd) => {
                sd.path = path;
                Ok(sd)
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&tmp);
                let exists = e
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists);
                if exists && abandoned(root, id) {
                    bail!(
                        "container with id {id} exists: left by a create that did not finish \
                         (the runtime was killed or crashed); `delete --force {id}` removes it"
                    )
                }
                if exists {
                    bail!("container with id {id} exists")
                }
                Err(e)
            }
        }
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        check_id(id)?;
        check_root(root)?;
        let path = root.join(id);
        let dir = match File::open(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(NotExist(id.to_string()))
            }
            Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
        };
        let sd = StateDir { path, dir };
        if !sd.lock()? {
            bail!(NotExist(id.to_string()));
        }
        Ok(sd)
    }

    /// Takes the lock; false when the directory we hold was deleted (and
    /// maybe made anew for another container) while we waited.
    pub fn lock(&self) -> Result<bool> {
        self.flock(libc::LOCK_EX)?;
        use std::os::unix::fs::MetadataExt;
        let held = self.dir.metadata()?;
        Ok(std::fs::metadata(&self.path)
            .is_ok_and(|now| now.dev() == held.dev() && now.ino() == held.ino()))
    }

    /// Lets other commands act on the container, e.g. while `run` waits in
    /// the foreground.
    pub fn unlock(&self) -> Result<()> {
        self.flock(libc::LOCK_UN)
    }

    fn flock(&self, op: libc::c_int) -> Result<()> {
        // nix's flock() is deprecated for its Flock, which takes the file
        // and unlocks only by giving it back; the lock here comes and goes
        // on a file we keep (run unlocks while it waits).
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(self.dir.as_raw_fd(), op) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("lock {}", self.path.display()));
        }
        Ok(())
    }

    /// The state, read under our lock: a create holds the lock from the
    /// directory's birth to `created`, so a `creating` state seen here was
    /// left by a create that did not finish.
    pub fn load(&self, id: &str) -> Result<State> {
        let mut s: State = load_file(&self.path, id)?;
        s.abandoned = s.status == Status::Creating;
        Ok(s)
    }

    /// Writes state.json so that readers see the old or the new file, never
    /// a torn one.
    pub fn save(&self, state: &State) -> Result<()> {
        let data = serde_json::to_vec(state).context("encode state")?;
        self.write_file(STATE_FILE, &data)
    }

    /// Replaces a file of the directory atomically (temp file + rename): a
    /// reader, or a runtime killed at any point, never sees half a file.
    /// Not synced: state lives on /run, which a machine that crashes loses
    /// anyway, and a sync per write would cost every create milliseconds.
    pub fn write_file(&self, name: &str, data: &[u8]) -> Result<()> {
        let tmp = self.path.join(format!(".{name}.tmp"));
        let final_path = self.path.join(name);
        let mut f = File::create(&tmp).with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(data)
            .with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &final_path)
            .with_context(|| format!("rename {} to {}", tmp.display(), final_path.display()))?;
        Ok(())
    }

    pub fn read_file(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path.join(name)).ok()
    }

    /// A path inside the directory that stays short however long the root
    /// is: unix socket paths are limited to 108 bytes.
    pub fn short_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{name}", self.dir.as_raw_fd()))
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.dir.as_raw_fd()
    }

    /// Removes the directory. It holds only files: a subdirectory (a
    /// container's rootfs bind, linux/shared_root.rs) is removed with
    /// rmdir, never recursively, so that a mount still there stops the
    /// removal instead of it recursing into the container's files.
    pub fn remove(self) -> Result<()> {
        for e in std::fs::read_dir(&self.path)
            .with_context(|| format!("read {}", self.path.display()))?
            .flatten()
        {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir(e.path())
                    .with_context(|| format!("remove {}", e.path().display()))?;
            } else {
                std::fs::remove_file(e.path())
                    .with_context(|| format!("remove {}", e.path().display()))?;
            }
        }
        std::fs::remove_dir(&self.path).with_context(|| format!("remove {}", self.path.display()))
    }
}

/// "does not exist" is an error callers test for (`delete --force`).
#[derive(Debug, thiserror::Error)]
#[error("container {0} does not exist")]
pub struct NotExist(pub String);

fn load_file<C: serde::de::DeserializeOwned>(dir: &Path, id: &str) -> Result<State<C>> {
    let path = dir.join(STATE_FILE);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(NotExist(id.to_string())),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))
}

/// Reads a container's state without taking its lock: state.json is replaced
/// atomically, so a reader never sees half a file.
pub fn read(root: &Path, id: &str) -> Result<State> {
    check_id(id)?;
    check_root(root)?;
    let dir = root.join(id);
    let mut s: State = load_file(&dir, id)?;
    if s.status == Status::Creating && !locked(&dir) {
        // The create may have finished between the read and the lock's
        // check: only a state still `creating` now was abandoned.
        s = load_file(&dir, id)?;
        s.abandoned = s.status == Status::Creating;
    }
    Ok(s)
}

/// [`read`] without parsing the config beyond its annotations. A
/// directory that a killed create left before it wrote any state reads as
/// an abandoned `creating` state with nothing else known.
pub fn read_summary(root: &Path, id: &str) -> Result<State<Annotations>> {
    check_id(id)?;
    check_root(root)?;
    let dir = root.join(id);
    let mut s: State<Annotations> = match load_file(&dir, id) {
        Err(e) if e.is::<NotExist>() && dir.is_dir() && !locked(&dir) => State {
            id: id.to_string(),
            pid: 0,
            start_time: 0,
            status: Status::Creating,
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created: String::new(),
            owner: String::new(),
            cgroup_path: PathBuf::new(),
            cgroup_owned: false,
            systemd_unit: None,
            new_keyring: false,
            shared_root: false,
            no_cgroup: false,
            disk_quota: None,
            config: Annotations::default(),
            abandoned: true,
        },
        r => r?,
    };
    if s.status == Status::Creating && !s.abandoned && !locked(&dir) {
        // As in [`read`]: only a state still `creating` now.
        s = load_file(&dir, id)?;
        s.abandoned = s.status == Status::Creating;
    }
    Ok(s)
}

/// A create's directory before it is renamed to the id (`.new-PID`).
const NEW_PREFIX: &str = ".new-";

/// Removes what creates killed between making their directory and
/// renaming it into place left (empty directories of runtimes that are
/// gone).
pub fn remove_unplaced(root: &Path) {
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(NEW_PREFIX))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = pid > 0
            && unsafe { libc::kill(pid, 0) } != 0
            && nix::errno::Errno::last() == nix::errno::Errno::ESRCH;
        if gone && !locked(&e.path()) {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// Whether `id`'s directory holds what a create left when it was killed:
/// no state yet, or a `creating` one, and no runtime holding the lock.
fn abandoned(root: &Path, id: &str) -> bool {
    let dir = root.join(id);
    let creating = match load_file::<Annotations>(&dir, id) {
        Ok(s) => s.status == Status::Creating,
        Err(e) => e.is::<NotExist>(),
    };
    creating && !locked(&dir)
}

/// Whether a runtime holds the container's lock right now (a create in
/// progress holds it throughout). A shared lock that is granted shows that
/// nobody holds it; it is dropped at once with the descriptor.
fn locked(dir: &Path) -> bool {
    let Ok(f) = File::open(dir) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

/// Every container id under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    check_root(root)?;
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read {}", root.display())),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        // Not a create's directory before it is renamed into place.
        .filter(|id| check_id(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Container ids become directory names: keep them to a safe alphabet.
pub fn check_id(id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
        && id.len() <= 255;
    if !ok {
        // The id names a directory (and a cgroup): one path component.
        bail!(
            "invalid container id {:?}: use [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 255 bytes",
            id.chars().take(300).collect::<String>()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("abc-1.2_x+y").is_ok());
        for bad in ["", "-x", "../x", "a/b", ".x", "a b", "a\u{1}", "a\0b", ".."] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        assert!(check_id(&"a".repeat(255)).is_ok());
        assert!(check_id(&"a".repeat(256)).is_err());
    }
}
