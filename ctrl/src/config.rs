//! Server configuration: zero-config defaults, a TOML file, validation.
//!
//! The TOML sections mirror Janus's `janus.jcfg` and transport files (see
//! `shared/janus-api/config.md`): `[general]`, `[http]`, `[websockets]`, `[admin]`,
//! `[certificates]`, `[media]`, `[nat]`, `[plugins]`, `[events]`. Every key is optional;
//! unknown keys are an error.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// An invalid setting: which one, and why. Printed as one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{setting}`: {message}")]
pub struct ConfigError {
    /// The setting, as `section.key` or `--flag`.
    pub setting: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error for `setting`.
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// How JSON replies are formatted (Janus `json` transport option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonStyle {
    /// Pretty, three-space indent (Janus's default).
    #[default]
    Indented,
    /// One line.
    Plain,
    /// One line, no spaces.
    Compact,
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Core settings (`janus.jcfg` `general`).
    pub general: GeneralConfig,
    /// The HTTP (REST + long-poll) transport.
    pub http: HttpConfig,
    /// The WebSocket transport.
    pub websockets: WsConfig,
    /// The Admin API listener (HTTP `/admin`, WebSocket `janus-admin-protocol`, `/metrics`).
    pub admin: AdminConfig,
    /// Certificate and key for HTTPS/WSS.
    pub certificates: CertConfig,
    /// Media settings carried for the dataplane.
    pub media: MediaConfig,
    /// NAT and STUN settings (`janus.jcfg` `nat`).
    pub nat: NatConfig,
    /// Which plugins not to register (`janus.jcfg` `plugins`).
    pub plugins: PluginsSection,
    /// Event handlers (`janus.jcfg` `events`): parsed and checked; none is implemented.
    pub events: EventsSection,
}

/// `[general]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneralConfig {
    /// `server-name` in `info`.
    pub server_name: String,
    /// Seconds without a request before a session is destroyed; 0 = never.
    pub session_timeout: u64,
    /// Seconds a session survives its transport going away, waiting for `claim`; 0 = none.
    pub reclaim_session_timeout: u64,
    /// Seconds early trickle candidates are kept.
    pub candidates_timeout: u64,
    /// Every Janus API request must carry this `apisecret`.
    pub api_secret: Option<String>,
    /// Requests must carry a `token`: one added through the Admin API (stored-token mode) or,
    /// with `token_auth_secret`, an HMAC-signed one.
    pub token_auth: bool,
    /// Secret for HMAC-SHA1 signed tokens (`<expiry>,janus,<plugin>…:<base64 signature>`);
    /// the Admin token requests are then disabled, as in Janus.
    pub token_auth_secret: Option<String>,
    /// Admin API secret.
    pub admin_secret: Option<String>,
    /// Add `opaque_id` to handle events.
    pub opaqueid_in_api: bool,
    /// Leave `dependencies` out of `info`.
    pub hide_dependencies: bool,
    /// Janus log level 0–7 (4 = info).
    pub debug_level: u8,
    /// Whether `create` is allowed at start.
    pub accept_new_sessions: bool,
    /// Reply formatting.
    pub json: JsonStyle,
    /// Local address for media (Janus `interface`): the shards bind it instead of the
    /// wildcard addresses, it is the host candidate's address unless `nat.nat_1_1_mapping`
    /// (or `media.ice_ips`) replaces it, and it is `local-ip` in `info`.
    pub interface: Option<IpAddr>,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        Self {
            server_name: "MyJanusInstance".into(),
            session_timeout: 60,
            reclaim_session_timeout: 0,
            candidates_timeout: 45,
            api_secret: None,
            token_auth: false,
            token_auth_secret: None,
            admin_secret: None,
            opaqueid_in_api: false,
            hide_dependencies: false,
            debug_level: 4,
            accept_new_sessions: true,
            json: JsonStyle::Indented,
            interface: None,
        }
    }
}

/// `[http]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Serve plain HTTP.
    pub enabled: bool,
    /// Bind address.
    pub ip: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Base path (Janus `base_path`).
    pub base_path: String,
    /// Serve HTTPS too (needs `[certificates]`).
    pub https: bool,
    /// HTTPS port; 0 picks a free one.
    pub secure_port: u16,
    /// Largest accepted request body, bytes.
    pub max_body_size: usize,
    /// How long a long poll waits before answering `keepalive`, milliseconds (Janus: 30 s).
    pub long_poll_timeout_ms: u64,
    /// Idle keep-alive connections (and requests that never complete) are closed after this,
    /// milliseconds (libmicrohttpd: 120 s).
    pub idle_timeout_ms: u64,
    /// Most simultaneous connections per listener.
    pub max_connections: usize,
    /// `Access-Control-Allow-Origin` value; `*` when unset.
    pub allow_origin: Option<String>,
    /// Answer 403 to requests whose `Origin` does not match `allow_origin`.
    pub enforce_cors: bool,
    /// Client address prefixes allowed to connect, as text (`["127.", "192.168.0."]`, Janus
    /// `acl`); empty allows everyone. Others are disconnected before any byte is read.
    pub acl: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8088,
            base_path: "/janus".into(),
            https: false,
            secure_port: 8089,
            max_body_size: 1 << 20,
            long_poll_timeout_ms: 30_000,
            idle_timeout_ms: 120_000,
            max_connections: 4096,
            allow_origin: None,
            enforce_cors: false,
            acl: Vec::new(),
        }
    }
}

/// `[websockets]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// Serve plain WebSocket.
    pub enabled: bool,
    /// Bind address.
    pub ip: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Serve WSS too (needs `[certificates]`).
    pub wss: bool,
    /// WSS port.
    pub wss_port: u16,
    /// Largest accepted message, bytes; bigger ones close the connection.
    pub max_message_size: usize,
    /// Seconds without any frame from a client before the server sends it a WebSocket ping
    /// (Janus `pingpong_trigger`); 0 = no pings. Needs `pingpong_timeout` too.
    pub pingpong_trigger: u64,
    /// Seconds after that ping without any frame (pong or other) before the connection is
    /// closed and its sessions handled as a lost transport (Janus `pingpong_timeout`).
    pub pingpong_timeout: u64,
    /// Client address prefixes allowed to connect (Janus `ws_acl`); empty allows everyone.
    pub acl: Vec<String>,
}

impl WsConfig {
    /// The ping trigger and pong timeout, when server pings are enabled.
    pub fn pingpong(&self) -> Option<(Duration, Duration)> {
        (self.pingpong_trigger > 0 && self.pingpong_timeout > 0).then(|| {
            (
                Duration::from_secs(self.pingpong_trigger),
                Duration::from_secs(self.pingpong_timeout),
            )
        })
    }
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8188,
            wss: false,
            wss_port: 8989,
            max_message_size: 1 << 20,
            pingpong_trigger: 0,
            pingpong_timeout: 0,
            acl: Vec::new(),
        }
    }
}

/// `[admin]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the Admin API.
    pub enabled: bool,
    /// Bind address.
    pub ip: IpAddr,
    /// Port for HTTP `/admin`, WebSocket `janus-admin-protocol` and `/metrics`.
    pub port: u16,
    /// Base path (Janus `admin_base_path`).
    pub base_path: String,
    /// Client address prefixes allowed to connect (Janus `admin_acl`); empty allows everyone.
    pub acl: Vec<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 7088,
            base_path: "/admin".into(),
            acl: Vec::new(),
        }
    }
}

/// `[certificates]`: PEM files for HTTPS and WSS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertConfig {
    /// Certificate chain (PEM).
    pub cert_pem: Option<PathBuf>,
    /// Private key (PEM).
    pub cert_key: Option<PathBuf>,
    /// Key passphrase.
    pub cert_pwd: Option<String>,
}

/// `[media]`: carried for the dataplane; the control plane only reports them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Addresses written into ICE candidates (empty: let the dataplane choose).
    pub ice_ips: Vec<IpAddr>,
    /// UDP ports media may use, inclusive (`"min-max"` in TOML).
    #[serde(deserialize_with = "de_port_range")]
    pub rtp_port_range: Option<(u16, u16)>,
    /// Dataplane shard threads; 0 = one per core.
    pub shards: usize,
    /// Seconds without packets before `media` `receiving:false`.
    pub no_media_timer: u64,
    /// Lost packets per second that trigger `slowlink`; 0 = off.
    pub slowlink_threshold: u64,
    /// Transport-wide CC feedback period, ms.
    pub twcc_period: u64,
    /// DTLS MTU.
    pub dtls_mtu: u16,
    /// Minimum NACK buffer, ms.
    pub min_nack_queue: u64,
    /// Flush the NACK buffer on keyframes.
    pub nack_optimizations: bool,
    /// ICE-lite.
    pub ice_lite: bool,
    /// Send the server's candidates as `trickle` events.
    pub full_trickle: bool,
    /// Gather IPv6 candidates.
    pub ipv6: bool,
    /// DSCP code point (0–63) for every packet the media sockets send (Janus `dscp`, also
    /// accepted as `dscp_tos`); 0 leaves the marking alone.
    #[serde(alias = "dscp_tos")]
    pub dscp: u8,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            ice_ips: Vec::new(),
            rtp_port_range: None,
            shards: 0,
            no_media_timer: 1,
            slowlink_threshold: 0,
            twcc_period: 200,
            dtls_mtu: 1200,
            min_nack_queue: 200,
            nack_optimizations: false,
            ice_lite: false,
            full_trickle: false,
            ipv6: false,
            dscp: 0,
        }
    }
}

/// The smallest `media.dtls_mtu` the DTLS stack takes (OpenSSL's minimum).
const MIN_DTLS_MTU: u16 = 256;

/// `[nat]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatConfig {
    /// STUN server checked at start (the public address it sees is logged) and the default
    /// of nothing else: Admin `test_stun` names its server explicitly, as in Janus.
    pub stun_server: Option<String>,
    /// Its UDP port.
    pub stun_port: u16,
    /// Start even when the STUN server does not answer (otherwise startup fails, as Janus).
    pub ignore_unreachable_ice_server: bool,
    /// Public addresses written into candidates in place of the host address (1:1 NAT);
    /// a comma-separated string as in `janus.jcfg`, or a TOML array.
    #[serde(deserialize_with = "de_ip_list")]
    pub nat_1_1_mapping: Vec<IpAddr>,
    /// With `nat_1_1_mapping`: advertise the host address as well.
    pub keep_private_host: bool,
    /// Interfaces or address prefixes to gather on. Portunus does not gather (it writes the
    /// configured addresses), so a non-empty list only earns a startup warning.
    #[serde(deserialize_with = "de_name_list")]
    pub ice_enforce_list: Vec<String>,
    /// Interfaces or address prefixes never to gather on; see `ice_enforce_list`.
    #[serde(deserialize_with = "de_name_list")]
    pub ice_ignore_list: Vec<String>,
    /// How long Admin `test_stun` (and the start-up check) waits for the binding response,
    /// milliseconds (Janus: 5 s).
    pub stun_timeout_ms: u64,
}

impl Default for NatConfig {
    fn default() -> Self {
        Self {
            stun_server: None,
            stun_port: 3478,
            ignore_unreachable_ice_server: false,
            nat_1_1_mapping: Vec::new(),
            keep_private_host: false,
            ice_enforce_list: Vec::new(),
            // Janus's default; harmless here since nothing is gathered.
            ice_ignore_list: vec!["vmnet".into()],
            stun_timeout_ms: 5000,
        }
    }
}

impl NatConfig {
    /// The STUN wait as a duration.
    pub fn stun_timeout(&self) -> Duration {
        Duration::from_millis(self.stun_timeout_ms)
    }
}

/// `[plugins]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsSection {
    /// Plugins not to register: package names (`janus.plugin.textroom`) or Janus's library
    /// names (`libjanus_textroom.so`); a comma-separated string or a TOML array.
    #[serde(deserialize_with = "de_name_list")]
    pub disable: Vec<String>,
}

impl PluginsSection {
    /// Whether the plugin with `package` name is disabled.
    pub fn is_disabled(&self, package: &str) -> bool {
        self.disable
            .iter()
            .any(|d| plugin_package(d).as_deref() == Some(package))
    }
}

/// The package name a `plugins.disable` entry names: itself, or `janus.plugin.<x>` for
/// `libjanus_<x>.so`. `None` for anything else.
pub fn plugin_package(entry: &str) -> Option<String> {
    if let Some(x) = entry
        .strip_prefix("libjanus_")
        .and_then(|r| r.strip_suffix(".so"))
        .filter(|x| !x.is_empty())
    {
        return Some(format!("janus.plugin.{x}"));
    }
    entry
        .strip_prefix("janus.plugin.")
        .filter(|x| !x.is_empty())
        .map(|_| entry.to_owned())
}

/// `[events]`: Janus's event-handler settings. Portunus has no event handlers; the keys are
/// accepted so a converted `janus.jcfg` loads, and `broadcast = true` is reported at start.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsSection {
    /// Enable event handlers.
    pub broadcast: bool,
    /// Seconds between media statistics events; 0 = none.
    pub stats_period: u64,
    /// Combine the media statistics of a PeerConnection into one event.
    pub combine_media_stats: bool,
    /// Event handlers not to load (comma-separated string or array).
    #[serde(deserialize_with = "de_name_list")]
    pub disable: Vec<String>,
}

impl Default for EventsSection {
    fn default() -> Self {
        Self {
            broadcast: false,
            stats_period: 1,
            combine_media_stats: false,
            disable: Vec::new(),
        }
    }
}

impl Config {
    /// Read and validate a TOML file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file position or the setting at fault.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_toml(&text).map_err(|mut e| {
            if e.setting == "config file" {
                e.setting = path.display().to_string();
            }
            e
        })
    }

    /// Parse and validate TOML text.
    ///
    /// # Errors
    /// A [`ConfigError`]; for syntax and type errors the setting is `config file` and the
    /// message names the line and key.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check cross-field rules.
    ///
    /// # Errors
    /// The first invalid setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.general.debug_level > 7 {
            return Err(ConfigError::new(
                "general.debug_level",
                "must be between 0 and 7",
            ));
        }
        for (name, p) in [
            ("http.base_path", &self.http.base_path),
            ("admin.base_path", &self.admin.base_path),
        ] {
            if !p.starts_with('/') || (p.len() > 1 && p.ends_with('/')) {
                return Err(ConfigError::new(
                    name,
                    "must start with '/' and not end with '/'",
                ));
            }
        }
        if let Some((a, b)) = self.media.rtp_port_range {
            check_range(a, b).map_err(|m| ConfigError::new("media.rtp_port_range", m))?;
        }
        if self.media.dscp > 63 {
            return Err(ConfigError::new("media.dscp", "must be between 0 and 63"));
        }
        if let Some(ip) = self.general.interface
            && ip.is_unspecified()
        {
            return Err(ConfigError::new(
                "general.interface",
                "must be one local address, not the wildcard",
            ));
        }
        self.validate_nat()?;
        for d in &self.plugins.disable {
            if plugin_package(d).is_none() {
                return Err(ConfigError::new(
                    "plugins.disable",
                    format!("{d:?} is neither a plugin package (janus.plugin.x) nor libjanus_x.so"),
                ));
            }
        }
        if self.events.disable.iter().any(String::is_empty) {
            return Err(ConfigError::new("events.disable", "has an empty entry"));
        }
        if self.media.shards > 1024 {
            return Err(ConfigError::new("media.shards", "must be at most 1024"));
        }
        for (name, zero) in [
            (
                "http.long_poll_timeout_ms",
                self.http.long_poll_timeout_ms == 0,
            ),
            ("http.idle_timeout_ms", self.http.idle_timeout_ms == 0),
            ("http.max_connections", self.http.max_connections == 0),
            ("http.max_body_size", self.http.max_body_size == 0),
            (
                "websockets.max_message_size",
                self.websockets.max_message_size == 0,
            ),
        ] {
            if zero {
                return Err(ConfigError::new(name, "must be greater than 0"));
            }
        }
        if self.media.dtls_mtu < MIN_DTLS_MTU {
            return Err(ConfigError::new(
                "media.dtls_mtu",
                format!("must be at least {MIN_DTLS_MTU}"),
            ));
        }
        for (name, acl) in [
            ("http.acl", &self.http.acl),
            ("websockets.acl", &self.websockets.acl),
            ("admin.acl", &self.admin.acl),
        ] {
            if acl.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    name,
                    "an empty prefix would allow everyone; leave the list empty instead",
                ));
            }
        }
        let ws = &self.websockets;
        if (ws.pingpong_trigger == 0) != (ws.pingpong_timeout == 0) {
            let (set, unset) = if ws.pingpong_trigger == 0 {
                ("pingpong_timeout", "pingpong_trigger")
            } else {
                ("pingpong_trigger", "pingpong_timeout")
            };
            return Err(ConfigError::new(
                format!("websockets.{set}"),
                format!("needs websockets.{unset} as well (both or neither)"),
            ));
        }
        if (self.http.https || self.websockets.wss)
            && (self.certificates.cert_pem.is_none() || self.certificates.cert_key.is_none())
        {
            return Err(ConfigError::new(
                "certificates.cert_pem",
                "https/wss need certificates.cert_pem and certificates.cert_key",
            ));
        }
        Ok(())
    }

    fn validate_nat(&self) -> Result<(), ConfigError> {
        let n = &self.nat;
        if let Some(server) = &n.stun_server
            && (server.trim().is_empty() || server.contains(char::is_whitespace))
        {
            return Err(ConfigError::new(
                "nat.stun_server",
                "must be a host name or address",
            ));
        }
        if n.stun_port == 0 {
            return Err(ConfigError::new(
                "nat.stun_port",
                "must be between 1 and 65535",
            ));
        }
        if n.stun_timeout_ms == 0 || n.stun_timeout_ms > 60_000 {
            return Err(ConfigError::new(
                "nat.stun_timeout_ms",
                "must be between 1 and 60000",
            ));
        }
        if let Some(ip) = n.nat_1_1_mapping.iter().find(|ip| ip.is_unspecified()) {
            return Err(ConfigError::new(
                "nat.nat_1_1_mapping",
                format!("{ip} is a wildcard, not an address clients can reach"),
            ));
        }
        if n.keep_private_host && n.nat_1_1_mapping.is_empty() {
            return Err(ConfigError::new(
                "nat.keep_private_host",
                "needs nat.nat_1_1_mapping",
            ));
        }
        for (name, list) in [
            ("nat.ice_enforce_list", &n.ice_enforce_list),
            ("nat.ice_ignore_list", &n.ice_ignore_list),
        ] {
            if list.iter().any(String::is_empty) {
                return Err(ConfigError::new(name, "has an empty entry"));
            }
        }
        Ok(())
    }

    /// The addresses to write into candidates, by priority of the settings: `media.ice_ips`
    /// (`--ice-ip`), else `nat.nat_1_1_mapping` (plus the host address with
    /// `keep_private_host`), else `general.interface`. Empty: nothing configured.
    pub fn candidate_ips(&self) -> Vec<IpAddr> {
        if !self.media.ice_ips.is_empty() {
            return self.media.ice_ips.clone();
        }
        let mut ips = self.nat.nat_1_1_mapping.clone();
        if (ips.is_empty() || self.nat.keep_private_host)
            && let Some(host) = self.general.interface
            && !ips.contains(&host)
        {
            ips.push(host);
        }
        ips
    }

    /// One line per setting that is accepted (so a converted `janus.jcfg` loads) but has no
    /// effect in Portunus; the server logs each at start rather than ignoring it silently.
    pub fn ineffective_settings(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let e = &self.events;
        if e.broadcast {
            notes.push(
                "events.broadcast = true: event handlers are not implemented, no events are sent"
                    .to_owned(),
            );
        }
        let janus_default_ignore = self.nat.ice_ignore_list == ["vmnet"];
        for (name, list, default) in [
            ("nat.ice_enforce_list", &self.nat.ice_enforce_list, false),
            (
                "nat.ice_ignore_list",
                &self.nat.ice_ignore_list,
                janus_default_ignore,
            ),
        ] {
            if !list.is_empty() && !default {
                notes.push(format!(
                    "{name} has no effect: Portunus does not gather candidates, it writes \
                     general.interface / nat.nat_1_1_mapping / media.ice_ips"
                ));
            }
        }
        notes
    }

    /// The long-poll wait as a duration.
    pub fn long_poll_timeout(&self) -> Duration {
        Duration::from_millis(self.http.long_poll_timeout_ms)
    }
}

/// Parse `"A-B"` into an inclusive port range (Janus `rtp_port_range`).
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX, got {s:?}"))?;
    let a: u16 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a port number"))?;
    let b: u16 = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?} is not a port number"))?;
    check_range(a, b)?;
    Ok((a, b))
}

fn check_range(a: u16, b: u16) -> Result<(), String> {
    if a == 0 || b == 0 {
        return Err("ports must be between 1 and 65535".into());
    }
    if a > b {
        return Err(format!("minimum {a} is above maximum {b}"));
    }
    Ok(())
}

fn de_port_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<(u16, u16)>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| parse_port_range(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// A list given as a comma-separated string (Janus's form) or as a TOML array of strings.
fn de_name_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Text(String),
        Items(Vec<String>),
    }
    Ok(match List::deserialize(d)? {
        List::Text(t) if t.trim().is_empty() => Vec::new(),
        List::Text(t) => t.split(',').map(|s| s.trim().to_owned()).collect(),
        List::Items(v) => v.into_iter().map(|s| s.trim().to_owned()).collect(),
    })
}

/// A list of IP addresses, as a comma-separated string or a TOML array.
fn de_ip_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    de_name_list(d)?
        .iter()
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an IP address")))
        })
        .collect()
}

/// One line for a TOML error: line number, the offending line, the message.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_owned();
    match e.span() {
        Some(span) => {
            // Counted on bytes: slicing the str at the span could panic off a char boundary.
            let newlines = text
                .bytes()
                .take(span.start)
                .filter(|b| *b == b'\n')
                .count();
            let line_no = newlines + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            ConfigError::new(
                "config file",
                format!("line {line_no} (`{line}`): {message}"),
            )
        }
        None => ConfigError::new("config file", message),
    }
}

impl fmt::Display for JsonStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Indented => "indented",
            Self::Plain => "plain",
            Self::Compact => "compact",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_janus_ports_on_loopback() {
        let c = Config::default();
        assert_eq!(c.http.port, 8088);
        assert_eq!(c.websockets.port, 8188);
        assert_eq!(c.admin.port, 7088);
        assert_eq!(c.general.session_timeout, 60);
        assert_eq!(c.http.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn toml_overrides_and_port_range() {
        let c = Config::from_toml(
            "[general]\nsession_timeout = 5\nadmin_secret = \"x\"\n[media]\nrtp_port_range = \"20000-20100\"\n",
        )
        .unwrap();
        assert_eq!(c.general.session_timeout, 5);
        assert_eq!(c.general.admin_secret.as_deref(), Some("x"));
        assert_eq!(c.media.rtp_port_range, Some((20000, 20100)));
    }

    #[test]
    fn unknown_key_names_line() {
        let e = Config::from_toml("[http]\nprot = 1\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(e.to_string().contains("prot"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = Config::from_toml("[http]\nport = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("port = \"x\""), "{e}");
    }

    #[test]
    fn acls_parse_per_listener() {
        let c = Config::from_toml(
            "[http]\nacl = [\"127.\", \"10.0.\"]\n[admin]\nacl = [\"127.0.0.1\"]\n",
        )
        .unwrap();
        assert_eq!(c.http.acl, ["127.", "10.0."]);
        assert_eq!(c.admin.acl, ["127.0.0.1"]);
        assert!(c.websockets.acl.is_empty());
        let e = Config::from_toml("[http]\nacl = [\"\"]\n").unwrap_err();
        assert_eq!(e.setting, "http.acl");
    }

    #[test]
    fn pingpong_needs_both_settings() {
        let c = Config::from_toml("[websockets]\npingpong_trigger = 30\npingpong_timeout = 10\n")
            .unwrap();
        assert_eq!(
            c.websockets.pingpong(),
            Some((Duration::from_secs(30), Duration::from_secs(10)))
        );
        assert_eq!(Config::default().websockets.pingpong(), None);
        let e = Config::from_toml("[websockets]\npingpong_trigger = 30\n").unwrap_err();
        assert_eq!(e.setting, "websockets.pingpong_trigger");
        assert!(e.message.contains("pingpong_timeout"), "{e}");
        let e = Config::from_toml("[websockets]\npingpong_timeout = 5\n").unwrap_err();
        assert_eq!(e.setting, "websockets.pingpong_timeout");
    }

    #[test]
    fn nat_lists_take_janus_comma_strings_or_arrays() {
        let c = Config::from_toml(
            "[general]\ninterface = \"10.0.0.5\"\n[nat]\nnat_1_1_mapping = \"203.0.113.1, 2001:db8::7\"\n\
             keep_private_host = true\nstun_server = \"stun.example.org\"\nstun_port = 19302\n\
             ice_enforce_list = [\"eth0\", \"192.168.\"]\n",
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            c.nat.nat_1_1_mapping,
            [ip("203.0.113.1"), ip("2001:db8::7")]
        );
        assert_eq!(c.nat.ice_enforce_list, ["eth0", "192.168."]);
        assert_eq!(c.nat.stun_port, 19302);
        assert_eq!(
            c.candidate_ips(),
            [ip("203.0.113.1"), ip("2001:db8::7"), ip("10.0.0.5")]
        );
        assert_eq!(Config::default().nat.ice_ignore_list, ["vmnet"]);
        assert_eq!(Config::default().nat.stun_timeout(), Duration::from_secs(5));
        let c = Config::from_toml("[nat]\nnat_1_1_mapping = [\"198.51.100.2\"]\n").unwrap();
        assert_eq!(c.candidate_ips(), [ip("198.51.100.2")]);
        let c = Config::from_toml("[general]\ninterface = \"10.0.0.5\"\n").unwrap();
        assert_eq!(c.candidate_ips(), [ip("10.0.0.5")]);
        assert!(Config::default().candidate_ips().is_empty());
    }

    #[test]
    fn bad_nat_and_media_values_name_the_key() {
        let setting = |toml: &str| Config::from_toml(toml).unwrap_err().setting;
        assert_eq!(setting("[media]\ndscp = 64\n"), "media.dscp");
        assert_eq!(setting("[media]\ndtls_mtu = 100\n"), "media.dtls_mtu");
        assert_eq!(
            setting("[http]\nidle_timeout_ms = 0\n"),
            "http.idle_timeout_ms"
        );
        assert_eq!(
            setting("[http]\nmax_connections = 0\n"),
            "http.max_connections"
        );
        assert!(Config::from_toml("[media]\ndtls_mtu = 256\n").is_ok());
        assert_eq!(setting("[nat]\nstun_port = 0\n"), "nat.stun_port");
        assert_eq!(setting("[nat]\nstun_server = \"\"\n"), "nat.stun_server");
        assert_eq!(
            setting("[nat]\nstun_timeout_ms = 0\n"),
            "nat.stun_timeout_ms"
        );
        assert_eq!(
            setting("[nat]\nnat_1_1_mapping = \"0.0.0.0\"\n"),
            "nat.nat_1_1_mapping"
        );
        assert_eq!(
            setting("[nat]\nkeep_private_host = true\n"),
            "nat.keep_private_host"
        );
        assert_eq!(
            setting("[general]\ninterface = \"::\"\n"),
            "general.interface"
        );
        assert_eq!(
            setting("[nat]\nice_ignore_list = \"a,,b\"\n"),
            "nat.ice_ignore_list"
        );
        // Type and syntax errors name the line (and so the key).
        let e = Config::from_toml("[nat]\nnat_1_1_mapping = \"1.2.3.4,nope\"\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(
            e.to_string().contains("\"nope\" is not an IP address"),
            "{e}"
        );
        let e = Config::from_toml("[general]\ninterface = \"eth0\"\n").unwrap_err();
        assert!(e.to_string().contains("interface"), "{e}");
        let c = Config::from_toml("[media]\ndscp_tos = 46\n").unwrap();
        assert_eq!(c.media.dscp, 46);
    }

    #[test]
    fn plugins_disable_takes_packages_or_janus_library_names() {
        let c = Config::from_toml(
            "[plugins]\ndisable = \"libjanus_textroom.so, janus.plugin.streaming\"\n",
        )
        .unwrap();
        assert!(c.plugins.is_disabled("janus.plugin.textroom"));
        assert!(c.plugins.is_disabled("janus.plugin.streaming"));
        assert!(!c.plugins.is_disabled("janus.plugin.echotest"));
        let e = Config::from_toml("[plugins]\ndisable = [\"echotest\"]\n").unwrap_err();
        assert_eq!(e.setting, "plugins.disable");
        assert!(e.message.contains("echotest"), "{e}");
        assert_eq!(plugin_package("libjanus_.so"), None);
        assert!(Config::from_toml("[plugins]\ndisable = \"\"\n").is_ok());
    }

    #[test]
    fn events_parse_and_broadcast_is_reported_as_not_implemented() {
        let c = Config::from_toml(
            "[events]\nbroadcast = true\nstats_period = 5\ncombine_media_stats = true\n\
             disable = \"libjanus_sampleevh.so\"\n",
        )
        .unwrap();
        assert_eq!(c.events.stats_period, 5);
        assert_eq!(c.events.disable, ["libjanus_sampleevh.so"]);
        let notes = c.ineffective_settings();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("events.broadcast"), "{notes:?}");
        assert!(Config::default().ineffective_settings().is_empty());
        let e = Config::from_toml("[events]\nstats_period = -1\n").unwrap_err();
        assert!(e.to_string().contains("stats_period"), "{e}");
        let e = Config::from_toml("[events]\nbroadcast = 1\n").unwrap_err();
        assert!(e.to_string().contains("broadcast"), "{e}");
        let c = Config::from_toml("[nat]\nice_enforce_list = \"eth0\"\n").unwrap();
        assert!(c.ineffective_settings()[0].starts_with("nat.ice_enforce_list"));
    }

    #[test]
    fn rejects_reversed_range_and_https_without_cert() {
        assert!(Config::from_toml("[media]\nrtp_port_range = \"20-10\"\n").is_err());
        let e = Config::from_toml("[http]\nhttps = true\n").unwrap_err();
        assert_eq!(e.setting, "certificates.cert_pem");
        assert_eq!(parse_port_range("1-2"), Ok((1, 2)));
        assert!(parse_port_range("x").is_err());
    }
}
