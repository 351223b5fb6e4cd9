//! `server_info` (Janus `janus_info`) and Admin `handle_info`.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::ControlPlane;
use crate::api::response::message;
use crate::{HandleId, SessionId};

/// The Janus API level we implement (Janus 1.1.2); clients compare against it.
const JANUS_VERSION: u32 = 1102;
const JANUS_VERSION_STRING: &str = "1.1.2";

impl ControlPlane {
    /// The `server_info` reply (also `GET /janus/info` and Admin `info`).
    pub(super) fn server_info(&self, tx: &str) -> Value {
        let g = &self.config.general;
        let m = &self.config.media;
        let mut i = message("server_info", 0, Some(tx));
        let mut put = |k: &str, v: Value| {
            i.insert(k.into(), v);
        };
        put("name", "Portunus (Janus-compatible WebRTC server)".into());
        put("version", JANUS_VERSION.into());
        put("version_string", JANUS_VERSION_STRING.into());
        put("author", "Portunus authors".into());
        put("commit-hash", env!("CARGO_PKG_VERSION").into());
        put("compile-time", "".into());
        put("log-to-stdout", true.into());
        put("log-to-file", false.into());
        put("data_channels", true.into());
        put(
            "accepting-new-sessions",
            self.status.accept_new_sessions.into(),
        );
        put("session-timeout", self.status.session_timeout.into());
        put("reclaim-session-timeout", g.reclaim_session_timeout.into());
        put("candidates-timeout", g.candidates_timeout.into());
        put("server-name", g.server_name.as_str().into());
        let local_ip = g
            .interface
            .or_else(|| m.ice_ips.first().copied())
            .unwrap_or(self.config.http.ip);
        put("local-ip", local_ip.to_string().into());
        // Janus: `public-ip` with a 1:1 NAT mapping, and `public-ips` when there are several.
        let public = &self.config.nat.nat_1_1_mapping;
        if let Some(first) = public.first() {
            put("public-ip", first.to_string().into());
        }
        if public.len() > 1 {
            let all = public
                .iter()
                .map(|ip| Value::from(ip.to_string()))
                .collect();
            put("public-ips", Value::Array(all));
        }
        put("ipv6", m.ipv6.into());
        if m.ipv6 {
            put("ipv6-link-local", false.into());
        }
        put("ice-lite", m.ice_lite.into());
        put("ice-tcp", false.into());
        put("ice-keepalive-conncheck", false.into());
        put("full-trickle", m.full_trickle.into());
        put("mdns-enabled", false.into());
        put("min-nack-queue", self.status.min_nack_queue.into());
        put("nack-optimizations", self.status.nack_optimizations.into());
        put("twcc-period", m.twcc_period.into());
        put("dtls-mtu", m.dtls_mtu.into());
        put("static-event-loops", 0.into());
        put("api_secret", g.api_secret.is_some().into());
        put("auth_token", g.token_auth.into());
        put("event_handlers", false.into());
        put("opaqueid_in_api", g.opaqueid_in_api.into());
        if !g.hide_dependencies {
            put("dependencies", dependencies());
        }
        put("transports", self.transports_info());
        put("events", json!({}));
        put("loggers", json!({}));
        let mut plugins = Map::new();
        for p in &self.plugins {
            let info = &p.info;
            plugins.insert(
                info.package.into(),
                json!({"name": info.name, "author": info.author, "description": info.description,
                       "version_string": info.version_string, "version": info.version}),
            );
        }
        i.insert("plugins".into(), Value::Object(plugins));
        Value::Object(i)
    }

    fn transports_info(&self) -> Value {
        let mut t = Map::new();
        if self.config.http.enabled || self.config.http.https {
            t.insert(
                "janus.transport.http".into(),
                json!({"name": "JANUS REST (HTTP/HTTPS) transport plugin", "author": "Meetecho s.r.l.",
                       "description": "This transport plugin adds REST (HTTP/HTTPS) support to the Janus API via libmicrohttpd.",
                       "version_string": "0.0.2", "version": 2}),
            );
        }
        if self.config.websockets.enabled || self.config.websockets.wss {
            t.insert(
                "janus.transport.websockets".into(),
                json!({"name": "JANUS WebSockets transport plugin", "author": "Meetecho s.r.l.",
                       "description": "This transport plugin adds WebSockets support to the Janus API via libwebsockets.",
                       "version_string": "0.0.1", "version": 1}),
            );
        }
        Value::Object(t)
    }

    /// The `info` object of Admin `handle_info`.
    pub(super) fn handle_info(
        &mut self,
        now: Instant,
        sid: SessionId,
        hid: HandleId,
        plugin_only: bool,
    ) -> Value {
        let mut info = Map::new();
        let Some(s) = self.reg.sessions.get(&sid) else {
            return Value::Object(info);
        };
        info.insert("session_id".into(), sid.0.into());
        info.insert(
            "session_last_activity".into(),
            self.micros(s.last_activity).into(),
        );
        let timeout = if s.timeout == -1 {
            self.status.session_timeout
        } else {
            u64::try_from(s.timeout).unwrap_or(0)
        };
        info.insert("session_timeout".into(), timeout.into());
        info.insert("session_transport".into(), s.owner.package().into());
        let Some(h) = self.reg.handles.get(&hid) else {
            return Value::Object(info);
        };
        let plugin = h.plugin;
        info.insert("handle_id".into(), hid.0.into());
        if let Some(o) = &h.opaque_id {
            info.insert("opaque_id".into(), o.as_str().into());
        }
        if let Some(t) = &h.token {
            info.insert("token".into(), t.as_str().into());
        }
        info.insert("loop-running".into(), true.into());
        info.insert("created".into(), self.micros(h.created).into());
        info.insert("current_time".into(), self.micros(now).into());
        let package = self.plugins.get(plugin).map_or("", |p| p.info.package);
        info.insert("plugin".into(), package.into());
        let scoped = self.drive(
            now,
            plugin,
            crate::plugin::PluginInput::QueryHandle { handle: hid },
        );
        for o in scoped {
            if let crate::plugin::PluginOutput::HandleInfo { handle, info: pi } = o
                && handle == hid
            {
                info.insert("plugin_specific".into(), Value::Object(pi));
            }
        }
        if !plugin_only {
            self.webrtc_info(hid, &mut info);
        }
        Value::Object(info)
    }

    /// The WebRTC part of `handle_info`: flags and SDPs known here, the rest from the media
    /// engine (`webrtc` with ICE, DTLS and per-medium stats, once the dataplane reports them).
    fn webrtc_info(&self, hid: HandleId, info: &mut Map<String, Value>) {
        let Some(h) = self.reg.handles.get(&hid) else {
            return;
        };
        let r = &h.rtc;
        let flags = json!({
            "got-offer": r.got_offer, "got-answer": r.got_answer, "negotiated": r.negotiated,
            "processing-offer": false, "starting": false, "ice-restart": false, "ready": r.ready,
            "stopped": false, "alert": r.alert, "trickle": r.trickle, "all-trickles": r.all_trickles,
            "resend-trickles": false, "trickle-synced": false, "data-channels": false,
            "has-audio": false, "has-video": false, "new-datachan-sdp": false, "rfc4588-rtx": false,
            "cleaning": false, "e2ee": r.e2ee,
        });
        info.insert("flags".into(), flags);
        let mut sdps = Map::new();
        if let Some(l) = &r.local_sdp {
            sdps.insert("local".into(), l.as_str().into());
        }
        if let Some(rm) = &r.remote_sdp {
            sdps.insert("remote".into(), rm.as_str().into());
        }
        info.insert("sdps".into(), Value::Object(sdps));
        if let Some(extra) = self.media.handle_info(hid) {
            info.extend(extra);
        }
    }
}

fn dependencies() -> Value {
    json!({
        "openssl": openssl::version::version(),
        "mio": "1",
        "tungstenite": "0.30",
        "serde_json": "1",
    })
}
