//! Replays every input in `tests/fixtures/fuzz/<target>/` through the fuzz
//! targets' entry points (`src/fuzz.rs`) on the stable toolchain: the seeds
//! the fuzzer starts from, and each input that once made vzrun panic, hang
//! or abort, kept so that it never comes back. A seed (`seed-*`) must also
//! be accepted, so that the fuzzer starts from inputs that reach past the
//! parser; a hostile input (`hostile-*`: deep nesting, invalid UTF-8, NUL
//! bytes, numbers out of range) must be refused; any other need only end
//! in an error or success.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{}: no inputs", dir.display());
    out
}

fn replay(target: &str, run: impl Fn(&[u8]) -> anyhow::Result<()>) {
    for path in inputs(target) {
        let data = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
        match result {
            Err(_) => panic!("{}: panicked", path.display()),
            Ok(Err(e)) if name.starts_with("seed-") => {
                panic!("{}: a seed must be accepted: {e:#}", path.display())
            }
            Ok(Ok(())) if name.starts_with("hostile-") => {
                panic!("{}: a hostile input must be refused", path.display())
            }
            Ok(_) => {}
        }
    }
}

/// A directory removed when dropped, by a failing test too.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn config_inputs() {
    let bundle =
        TempDir(std::env::temp_dir().join(format!("vzrun-fuzz-replay-{}", std::process::id())));
    std::fs::create_dir_all(bundle.0.join("rootfs")).unwrap();
    replay("config", |d| vzrun::fuzz::config(&bundle.0, d));
}

#[test]
fn process_inputs() {
    replay("process", vzrun::fuzz::process);
}

#[test]
fn update_inputs() {
    replay("update", vzrun::fuzz::update);
}

#[test]
fn annotations_inputs() {
    replay("annotations", vzrun::fuzz::annotations);
}

#[test]
fn state_inputs() {
    replay("state", vzrun::fuzz::state);
}
