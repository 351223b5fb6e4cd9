//! The Portunus server: parse the configuration, start logging, run the control plane until
//! SIGINT or SIGTERM.
//!
//! Zero configuration gives Janus's ports on 127.0.0.1 (HTTP 8088, WebSocket 8188, Admin and
//! `/metrics` 7088). An invalid setting prints one line naming it and exits with code 2.

use std::process::ExitCode;

use portunus_ctrl::Server;
use portunus_ctrl::cli::{CliError, config_from_args};

fn main() -> ExitCode {
    let config = match config_from_args(std::env::args_os()) {
        Ok(c) => c,
        Err(CliError::Clap(e)) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(CliError::Clap(e)) => {
            let text = e.to_string();
            eprintln!(
                "portunus: {}",
                text.lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
        Err(CliError::Config(e)) => {
            eprintln!("portunus: {e}");
            return ExitCode::from(2);
        }
    };
    let log = portunus_ctrl::logging::init(config.general.debug_level);
    let mut server = match Server::bind(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portunus: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(log) = log {
        server
            .control_plane()
            .set_log_hook(Box::new(move |level| log.set_level(level)));
    }
    if let Err(e) = server.stop_on_signals() {
        eprintln!("portunus: {e}");
        return ExitCode::from(1);
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portunus: {e}");
            ExitCode::from(1)
        }
    }
}
