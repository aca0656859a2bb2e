//! vzrun: an OCI container runtime that replaces runc.
//!
//! `main` parses the command line, sets up logging, runs the command and
//! turns an error into one log line and exit status 1, as runc does.

use vzrun::{cli, logging};

fn main() {
    let cli = match cli::Cli::parse_runc_style() {
        Ok(c) => c,
        Err(e) => {
            // An unknown command is runc's "No help topic", exit 3; other
            // usage errors exit 1, as runc's do; help goes to stdout, exit 0.
            if e.kind() == clap::error::ErrorKind::InvalidSubcommand
                && let Some(clap::error::ContextValue::String(name)) =
                    e.get(clap::error::ContextKind::InvalidSubcommand)
            {
                logging::error(format!("No help topic for '{name}'"));
                std::process::exit(3);
            }
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let format = match cli.global.log_format {
        cli::LogFormat::Text => logging::Format::Text,
        cli::LogFormat::Json => logging::Format::Json,
    };
    if let Err(e) = logging::init(cli.global.log.as_deref(), format, cli.global.debug) {
        eprintln!("vzrun: {e:#}");
        std::process::exit(1);
    }
    let code = match cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            logging::error(&msg);
            if logging::logs_to_file() {
                eprintln!("{msg}");
            }
            e.downcast_ref::<cli::ExitWith>().map_or(1, |x| x.0)
        }
    };
    std::process::exit(code);
}
