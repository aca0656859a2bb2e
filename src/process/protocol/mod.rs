//! The conversation between the runtime and a process it starts in a
//! container: a new container's init (`create`, `run`) or one more process
//! (`exec`). This module owns all of it: the messages, the order in which
//! each side expects them, and the one place where a broken connection
//! becomes an error. Each side holds a typed end, [`InitEnd`] in the child
//! and [`RuntimeEnd`] in the runtime, whose methods are the steps below.
//!
//! One `SOCK_SEQPACKET` socketpair carries one JSON message per packet.
//! `create` returns only once the init has finished its setup and waits
//! for `start`:
//!
//! ```text
//!  runtime: RuntimeEnd                          init: InitEnd
//!  ───────────────────                          ─────────────
//!  clone(new namespaces) ─────────────────────► wait_continue
//!  join cgroup, apply resources, oom_score_adj
//!  go ── Continue ───────────────────────────►
//!
//!  [cgroupfs v1, no user, cgroup or staged namespaces: the first write
//!   of a new process to cgroup.procs waits for an RCU grace period
//!   (several ms), so the runtime makes the cgroup's directories, lets
//!   the child go first and joins it meanwhile:]
//!  mkdir cgroup; go ── Continue ─────────────►  hostname, sysctl, mounts
//!  join cgroup, apply resources, oom_score_adj
//!  joined ── Joined ─────────────────────────►  wait_joined: then /dev
//!
//!                                               [joined namespaces: setns]
//!                                               [new user ns]
//!  until_ready ◄────────────────────── MapIds ── map_ids
//!  Answers::map_ids (uid_map, gid_map)
//!  ── MapsDone ───────────────────────────────►
//!                                               [pid/time ns by unshare:
//!                                                fork the real init]
//!  ◄──────────────────────────── InitPid(pid) ── forked (stage 1, which
//!  Answers::forked                                then exits)
//!  ── Continue ───────────────────────────────►  wait_continue (the init)
//!                                               hostname, sysctl, mounts, /dev
//!  ◄──────────────────────────── CreateHooks ── create_hooks
//!  Answers::create_hooks: prestart, createRuntime
//!  ── HooksDone{state} ───────────────────────►
//!                                               createContainer hooks,
//!                                               pivot_root, masks, console
//!                                               [seccomp that notifies,
//!                                                no_new_privs unset:
//!  ◄────────────────── SeccompFd (+ the fd) ──   load it, hand its fd over]
//!  Answers::seccomp_fd: to the agent
//!  ── SeccompFdSent ──────────────────────────►
//!                                               rlimits, user, caps, cwd,
//!                                               find the executable
//!  ◄────────────────────────────────── Ready ── wait_for_start
//!  (write state.json: created)
//!  created ── Created ───────────────────────►  (vzrun create: accept() on
//!                                                start.sock)
//!                                               [nothing of the runtime
//!                                                needed after the go: the
//!                                                init execs vzrun-wait,
//!                                                waiter/main.rs, which
//!                                                takes the rest below]
//!  vzrun start: connect_start,
//!  start ── Start{state} ────────────────────►  (over start.sock)
//!  start ── Start{state} ────────────────────►  (vzrun run, vzrun exec:
//!                                                over the socketpair)
//!                                               startContainer hooks, execve
//!  ◄──────── EOF (CLOEXEC closed the socket) ──  success
//!  ◄─────────────────────────── Failed(err) ──  fail, at any step: the
//!                                               step, path and errno; then
//!                                               the child exits
//! ```
//!
//! An exec'd process takes the same path without the container's own
//! steps: it never asks for id maps or hooks, and is started over the
//! socketpair. The start socket carries the same `Start` / `Failed`
//! messages as the socketpair, so `start` and `run` share one path.

mod channel;
mod error;

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use channel::Channel;
pub use channel::{StartListener, recv_packet_with_fd};
pub use error::{At, SetupError, SetupResult, Step};

/// Messages from the init (or its first stage) to the runtime.
#[derive(Serialize, Deserialize, Debug)]
enum ToParent {
    /// A new user namespace exists; its id maps must be written from outside.
    MapIds,
    /// The first stage forked the real init (pid namespace or time
    /// namespace entered by unshare); this is its pid in the runtime's view.
    InitPid(i32),
    /// Mounts are done: run prestart and createRuntime hooks now.
    CreateHooks,
    /// A seccomp filter that notifies was loaded; its listener fd rides
    /// along, for the runtime to hand to the agent before the filter
    /// traps any syscall of ours.
    SeccompFd,
    /// Setup finished; the init waits for start.
    Ready,
    Failed(SetupError),
}

/// Messages from the runtime to the init.
#[derive(Serialize, Deserialize, Debug)]
enum ToInit {
    Continue,
    /// The child is in its cgroup with its limits applied (only when it
    /// was let go before: see the module's diagram).
    Joined,
    MapsDone,
    /// The seccomp agent has the listener fd.
    SeccompFdSent,
    /// Hooks ran; `state` is the JSON the createContainer hooks get.
    HooksDone {
        state: String,
    },
    /// state.json is written: wait for `vzrun start`.
    Created,
    /// Exec the user's process; `state` is for the startContainer hooks.
    Start {
        state: String,
    },
}

/// How long the runtime waits for each answer of a process that sets up
/// or starts, on top of the timeouts of the hooks that run in it
/// (createContainer, startContainer): the spec sets no bound, and a setup
/// step that hangs (a mount on a dead network filesystem, a hook without
/// a timeout) must not hang `create`, `start` or `exec` for ever.
pub const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// [`ANSWER_WAIT`]; in debug builds, tests may shorten it with
/// `VZRUN_TEST_ANSWER_WAIT` (seconds) to see it run out.
fn answer_wait() -> std::time::Duration {
    #[cfg(debug_assertions)]
    if let Some(s) = std::env::var("VZRUN_TEST_ANSWER_WAIT")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return std::time::Duration::from_secs(s);
    }
    ANSWER_WAIT
}

/// A connected pair: the runtime keeps the first end, the child the second
/// (both close-on-exec, so the child's execve closes its end).
pub fn pair() -> Result<(RuntimeEnd, InitEnd)> {
    let (runtime, init) = Channel::pair()?;
    Ok((RuntimeEnd::new(runtime), InitEnd(init)))
}

/// The child's end of the conversation.
pub struct InitEnd(Channel);

/// The go to exec: where a failure from here on is reported (the start
/// connection for `vzrun start`, else the socketpair) and the state the
/// startContainer hooks get.
pub struct Go {
    conn: Option<Channel>,
    pub state: String,
}

impl InitEnd {
    /// Waits for the runtime's go (`Continue`).
    pub fn wait_continue(&self) -> SetupResult<()> {
        self.expect("Continue", |m| matches!(m, ToInit::Continue).then_some(()))
    }

    /// Waits until the runtime has put us in our cgroup (`Joined`).
    pub fn wait_joined(&self) -> SetupResult<()> {
        self.expect("Joined", |m| matches!(m, ToInit::Joined).then_some(()))
    }

    /// Asks the runtime to write the id maps of our new user namespace.
    pub fn map_ids(&self) -> SetupResult<()> {
        self.send(&ToParent::MapIds)?;
        self.expect("MapsDone", |m| matches!(m, ToInit::MapsDone).then_some(()))
    }

    /// The first stage reports the real init it forked, then exits.
    pub fn forked(&self, init: i32) -> SetupResult<()> {
        self.send(&ToParent::InitPid(init))
    }

    /// Asks the runtime to run the prestart and createRuntime hooks;
    /// returns the state the createContainer hooks get.
    pub fn create_hooks(&self) -> SetupResult<String> {
        self.send(&ToParent::CreateHooks)?;
        self.expect("HooksDone", |m| match m {
            ToInit::HooksDone { state } => Some(state),
            _ => None,
        })
    }

    /// Loads a seccomp filter that notifies and at once hands its listener
    /// fd to the runtime, which gives it to the agent: until the agent has
    /// it, any syscall the filter traps waits for ever. The message is
    /// encoded before the load, so that the only syscall between the two
    /// is the sendmsg itself (an agent that is sent sendmsg is the one
    /// case no runtime can serve).
    pub fn load_seccomp_and_hand_over(
        &self,
        load: impl FnOnce() -> SetupResult<Option<std::os::fd::OwnedFd>>,
    ) -> SetupResult<()> {
        let msg = channel::encode(&ToParent::SeccompFd);
        let Some(fd) = load()? else {
            return Ok(());
        };
        self.0
            .send_encoded_with_fd(&msg, std::os::fd::AsRawFd::as_raw_fd(&fd))
            .at(Step::Seccomp, "")
            .map_err(|e| e.detail("hand the notification fd to the runtime"))?;
        drop(fd);
        self.expect("SeccompFdSent", |m| {
            matches!(m, ToInit::SeccompFdSent).then_some(())
        })
    }

    /// Reports Ready and waits for the go to exec: `Start` over the
    /// socketpair (`run`, `exec`), or, after `Created` (`create`), over a
    /// connection to `listener` from `vzrun start`. `before_waiting` runs
    /// once the wait for `vzrun start` may be long.
    pub fn wait_for_start(
        &self,
        listener: Option<&StartListener>,
        before_waiting: impl FnOnce(),
    ) -> SetupResult<Go> {
        self.send(&ToParent::Ready)?;
        let created = self.expect("Start or Created", |m| match m {
            ToInit::Start { state } => Some(Err(state)),
            ToInit::Created => Some(Ok(())),
            _ => None,
        })?;
        if let Err(state) = created {
            return Ok(Go { conn: None, state });
        }
        before_waiting();
        let listener = listener.ok_or_else(|| broken("created, but no start socket"))?;
        loop {
            let conn = listener.accept().at(Step::Sync, "accept start")?;
            // A connection that says nothing useful is not a start.
            if let Ok(Some(ToInit::Start { state })) = conn.recv::<ToInit>() {
                return Ok(Go {
                    conn: Some(conn),
                    state,
                });
            }
        }
    }

    /// Reports `e` to the runtime and ends the child.
    pub fn fail(&self, e: SetupError) -> ! {
        let _ = self.0.send(&ToParent::Failed(e));
        exit(1)
    }

    /// After the go: reports `e` where the go came from and ends the child.
    pub fn fail_after(&self, go: &Go, e: SetupError) -> ! {
        let chan = go.conn.as_ref().unwrap_or(&self.0);
        let _ = chan.send(&ToParent::Failed(e));
        exit(1)
    }

    fn send(&self, msg: &ToParent) -> SetupResult<()> {
        self.0.send(msg).at(Step::Sync, "")
    }

    /// The next message, which must be the one `pick` takes; anything else
    /// (another message, the runtime gone, a broken socket) is an error.
    fn expect<T>(&self, wanted: &str, pick: impl FnOnce(ToInit) -> Option<T>) -> SetupResult<T> {
        match self.0.recv::<ToInit>() {
            Ok(Some(msg)) => {
                let got = format!("{msg:?}");
                pick(msg).ok_or_else(|| broken(format!("expected {wanted}, got {got}")))
            }
            Ok(None) => Err(broken(format!(
                "the runtime went away while the init waited for {wanted}"
            ))),
            Err(e) => Err(broken(format!("{e:#}"))),
        }
    }
}

fn broken(detail: impl std::fmt::Display) -> SetupError {
    SetupError::new(Step::Sync, "").detail(detail)
}

/// Ends a child at once, the only way besides execve that a child of the
/// runtime ends: no destructors or atexit handlers of the runtime run in a
/// container's process (the parent owns everything the child copied).
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit takes an integer and never returns; skipping Rust's
    // cleanup is the point.
    unsafe { libc::_exit(code) }
}

/// The `Failed` message for a failed execve of `path`, cut where its errno
/// goes: vzrun-wait (waiter/main.rs), which has no JSON encoder, sends the
/// two halves with the errno in decimal between them.
pub fn exec_failure_around_errno(path: &str) -> (String, String) {
    const MARK: i32 = i32::MIN;
    let mut e = SetupError::new(Step::Exec, path);
    e.errno = Some(MARK);
    let json = String::from_utf8(channel::encode(&ToParent::Failed(e))).expect("JSON is UTF-8");
    // The errno is the last field, after the path that might hold the
    // same digits.
    let at = json.rfind(&MARK.to_string()).expect("the mark is encoded");
    let after = json[at..].trim_start_matches(&MARK.to_string()).to_string();
    (json[..at].to_string(), after)
}

/// What the runtime does for the child while it sets up.
pub trait Answers {
    /// Writes the uid and gid maps of `pid`'s new user namespace.
    fn map_ids(&mut self, pid: i32) -> Result<()>;
    /// The first stage `stage1` forked the real init `init`, and exits.
    fn forked(&mut self, stage1: i32, init: i32);
    /// Runs the prestart and createRuntime hooks for the init `pid`;
    /// returns the state the createContainer hooks get.
    fn create_hooks(&mut self, pid: i32) -> Result<String>;
    /// `pid` loaded a seccomp filter that notifies: hands its listener fd
    /// to the agent.
    fn seccomp_fd(&mut self, pid: i32, fd: std::os::fd::OwnedFd) -> Result<()>;
    /// `pid` went away during setup: how it ended, for the error.
    fn exited(&mut self, pid: i32) -> String;
}

/// The runtime's end of the conversation.
pub struct RuntimeEnd {
    chan: Channel,
    /// How long to wait for each answer.
    limit: std::time::Duration,
}

impl RuntimeEnd {
    fn new(chan: Channel) -> RuntimeEnd {
        RuntimeEnd {
            chan,
            limit: answer_wait(),
        }
    }

    /// Waits longer for each answer, by the timeouts of hooks that run in
    /// the container's process.
    pub fn allow_hooks(&mut self, hooks: std::time::Duration) {
        self.limit = answer_wait() + hooks;
    }

    /// The next message, waiting at most the limit for it; `waited_for`
    /// names it in the error.
    fn next(&self, waited_for: &str) -> Result<Option<(ToParent, Option<std::os::fd::OwnedFd>)>> {
        if !self.chan.readable_within(self.limit)? {
            bail!(
                "the container's process did not answer within {}s (the runtime waited for {waited_for})",
                self.limit.as_secs()
            );
        }
        self.chan.recv_with_fd::<ToParent>()
    }

    /// Lets the child go on (it waits in `wait_continue`).
    pub fn go(&self) -> Result<()> {
        self.send(&ToInit::Continue)
    }

    /// The child, let go before its cgroup was joined, is in it now.
    pub fn joined(&self) -> Result<()> {
        self.send(&ToInit::Joined)
    }

    /// Answers the child's requests until it reports Ready; returns the pid
    /// of the process that will exec (the first stage's child when it
    /// forked).
    pub fn until_ready(&self, first: i32, answers: &mut dyn Answers) -> Result<i32> {
        let mut pid = first;
        loop {
            // During setup, a reset is the child gone as surely as an end
            // of file.
            let waited_for = "the end of its setup: id maps, hooks, seccomp or ready";
            let (msg, fd) = match self.next(waited_for) {
                Err(e) if channel::is_reset(&e) => (None, None),
                r => match r? {
                    Some((msg, fd)) => (Some(msg), fd),
                    None => (None, None),
                },
            };
            match msg {
                None => {
                    let note = answers.exited(pid);
                    bail!("the container's process exited during setup{note}")
                }
                Some(ToParent::MapIds) => {
                    answers.map_ids(pid)?;
                    self.send(&ToInit::MapsDone)?;
                }
                Some(ToParent::InitPid(init)) => {
                    answers.forked(pid, init);
                    pid = init;
                    self.go()?;
                }
                Some(ToParent::CreateHooks) => {
                    let state = answers.create_hooks(pid)?;
                    self.send(&ToInit::HooksDone { state })?;
                }
                Some(ToParent::SeccompFd) => {
                    let fd = fd.context("the container's process sent no seccomp fd")?;
                    answers.seccomp_fd(pid, fd)?;
                    self.send(&ToInit::SeccompFdSent)?;
                }
                Some(ToParent::Ready) => return Ok(pid),
                Some(ToParent::Failed(e)) => return Err(e.into()),
            }
        }
    }

    /// `vzrun create`: state.json is written; the init now waits for
    /// `vzrun start` on its start socket.
    pub fn created(&self) -> Result<()> {
        self.send(&ToInit::Created)
            .context("tell the init it is created")
    }

    /// Sends the go to exec with the state for the startContainer hooks,
    /// and waits for the execve (seen as end of file: the child's end is
    /// close-on-exec) or the child's error.
    pub fn start(&self, state: String) -> Result<()> {
        self.send(&ToInit::Start { state })?;
        match self.next("the exec of the user's process")?.map(|(m, _)| m) {
            None => Ok(()),
            Some(ToParent::Failed(e)) => Err(e.into()),
            Some(other) => bail!("unexpected message {other:?} from the container's process"),
        }
    }

    fn send(&self, msg: &ToInit) -> Result<()> {
        self.chan
            .send(msg)
            .context("talk to the container's process")
    }
}

/// Connects `vzrun start` to a created container's init.
pub fn connect_start(path: &Path) -> Result<RuntimeEnd> {
    channel::connect_start(path).map(RuntimeEnd::new)
}

#[cfg(test)]
mod tests {
    //! Both ends across a real socketpair, the child forked: the
    //! conversation in order, and a peer that goes away at each step.

    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, Pid, fork};

    #[test]
    fn exec_failure_halves_decode_with_any_errno() {
        let path = "/bin/-2147483648 \"odd\"";
        let (before, after) = exec_failure_around_errno(path);
        let msg: ToParent = serde_json::from_str(&format!("{before}13{after}")).unwrap();
        let ToParent::Failed(e) = msg else {
            panic!("not Failed: {msg:?}")
        };
        assert_eq!(e.to_string(), format!("exec {path}: permission denied"));
    }

    /// Runs `child` in a forked process with the init's end; it exits with
    /// the code `child` returns.
    fn spawn(child: impl FnOnce(InitEnd) -> i32) -> (RuntimeEnd, i32) {
        let (runtime, init) = pair().unwrap();
        // SAFETY: the child only runs `child` and then _exits; it touches
        // no lock another test thread could hold except malloc's, which
        // glibc resets in the child at fork.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                // A lock another test thread held at the fork (not
                // malloc's) would hang this child for ever, and the test
                // with it: ended by SIGALRM instead, the test fails.
                // SAFETY: alarm takes an integer.
                unsafe { libc::alarm(30) };
                drop(runtime);
                let code = child(init);
                exit(code)
            }
            ForkResult::Parent { child } => (runtime, child.as_raw()),
        }
    }

    fn exit_code(pid: i32) -> i32 {
        match waitpid(Pid::from_raw(pid), None).unwrap() {
            WaitStatus::Exited(_, c) => c,
            other => panic!("child ended as {other:?}"),
        }
    }

    /// Records what the runtime was asked, in order.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Answers for Log {
        fn map_ids(&mut self, pid: i32) -> Result<()> {
            self.0.push(format!("map_ids {pid}"));
            Ok(())
        }
        fn forked(&mut self, stage1: i32, init: i32) {
            self.0.push(format!("forked {stage1} {init}"));
        }
        fn create_hooks(&mut self, pid: i32) -> Result<String> {
            self.0.push(format!("create_hooks {pid}"));
            Ok("hooks-state".into())
        }
        fn seccomp_fd(&mut self, pid: i32, _fd: std::os::fd::OwnedFd) -> Result<()> {
            self.0.push(format!("seccomp_fd {pid}"));
            Ok(())
        }
        fn exited(&mut self, pid: i32) -> String {
            self.0.push(format!("exited {pid}"));
            format!(" (exit status {})", exit_code(pid))
        }
    }

    /// The init's steps, in order; `steps` of them are taken.
    fn init_steps(end: &InitEnd, steps: usize) -> SetupResult<String> {
        if steps > 0 {
            end.wait_continue()?;
        }
        if steps > 1 {
            end.map_ids()?;
        }
        if steps > 2 && end.create_hooks()? != "hooks-state" {
            return Err(broken("wrong hooks state"));
        }
        if steps > 3 {
            return Ok(end.wait_for_start(None, || {})?.state);
        }
        Ok(String::new())
    }

    #[test]
    fn a_child_let_go_before_its_cgroup_waits_for_joined() {
        let (runtime, pid) = spawn(|end| {
            let steps = end
                .wait_continue()
                .and_then(|()| end.wait_joined())
                .and_then(|()| end.create_hooks());
            match steps.and_then(|_| end.wait_for_start(None, || {})) {
                Ok(go) if go.state == "start-state" => 0,
                _ => 3,
            }
        });
        runtime.go().unwrap();
        runtime.joined().unwrap();
        let mut log = Log::default();
        assert_eq!(runtime.until_ready(pid, &mut log).unwrap(), pid);
        assert_eq!(log.0, [format!("create_hooks {pid}")]);
        runtime.start("start-state".into()).unwrap();
        assert_eq!(exit_code(pid), 0);
    }

    #[test]
    fn a_whole_conversation_in_order() {
        let (runtime, pid) = spawn(|end| match init_steps(&end, 4) {
            Ok(state) if state == "start-state" => 0,
            _ => 3,
        });
        runtime.go().unwrap();
        let mut log = Log::default();
        assert_eq!(runtime.until_ready(pid, &mut log).unwrap(), pid);
        assert_eq!(
            log.0,
            [format!("map_ids {pid}"), format!("create_hooks {pid}")]
        );
        // The child exits, which closes its end as execve would.
        runtime.start("start-state".into()).unwrap();
        assert_eq!(exit_code(pid), 0);
    }

    #[test]
    fn an_init_that_goes_away_at_any_step_fails_setup_with_its_status() {
        for steps in 0..4 {
            let (runtime, pid) = spawn(|end| {
                let _ = init_steps(&end, steps);
                7
            });
            let mut log = Log::default();
            let e = runtime
                .go()
                .and_then(|()| runtime.until_ready(pid, &mut log))
                .unwrap_err();
            let text = format!("{e:#}");
            if log.0.last().is_some_and(|l| l.starts_with("exited")) {
                assert!(
                    text.contains("exited during setup (exit status 7)"),
                    "{steps}: {text}"
                );
            } else {
                // Gone before it read the go: the send itself failed.
                assert!(text.contains("talk to the container's process"), "{text}");
                assert_eq!(exit_code(pid), 7);
            }
        }
    }

    #[test]
    fn a_runtime_that_goes_away_at_any_step_ends_the_init_with_a_sync_error() {
        for steps in 0..4 {
            let (runtime, pid) = spawn(|end| match init_steps(&end, 4) {
                Err(e) if e.step == Step::Sync => 0,
                _ => 3,
            });
            let mut log = Log::default();
            // The runtime answers `steps` requests, then goes away.
            if steps > 0 {
                runtime.go().unwrap();
            }
            for _ in 1..steps {
                match runtime.chan.recv::<ToParent>().unwrap() {
                    Some(ToParent::MapIds) => runtime.send(&ToInit::MapsDone).unwrap(),
                    Some(ToParent::CreateHooks) => {
                        let state = log.create_hooks(pid).unwrap();
                        runtime.send(&ToInit::HooksDone { state }).unwrap();
                    }
                    other => panic!("{other:?}"),
                }
            }
            drop(runtime);
            assert_eq!(exit_code(pid), 0, "runtime gone after {steps} steps");
        }
    }

    #[test]
    fn a_seccomp_fd_reaches_the_runtime_before_the_init_goes_on() {
        let (runtime, pid) = spawn(|end| {
            if end.wait_continue().is_err() {
                return 3;
            }
            // Stands for the filter's listener: one end of a pipe.
            let handed = end.load_seccomp_and_hand_over(|| {
                let (r, w) = nix::unistd::pipe().unwrap();
                nix::unistd::write(&w, b"agent").unwrap();
                Ok(Some(r))
            });
            match handed.and_then(|()| end.wait_for_start(None, || {})) {
                Ok(_) => 0,
                Err(_) => 4,
            }
        });
        struct Agent(Vec<u8>);
        impl Answers for Agent {
            fn map_ids(&mut self, _: i32) -> Result<()> {
                bail!("not asked")
            }
            fn forked(&mut self, _: i32, _: i32) {}
            fn create_hooks(&mut self, _: i32) -> Result<String> {
                bail!("not asked")
            }
            fn seccomp_fd(&mut self, _: i32, fd: std::os::fd::OwnedFd) -> Result<()> {
                let mut buf = [0u8; 5];
                nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut buf)?;
                self.0.extend_from_slice(&buf);
                Ok(())
            }
            fn exited(&mut self, _: i32) -> String {
                String::new()
            }
        }
        runtime.go().unwrap();
        let mut agent = Agent(Vec::new());
        runtime.until_ready(pid, &mut agent).unwrap();
        assert_eq!(agent.0, b"agent");
        runtime.start(String::new()).unwrap();
        assert_eq!(exit_code(pid), 0);
    }

    #[test]
    fn a_failed_step_reaches_the_runtime_whole() {
        let (runtime, pid) = spawn(|end| {
            let _ = end.wait_continue();
            end.fail(SetupError::new(Step::Mount, "proc on /x").errno(nix::errno::Errno::EACCES))
        });
        runtime.go().unwrap();
        let e = runtime.until_ready(pid, &mut Log::default()).unwrap_err();
        assert_eq!(e.to_string(), "mount proc on /x: permission denied");
        assert_eq!(exit_code(pid), 1);
    }

    #[test]
    fn create_then_start_over_the_start_socket() {
        let dir = std::env::temp_dir().join(format!("vzrun-protocol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("start.sock");
        let listener = StartListener::bind(&sock).unwrap();
        let (runtime, pid) = spawn(move |end| {
            if end.wait_continue().is_err() {
                return 3;
            }
            let go = match end.wait_for_start(Some(&listener), || {}) {
                Ok(go) => go,
                Err(_) => return 4,
            };
            // A failure after the go is reported to `vzrun start`.
            end.fail_after(
                &go,
                SetupError::new(Step::Exec, go.state.clone()).errno(nix::errno::Errno::ENOENT),
            )
        });
        runtime.go().unwrap();
        runtime.until_ready(pid, &mut Log::default()).unwrap();
        runtime.created().unwrap();
        let start = connect_start(&sock).unwrap();
        let e = start.start("/bin/x".into()).unwrap_err();
        assert_eq!(e.to_string(), "exec /bin/x: no such file or directory");
        assert_eq!(exit_code(pid), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
