//! The CRI lane's client (`integration/cri/run.sh`): drives a CRI runtime
//! (containerd's CRI plugin) through its gRPC socket the way kubelet does,
//! and checks what a user of Kubernetes would see at each step. Prints one
//! `ok N - what` line per check and stops at the first that fails.
//!
//!   vzrun-cri-driver SOCKET IMAGE CGROUP_PARENT LOG_DIR
//!   vzrun-cri-driver SOCKET --clean   (stops and removes every pod)

use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

type Fallible<T = ()> = Result<T, String>;

struct Cri {
    rt: RuntimeServiceClient<Channel>,
    image: String,
    cgroup_parent: String,
    log_dir: String,
    checks: usize,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Cri {
    fn ok(&mut self, what: &str) {
        self.checks += 1;
        println!("ok {} - {what}", self.checks);
    }

    async fn run_pod(&mut self, name: &str, host: bool) -> Fallible<(String, PodSandboxConfig)> {
        let mode = if host {
            NamespaceMode::Node
        } else {
            NamespaceMode::Container
        };
        // Unique per run: the plugin keeps names it saw.
        let name = &format!("{name}-{}", std::process::id());
        let log_directory = format!("{}/{name}", self.log_dir);
        std::fs::create_dir_all(&log_directory).map_err(err)?;
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "vzrun-cri".into(),
                attempt: 0,
            }),
            // A host-network pod has the host's UTS namespace too.
            hostname: if host { String::new() } else { name.into() },
            log_directory,
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("{}/{name}", self.cgroup_parent),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: if host {
                            NamespaceMode::Node
                        } else {
                            NamespaceMode::Pod
                        } as i32,
                        pid: mode as i32,
                        ipc: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = self
            .rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .map_err(|e| format!("runp {name}: {e}"))?
            .into_inner()
            .pod_sandbox_id;
        let st = self
            .rt
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id.clone(),
                verbose: false,
            })
            .await
            .map_err(err)?
            .into_inner()
            .status
            .ok_or("no pod status")?;
        if st.state != PodSandboxState::SandboxReady as i32 {
            return Err(format!("pod {name} is not ready: {st:?}"));
        }
        Ok((id, config))
    }

    async fn create(
        &mut self,
        pod: &(String, PodSandboxConfig),
        name: &str,
        script: &str,
        change: impl FnOnce(&mut ContainerConfig),
    ) -> Fallible<String> {
        let mut config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: self.image.clone(),
                ..Default::default()
            }),
            command: vec!["sh".into(), "-c".into(), script.into()],
            log_path: format!("{name}.log"),
            linux: Some(LinuxContainerConfig {
                resources: Some(LinuxContainerResources::default()),
                security_context: Some(LinuxContainerSecurityContext::default()),
            }),
            ..Default::default()
        };
        change(&mut config);
        let id = self
            .rt
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.0.clone(),
                config: Some(config),
                sandbox_config: Some(pod.1.clone()),
            })
            .await
            .map_err(|e| format!("create {name}: {e}"))?
            .into_inner()
            .container_id;
        self.rt
            .start_container(StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .map_err(|e| format!("start {name}: {e}"))?;
        Ok(id)
    }

    async fn status(&mut self, id: &str) -> Fallible<(ContainerStatus, String)> {
        let r = self
            .rt
            .container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: true,
            })
            .await
            .map_err(err)?
            .into_inner();
        let info = r.info.get("info").cloned().unwrap_or_default();
        Ok((r.status.ok_or("no container status")?, info))
    }

    /// The container's process as the host sees it (the CRI plugin's
    /// verbose info).
    async fn pid(&mut self, id: &str) -> Fallible<i32> {
        let (_, info) = self.status(id).await?;
        let at = info
            .find("\"pid\":")
            .ok_or("no pid in the verbose status")?;
        let digits: String = info[at + 6..]
            .chars()
            .skip_while(|c| c.is_whitespace())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().map_err(err)
    }

    async fn exec(&mut self, id: &str, cmd: &[&str]) -> Fallible<(i32, String, String)> {
        let r = self
            .rt
            .exec_sync(ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 30,
            })
            .await
            .map_err(|e| format!("exec {cmd:?}: {e}"))?
            .into_inner();
        Ok((
            r.exit_code,
            String::from_utf8_lossy(&r.stdout).into_owned(),
            String::from_utf8_lossy(&r.stderr).into_owned(),
        ))
    }

    async fn stop(&mut self, id: &str, grace: i64) -> Fallible {
        self.rt
            .stop_container(StopContainerRequest {
                container_id: id.into(),
                timeout: grace,
            })
            .await
            .map_err(|e| format!("stop: {e}"))?;
        Ok(())
    }

    async fn wait_exited(&mut self, id: &str) -> Fallible<ContainerStatus> {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let (st, _) = self.status(id).await?;
            if st.state == ContainerState::ContainerExited as i32 {
                return Ok(st);
            }
            if Instant::now() > end {
                return Err(format!("container {id} still runs: {st:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the CRI log file of container `name` of pod-a holds
    /// every one of `lines`.
    async fn wait_log(&mut self, name: &str, lines: &[&str]) -> Fallible {
        let log = format!("{}/pod-a-{}/{name}.log", self.log_dir, std::process::id());
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if lines.iter().all(|l| text.contains(l)) {
                return Ok(());
            }
            expect("the CRI log file", Instant::now() < end, &text)?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn remove_pod(&mut self, pod: &str) -> Fallible {
        self.rt
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: pod.into(),
            })
            .await
            .map_err(|e| format!("stopp: {e}"))?;
        self.rt
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: pod.into(),
            })
            .await
            .map_err(|e| format!("rmp: {e}"))?;
        Ok(())
    }
}

/// A cgroup v1 file of process `pid`'s cgroup in `controller`.
fn cgroup_file(pid: i32, controller: &str, file: &str) -> Fallible<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(err)?;
    let path = text
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, names, path) = (f.next()?, f.next()?, f.next()?);
            names
                .split(',')
                .any(|n| n == controller)
                .then(|| path.to_string())
        })
        .ok_or_else(|| format!("pid {pid} has no {controller} cgroup"))?;
    let at = format!("/sys/fs/cgroup/{controller}{path}/{file}");
    std::fs::read_to_string(&at)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{at}: {e}"))
}

fn expect(what: &str, cond: bool, detail: impl std::fmt::Debug) -> Fallible {
    if cond {
        Ok(())
    } else {
        Err(format!("{what}: {detail:?}"))
    }
}

async fn scenario(c: &mut Cri) -> Fallible {
    // A pod with its own network, and containers with their own pid
    // namespace, as kubelet makes them by default.
    let pod = c.run_pod("pod-a", false).await?;
    c.ok("runp with an absolute cgroup_parent: the pod is ready");

    let script = "echo out; echo err >&2; trap 'exit 0' TERM; while :; do sleep 1; done";
    let c1 = c.create(&pod, "c1", script, |_| {}).await?;
    let (st, _) = c.status(&c1).await?;
    expect(
        "c1 running",
        st.state == ContainerState::ContainerRunning as i32,
        &st,
    )?;
    c.ok("create and start: the container runs");

    let r = c
        .exec(&c1, &["sh", "-c", "echo hi; echo oops >&2; exit 3"])
        .await?;
    expect("exec sync", r == (3, "hi\n".into(), "oops\n".into()), &r)?;
    c.ok("exec sync: exit code 3, stdout and stderr apart");

    c.wait_log("c1", &[" stdout F out", " stderr F err"])
        .await?;
    c.ok("logs: both streams in the CRI log file");

    let pid = c.pid(&c1).await?;
    c.rt.update_container_resources(UpdateContainerResourcesRequest {
        container_id: c1.clone(),
        linux: Some(LinuxContainerResources {
            memory_limit_in_bytes: 64 << 20,
            cpu_shares: 256,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("update: {e}"))?;
    let mem = cgroup_file(pid, "memory", "memory.limit_in_bytes")?;
    let shares = cgroup_file(pid, "cpu", "cpu.shares")?;
    expect(
        "update in the cgroup",
        mem == (64u64 << 20).to_string() && shares == "256",
        (&mem, &shares),
    )?;
    c.ok("update: memory and cpu shares in the container's cgroup");

    let stats =
        c.rt.container_stats(ContainerStatsRequest {
            container_id: c1.clone(),
        })
        .await
        .map_err(|e| format!("stats: {e}"))?
        .into_inner()
        .stats
        .ok_or("no stats")?;
    let ws = stats
        .memory
        .as_ref()
        .and_then(|m| m.working_set_bytes.as_ref())
        .map_or(0, |v| v.value);
    expect("stats", ws > 0, &stats)?;
    c.ok("stats: the container's memory working set");

    c.stop(&c1, 10).await?;
    let st = c.wait_exited(&c1).await?;
    expect("stop by TERM", st.exit_code == 0, &st)?;
    c.ok("stop: the process ends on TERM, exit code 0");

    // A process that ignores TERM: KILL after the grace period.
    let c2 = c
        .create(
            &pod,
            "c2",
            "trap '' TERM; echo ready; while :; do sleep 1; done",
            |_| {},
        )
        .await?;
    c.wait_log("c2", &[" stdout F ready"]).await?;
    c.stop(&c2, 2).await?;
    let st = c.wait_exited(&c2).await?;
    expect("stop by KILL", st.exit_code == 137, &st)?;
    c.ok("stop: KILL after the grace period, exit code 137");

    let c3 = c
        .create(
            &pod,
            "c3",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
            |cfg| {
                let r = cfg.linux.as_mut().unwrap().resources.as_mut().unwrap();
                r.memory_limit_in_bytes = 32 << 20;
            },
        )
        .await?;
    let st = c.wait_exited(&c3).await?;
    expect("OOM", st.exit_code == 137 && st.reason == "OOMKilled", &st)?;
    c.ok("OOM: exit code 137, reason OOMKilled");

    let c4 = c
        .create(&pod, "c4", "while :; do sleep 1; done", |cfg| {
            let s = cfg
                .linux
                .as_mut()
                .unwrap()
                .security_context
                .as_mut()
                .unwrap();
            s.run_as_user = Some(Int64Value { value: 65534 });
            s.readonly_rootfs = true;
        })
        .await?;
    let r = c.exec(&c4, &["id", "-u"]).await?;
    expect("uid", r.0 == 0 && r.1 == "65534\n", &r)?;
    let r = c.exec(&c4, &["touch", "/x"]).await?;
    expect(
        "read-only rootfs",
        r.0 != 0 && r.2.contains("Read-only"),
        &r,
    )?;
    c.ok("run as uid 65534 on a read-only rootfs");

    for id in [&c1, &c2, &c3, &c4] {
        if id == &c4 {
            c.stop(id, 1).await?;
        }
        c.rt.remove_container(RemoveContainerRequest {
            container_id: id.to_string(),
        })
        .await
        .map_err(|e| format!("rm: {e}"))?;
    }
    c.remove_pod(&pod.0).await?;
    c.ok("rm, stopp, rmp");

    // The host's network and pid namespaces.
    let pod = c.run_pod("pod-host", true).await?;
    let c5 = c
        .create(&pod, "c5", "while :; do sleep 1; done", |_| {})
        .await?;
    for ns in ["net", "pid"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).map_err(err)?;
        let r = c
            .exec(&c5, &["readlink", &format!("/proc/self/ns/{ns}")])
            .await?;
        expect(
            "host namespace",
            r.1.trim() == host.to_string_lossy(),
            (&r, &host),
        )?;
    }
    c.ok("a host-network, host-PID pod shares the host's namespaces");
    c.stop(&c5, 1).await?;
    c.rt.remove_container(RemoveContainerRequest {
        container_id: c5.clone(),
    })
    .await
    .map_err(|e| format!("rm: {e}"))?;
    c.remove_pod(&pod.0).await?;
    c.ok("the host pod removed");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (socket, rest) = match &args[..] {
        [socket, rest @ ..] if rest.len() == 3 || rest == ["--clean"] => (socket.clone(), rest),
        _ => {
            eprintln!(
                "usage: vzrun-cri-driver SOCKET IMAGE CGROUP_PARENT LOG_DIR | SOCKET --clean"
            );
            std::process::exit(2);
        }
    };
    let channel = Endpoint::try_from("http://[::]")
        .expect("a valid endpoint")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .unwrap_or_else(|e| {
            eprintln!("connect to the CRI socket: {e}");
            std::process::exit(1)
        });
    if rest == ["--clean"] {
        let mut rt = RuntimeServiceClient::new(channel);
        let pods = rt
            .list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await
            .map(|r| r.into_inner().items)
            .unwrap_or_default();
        for p in pods {
            let id = p.id;
            let _ = rt
                .stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: id.clone(),
                })
                .await;
            if let Err(e) = rt
                .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                .await
            {
                eprintln!("rmp: {e}");
            }
        }
        return;
    }
    let [image, cgroup_parent, log_dir] = rest else {
        unreachable!("checked above")
    };
    let mut images = ImageServiceClient::new(channel.clone());
    if let Err(e) = images
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: image.clone(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
    {
        eprintln!("image {image}: {e}");
        std::process::exit(1);
    }
    let mut c = Cri {
        rt: RuntimeServiceClient::new(channel),
        image: image.clone(),
        cgroup_parent: cgroup_parent.clone(),
        log_dir: log_dir.clone(),
        checks: 0,
    };
    if let Err(e) = scenario(&mut c).await {
        println!("not ok {} - {e}", c.checks + 1);
        std::process::exit(1);
    }
}
