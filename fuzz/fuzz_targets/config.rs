#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

/// One bundle directory (with an empty rootfs) for every run: the plan
/// resolves paths against it, and never writes to it. It lives in the fuzz
/// crate's own target directory, as a fuzzer that is stopped cleans up
/// nothing.
fn bundle() -> &'static PathBuf {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-bundle");
        std::fs::create_dir_all(dir.join("rootfs")).expect("make the fuzz bundle");
        dir
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = vzrun::fuzz::config(bundle(), data);
});
