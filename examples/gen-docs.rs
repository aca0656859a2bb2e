//! Writes vzrun's man pages (one per command, section 8 as runc's) and its
//! bash, zsh and fish completions from the command line's own definitions,
//! so that they never drift from it:
//!
//!     cargo run --example gen-docs -- OUTDIR
//!
//! makes OUTDIR/man/vzrun.8, OUTDIR/man/vzrun-COMMAND.8 and
//! OUTDIR/completions/{vzrun.bash,_vzrun,vzrun.fish}. `make docs` runs it.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args_os().nth(1).expect("usage: gen-docs OUTDIR"));
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let cmd = vzrun::cli::command();
    page(&cmd, "vzrun", &man)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        page(sub, &format!("vzrun-{}", sub.get_name()), &man)?;
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "vzrun", &completions)?;
    }
    Ok(())
}

/// One page, named as `man` finds it (`man vzrun-run`).
fn page(cmd: &clap::Command, name: &str, dir: &Path) -> std::io::Result<()> {
    // clap keeps names as &'static str; this program ends right after.
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    // Titled vzrun-run, used as `vzrun run` in the synopsis.
    let cmd = cmd.clone().name(name).bin_name(name.replacen('-', " ", 1));
    let mut text = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .manual("vzrun manual")
        .source(format!("vzrun {}", env!("CARGO_PKG_VERSION")))
        .render(&mut text)?;
    std::fs::write(dir.join(format!("{name}.8")), text)
}
