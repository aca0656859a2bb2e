//! Crash points for `tests/faults.rs`, in debug builds only: with
//! `VZRUN_CRASH_AT=<point>` in its environment, the runtime stops at that
//! point of its work, says so on stderr and waits to be killed, so that a
//! test can SIGKILL it at a known step and check what a crash there
//! leaves. Release builds compile every point to nothing.

/// Stops here for good when the environment names `point`.
pub fn point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("VZRUN_CRASH_AT").is_some_and(|p| p == point) {
        eprintln!("vzrun: crash point {point}: waiting to be killed");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
