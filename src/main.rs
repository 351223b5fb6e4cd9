//! The Portunus server: parse the configuration, start logging, run the control plane until
//! SIGINT or SIGTERM.
//!
//! Zero configuration gives Janus's ports on 127.0.0.1 (HTTP 8088, WebSocket 8188, Admin and
//! `/metrics` 7088). An invalid setting prints one line naming it and exits with code 2. Host
//! checks that fail (see `portunus-tune`) are logged as warnings at start.

use std::process::ExitCode;

use portunus_ctrl::Server;
use portunus_ctrl::cli::{CliError, config_from_args};
use portunus_tune::HostProbe;

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
    warn_about_host(config.media.shards);
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

/// Logs one warning per host check that fails (`portunus-tune check` explains each), so an
/// operator sees at start what limits this machine. `shards` 0 means one per online core.
fn warn_about_host(shards: usize) {
    let host = HostProbe::new("/");
    let host = match shards {
        0 => host,
        n => match host.clone().with_shards(n) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("host checks: {e}");
                host
            }
        },
    };
    for warning in portunus_tune::startup_warnings(&host) {
        tracing::warn!("{warning}");
    }
}
