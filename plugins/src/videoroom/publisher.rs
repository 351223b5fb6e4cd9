//! Publishers: join, publish/configure, unpublish, leave, and the stream descriptions others see.

use super::*;
use crate::rooms::{pick_id, token_allowed};

impl VideoRoom {
    pub(super) fn join(
        &mut self,
        now: Instant,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(body, &[ROOM, ("ptype", Kind::Str, true)])?;
        match get_str(body, "ptype").unwrap_or_default() {
            "publisher" => self.join_publisher(handle, request, body, jsep),
            "subscriber" | "listener" => self.join_subscriber(now, handle, body),
            _ => Err((ERROR_INVALID_ELEMENT, "Invalid element (ptype)".into())),
        }
    }

    pub(super) fn join_publisher(
        &mut self,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("id", Kind::PosInt, false),
                ("display", Kind::Str, false),
                ("token", Kind::Str, false),
                ("pin", Kind::Str, false),
                ("audio_active_packets", Kind::PosInt, false),
                ("audio_level_average", Kind::PosInt, false),
            ],
        )?;
        let rid = self.room(body)?;
        let room = &self.rooms[&rid];
        CODES.check_secret(room.config.pin.as_deref(), body, "pin")?;
        if !token_allowed(room.allowed.as_deref(), body) {
            return Err(CODES.unauthorized("not in the allowed list"));
        }
        match get_u64(body, "id").filter(|&i| i > 0) {
            Some(id) if room.kicked.contains(&id) => {
                return Err(unauthorized_text("Unauthorized, you have been kicked"));
            }
            Some(id) if room.participants.contains_key(&id) => {
                return Err((ERROR_ID_EXISTS, format!("User ID {id} already exists")));
            }
            _ => {}
        }
        let id = pick_id(get_u64(body, "id"), &mut self.ids, |i| {
            room.participants.contains_key(&i)
        });
        let private_id = self.ids.next();
        let publishers: Vec<Value> = room
            .participants
            .values()
            .filter_map(|h| match self.handles.get(h) {
                Some(Role::Publisher(p)) if p.up => Some(publisher_json(p)),
                _ => None,
            })
            .collect();
        let attendees: Vec<Value> = room
            .participants
            .values()
            .filter_map(|h| match self.handles.get(h) {
                Some(Role::Publisher(p)) if !p.up => Some(attendee_json(p)),
                _ => None,
            })
            .collect();
        let notify_joining = room.config.notify_joining;
        let description = room.config.description.clone();
        let publisher = Publisher {
            room: rid,
            id,
            private_id,
            display: get_str(body, "display").map(str::to_owned),
            streams: Vec::new(),
            descriptions: HashMap::new(),
            negotiated: false,
            up: false,
            forwarders: Vec::new(),
            next_fir: None,
            audio_active_packets: get_u64(body, "audio_active_packets").filter(|n| *n > 0),
            audio_level_average: get_u64(body, "audio_level_average").filter(|n| *n > 0),
        };
        let talk_overrides = [
            ("audio_active_packets", publisher.audio_active_packets),
            ("audio_level_average", publisher.audio_level_average),
        ];
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.participants.insert(id, handle);
        }
        self.handles.insert(handle, Role::Publisher(publisher));
        let mut joined = json!({"videoroom": "joined", "room": rid, "description": description,
            "id": id, "private_id": private_id, "publishers": publishers});
        if notify_joining {
            joined["attendees"] = attendees.into();
            if let Some(Role::Publisher(p)) = self.handles.get(&handle) {
                let ev = json!({"videoroom": "event", "room": rid, "joining": attendee_json(p)});
                self.notify(rid, Some(handle), &ev);
            }
        }
        for (key, value) in talk_overrides {
            if let Some(v) = value {
                joined[key] = v.into();
            }
        }
        if request == "joinandconfigure" && jsep.is_some() {
            // The answer rides on the `joined` event.
            let (_, answer) = self.publish(handle, "configure", body, jsep)?;
            return Ok((joined, answer));
        }
        Ok((joined, None))
    }

    pub(super) fn publish(
        &mut self,
        handle: HandleId,
        request: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("audiocodec", Kind::Str, false),
                ("videocodec", Kind::Str, false),
                ("bitrate", Kind::PosInt, false),
                ("keyframe", Kind::Bool, false),
                ("audio_active_packets", Kind::PosInt, false),
                ("audio_level_average", Kind::PosInt, false),
                ("record", Kind::Bool, false),
                ("filename", Kind::Str, false),
                ("display", Kind::Str, false),
                ("descriptions", Kind::Array, false),
                ("streams", Kind::Array, false),
                ("mid", Kind::Str, false),
                ("send", Kind::Bool, false),
                ("audio", Kind::Bool, false),
                ("video", Kind::Bool, false),
                ("data", Kind::Bool, false),
            ],
        )?;
        let descriptions = descriptions(body)?;
        let stream_changes = stream_changes(body)?;
        let Some(Role::Publisher(p)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = p.room;
        let Some(room) = self.rooms.get(&rid) else {
            return Err(no_room(rid));
        };
        if request == "publish" && p.negotiated && jsep.is_none_or(|j| !j.update) {
            return Err((
                ERROR_ALREADY_PUBLISHED,
                "Can't publish, already published".into(),
            ));
        }
        let mut config = AnswerConfig::videoroom_publisher(&rid.to_string());
        config.audio_codecs.clone_from(&room.config.audiocodec);
        config.video_codecs.clone_from(&room.config.videocodec);
        if let Some(c) = pick_codec(body, "audiocodec", &room.config.audiocodec, "Audio")? {
            config.audio_codecs = vec![c];
        }
        if let Some(c) = pick_codec(body, "videocodec", &room.config.videocodec, "Video")? {
            config.video_codecs = vec![c];
        }
        let active = room
            .participants
            .values()
            .filter(|h| **h != handle)
            .filter(|h| matches!(self.handles.get(h), Some(Role::Publisher(p)) if p.negotiated))
            .count() as u64;
        let max = room.config.publishers;
        let bitrate = room.config.bitrate;
        let bitrate_cap = room.config.bitrate_cap;
        let mut cmds = Vec::new();
        let answer = match jsep {
            Some(j) if j.kind == JsepType::Answer => {
                return Err((ERROR_INVALID_SDP_TYPE, "Only publishers send offers".into()));
            }
            Some(j) => {
                if !p.negotiated && active >= max {
                    return Err((
                        ERROR_PUBLISHERS_FULL,
                        format!("Maximum number of publishers ({max}) already reached"),
                    ));
                }
                let bad = |e: portunus_sdp::SdpError| {
                    (
                        ERROR_INVALID_SDP,
                        format!("Error parsing offer: {}", e.janus_reason()),
                    )
                };
                let offer = Sdp::parse(&j.sdp).map_err(bad)?;
                let answer = generate_answer(&offer, &config, &[]).map_err(bad)?;
                let streams = pub_streams(&offer, &answer, room.config.video_svc);
                if streams.is_empty() {
                    return Err((
                        ERROR_INVALID_SDP,
                        "Can't offer an SDP with no stream".into(),
                    ));
                }
                Some((streams, Jsep::new(JsepType::Answer, answer.to_string())))
            }
            None => None,
        };
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return Err(join_first());
        };
        p.descriptions.extend(descriptions);
        let mut renamed = None;
        if let Some(d) = get_str(body, "display") {
            if p.display.is_some() && p.display.as_deref() != Some(d) {
                renamed =
                    Some(json!({"videoroom": "event", "room": rid, "id": p.id, "display": d}));
            }
            p.display = Some(d.to_owned());
        }
        if let Some(n) = get_u64(body, "audio_active_packets").filter(|n| *n > 0) {
            p.audio_active_packets = Some(n);
        }
        if let Some(n) = get_u64(body, "audio_level_average").filter(|n| *n > 0) {
            p.audio_level_average = Some(n);
        }
        if let Some(b) = get_u64(body, "bitrate") {
            // The room's bitrate is a ceiling only with `bitrate_cap`; otherwise a
            // publisher's own value replaces it.
            let b = if bitrate_cap && bitrate > 0 {
                b.min(bitrate)
            } else {
                b
            };
            cmds.push(MediaCommand::SetBitrateCap {
                handle,
                bitrate: u32::try_from(b).unwrap_or(u32::MAX),
            });
        }
        if get_bool(body, "keyframe") == Some(true) && !body.contains_key("mid") {
            cmds.push(MediaCommand::RequestKeyframe { handle, mid: None });
        }
        let mut data = json!({"videoroom": "event", "room": rid, "configured": "ok"});
        let mut answer_jsep = None;
        if let Some((streams, mut j)) = answer {
            j.e2ee = jsep.is_some_and(|o| o.e2ee);
            // A renegotiation keeps what the publisher paused and moderators muted.
            let mut streams = streams;
            for st in &mut streams {
                if let Some(old) = p.streams.iter().find(|o| o.mid == st.mid) {
                    st.paused = old.paused;
                    st.moderated = old.moderated;
                }
            }
            p.streams = streams;
            p.negotiated = true;
            if bitrate > 0 && get_u64(body, "bitrate").is_none() {
                cmds.push(MediaCommand::SetBitrateCap {
                    handle,
                    bitrate: u32::try_from(bitrate).unwrap_or(u32::MAX),
                });
            }
            let pj = publisher_json(p);
            for k in ["audio_codec", "video_codec", "streams"] {
                if let Some(v) = pj.get(k) {
                    data[k] = v.clone();
                }
            }
            answer_jsep = Some(j);
            if p.up {
                let ev = json!({"videoroom": "event", "room": rid, "publishers": [pj]});
                self.notify(rid, Some(handle), &ev);
            }
        }
        let refresh = self.apply_stream_changes(handle, &stream_changes)?;
        for c in cmds {
            self.out.media(c);
        }
        for (mid, keyframe) in refresh {
            if let Some(mid) = mid {
                self.refresh_sending(handle, &mid);
            }
            if let Some(mid) = keyframe {
                self.out.media(MediaCommand::RequestKeyframe {
                    handle,
                    mid: Some(mid),
                });
            }
        }
        if let Some(ev) = renamed {
            self.notify(rid, Some(handle), &ev);
        }
        Ok((data, answer_jsep))
    }

    /// Applies per-stream `send`/`keyframe` of a publisher `configure`; returns, per change,
    /// the mid whose relaying must be refreshed and the mid that wants a keyframe.
    fn apply_stream_changes(
        &mut self,
        handle: HandleId,
        changes: &[StreamChange],
    ) -> Result<Vec<Refresh>, Failure> {
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return Ok(Vec::new());
        };
        for c in changes {
            if let StreamChange::Mid { mid, .. } = c
                && !p.streams.iter().any(|s| &s.mid == mid)
            {
                return Err((ERROR_NO_SUCH_FEED, format!("No such mid '{mid}' published")));
            }
        }
        let mut out = Vec::new();
        for c in changes {
            for st in &mut p.streams {
                let (send, keyframe) = match c {
                    StreamChange::Mid {
                        mid,
                        send,
                        keyframe,
                    } if &st.mid == mid => (*send, *keyframe),
                    StreamChange::Kind { kind, send } if st.kind == *kind => (Some(*send), false),
                    _ => continue,
                };
                let mut refresh = None;
                if let Some(send) = send
                    && send == st.paused
                {
                    st.paused = !send;
                    refresh = Some(st.mid.clone());
                }
                let kf = (keyframe && st.kind == MediaKind::Video).then(|| st.mid.clone());
                out.push((refresh, kf));
            }
        }
        Ok(out)
    }

    /// Stops the publisher's RTP forwarders (its PeerConnection or participation ended).
    pub(super) fn stop_forwarders(&mut self, handle: HandleId) {
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return;
        };
        for f in std::mem::take(&mut p.forwarders) {
            self.out.media(MediaCommand::StopRtpForward { id: f.id });
        }
    }

    pub(super) fn unpublish(&mut self, handle: HandleId) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Publisher(p)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        if !p.negotiated {
            return Err((ERROR_NOT_PUBLISHED, "Can't unpublish, not published".into()));
        }
        let rid = p.room;
        self.feed_gone(handle, true);
        self.out.push(PluginOutput::ClosePeerConnection { handle });
        Ok((
            json!({"videoroom": "event", "room": rid, "unpublished": "ok"}),
            None,
        ))
    }

    /// A publisher's streams are gone: subscribers lose them, others hear `unpublished`
    /// when `notify`.
    pub(super) fn feed_gone(&mut self, handle: HandleId, notify: bool) {
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return;
        };
        let was_up = p.up;
        let (rid, id) = (p.room, p.id);
        p.streams.clear();
        p.negotiated = false;
        p.up = false;
        p.next_fir = None;
        self.stop_forwarders(handle);
        self.unforward_feed(handle);
        if notify && was_up {
            let ev = json!({"videoroom": "event", "room": rid, "unpublished": id});
            self.notify(rid, Some(handle), &ev);
        }
    }

    pub(super) fn publisher_leave(
        &mut self,
        handle: HandleId,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Publisher(p)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let (rid, id) = (p.room, p.id);
        self.stop_forwarders(handle);
        self.unforward_feed(handle);
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.participants.remove(&id);
        }
        self.handles.insert(handle, Role::None);
        let ev = json!({"videoroom": "event", "room": rid, "leaving": id});
        self.notify(rid, Some(handle), &ev);
        Ok((
            json!({"videoroom": "event", "room": rid, "leaving": "ok"}),
            None,
        ))
    }
}

pub(super) fn pick_codec(
    body: &Map<String, Value>,
    name: &str,
    allowed: &[CodecName],
    what: &str,
) -> Result<Option<CodecName>, Failure> {
    let Some(text) = get_str(body, name) else {
        return Ok(None);
    };
    match CodecName::parse(text).filter(|c| allowed.contains(c)) {
        Some(c) => Ok(Some(c)),
        None => Err((
            ERROR_INVALID_ELEMENT,
            format!("{what} codec unavailable in this room"),
        )),
    }
}

pub(super) fn descriptions(body: &Map<String, Value>) -> Result<Vec<(String, String)>, Failure> {
    let Some(Value::Array(items)) = body.get("descriptions") else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|d| {
            let m = d.as_object().ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element type (descriptions should be an array of objects)".to_owned(),
            ))?;
            check(
                m,
                &[("mid", Kind::Str, true), ("description", Kind::Str, true)],
            )?;
            Ok((
                get_str(m, "mid").unwrap_or_default().to_owned(),
                get_str(m, "description").unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The publisher's streams from its offer and our answer.
pub(super) fn pub_streams(offer: &Sdp, answer: &Sdp, video_svc: bool) -> Vec<PubStream> {
    offer
        .media
        .iter()
        .zip(&answer.media)
        .enumerate()
        .map(|(i, (o, a))| {
            let codec = mline_codec(a);
            // Janus 1.1.2 honours simulcast for VP8 and H.264 only.
            let simulcast = matches!(codec, Some(CodecName::Vp8 | CodecName::H264))
                && (o.simulcast().is_some()
                    || o.ssrc_groups().iter().any(|g| g.semantics == "SIM"));
            let fec = codec == Some(CodecName::Opus)
                && a.mline
                    .formats
                    .first()
                    .and_then(|pt| pt.parse().ok())
                    .and_then(|pt| a.fmtp(pt))
                    .is_some_and(|f| f.params.contains("useinbandfec=1"));
            PubStream {
                mindex: i,
                mid: o.mid_or_index(i).as_str().to_owned(),
                kind: a.kind(),
                codec,
                disabled: a.port() == 0
                    || (a.kind() != MediaKind::Application && a.direction() == Direction::Inactive),
                simulcast,
                svc: video_svc && codec == Some(CodecName::Vp9),
                fec,
                paused: false,
                moderated: false,
                talk: TalkWindow::default(),
            }
        })
        .collect()
}

pub(super) fn kind_str(k: MediaKind) -> &'static str {
    match k {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
        MediaKind::Application => "data",
    }
}

/// `{"id","display"?}` of `attendees` and `joining`.
fn attendee_json(p: &Publisher) -> Value {
    let mut m = json!({"id": p.id});
    if let Some(d) = &p.display {
        m["display"] = d.clone().into();
    }
    m
}

pub(super) fn publisher_json(p: &Publisher) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), p.id.into());
    if let Some(d) = &p.display {
        m.insert("display".into(), d.clone().into());
    }
    let first = |k: MediaKind| {
        p.streams
            .iter()
            .find(|s| s.kind == k && !s.disabled)
            .and_then(|s| s.codec)
    };
    if let Some(c) = first(MediaKind::Audio) {
        m.insert("audio_codec".into(), c.as_str().into());
    }
    if let Some(c) = first(MediaKind::Video) {
        m.insert("video_codec".into(), c.as_str().into());
    }
    let streams: Vec<Value> = p
        .streams
        .iter()
        .map(|s| {
            let mut o = Map::new();
            o.insert("type".into(), kind_str(s.kind).into());
            o.insert("mindex".into(), s.mindex.into());
            o.insert("mid".into(), s.mid.clone().into());
            if s.disabled {
                o.insert("disabled".into(), true.into());
                return Value::Object(o);
            }
            if let Some(c) = s.codec {
                o.insert("codec".into(), c.as_str().into());
            }
            for (flag, key) in [(s.fec, "fec"), (s.simulcast, "simulcast"), (s.svc, "svc")] {
                if flag {
                    o.insert(key.into(), true.into());
                }
            }
            if let Some(d) = p.descriptions.get(&s.mid) {
                o.insert("description".into(), d.clone().into());
            }
            if s.moderated {
                o.insert("moderated".into(), true.into());
            }
            Value::Object(o)
        })
        .collect();
    m.insert("streams".into(), streams.into());
    Value::Object(m)
}

/// After a stream change: the mid whose relaying to refresh, the mid that wants a keyframe.
type Refresh = (Option<String>, Option<String>);

/// A per-stream change in a publisher `configure`.
pub(super) enum StreamChange {
    /// `streams` entry or top-level `mid`.
    Mid {
        mid: String,
        send: Option<bool>,
        keyframe: bool,
    },
    /// Deprecated `audio`/`video`/`data`: every stream of a kind.
    Kind { kind: MediaKind, send: bool },
}

/// The `streams` (or top-level `mid`/`send`/`keyframe`, or legacy `audio`/`video`/`data`)
/// of a publisher `configure`.
fn stream_changes(body: &Map<String, Value>) -> Result<Vec<StreamChange>, Failure> {
    let mut out = Vec::new();
    let entry = |m: &Map<String, Value>| -> Result<StreamChange, Failure> {
        check(
            m,
            &[
                ("mid", Kind::Str, true),
                ("send", Kind::Bool, false),
                ("keyframe", Kind::Bool, false),
            ],
        )?;
        Ok(StreamChange::Mid {
            mid: get_str(m, "mid").unwrap_or_default().to_owned(),
            send: get_bool(m, "send"),
            keyframe: get_bool(m, "keyframe") == Some(true),
        })
    };
    match body.get("streams").and_then(Value::as_array) {
        Some(list) => {
            for e in list {
                let m = e.as_object().ok_or((
                    ERROR_INVALID_ELEMENT,
                    "Invalid element type (streams should be an array of objects)".to_owned(),
                ))?;
                out.push(entry(m)?);
            }
        }
        None if body.contains_key("mid") => out.push(entry(body)?),
        None => {}
    }
    for (key, kind) in [
        ("audio", MediaKind::Audio),
        ("video", MediaKind::Video),
        ("data", MediaKind::Application),
    ] {
        if let Some(send) = get_bool(body, key) {
            out.push(StreamChange::Kind { kind, send });
        }
    }
    Ok(out)
}
