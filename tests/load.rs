//! Many containers at once: 200 created, exec'd into and deleted by 8
//! workers in parallel, while `list` is read throughout and `ps` and
//! `events --stats` are aimed at containers as they go away. Nothing may
//! fail, panic or be left behind.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;

const CONTAINERS: usize = 200;
const WORKERS: usize = 8;

/// Exit 0, or exit 1 with a message: never a panic (101) or a signal.
fn orderly(o: &Out, what: &str) {
    assert!(
        (o.code == 0 || (o.code == 1 && !o.stderr.trim().is_empty()))
            && !o.stderr.contains("panicked"),
        "{what}: {o}"
    );
}

#[test]
fn two_hundred_containers_in_parallel_leave_the_host_as_it_was() {
    let env = TestEnv::new("load");
    // One read-only rootfs for all: the bundles differ only in their id.
    let shared = env.bundle("load-rootfs");
    let ids: Vec<String> = (0..CONTAINERS).map(|_| env.new_id()).collect();
    let bundles: Vec<Bundle> = ids
        .iter()
        .map(|id| {
            let mut b = env.bundle_without_rootfs(id);
            b.config_mut()["root"] =
                serde_json::json!({"path": shared.rootfs.display().to_string(), "readonly": true});
            b.set_args(&["sleep", "1000"]);
            b.write();
            env.track_id(id);
            b
        })
        .collect();
    // `list` reads it from the start, before the first create makes it.
    std::fs::create_dir_all(&env.root).unwrap();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    // Ids whose delete is under way, for the readers to aim at.
    let going: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let lists = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                // Counted when the worker ends, by a panic too, so that the
                // readers stop and the scope ends.
                struct Finished<'a>(&'a AtomicUsize);
                impl Drop for Finished<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let _finished = Finished(&finished);
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= CONTAINERS {
                        break;
                    }
                    let id = &ids[i];
                    env.run_out(id, &bundles[i], &["-d"]).assert_ok();
                    let out = env.rt(&["exec", id, "cat", "/proc/self/cgroup"]);
                    out.assert_ok();
                    assert!(!out.stdout.is_empty(), "{id}");
                    assert_eq!(env.status(id), "running", "{id}");
                    going.lock().unwrap().push(id.clone());
                    env.rt(&["delete", "--force", id]).assert_ok();
                    // Processes are counted at the end: the readers' own
                    // `ps` and `events` name the id too.
                    assert!(!env.root.join(id).exists(), "{id}: state left");
                    assert_eq!(cgroup_dirs(id), Vec::<std::path::PathBuf>::new(), "{id}");
                }
            });
        }
        // `list` throughout: always parses, every row an id of ours with a
        // status a container can have.
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let out = env.rt(&["list", "--format", "json"]);
                out.assert_ok();
                let rows: serde_json::Value = serde_json::from_str(&out.stdout)
                    .unwrap_or_else(|e| panic!("list: {e}: {}", out.stdout));
                for r in rows.as_array().into_iter().flatten() {
                    let id = r["id"].as_str().unwrap_or_default();
                    assert!(ids.iter().any(|i| i == id), "list shows {id}: {r}");
                    let status = r["status"].as_str().unwrap_or_default();
                    assert!(
                        ["creating", "created", "running", "stopped"].contains(&status),
                        "{r}"
                    );
                }
                lists.fetch_add(1, Ordering::SeqCst);
            }
        });
        // `ps` and `events --stats` on containers being deleted.
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let Some(id) = going.lock().unwrap().pop() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                };
                orderly(&env.rt(&["ps", &id]), &format!("ps {id}"));
                orderly(
                    &env.rt(&["events", "--stats", &id]),
                    &format!("events --stats {id}"),
                );
            }
        });
        s.spawn(|| {
            while finished.load(Ordering::SeqCst) < WORKERS {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            done.store(true, Ordering::SeqCst);
        });
    });
    assert!(lists.load(Ordering::SeqCst) > 0);
    let out = env.rt(&["list", "-q"]);
    assert_eq!(out.stdout, "", "list after the load");
    for id in &ids {
        env.assert_no_leftovers(id);
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&env.prefix), "mounts left:\n{mounts}");
}
