//! `exec`: run one more process in a running container. It is spawned the
//! way a container's init is (`process::launch`), in the `Exec` role: it
//! joins every namespace of the container through its init, enters the
//! container's cgroup, and gets the container's process settings unless the
//! command line or `--process` overrides them, as runc does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilities, LinuxNamespaceType, LinuxResources, Process,
};

use super::Live;
use super::create::{console, write_pid_file};
use super::foreground::{self, Signals};
use crate::linux::{sched, tty};
use crate::process::launch::{self, Launch, Role};
use crate::process::spawn::Children;
use crate::spec::{self, ChildHooks, Namespaces, Plan, ProcessPlan};
use crate::state::{self, Status};

pub struct ExecOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub process_file: Option<&'a Path>,
    pub command: &'a [String],
    pub tty: bool,
    pub console_socket: Option<&'a Path>,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub pidfd_socket: Option<&'a Path>,
    pub cwd: Option<&'a Path>,
    pub env: &'a [String],
    pub user: Option<&'a str>,
    pub additional_gids: &'a [u32],
    pub caps: &'a [String],
    pub no_new_privs: bool,
    pub apparmor: Option<&'a str>,
    pub process_label: Option<&'a str>,
    pub preserve_fds: u32,
    pub cgroup: Option<&'a str>,
    pub ignore_paused: bool,
}

/// Returns the exit status to exit with (0 at once with `--detach`).
pub fn exec(o: &ExecOpts) -> Result<i32> {
    let id = o.id;
    let state = state::read(o.root, id)?;
    match state.current_status() {
        Status::Running | Status::Created => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            bail!("container {id} is paused: resume it first, or use --ignore-paused")
        }
        Status::Stopped => bail!("cannot exec in a stopped container {id}: container not running"),
        s => bail!("cannot exec in a {} container: {id}", s.as_str()),
    }
    let (process, user_lookup) =
        build_process(o, &state.config).with_context(|| format!("exec in container {id}"))?;
    let mut pp = spec::process_plan(&process).with_context(|| match o.process_file {
        Some(f) => format!("exec in container {id}: {}", f.display()),
        None => format!("exec in container {id}"),
    })?;
    pp.user_lookup = user_lookup;
    let plan = exec_plan(&state, pp)?;
    let cgroup_path = match o.cgroup {
        Some(sub) => {
            let path = sub_cgroup(&state.cgroup_path, sub)?;
            // It must exist: one made here would outlive the container and
            // keep its cgroup from being removed.
            if !crate::cgroups::probe(&path).0 {
                bail!("container {id}: --cgroup {sub}: no such cgroup below the container's");
            }
            path
        }
        None => state.cgroup_path.clone(),
    };

    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        bail!("container {id}: --tty with --detach needs --console-socket");
    }
    let (console, pty_socket) = console(terminal, o.console_socket, !o.detach)
        .with_context(|| format!("container {id}"))?;
    let signals = Signals::forwarded();
    if !o.detach {
        signals.block()?;
    }

    let mut children = Children::default();
    let result = (|| -> Result<i32> {
        let agent = launch::seccomp_listener(&plan)?;
        let (end, pid) = launch::spawn(
            Launch {
                plan: &plan,
                role: Role::Exec,
                start: None,
                console,
                no_pivot: false,
                preserve_fds: o.preserve_fds,
                new_keyring: state.new_keyring,
                runtime_fds: Vec::new(),
                seccomp_listener: agent.as_ref(),
                root: shared_root(&state, &o.root.join(id))?,
                joins_during_setup: false,
            },
            &mut children,
        )?;
        let (initial, last) = &plan
            .process
            .as_ref()
            .expect("exec has a process")
            .exec_cpu_affinity;
        sched::start_affinity(pid, initial.as_ref()).context("process.execCPUAffinity.initial")?;
        match o.cgroup {
            Some(_) if state.no_cgroup => Err(anyhow::anyhow!(
                "--cgroup: the container has no cgroup of its own (rootless)"
            )),
            Some(_) => crate::cgroups::enter_below(&state.cgroup_path, &cgroup_path, pid),
            // Rootless without a cgroup: the process stays in the caller's.
            None if state.no_cgroup => Ok(()),
            None => crate::cgroups::enter(&cgroup_path, pid).or_else(|e| {
                // An unprivileged caller outside its user's systemd
                // instance may not move a process across the cgroups that
                // instance does not own; systemd may, when asked.
                if state.systemd_unit.is_some()
                    && crate::linux::user::rootless()
                    && super::permission_denied(&e)
                {
                    super::cgroup_of(&state)?.join(pid).context(
                        "ask the user's systemd instance to move the process into the scope",
                    )
                } else {
                    Err(e)
                }
            }),
        }
        .with_context(|| format!("container {id}"))?;
        super::crash::point("exec:cloned");
        if let Some(cpus) = last {
            sched::set_affinity(pid, cpus).context("process.execCPUAffinity.final")?;
        }
        // Not the caller's (a shim's is near -1000): the process's own, as
        // the container's init got it.
        if let Some(adj) = process.oom_score_adj() {
            super::set_oom_score_adj(pid, adj)?;
        }
        // The exec'd process's state, for a seccomp agent.
        let agent_state = |pid| {
            let exec_state = state::State {
                pid,
                ..state.clone()
            };
            super::saved_hook_state(&exec_state, Status::Running)
        };
        let agent = agent.as_ref().map(|socket| launch::Agent {
            socket,
            state: &agent_state,
        });
        end.go().context("start the exec'd process")?;
        let pid = launch::until_ready(&end, &plan, pid, &mut children, agent, &mut |_| {
            bail!("internal: an exec process asked for create hooks")
        })?;
        super::crash::point("exec:ready");
        end.start(agent_state(pid))?;
        Ok(pid)
    })();
    let pid = match result {
        Ok(pid) => pid,
        Err(e) => {
            children.kill_all();
            return Err(e.context(format!("exec in container {id}")));
        }
    };
    // Nobody would know about a process whose exec was reported failed:
    // it stays ours to kill until the wait or --detach takes it over.
    let after_start = (|| -> Result<i32> {
        if let Some(f) = o.pid_file {
            write_pid_file(f, pid)?;
        }
        if let Some(s) = o.pidfd_socket {
            super::send_pidfd(s, pid)?;
        }
        if o.detach {
            return Ok(0);
        }
        let pty = match &pty_socket {
            Some(s) => Some(tty::recv_fd(s)?),
            None => None,
        };
        foreground::wait(pid, &signals, pty)
    })();
    // Reaped by the foreground wait, or left running with --detach.
    match &after_start {
        Ok(_) => children.keep(),
        Err(_) => children.kill_all(),
    }
    after_start.with_context(|| format!("exec in container {id}"))
}

/// `--process FILE`'s text; a type error names the JSON path of the field.
pub fn parse_process(f: &Path, text: &[u8]) -> Result<Process> {
    spec::refuse_nul(text).with_context(|| format!("--process {}", f.display()))?;
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        anyhow::anyhow!("--process {}: {at}{}", f.display(), e.into_inner())
    })
}

/// The process to run: `--process` as given, or the container's process
/// with the command line's changes. Also returns a `--user` that names a
/// user rather than a number, for the child to look up.
fn build_process(
    o: &ExecOpts,
    config: &oci_spec::runtime::Spec,
) -> Result<(Process, Option<String>)> {
    if let Some(f) = o.process_file {
        let text = std::fs::read(f).with_context(|| format!("--process {}", f.display()))?;
        return Ok((parse_process(f, &text)?, None));
    }
    if o.command.is_empty() {
        bail!("exec needs a command to run (or --process)");
    }
    let mut p = config.process().clone().unwrap_or_default();
    p.set_args(Some(o.command.to_vec()));
    p.set_terminal(Some(o.tty));
    p.set_console_size(None);
    if let Some(cwd) = o.cwd {
        p.set_cwd(cwd.to_path_buf());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in o.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    let mut lookup = None;
    if let Some(u) = o.user {
        let (user, group) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u, None),
        };
        match (user.parse::<u32>(), group.map(|g| g.parse::<u32>())) {
            (Ok(uid), None) => {
                p.user_mut().set_uid(uid);
            }
            (Ok(uid), Some(Ok(gid))) => {
                p.user_mut().set_uid(uid);
                p.user_mut().set_gid(gid);
            }
            _ => lookup = Some(u.to_string()),
        }
    }
    if !o.additional_gids.is_empty() {
        let mut g = p.user().additional_gids().clone().unwrap_or_default();
        g.extend_from_slice(o.additional_gids);
        p.user_mut().set_additional_gids(Some(g));
    }
    if !o.caps.is_empty() {
        p.set_capabilities(Some(add_caps(
            p.capabilities().clone().unwrap_or_default(),
            o.caps,
        )?));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = o.apparmor {
        if !spec::apparmor_enabled() {
            bail!("--apparmor {profile}: AppArmor is not enabled on this host");
        }
        p.set_apparmor_profile(Some(profile.to_string()));
    }
    if let Some(label) = o.process_label {
        // Without SELinux a label means nothing; runc ignores it too.
        crate::logging::debug(format!(
            "--process-label {label}: SELinux labels are not applied"
        ));
    }
    Ok((p, lookup))
}

/// `--cap` adds to the bounding, effective and permitted sets, never to
/// the inheritable one (CVE-2022-29162, as runc learned); to the ambient
/// set only when the process has inheritable capabilities of its own, as
/// runc 1.2+ does: what is inheritable there then stays ambient.
fn add_caps(mut c: LinuxCapabilities, names: &[String]) -> Result<LinuxCapabilities> {
    let mut add: Vec<Capability> = Vec::new();
    for n in names {
        let name = if n.to_ascii_uppercase().starts_with("CAP_") {
            n.to_ascii_uppercase()
        } else {
            format!("CAP_{}", n.to_ascii_uppercase())
        };
        let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
            .map_err(|_| anyhow::anyhow!("--cap {n}: unknown capability"))?;
        add.push(cap);
    }
    let grow = |set: &Option<Capabilities>| -> Option<Capabilities> {
        let mut s = set.clone().unwrap_or_default();
        s.extend(add.iter().copied());
        Some(s)
    };
    c.set_bounding(grow(c.bounding()));
    c.set_effective(grow(c.effective()));
    c.set_permitted(grow(c.permitted()));
    if c.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
        c.set_ambient(grow(c.ambient()));
    }
    Ok(c)
}

/// `--cgroup path`: a cgroup below the container's (the path must stay
/// inside it).
fn sub_cgroup(base: &Path, sub: &str) -> Result<std::path::PathBuf> {
    let sub = sub.rsplit_once(':').map_or(sub, |(_, p)| p);
    let rel = Path::new(sub.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        bail!("--cgroup {sub}: must be a path below the container's cgroup");
    }
    Ok(base.join(rel))
}

/// A container without a mount namespace is a chroot in the caller's mount
/// table, into the bind in its state directory: where an exec'd process
/// must go. Taken from there, not from the init's root, which a process
/// with CAP_SYS_CHROOT can move.
fn shared_root(
    state: &state::State,
    state_dir: &std::path::Path,
) -> Result<Option<std::os::fd::OwnedFd>> {
    if !state.shared_root {
        return Ok(None);
    }
    crate::linux::shared_root::open(&state_dir.join(crate::linux::shared_root::DIR))
        .map(Some)
        .with_context(|| format!("container {}", state.id))
}

/// The plan for `exec`: join every namespace of the running container
/// (through its init, user namespace first) and run `process` there; none
/// of the container's own setup.
fn exec_plan(state: &state::State, process: ProcessPlan) -> Result<Plan> {
    let linux = state.config.linux().clone().unwrap_or_default();
    let mut ns = Namespaces::default();
    for n in linux.namespaces().iter().flatten() {
        let file = match n.typ() {
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Cgroup => "cgroup",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Pid => "pid",
            LinuxNamespaceType::Network => "net",
            LinuxNamespaceType::Time => "time",
        };
        let path = PathBuf::from(format!("/proc/{}/ns/{file}", state.pid));
        ns.join.push((spec::clone_flag(n.typ()), path));
    }
    ns.join
        .sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);
    let (personality, memory_policy) = spec::process_domain(&linux)?;
    // An exec'd process gets the container's seccomp profile.
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(crate::linux::seccomp::compile)
        .transpose()?;
    Ok(Plan {
        disk_quota: None,
        seccomp,
        personality,
        memory_policy,
        net_devices: Vec::new(),
        id: state.id.clone(),
        bundle: state.bundle.clone(),
        spec: state.config.clone(),
        rootfs: state.rootfs.clone(),
        readonly_root: false,
        namespaces: ns,
        mounts: Vec::new(),
        rootfs_propagation: MsFlags::empty(),
        process: Some(process),
        sysctls: Vec::new(),
        hostname: None,
        domainname: None,
        devices: Vec::new(),
        masked_paths: Vec::new(),
        readonly_paths: Vec::new(),
        hooks: ChildHooks::default(),
        cgroup_path: state.cgroup_path.clone(),
        systemd_unit: state.systemd_unit.clone(),
        resources: LinuxResources::default(),
        shared_root: None,
    })
}
