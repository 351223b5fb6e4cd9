//! Command-line flags: `--config FILE` plus overrides of the most used settings.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{Config, ConfigError, parse_port_range};

/// `portunus [--config FILE] [overrides…]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "portunus",
    version,
    about = "Janus-compatible WebRTC gateway and SFU"
)]
pub struct Cli {
    /// TOML configuration file (sections as in janus.jcfg: general, http, websockets, admin,
    /// certificates, media).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP (REST + long-poll) port; 0 picks a free one.
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// WebSocket port; 0 picks a free one.
    #[arg(long, value_name = "PORT")]
    pub ws_port: Option<u16>,
    /// Admin API port (HTTP /admin, WebSocket janus-admin-protocol, /metrics); 0 picks one.
    #[arg(long, value_name = "PORT")]
    pub admin_port: Option<u16>,
    /// Address every listener binds to (default 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// Admin API secret.
    #[arg(long, value_name = "SECRET")]
    pub admin_secret: Option<String>,
    /// Janus API secret (`apisecret` in every request).
    #[arg(long, value_name = "SECRET")]
    pub api_secret: Option<String>,
    /// Enable stored-token authentication (tokens added with Admin add_token).
    #[arg(long)]
    pub token_auth: bool,
    /// Seconds without requests before a session is destroyed (0 = never).
    #[arg(long, value_name = "SECONDS")]
    pub session_timeout: Option<u64>,
    /// Local address for media (Janus `-i`): shards bind it and candidates carry it unless
    /// `--ice-ip` or `nat.nat_1_1_mapping` name public ones.
    #[arg(long, value_name = "ADDR")]
    pub interface: Option<IpAddr>,
    /// Address written into ICE candidates (repeatable).
    #[arg(long = "ice-ip", value_name = "ADDR")]
    pub ice_ips: Vec<IpAddr>,
    /// UDP ports media may use, e.g. 20000-40000.
    #[arg(long, value_name = "MIN-MAX", value_parser = parse_port_range)]
    pub rtp_port_range: Option<(u16, u16)>,
    /// Dataplane shard threads (0 = one per core).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Janus log level 0–7 (4 = info).
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u8).range(0..=7))]
    pub debug_level: Option<u8>,
}

/// Why the command line did not give a configuration.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag problem, `--help` or `--version` (clap renders it).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Cli {
    /// Load `--config` (or defaults), apply the overrides, validate.
    ///
    /// # Errors
    /// The first invalid setting.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(ip) = self.bind {
            c.http.ip = ip;
            c.websockets.ip = ip;
            c.admin.ip = ip;
        }
        if let Some(p) = self.http_port {
            c.http.port = p;
        }
        if let Some(p) = self.ws_port {
            c.websockets.port = p;
        }
        if let Some(p) = self.admin_port {
            c.admin.port = p;
        }
        if self.admin_secret.is_some() {
            c.general.admin_secret = self.admin_secret;
        }
        if self.api_secret.is_some() {
            c.general.api_secret = self.api_secret;
        }
        c.general.token_auth |= self.token_auth;
        if let Some(t) = self.session_timeout {
            c.general.session_timeout = t;
        }
        if self.interface.is_some() {
            c.general.interface = self.interface;
        }
        if !self.ice_ips.is_empty() {
            c.media.ice_ips = self.ice_ips;
        }
        if self.rtp_port_range.is_some() {
            c.media.rtp_port_range = self.rtp_port_range;
        }
        if let Some(n) = self.shards {
            c.media.shards = n;
        }
        if let Some(l) = self.debug_level {
            c.general.debug_level = l;
        }
        c.validate()?;
        Ok(c)
    }
}

/// Parse `args` (program name first) into a validated configuration.
///
/// # Errors
/// [`CliError`]; [`CliError::Clap`] also covers `--help` and `--version`.
pub fn config_from_args<I, T>(args: I) -> Result<Config, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    Ok(cli.into_config()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply() {
        let c = config_from_args([
            "portunus",
            "--http-port",
            "0",
            "--ice-ip",
            "127.0.0.1",
            "--ice-ip",
            "10.0.0.1",
            "--rtp-port-range",
            "20000-20010",
            "--shards",
            "2",
            "--session-timeout",
            "5",
            "--admin-secret",
            "s",
            "--interface",
            "10.1.2.3",
        ])
        .unwrap();
        assert_eq!(c.http.port, 0);
        assert_eq!(c.media.ice_ips.len(), 2);
        assert_eq!(c.media.rtp_port_range, Some((20000, 20010)));
        assert_eq!(c.media.shards, 2);
        assert_eq!(c.general.session_timeout, 5);
        assert_eq!(c.general.admin_secret.as_deref(), Some("s"));
        assert_eq!(c.general.interface, Some("10.1.2.3".parse().unwrap()));
        let e = config_from_args(["portunus", "--interface", "0.0.0.0"]).unwrap_err();
        let CliError::Config(e) = e else {
            unreachable!("a wildcard interface is a config error")
        };
        assert_eq!(e.setting, "general.interface");
    }

    #[test]
    fn bad_flag_value_names_the_flag() {
        let e = config_from_args(["portunus", "--rtp-port-range", "9-1"]).unwrap_err();
        let CliError::Clap(e) = e else {
            unreachable!("range errors come from clap")
        };
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--rtp-port-range"), "{e}");
        let e = config_from_args(["portunus", "--http-port", "x"]).unwrap_err();
        assert!(e.to_string().contains("--http-port"), "{e}");
    }
}
