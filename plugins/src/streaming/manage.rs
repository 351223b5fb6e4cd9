//! The synchronous requests: `list`, `info`, `create`, `edit`, `destroy`, `enable`,
//! `disable`, `kick_all`, `recording`.

use super::*;
use crate::util::{get_bool, get_u64};
use portunus_ctrl::constant_time_eq;

const CREATE_PARAMS: &[Param] = &[
    ("name", Kind::Str, false),
    ("description", Kind::Str, false),
    ("metadata", Kind::Str, false),
    ("is_private", Kind::Bool, false),
    ("type", Kind::Str, true),
    ("secret", Kind::Str, false),
    ("pin", Kind::Str, false),
    ("media", Kind::Array, false),
    ("permanent", Kind::Bool, false),
    ("audio", Kind::Bool, false),
    ("video", Kind::Bool, false),
    ("data", Kind::Bool, false),
];

const RTP_PARAMS: &[Param] = &[
    ("collision", Kind::PosInt, false),
    ("threads", Kind::PosInt, false),
    ("srtpsuite", Kind::PosInt, false),
    ("srtpcrypto", Kind::Str, false),
    ("e2ee", Kind::Bool, false),
    ("playoutdelay_ext", Kind::Bool, false),
];

const FILE_PARAMS: &[Param] = &[
    ("filename", Kind::Str, true),
    ("audiocodec", Kind::Str, false),
    ("audiortpmap", Kind::Str, false),
    ("audiofmtp", Kind::Str, false),
    ("audiopt", Kind::PosInt, false),
];

const EDIT_PARAMS: &[Param] = &[
    ("new_description", Kind::Str, false),
    ("new_metadata", Kind::Str, false),
    ("new_secret", Kind::Str, false),
    ("new_pin", Kind::Str, false),
    ("new_is_private", Kind::Bool, false),
    ("permanent", Kind::Bool, false),
    ("edited_event", Kind::Bool, false),
];

impl Streaming {
    pub(super) fn list(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        let mut admin = false;
        if let Some(key) = self.config.admin_key.as_deref()
            && get_str(body, "admin_key").is_some_and(|k| !k.is_empty())
        {
            CODES.check_secret(Some(key), body, "admin_key")?;
            admin = true;
        }
        let list: Vec<Value> = self
            .mountpoints
            .values()
            .filter(|m| admin || !m.config.is_private)
            .map(|m| {
                let mut e = Map::new();
                e.insert("id".into(), m.config.id.into());
                e.insert("type".into(), "live".into());
                e.insert("description".into(), m.description.clone().into());
                if let Some(md) = &m.config.metadata {
                    e.insert("metadata".into(), md.clone().into());
                }
                e.insert("enabled".into(), m.enabled.into());
                let media: Vec<Value> = m
                    .config
                    .streams
                    .iter()
                    .map(|s| {
                        let mut i = Map::new();
                        i.insert("mid".into(), s.mid.clone().into());
                        i.insert("type".into(), kind_str(s.kind).into());
                        i.insert("label".into(), s.label.clone().into());
                        if let Some((a, b)) = &s.msid {
                            i.insert("msid".into(), format!("{a} {b}").into());
                        }
                        Value::Object(i)
                    })
                    .collect();
                e.insert("media".into(), media.into());
                Value::Object(e)
            })
            .collect();
        Ok(json!({"streaming": "list", "list": list}))
    }

    pub(super) fn info(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[ID])?;
        let id = get_u64(body, "id").unwrap_or_default();
        let m = self.mountpoints.get(&id).ok_or_else(|| no_such(id))?;
        let c = &m.config;
        let admin = c.secret.as_deref().is_none_or(|s| {
            get_str(body, "secret")
                .is_some_and(|given| constant_time_eq(given.as_bytes(), s.as_bytes()))
        });
        let mut i = Map::new();
        i.insert("id".into(), id.into());
        if admin {
            i.insert("name".into(), m.name.clone().into());
        }
        i.insert("description".into(), m.description.clone().into());
        if let Some(md) = &c.metadata {
            i.insert("metadata".into(), md.clone().into());
        }
        if admin {
            if let Some(s) = &c.secret {
                i.insert("secret".into(), s.clone().into());
            }
            if let Some(p) = &c.pin {
                i.insert("pin".into(), p.clone().into());
            }
            if c.is_private {
                i.insert("is_private".into(), true.into());
            }
        }
        i.insert("enabled".into(), m.enabled.into());
        if admin {
            i.insert("viewers".into(), m.viewers.len().into());
        }
        i.insert("type".into(), "live".into());
        if c.srtp.is_some() {
            i.insert("srtp".into(), true.into());
        }
        if c.collision > 0 {
            i.insert("collision".into(), c.collision.into());
        }
        if c.threads > 0 {
            i.insert("threads".into(), c.threads.into());
        }
        let media: Vec<Value> = c
            .streams
            .iter()
            .enumerate()
            .map(|(n, s)| stream_info(&mut i, n, s, admin))
            .collect();
        i.insert("media".into(), media.into());
        Ok(json!({"streaming": "info", "info": i}))
    }

    pub(super) fn create(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, CREATE_PARAMS)?;
        check(body, &[("id", Kind::PosInt, false)])?;
        if let Some(key) = self.config.admin_key.clone() {
            check(body, &[("admin_key", Kind::Str, true)])?;
            CODES.check_secret(Some(&key), body, "admin_key")?;
        }
        CODES.refuse_permanent(body, "create permanent mountpoint")?;
        let requested = get_u64(body, "id").filter(|&id| id > 0);
        if requested.is_some_and(|id| self.mountpoints.contains_key(&id)) {
            return Err((
                ERROR_CANT_CREATE,
                "A stream with the provided ID already exists".into(),
            ));
        }
        let kind = get_str(body, "type").unwrap_or_default();
        match kind.to_ascii_lowercase().as_str() {
            "rtp" => {}
            t @ ("live" | "ondemand") => {
                // Sans-IO: no file can be read, so a file source is always a failed creation.
                check(body, FILE_PARAMS)?;
                return Err((ERROR_CANT_CREATE, format!("Error creating '{t}' stream")));
            }
            "rtsp" => {
                return Err((
                    ERROR_INVALID_ELEMENT,
                    "Can't create 'rtsp' mountpoint, libcurl support not compiled...\n".into(),
                ));
            }
            _ => {
                return Err((
                    ERROR_INVALID_ELEMENT,
                    format!("Unknown stream type '{kind}'...\n"),
                ));
            }
        }
        check(body, RTP_PARAMS)?;
        let suite = get_u64(body, "srtpsuite");
        if suite.is_some_and(|s| s != 32 && s != 80) {
            return Err((
                ERROR_CANT_CREATE,
                "Can't add 'rtp' stream, invalid SRTP suite...".into(),
            ));
        }
        let (streams, legacy) = parse::rtp_streams(body)?;
        let id = crate::rooms::pick_id(requested, &mut self.ids, |i| {
            self.mountpoints.contains_key(&i)
        });
        let srtp = match (suite, get_str(body, "srtpcrypto")) {
            (Some(s), Some(k)) => u8::try_from(s).ok().map(|s| (s, k.to_owned())),
            _ => None,
        };
        let config = MountpointConfig {
            name: get_str(body, "name").map(str::to_owned),
            description: get_str(body, "description").map(str::to_owned),
            metadata: get_str(body, "metadata").map(str::to_owned),
            is_private: get_bool(body, "is_private").unwrap_or(false),
            secret: get_str(body, "secret").map(str::to_owned),
            pin: get_str(body, "pin").map(str::to_owned),
            streams,
            srtp,
            e2ee: get_bool(body, "e2ee").unwrap_or(false),
            playoutdelay_ext: get_bool(body, "playoutdelay_ext").unwrap_or(false),
            collision: get_u64(body, "collision").unwrap_or(0),
            threads: get_u64(body, "threads").unwrap_or(0),
            ..MountpointConfig::new(id)
        };
        if let Err(i) = self.add_mountpoint(config.clone()) {
            // A taken port (or a repeated mid) is Janus's failed bind.
            let what = match config.streams.get(i).map(|s| s.kind) {
                Some(k) if legacy => kind_str(k),
                _ => "data",
            };
            return Err((
                ERROR_CANT_CREATE,
                format!("Can't add 'rtp' stream, error creating {what} source stream"),
            ));
        }
        let m = &self.mountpoints[&id];
        let mut stream = Map::new();
        stream.insert("id".into(), id.into());
        stream.insert("type".into(), "live".into());
        stream.insert("description".into(), m.description.clone().into());
        stream.insert("is_private".into(), m.config.is_private.into());
        let mut ports = Vec::new();
        for s in &m.config.streams {
            if legacy {
                let k = kind_str(s.kind);
                stream.insert(format!("{k}_port"), s.port.into());
                if let Some(p) = s.rtcp_port {
                    stream.insert(format!("{k}_rtcp_port"), p.into());
                }
                if s.simulcast {
                    stream.insert("video_port_2".into(), s.port2.into());
                    stream.insert("video_port_3".into(), s.port3.into());
                }
                continue;
            }
            let mut p = Map::new();
            p.insert("type".into(), kind_str(s.kind).into());
            p.insert("mid".into(), s.mid.clone().into());
            if let Some((a, b)) = &s.msid {
                p.insert("msid".into(), format!("{a} {b}").into());
            }
            p.insert("port".into(), s.port.into());
            if let Some(r) = s.rtcp_port {
                p.insert("rtcp_port".into(), r.into());
            }
            if s.simulcast {
                p.insert("port_2".into(), s.port2.into());
                p.insert("port_3".into(), s.port3.into());
            }
            ports.push(Value::Object(p));
        }
        if !legacy {
            stream.insert("ports".into(), ports.into());
        }
        let mut r = json!({"streaming": "created", "created": m.name, "permanent": false,
            "stream": stream});
        if legacy {
            r["warning"] = "deprecated_api".into();
        }
        Ok(r)
    }

    pub(super) fn edit(
        &mut self,
        _handle: Option<HandleId>,
        body: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        check(body, EDIT_PARAMS)?;
        check(body, &[ID])?;
        CODES.refuse_permanent(body, "edit mountpoint permanently")?;
        let id = get_u64(body, "id").unwrap_or_default();
        let m = self.mountpoints.get_mut(&id).ok_or_else(|| {
            (
                ERROR_NO_SUCH_MOUNTPOINT,
                format!("No such mountpoint ({id})"),
            )
        })?;
        CODES.check_secret(m.config.secret.as_deref(), body, "secret")?;
        if let Some(d) = get_str(body, "new_description").filter(|d| !d.is_empty()) {
            m.description = d.to_owned();
        }
        let mut notify = get_bool(body, "edited_event").unwrap_or(false);
        if let Some(md) = get_str(body, "new_metadata") {
            // Only a real change is announced.
            notify &= m.config.metadata.as_deref() != Some(md);
            m.config.metadata = Some(md.to_owned());
        } else {
            notify = false;
        }
        if let Some(p) = get_bool(body, "new_is_private") {
            m.config.is_private = p;
        }
        if let Some(s) = get_str(body, "new_secret").filter(|s| !s.is_empty()) {
            m.config.secret = Some(s.to_owned());
        }
        if let Some(p) = get_str(body, "new_pin") {
            m.config.pin = (!p.is_empty()).then(|| p.to_owned());
        }
        if notify {
            let ev = json!({"event": "edited", "id": id, "metadata": m.config.metadata});
            self.out.event_to_all(m.viewers.iter().copied(), None, &ev);
        }
        Ok(json!({"streaming": "edited", "id": id, "permanent": false}))
    }

    /// The mountpoint named by `id` after the secret check.
    fn authorized(&self, body: &Map<String, Value>) -> Result<u64, Failure> {
        check(body, &[ID])?;
        let id = get_u64(body, "id").unwrap_or_default();
        let m = self.mountpoints.get(&id).ok_or_else(|| no_such(id))?;
        CODES.check_secret(m.config.secret.as_deref(), body, "secret")?;
        Ok(id)
    }

    pub(super) fn destroy(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[("permanent", Kind::Bool, false)])?;
        check(body, &[ID])?;
        CODES.refuse_permanent(body, "destroy mountpoint permanently")?;
        let id = self.authorized(body)?;
        self.drop_viewers(id, "stopped");
        if let Some(m) = self.mountpoints.remove(&id) {
            self.close_inputs(&m);
        }
        Ok(json!({"streaming": "destroyed", "destroyed": id}))
    }

    pub(super) fn kick_all(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        let id = self.authorized(body)?;
        self.drop_viewers(id, "kicked_all");
        Ok(json!({"streaming": "kicked_all"}))
    }

    /// Tells every viewer of `id` its `status`, closes their PeerConnections and forgets them.
    fn drop_viewers(&mut self, id: u64, status: &str) {
        let viewers = self
            .mountpoints
            .get_mut(&id)
            .map(|m| std::mem::take(&mut m.viewers))
            .unwrap_or_default();
        for h in viewers {
            self.unforward(h);
            if let Some(v) = self.viewers.get_mut(&h) {
                v.reset();
            }
            let ev = json!({"streaming": "event", "result": {"status": status}});
            self.out.event(h, None, ev, None);
            self.out
                .push(PluginOutput::ClosePeerConnection { handle: h });
        }
    }

    pub(super) fn enable(&mut self, body: &Map<String, Value>, on: bool) -> Result<Value, Failure> {
        let id = self.authorized(body)?;
        if !on {
            check(body, &[("stop_recording", Kind::Bool, false)])?;
        }
        let Some(m) = self.mountpoints.get_mut(&id) else {
            return Err(no_such(id));
        };
        if m.enabled != on {
            m.enabled = on;
            // A disabled mountpoint relays nothing; enabling resumes what viewers want.
            for h in m.viewers.clone() {
                self.refresh_sending(h);
            }
        }
        Ok(json!({"streaming": "ok"}))
    }

    pub(super) fn recording(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[("action", Kind::Str, true)])?;
        let action = get_str(body, "action").unwrap_or_default();
        if action != "start" && action != "stop" {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Invalid action (should be start|stop)".into(),
            ));
        }
        self.authorized(body)?;
        let start = action == "start";
        let legacy = if start { Kind::Str } else { Kind::Bool };
        check(
            body,
            &[
                ("media", Kind::Array, false),
                ("audio", legacy, false),
                ("video", legacy, false),
                ("data", legacy, false),
            ],
        )?;
        if !body.contains_key("media")
            && !["audio", "video", "data"]
                .iter()
                .any(|k| body.contains_key(*k))
        {
            let text = if start {
                "Missing audio, video and/or data"
            } else {
                "Missing audio, video and or data"
            };
            return Err((ERROR_INVALID_REQUEST, text.into()));
        }
        if start {
            // Recording needs files: this server has none to write.
            return Err((ERROR_CANT_RECORD, "Error starting recorder".into()));
        }
        Ok(json!({"streaming": "ok"}))
    }
}

/// One `media` entry of `info` (admin members only with `admin`; `host` goes into `i`).
fn stream_info(i: &mut Map<String, Value>, n: usize, s: &StreamConfig, admin: bool) -> Value {
    let mut e = Map::new();
    e.insert("mindex".into(), n.into());
    e.insert("type".into(), kind_str(s.kind).into());
    e.insert("mid".into(), s.mid.clone().into());
    e.insert("label".into(), s.label.clone().into());
    if let Some((a, b)) = &s.msid {
        e.insert("msid".into(), format!("{a} {b}").into());
    }
    if s.kind != InputKind::Data {
        e.insert("pt".into(), s.pt.into());
    }
    if let Some(c) = s.codec {
        e.insert("codec".into(), c.as_str().into());
        e.insert("rtpmap".into(), c.rtpmap().into());
    }
    if let Some(f) = &s.fmtp {
        e.insert("fmtp".into(), f.clone().into());
    }
    if s.bufferkf {
        e.insert("videobufferkf".into(), true.into());
    }
    if s.simulcast {
        e.insert("videosimulcast".into(), true.into());
    }
    if s.svc {
        e.insert("videosvc".into(), true.into());
    }
    if s.skew {
        e.insert("skew_compensation".into(), true.into());
    }
    if admin {
        if let Some(m) = &s.mcast {
            i.insert("host".into(), m.clone().into());
        }
        e.insert("port".into(), s.port.into());
        if let Some(p) = s.rtcp_port {
            e.insert("rtcpport".into(), p.into());
        }
        if s.simulcast {
            e.insert("port2".into(), s.port2.into());
            e.insert("port3".into(), s.port3.into());
        }
    }
    if s.kind == InputKind::Data {
        e.insert(
            "datatype".into(),
            if s.binary { "binary" } else { "text" }.into(),
        );
    }
    Value::Object(e)
}
