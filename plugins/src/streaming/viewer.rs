//! Viewers: `watch` (the server's offer), `start`, `pause`, `stop`, `switch`, `configure`,
//! PeerConnection events, and the forwarding intents they cause.

use portunus_ctrl::plugin::{JsepType, PeerEvent};
use portunus_sdp::jsep::{OfferBuilder, OfferStream};
use portunus_sdp::{Direction, extension};

use super::*;
use crate::util::{get_bool, get_u64};

const WATCH_PARAMS: &[Param] = &[
    ("pin", Kind::Str, false),
    ("media", Kind::Array, false),
    ("restart", Kind::Bool, false),
    ("offer_audio", Kind::Bool, false),
    ("offer_video", Kind::Bool, false),
    ("offer_data", Kind::Bool, false),
];

const SIMULCAST_PARAMS: &[Param] = &[
    ("substream", Kind::PosInt, false),
    ("temporal", Kind::PosInt, false),
    ("fallback", Kind::PosInt, false),
];

const SVC_PARAMS: &[Param] = &[
    ("spatial_layer", Kind::PosInt, false),
    ("temporal_layer", Kind::PosInt, false),
];

const CONFIGURE_PARAMS: &[Param] = &[
    ("mid", Kind::Str, false),
    ("send", Kind::Bool, false),
    ("substream", Kind::PosInt, false),
    ("temporal", Kind::PosInt, false),
    ("fallback", Kind::PosInt, false),
    ("spatial_layer", Kind::PosInt, false),
    ("temporal_layer", Kind::PosInt, false),
    ("min_delay", Kind::Int, false),
    ("max_delay", Kind::Int, false),
    // Deprecated, and typed as strings in Janus 1.1.2's validator.
    ("audio", Kind::Str, false),
    ("video", Kind::Str, false),
    ("data", Kind::Str, false),
];

/// What an asynchronous request answers: event data and JSEP, or nothing at all.
type Answer = Result<Option<(Value, Option<Jsep>)>, Failure>;

fn status(s: &str) -> Value {
    json!({"streaming": "event", "result": {"status": s}})
}

impl Viewer {
    /// Back to idle (no mountpoint, no streams), keeping the SDP session id.
    pub(super) fn reset(&mut self) {
        *self = Self {
            sdp_session: self.sdp_session,
            ..Self::default()
        };
    }
}

impl Streaming {
    pub(super) fn watch(&mut self, handle: HandleId, body: &Map<String, Value>) -> Answer {
        check(body, WATCH_PARAMS)?;
        check(body, &[ID])?;
        let mids: Vec<&str> = match body.get("media").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or((
                    ERROR_INVALID_ELEMENT,
                    "The media array must only contain strings (mid values)".to_owned(),
                ))?,
            None => Vec::new(),
        };
        let restart = get_bool(body, "restart").unwrap_or(false);
        let id = get_u64(body, "id").unwrap_or_default();
        let mp = self.mountpoints.get(&id).ok_or_else(|| no_such(id))?;
        CODES.check_secret(mp.config.pin.as_deref(), body, "pin")?;
        let Some(v) = self.viewers.get_mut(&handle) else {
            return Ok(None);
        };
        if let Some(current) = v.mountpoint {
            if current != id || (!restart && !v.started) {
                return Err((
                    ERROR_INVALID_STATE,
                    format!("Already watching mountpoint {current}"),
                ));
            }
            if v.renegotiating {
                return Err((
                    ERROR_INVALID_STATE,
                    format!("Already renegotiating mountpoint {current}"),
                ));
            }
            v.renegotiating = true;
        } else if restart {
            return Err((
                ERROR_NO_SUCH_MOUNTPOINT,
                "Can't perform ICE restart: no mountpoint set".into(),
            ));
        } else {
            let offer = |k, key| k_matches(body, k, key);
            let mut streams = Vec::new();
            let mut layers = LayerPrefs::default();
            for s in &mp.config.streams {
                let legacy_ok = offer(s.kind, InputKind::Audio)
                    && offer(s.kind, InputKind::Video)
                    && offer(s.kind, InputKind::Data);
                let wanted = if mids.is_empty() {
                    legacy_ok
                } else {
                    mids.iter().any(|m| m.eq_ignore_ascii_case(&s.mid))
                };
                if !wanted {
                    continue;
                }
                if s.simulcast || s.svc {
                    layers = watch_layers(body, s.simulcast)?;
                }
                streams.push(ViewerStream {
                    mid: s.mid.clone(),
                    source_mid: s.mid.clone(),
                    kind: s.kind,
                    send: true,
                    layers: if s.simulcast || s.svc {
                        layers
                    } else {
                        LayerPrefs::default()
                    },
                });
            }
            if streams.is_empty() {
                return Err((
                    ERROR_INVALID_REQUEST,
                    "Can't offer an SDP with no audio, video or data for this mountpoint".into(),
                ));
            }
            let session = v.sdp_session;
            v.reset();
            v.mountpoint = Some(id);
            v.streams = streams;
            v.sdp_session = session;
            if let Some(m) = self.mountpoints.get_mut(&id) {
                m.viewers.push(handle);
            }
        }
        let Some(v) = self.viewers.get_mut(&handle) else {
            return Ok(None);
        };
        v.sdp_version += 1;
        v.answered = false;
        let sdp = self.offer_sdp(handle).map_err(|r| (ERROR_UNKNOWN, r))?;
        let mut jsep = Jsep::new(JsepType::Offer, sdp);
        jsep.restart = restart;
        jsep.e2ee = self.mountpoints.get(&id).is_some_and(|m| m.config.e2ee);
        let s = if restart { "updating" } else { "preparing" };
        Ok(Some((status(s), Some(jsep))))
    }

    /// The plugin's offer for viewer `handle`: one `sendonly` m-line per stream with the
    /// mountpoint's payload type, codec and `fmtp`.
    fn offer_sdp(&self, handle: HandleId) -> Result<String, String> {
        let v = self.viewers.get(&handle).ok_or("no viewer")?;
        let id = v.mountpoint.ok_or("no mountpoint")?;
        let mp = self.mountpoints.get(&id).ok_or("no mountpoint")?;
        let mut b = OfferBuilder::new(&format!("Mountpoint {id}"), v.sdp_session, v.sdp_version);
        for vs in &v.streams {
            let Some(s) = mp.stream(&vs.source_mid) else {
                continue;
            };
            let mut o = match (s.kind, s.codec) {
                (InputKind::Audio, Some(c)) => OfferStream::audio(c).with_extension(extension::MID),
                (InputKind::Video, Some(c)) => {
                    let o = OfferStream::video(c)
                        .with_extension(extension::MID)
                        .with_extension(extension::ABS_SEND_TIME);
                    if mp.config.playoutdelay_ext {
                        o.with_extension(extension::PLAYOUT_DELAY)
                    } else {
                        o
                    }
                }
                (InputKind::Data, _) => {
                    b.streams.push(OfferStream::data().with_mid(&vs.mid));
                    continue;
                }
                _ => continue,
            };
            o = o.with_mid(&vs.mid).with_direction(Direction::SendOnly);
            o.payload_type = Some(s.pt);
            o.fmtp.clone_from(&s.fmtp);
            o.msid.clone_from(&s.msid);
            b.streams.push(o);
        }
        b.build()
            .map(|s| s.to_string())
            .map_err(|e| e.janus_reason())
    }

    pub(super) fn start(&mut self, handle: HandleId, jsep: Option<&Jsep>) -> Answer {
        let Some(v) = self.viewers.get_mut(&handle) else {
            return Ok(None);
        };
        if v.mountpoint.is_none() {
            return Err((
                ERROR_NO_SUCH_MOUNTPOINT,
                "Can't start: no mountpoint set".into(),
            ));
        }
        if jsep.is_some() {
            v.answered = true;
            v.renegotiating = false;
        }
        let resumed = std::mem::take(&mut v.paused);
        let s = if v.started { "started" } else { "starting" };
        if resumed {
            self.refresh_sending(handle);
        }
        self.forward(handle);
        Ok(Some((status(s), None)))
    }

    pub(super) fn pause(&mut self, handle: HandleId) -> Answer {
        let Some(v) = self.viewers.get_mut(&handle) else {
            return Ok(None);
        };
        if v.mountpoint.is_none() {
            return Err((
                ERROR_NO_SUCH_MOUNTPOINT,
                "Can't start: no mountpoint set".into(),
            ));
        }
        if !v.paused {
            v.paused = true;
            self.refresh_sending(handle);
        }
        Ok(Some((status("pausing"), None)))
    }

    pub(super) fn stop(&mut self, handle: HandleId) -> Answer {
        if !self.viewers.get(&handle).is_some_and(|v| v.started) {
            // Janus 1.1.2 ignores a stop before the PeerConnection is up: no event at all.
            return Ok(None);
        }
        self.leave(handle);
        self.out.push(PluginOutput::ClosePeerConnection { handle });
        Ok(Some((status("stopping"), None)))
    }

    pub(super) fn switch(&mut self, handle: HandleId, body: &Map<String, Value>) -> Answer {
        let Some(old) = self.viewers.get(&handle).and_then(|v| v.mountpoint) else {
            return Err((
                ERROR_NO_SUCH_MOUNTPOINT,
                "Can't switch: not on a mountpoint".into(),
            ));
        };
        check(body, &[ID])?;
        let id = get_u64(body, "id").unwrap_or_default();
        let Some(target) = self.mountpoints.get(&id) else {
            return Err(no_such(id));
        };
        // Janus does not compare the mountpoints: streams pair up by position.
        let sources: Vec<String> = target
            .config
            .streams
            .iter()
            .map(|s| s.mid.clone())
            .collect();
        if let Some(m) = self.mountpoints.get_mut(&old) {
            m.viewers.retain(|h| *h != handle);
        }
        if let Some(m) = self.mountpoints.get_mut(&id) {
            m.viewers.push(handle);
        }
        let Some(v) = self.viewers.get_mut(&handle) else {
            return Ok(None);
        };
        let was_paused = std::mem::take(&mut v.paused);
        v.mountpoint = Some(id);
        let forwarded = v.forwarded;
        let mut cmds = Vec::new();
        for (i, s) in v.streams.iter_mut().enumerate() {
            match sources.get(i) {
                Some(src) => {
                    s.source_mid.clone_from(src);
                    if forwarded {
                        cmds.push(MediaCommand::ForwardMountpoint {
                            mountpoint: id,
                            mid: src.clone(),
                            to: handle,
                            to_mid: s.mid.clone(),
                            layers: s.layers,
                        });
                    }
                }
                None if forwarded => cmds.push(MediaCommand::Unforward {
                    to: handle,
                    to_mid: s.mid.clone(),
                }),
                None => {}
            }
        }
        for c in cmds {
            self.out.media(c);
        }
        if forwarded {
            self.refresh_sending_after(handle, was_paused);
        }
        Ok(Some((
            json!({"streaming": "event", "result": {"switched": "ok", "id": id}}),
            None,
        )))
    }

    pub(super) fn configure(&mut self, handle: HandleId, body: &Map<String, Value>) -> Answer {
        let Some(id) = self.viewers.get(&handle).and_then(|v| v.mountpoint) else {
            return Err((
                ERROR_NO_SUCH_MOUNTPOINT,
                "Can't configure: not on a mountpoint".into(),
            ));
        };
        check(body, CONFIGURE_PARAMS)?;
        let in_range = |a: &str, b: &str| {
            [a, b]
                .iter()
                .all(|k| get_u64(body, k).is_none_or(|x| x <= 2))
        };
        if !in_range("substream", "spatial_layer") {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Invalid value (substream/spatial_layer should be 0, 1 or 2)".into(),
            ));
        }
        if !in_range("temporal", "temporal_layer") {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Invalid value (temporal/temporal_layer should be 0, 1 or 2)".into(),
            ));
        }
        let mid = get_str(body, "mid");
        let send = get_bool(body, "send");
        let sources: Vec<(String, bool, bool)> = self
            .mountpoints
            .get(&id)
            .map(|m| {
                m.config
                    .streams
                    .iter()
                    .map(|s| (s.mid.clone(), s.simulcast, s.svc))
                    .collect()
            })
            .unwrap_or_default();
        let Some(v) = self.viewers.get_mut(&handle) else {
            return Ok(None);
        };
        let forwarded = v.forwarded;
        let mut layer_cmds = Vec::new();
        for s in &mut v.streams {
            // Deprecated members: a string (the only type the validator lets through) is not
            // `true`, so it turns the stream off, as in Janus 1.1.2.
            let legacy = match s.kind {
                InputKind::Audio => "audio",
                InputKind::Video => "video",
                InputKind::Data => "data",
            };
            if mid.is_none() && body.contains_key(legacy) {
                s.send = false;
            }
            if mid.is_some_and(|m| !m.eq_ignore_ascii_case(&s.source_mid)) {
                continue;
            }
            if let Some(send) = send {
                s.send = send;
            }
            let (simulcast, svc) = sources
                .iter()
                .find(|(m, ..)| *m == s.source_mid)
                .map_or((false, false), |(_, a, b)| (*a, *b));
            let before = s.layers;
            if simulcast {
                if let Some(x) = get_u64(body, "substream") {
                    s.layers.substream = u8::try_from(x).unwrap_or(2);
                }
                if let Some(x) = get_u64(body, "temporal") {
                    s.layers.temporal = u8::try_from(x).unwrap_or(2);
                }
                if let Some(x) = get_u64(body, "fallback") {
                    s.layers.fallback_us = x;
                }
            } else if svc {
                if let Some(x) = get_u64(body, "spatial_layer") {
                    s.layers.substream = u8::try_from(x).unwrap_or(2);
                }
                if let Some(x) = get_u64(body, "temporal_layer") {
                    s.layers.temporal = u8::try_from(x).unwrap_or(2);
                }
            }
            if forwarded && s.layers != before {
                layer_cmds.push(MediaCommand::SetLayers {
                    to: handle,
                    to_mid: s.mid.clone(),
                    layers: s.layers,
                });
            }
        }
        for c in layer_cmds {
            self.out.media(c);
        }
        self.refresh_sending(handle);
        Ok(Some((
            json!({"streaming": "event", "result": {"event": "configured"}}),
            None,
        )))
    }

    pub(super) fn handle_peer(&mut self, handle: HandleId, event: &PeerEvent) {
        match event {
            PeerEvent::WebrtcUp => {
                let Some(v) = self.viewers.get_mut(&handle) else {
                    return;
                };
                if v.mountpoint.is_none() || v.started {
                    return;
                }
                v.started = true;
                self.forward(handle);
                self.out.event(handle, None, status("started"), None);
            }
            PeerEvent::Hangup { .. } => self.leave(handle),
            _ => {}
        }
    }

    /// The viewer leaves its mountpoint (hangup, stop, detach): forwards go, state resets.
    pub(super) fn leave(&mut self, handle: HandleId) {
        self.unforward(handle);
        let Some(v) = self.viewers.get_mut(&handle) else {
            return;
        };
        if let Some(m) = v.mountpoint.and_then(|id| self.mountpoints.get_mut(&id)) {
            m.viewers.retain(|h| *h != handle);
        }
        v.reset();
    }

    /// `Unforward`s for every installed forward of `handle`.
    pub(super) fn unforward(&mut self, handle: HandleId) {
        let Some(v) = self.viewers.get_mut(&handle) else {
            return;
        };
        if !std::mem::take(&mut v.forwarded) {
            return;
        }
        let mids: Vec<String> = v.streams.iter().map(|s| s.mid.clone()).collect();
        for to_mid in mids {
            self.out
                .media(MediaCommand::Unforward { to: handle, to_mid });
        }
    }

    /// Installs a `ForwardMountpoint` per stream once the PeerConnection is up and the offer
    /// answered (streams that should not relay start paused).
    fn forward(&mut self, handle: HandleId) {
        let Some(v) = self.viewers.get_mut(&handle) else {
            return;
        };
        let Some(id) = v.mountpoint else {
            return;
        };
        if v.forwarded || !v.started || !v.answered {
            return;
        }
        v.forwarded = true;
        let streams = v.streams.clone();
        for s in &streams {
            self.out.media(MediaCommand::ForwardMountpoint {
                mountpoint: id,
                mid: s.source_mid.clone(),
                to: handle,
                to_mid: s.mid.clone(),
                layers: s.layers,
            });
        }
        self.refresh_sending_after(handle, false);
    }

    /// After a `ForwardMountpoint` (which relays): pauses what should not relay, and resumes
    /// explicitly what was paused before (`was_paused`).
    fn refresh_sending_after(&mut self, handle: HandleId, was_paused: bool) {
        for (to_mid, send) in self.sending(handle) {
            if !send || was_paused {
                self.out.media(MediaCommand::SetSending {
                    to: handle,
                    to_mid,
                    send,
                });
            }
        }
    }

    /// Tells the dataplane, for each installed forward of `handle`, whether it relays now.
    pub(super) fn refresh_sending(&mut self, handle: HandleId) {
        if !self.viewers.get(&handle).is_some_and(|v| v.forwarded) {
            return;
        }
        for (to_mid, send) in self.sending(handle) {
            self.out.media(MediaCommand::SetSending {
                to: handle,
                to_mid,
                send,
            });
        }
    }

    /// Whether each stream of `handle` relays: wanted, viewer not paused, mountpoint enabled.
    fn sending(&self, handle: HandleId) -> Vec<(String, bool)> {
        let Some(v) = self.viewers.get(&handle) else {
            return Vec::new();
        };
        let enabled = v
            .mountpoint
            .and_then(|id| self.mountpoints.get(&id))
            .is_some_and(|m| m.enabled);
        v.streams
            .iter()
            .map(|s| (s.mid.clone(), s.send && !v.paused && enabled))
            .collect()
    }
}

/// The deprecated `offer_audio`/`offer_video`/`offer_data` filter for a stream of `kind`,
/// checked for the member of `key`'s kind.
fn k_matches(body: &Map<String, Value>, kind: InputKind, key: InputKind) -> bool {
    if kind != key {
        return true;
    }
    let name = match key {
        InputKind::Audio => "offer_audio",
        InputKind::Video => "offer_video",
        InputKind::Data => "offer_data",
    };
    get_bool(body, name).unwrap_or(true)
}

/// Layer targets of a `watch` on a simulcast (or SVC) stream.
fn watch_layers(body: &Map<String, Value>, simulcast: bool) -> Result<LayerPrefs, Failure> {
    let mut l = LayerPrefs::default();
    let (s, t) = if simulcast {
        check(body, SIMULCAST_PARAMS)?;
        if let Some(f) = get_u64(body, "fallback") {
            l.fallback_us = f;
        }
        ("substream", "temporal")
    } else {
        check(body, SVC_PARAMS)?;
        ("spatial_layer", "temporal_layer")
    };
    if let Some(x) = get_u64(body, s) {
        l.substream = u8::try_from(x.min(2)).unwrap_or(2);
    }
    if let Some(x) = get_u64(body, t) {
        l.temporal = u8::try_from(x.min(2)).unwrap_or(2);
    }
    Ok(l)
}
