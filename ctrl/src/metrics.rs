//! Counters of the control plane and their Prometheus text rendering (`/metrics` on the admin
//! port).

use std::collections::BTreeMap;
use std::fmt::Write;

/// Janus API verbs counted by name; anything else counts as `other`.
const KNOWN_VERBS: &[&str] = &[
    "info",
    "ping",
    "create",
    "claim",
    "attach",
    "detach",
    "destroy",
    "hangup",
    "message",
    "trickle",
    "keepalive",
];

/// Admin API verbs counted by name (admin.md); anything else counts as `other`.
const KNOWN_ADMIN_VERBS: &[&str] = &[
    "info",
    "ping",
    "get_status",
    "set_session_timeout",
    "set_log_level",
    "set_log_timestamps",
    "set_log_colors",
    "set_locking_debug",
    "set_refcount_debug",
    "set_libnice_debug",
    "set_nack_optimizations",
    "set_min_nack_queue",
    "set_no_media_timer",
    "set_slowlink_threshold",
    "accept_new_sessions",
    "list_sessions",
    "list_handles",
    "handle_info",
    "destroy_session",
    "detach_handle",
    "hangup_webrtc",
    "message_plugin",
    "query_transport",
    "query_eventhandler",
    "query_logger",
    "custom_event",
    "custom_logline",
    "loops_info",
    "add_token",
    "allow_token",
    "disallow_token",
    "list_tokens",
    "remove_token",
];

/// Counters of one dataplane shard, as the dataplane reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardCounters {
    /// Datagrams received.
    pub packets_in: u64,
    /// Datagrams sent.
    pub packets_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Sends: datagrams or GSO batches handed to the kernel (one per GSO batch).
    pub sends: u64,
    /// Sends that carried more than one GSO segment.
    pub gso_sends: u64,
    /// Datagrams carried by those GSO sends.
    pub gso_datagrams: u64,
    /// Dropped datagrams by reason (the dataplane's `DropReason` names).
    pub drops: Vec<(String, u64)>,
    /// PeerConnections the shard holds now (a gauge).
    pub peers: u64,
    /// Forwards the shard holds now, media (subscriber × stream) and data (viewer × data
    /// input) (a gauge).
    pub forwards: u64,
}

/// Control-plane counters. Transport counters are bumped by the server loop.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// Janus API requests by verb.
    pub requests: BTreeMap<&'static str, u64>,
    /// Admin API requests by verb.
    pub admin_requests: BTreeMap<&'static str, u64>,
    /// Sessions created.
    pub sessions_created: u64,
    /// Sessions ended by `destroy` / Admin `destroy_session`.
    pub sessions_destroyed: u64,
    /// Sessions ended by the session timeout.
    pub sessions_timed_out: u64,
    /// Sessions ended because their transport closed.
    pub sessions_transport_gone: u64,
    /// Handles attached.
    pub handles_attached: u64,
    /// Handles detached or torn down.
    pub handles_detached: u64,
    /// Events queued for clients.
    pub events: u64,
    /// HTTP requests parsed (all listeners).
    pub http_requests: u64,
    /// WebSocket messages received (all listeners).
    pub ws_messages: u64,
    /// Open HTTP connections.
    pub http_connections: u64,
    /// Open WebSocket connections.
    pub ws_connections: u64,
    /// Connections refused or closed for bad input, limits or timeouts.
    pub connections_dropped: u64,
    /// Per-shard dataplane counters, by shard index.
    pub shards: BTreeMap<u16, ShardCounters>,
    /// The audio mixer's counters by name (packets in and out, drops by reason), once a mix
    /// has existed.
    pub mixer: Vec<(&'static str, u64)>,
}

impl Metrics {
    /// Count one Janus API request.
    pub fn count_request(&mut self, verb_lower: &str) {
        *self
            .requests
            .entry(known(KNOWN_VERBS, verb_lower))
            .or_default() += 1;
    }

    /// Count one Admin API request (`other` for unknown verbs and undecodable requests).
    pub fn count_admin_request(&mut self, verb_lower: &str) {
        *self
            .admin_requests
            .entry(known(KNOWN_ADMIN_VERBS, verb_lower))
            .or_default() += 1;
    }

    /// Render in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, sessions: usize, handles: usize, peer_connections: usize) -> String {
        let mut o = String::with_capacity(4096);
        gauge(
            &mut o,
            "portunus_sessions",
            "Janus sessions alive.",
            sessions as u64,
        );
        gauge(
            &mut o,
            "portunus_handles",
            "Plugin handles alive.",
            handles as u64,
        );
        gauge(
            &mut o,
            "portunus_peer_connections",
            "Handles with a PeerConnection.",
            peer_connections as u64,
        );
        by_verb(
            &mut o,
            "portunus_api_requests_total",
            "Janus API requests by verb.",
            &self.requests,
        );
        by_verb(
            &mut o,
            "portunus_admin_requests_total",
            "Admin API requests by verb.",
            &self.admin_requests,
        );
        counter(
            &mut o,
            "portunus_sessions_created_total",
            "Sessions created.",
            self.sessions_created,
        );
        let _ = writeln!(
            o,
            "# HELP portunus_sessions_ended_total Sessions ended, by cause."
        );
        let _ = writeln!(o, "# TYPE portunus_sessions_ended_total counter");
        for (cause, n) in [
            ("destroy", self.sessions_destroyed),
            ("timeout", self.sessions_timed_out),
            ("transport_gone", self.sessions_transport_gone),
        ] {
            let _ = writeln!(o, "portunus_sessions_ended_total{{cause=\"{cause}\"}} {n}");
        }
        counter(
            &mut o,
            "portunus_handles_attached_total",
            "Handles attached.",
            self.handles_attached,
        );
        counter(
            &mut o,
            "portunus_handles_detached_total",
            "Handles detached.",
            self.handles_detached,
        );
        counter(
            &mut o,
            "portunus_events_total",
            "Events queued for clients.",
            self.events,
        );
        counter(
            &mut o,
            "portunus_http_requests_total",
            "HTTP requests parsed.",
            self.http_requests,
        );
        counter(
            &mut o,
            "portunus_ws_messages_total",
            "WebSocket messages received.",
            self.ws_messages,
        );
        gauge(
            &mut o,
            "portunus_http_connections",
            "Open HTTP connections.",
            self.http_connections,
        );
        gauge(
            &mut o,
            "portunus_ws_connections",
            "Open WebSocket connections.",
            self.ws_connections,
        );
        counter(
            &mut o,
            "portunus_connections_dropped_total",
            "Connections closed for bad input, limits or timeouts.",
            self.connections_dropped,
        );
        self.render_shards(&mut o);
        if !self.mixer.is_empty() {
            let _ = writeln!(
                o,
                "# HELP portunus_mixer_total Audio mixer packets, ticks and drops, by kind."
            );
            let _ = writeln!(o, "# TYPE portunus_mixer_total counter");
            for (kind, n) in &self.mixer {
                let _ = writeln!(o, "portunus_mixer_total{{kind=\"{}\"}} {n}", escape(kind));
            }
        }
        o
    }

    fn render_shards(&self, o: &mut String) {
        if self.shards.is_empty() {
            return;
        }
        for (name, help, get) in [
            (
                "portunus_shard_packets_in_total",
                "Datagrams received per shard.",
                0,
            ),
            (
                "portunus_shard_packets_out_total",
                "Datagrams sent per shard.",
                1,
            ),
            (
                "portunus_shard_bytes_in_total",
                "Bytes received per shard.",
                2,
            ),
            ("portunus_shard_bytes_out_total", "Bytes sent per shard.", 3),
            (
                "portunus_shard_sends_total",
                "Sends per shard, one per datagram or GSO batch (packets out / sends = datagrams per send).",
                4,
            ),
            (
                "portunus_shard_gso_sends_total",
                "Sends per shard that carried more than one GSO segment.",
                5,
            ),
            (
                "portunus_shard_gso_datagrams_total",
                "Datagrams carried by GSO sends per shard.",
                6,
            ),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} counter");
            for (shard, c) in &self.shards {
                let v = [
                    c.packets_in,
                    c.packets_out,
                    c.bytes_in,
                    c.bytes_out,
                    c.sends,
                    c.gso_sends,
                    c.gso_datagrams,
                ][get];
                let _ = writeln!(o, "{name}{{shard=\"{shard}\"}} {v}");
            }
        }
        for (name, help, gauge) in [
            (
                "portunus_shard_peer_connections",
                "PeerConnections per shard.",
                0,
            ),
            (
                "portunus_shard_forwards",
                "Forwards per shard (media: subscriber x stream; data: viewer x data input).",
                1,
            ),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} gauge");
            for (shard, c) in &self.shards {
                let v = [c.peers, c.forwards][gauge];
                let _ = writeln!(o, "{name}{{shard=\"{shard}\"}} {v}");
            }
        }
        let _ = writeln!(
            o,
            "# HELP portunus_shard_drops_total Dropped datagrams per shard and reason."
        );
        let _ = writeln!(o, "# TYPE portunus_shard_drops_total counter");
        for (shard, c) in &self.shards {
            for (reason, n) in &c.drops {
                let _ = writeln!(
                    o,
                    "portunus_shard_drops_total{{shard=\"{shard}\",reason=\"{}\"}} {n}",
                    escape(reason)
                );
            }
        }
    }
}

/// `verb` itself when `list` has it (so label values stay a fixed set), else `other`.
fn known(list: &[&'static str], verb: &str) -> &'static str {
    list.iter()
        .find(|v| **v == verb)
        .copied()
        .unwrap_or("other")
}

/// A counter labelled by `verb`.
fn by_verb(o: &mut String, name: &str, help: &str, counts: &BTreeMap<&'static str, u64>) {
    let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} counter\n");
    for (verb, n) in counts {
        let _ = writeln!(o, "{name}{{verb=\"{verb}\"}} {n}");
    }
}

fn gauge(o: &mut String, name: &str, help: &str, v: u64) {
    let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    let _ = write!(
        o,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
    );
}

/// Label value escaping of the text format.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_mixer_counters_once_there_are_some() {
        let mut m = Metrics::default();
        assert!(!m.render(0, 0, 0).contains("portunus_mixer_total"));
        m.mixer = vec![("packets_in", 7), ("late", 1)];
        let text = m.render(0, 0, 0);
        assert!(
            text.contains("portunus_mixer_total{kind=\"packets_in\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("portunus_mixer_total{kind=\"late\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn renders_verbs_and_shards() {
        let mut m = Metrics::default();
        m.count_request("create");
        m.count_request("create");
        m.count_request("bogus");
        m.shards.insert(
            0,
            ShardCounters {
                packets_in: 5,
                packets_out: 40,
                sends: 12,
                gso_sends: 4,
                gso_datagrams: 32,
                drops: vec![("no_session".into(), 2)],
                ..Default::default()
            },
        );
        m.count_admin_request("list_sessions");
        m.count_admin_request("list_sessions");
        m.count_admin_request("drop_tables");
        m.shards.get_mut(&0).unwrap().peers = 3;
        let t = m.render(1, 2, 0);
        assert!(
            t.contains("portunus_api_requests_total{verb=\"create\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("portunus_api_requests_total{verb=\"other\"} 1\n"));
        assert!(t.contains("portunus_sessions 1\n"));
        assert!(t.contains("portunus_shard_packets_in_total{shard=\"0\"} 5\n"));
        assert!(t.contains("portunus_shard_drops_total{shard=\"0\",reason=\"no_session\"} 2\n"));
        assert!(t.contains("portunus_admin_requests_total{verb=\"list_sessions\"} 2\n"));
        assert!(t.contains("portunus_admin_requests_total{verb=\"other\"} 1\n"));
        assert!(t.contains("portunus_shard_peer_connections{shard=\"0\"} 3\n"));
        assert!(t.contains("portunus_shard_forwards{shard=\"0\"} 0\n"));
        for (family, v) in [
            ("portunus_shard_sends_total", 12),
            ("portunus_shard_gso_sends_total", 4),
            ("portunus_shard_gso_datagrams_total", 32),
        ] {
            assert!(t.contains(&format!("# TYPE {family} counter\n")), "{t}");
            assert!(t.contains(&format!("{family}{{shard=\"0\"}} {v}\n")), "{t}");
        }
        assert_well_formed(&t);
    }

    /// Every sample line belongs to a family announced by `# TYPE` before it, and no family
    /// is announced twice (what Prometheus's parser insists on).
    fn assert_well_formed(text: &str) {
        let mut families = std::collections::BTreeSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split_whitespace().next().unwrap().to_owned();
                assert!(families.insert(name.clone()), "{name} announced twice");
                current = name;
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, current, "sample outside its family: {line}");
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
            }
        }
    }
}
