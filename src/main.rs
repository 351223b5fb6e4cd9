//! The Portunus server: parse the configuration, start logging, run the control plane until
//! SIGINT or SIGTERM.
//!
//! Zero configuration gives Janus's ports on 127.0.0.1 (HTTP 8088, WebSocket 8188, Admin and
//! `/metrics` 7088). An invalid setting prints one line naming it and exits with code 2. Host
//! checks that fail (see `portunus-tune`) are logged as warnings at start.

#[cfg(test)]
mod mix_tests;
#[cfg(test)]
mod pause_tests;
#[cfg(test)]
mod streaming_data_tests;
#[cfg(test)]
mod talking_tests;
#[cfg(test)]
mod textroom_tests;
#[cfg(test)]
mod videoroom_shards_tests;
mod webrtc;
#[cfg(test)]
mod webrtc_tests;

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use portunus_ctrl::Server;
use portunus_ctrl::cli::{CliError, config_from_args};
use portunus_ctrl::config::Config;
use portunus_dataplane::{Dataplane, DataplaneConfig};
use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions};
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
    if let Err(e) = check_stun_server(&config) {
        eprintln!("portunus: {e}");
        return ExitCode::from(1);
    }
    let mut server = match Server::bind(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portunus: {e}");
            return ExitCode::from(1);
        }
    };
    let shared = match start_dataplane(&config) {
        Ok(s) => Rc::new(RefCell::new(s)),
        Err(e) => {
            eprintln!("portunus: {e}");
            return ExitCode::from(1);
        }
    };
    let clock = portunus_plugins::WallClock::new(Instant::now(), SystemTime::now());
    let plugins = portunus_plugins::all(&portunus_plugins::PluginsConfig::default(), clock);
    for entry in &config.plugins.disable {
        let known = plugins.iter().any(|p| names(entry, p.info().package));
        if !known {
            tracing::warn!("plugins.disable: {entry} names no plugin of this server");
        }
    }
    // register_plugin leaves out the plugins named in plugins.disable.
    for plugin in plugins {
        if let Err(e) = server.control_plane().register_plugin(plugin) {
            eprintln!("portunus: {e}");
            return ExitCode::from(1);
        }
    }
    server
        .control_plane()
        .set_media_engine(Box::new(webrtc::WebRtcEngine(Rc::clone(&shared))));
    server.add_hook(Box::new(webrtc::EngineHook(shared)));
    // Configured mountpoints open their RTP inputs now, not at the first request.
    server.control_plane().start_plugins(Instant::now());
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

/// Whether a `plugins.disable` entry names `package`.
fn names(entry: &str, package: &str) -> bool {
    portunus_ctrl::config::plugin_package(entry).as_deref() == Some(package)
}

/// With `nat.stun_server`, send it one binding request at start and log the public address
/// it reports (Janus tests its STUN server the same way and refuses to start when it does not
/// answer, unless `ignore_unreachable_ice_server`). Portunus is ICE-lite and gathers nothing,
/// so the address is only reported: `nat.nat_1_1_mapping` is what goes into candidates.
fn check_stun_server(config: &Config) -> Result<(), String> {
    let Some(server) = &config.nat.stun_server else {
        return Ok(());
    };
    let job = portunus_ctrl::netcheck::NetJob::Stun {
        address: server.clone(),
        port: config.nat.stun_port,
        local_port: 0,
        timeout: config.nat.stun_timeout(),
    };
    match job.run() {
        portunus_ctrl::netcheck::NetOutcome::Mapped { public, .. } => {
            tracing::info!(%public, stun_server = %server, "public address seen by the STUN server");
            if !config.candidate_ips().contains(&public.ip()) {
                tracing::warn!(
                    "candidates do not carry the public address {}: set nat.nat_1_1_mapping if clients must use it",
                    public.ip()
                );
            }
            Ok(())
        }
        outcome => {
            let why = match outcome {
                portunus_ctrl::netcheck::NetOutcome::Failed(reason) => reason,
                _ => "unexpected answer",
            };
            let message = format!("nat.stun_server {server}:{}: {why}", config.nat.stun_port);
            if config.nat.ignore_unreachable_ice_server {
                tracing::warn!("{message} (ignored: ignore_unreachable_ice_server)");
                Ok(())
            } else {
                Err(message)
            }
        }
    }
}

/// Generates the DTLS certificate (one per process, as Janus does without a configured one)
/// and starts the shards.
fn start_dataplane(config: &Config) -> Result<webrtc::Shared, String> {
    let cert = DtlsCertificate::generate(SystemTime::now())
        .map_err(|e| format!("DTLS certificate: {e}"))?;
    let fingerprint = cert.fingerprint().to_string();
    let options = DtlsOptions {
        mtu: config.media.dtls_mtu,
        ..DtlsOptions::default()
    };
    let dtls = DtlsConfig::new(&cert, options).map_err(|e| format!("DTLS: {e}"))?;
    let mut dp = DataplaneConfig::new(Arc::new(dtls));
    dp.shards = config.media.shards;
    dp.dscp = config.media.dscp;
    if let Some(interface) = config.general.interface {
        dp.bind = vec![interface];
    }
    // For measurements: one send per datagram, as on a kernel without UDP GSO.
    dp.gso = std::env::var_os("PORTUNUS_NO_GSO").is_none_or(|v| v.is_empty() || v == "0");
    dp.stats_interval = Some(webrtc::STATS_INTERVAL);
    if let Some((low, high)) = config.media.rtp_port_range {
        dp.port_base = low;
        let shards = if dp.shards == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            dp.shards
        };
        if usize::from(high - low) + 1 < shards {
            return Err(format!(
                "media.rtp_port_range: {low}-{high} has fewer ports than the {shards} shards need"
            ));
        }
    }
    let dataplane = Dataplane::start(dp).map_err(|e| format!("dataplane: {e}"))?;
    tracing::info!(shards = dataplane.shard_count(), backend = ?dataplane.backend(), "dataplane started");
    let mut ice_ips = config.candidate_ips();
    if ice_ips.is_empty() {
        // Without --ice-ip, nat_1_1_mapping or interface the candidates name loopback: right
        // for a local demo, and an operator sets the public address for anything else.
        ice_ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let slowlink = u32::try_from(config.media.slowlink_threshold).unwrap_or(u32::MAX);
    Ok(webrtc::Shared::new(
        dataplane,
        ice_ips,
        fingerprint,
        slowlink,
    ))
}
