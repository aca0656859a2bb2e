// Records the git commit for `vzrun --version`, as runc prints its own, and
// builds vzrun-wait (waiter/main.rs), the program a created container's
// init waits in, which the runtime embeds.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=VZRUN_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    build_waiter();
}

/// Compiles waiter/main.rs for the target with the same rustc, as a static
/// executable without std, libc or start files. On an architecture it has
/// no syscall table for, the embedded program is empty and created
/// containers wait in the runtime itself.
fn build_waiter() {
    println!("cargo:rerun-if-changed=waiter/main.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let exe = out.join("vzrun-wait");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !matches!(arch.as_str(), "x86_64" | "aarch64") {
        std::fs::write(&exe, b"").expect("write an empty vzrun-wait");
        return;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let status = Command::new(rustc)
        .args(["--edition", "2024", "--crate-type", "bin"])
        .args(["--crate-name", "vzrun_wait", "--target", &target])
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "debuginfo=0",
        ])
        .args([
            "-C",
            "relocation-model=static",
            "-C",
            "target-feature=+crt-static",
        ])
        .args(["-C", "strip=symbols"])
        .args(["-C", "link-arg=-nostartfiles", "-C", "link-arg=-nostdlib"])
        .args([
            "-C",
            "link-arg=-static",
            "-C",
            "link-arg=-Wl,--build-id=none",
        ])
        .arg("-o")
        .arg(&exe)
        .arg("waiter/main.rs")
        // Flags meant for the runtime (a symbol ordering file, sanitizers)
        // are not this program's.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run rustc for waiter/main.rs");
    assert!(status.success(), "building waiter/main.rs failed");
}
