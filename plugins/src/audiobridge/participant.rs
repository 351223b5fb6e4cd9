//! Participants (asynchronous): join, configure, changeroom, leave, and the SDP offer/answer
//! that rides on their events.

use portunus_sdp::jsep::{
    AnswerConfig, MlinePolicy, OfferBuilder, OfferStream, OpusFmtp, generate_answer,
};
use portunus_sdp::{CodecName, MediaKind, Sdp, extension};

use super::*;
use crate::rooms::token_allowed;
use crate::util::get_bool;

/// The members of `join` and `changeroom` (`JANUS_AUDIOBRIDGE` `join_parameters`).
const JOIN_PARAMS: &[Param] = &[
    ("display", Kind::Str, false),
    ("token", Kind::Str, false),
    ("group", Kind::Str, false),
    ("muted", Kind::Bool, false),
    ("codec", Kind::Str, false),
    ("prebuffer", Kind::PosInt, false),
    ("bitrate", Kind::PosInt, false),
    ("quality", Kind::PosInt, false),
    ("expected_loss", Kind::PosInt, false),
    ("volume", Kind::PosInt, false),
    ("spatial_position", Kind::PosInt, false),
    ("audio_level_average", Kind::PosInt, false),
    ("audio_active_packets", Kind::PosInt, false),
    ("record", Kind::Bool, false),
    ("filename", Kind::Str, false),
    ("generate_offer", Kind::Bool, false),
    ("secret", Kind::Str, false),
];

const CONFIGURE_PARAMS: &[Param] = &[
    ("muted", Kind::Bool, false),
    ("prebuffer", Kind::PosInt, false),
    ("bitrate", Kind::PosInt, false),
    ("quality", Kind::PosInt, false),
    ("expected_loss", Kind::PosInt, false),
    ("volume", Kind::PosInt, false),
    ("group", Kind::Str, false),
    ("spatial_position", Kind::PosInt, false),
    ("record", Kind::Bool, false),
    ("filename", Kind::Str, false),
    ("display", Kind::Str, false),
    ("generate_offer", Kind::Bool, false),
    ("update", Kind::Bool, false),
];

const RTP_PARAMS: &[Param] = &[
    ("ip", Kind::Str, false),
    ("port", Kind::PosInt, false),
    ("payload_type", Kind::PosInt, false),
    ("audiolevel_ext", Kind::PosInt, false),
    ("fec", Kind::Bool, false),
];

/// What a join or changeroom grants, checked against the room before anything changes.
struct Admission {
    room: AbId,
    id: AbId,
    admin: bool,
    group: Option<String>,
}

impl AudioBridge {
    /// Room, PIN, token, secret, group and id checks shared by `join` and `changeroom`.
    fn admit(&self, body: &Map<String, Value>, rid: AbId) -> Result<Admission, Failure> {
        let Some(room) = self.rooms.get(&rid) else {
            return Err(no_room(&rid));
        };
        CODES.check_secret(room.config.pin.as_deref(), body, "pin")?;
        if !token_allowed(room.allowed.as_deref(), body) {
            return Err(CODES.unauthorized("not in the allowed list"));
        }
        let mut admin = false;
        if body.contains_key("secret") {
            CODES.check_secret(room.config.secret.as_deref(), body, "secret")?;
            admin = true;
        }
        let mut group = None;
        if !room.config.groups.is_empty() {
            check(body, &[("group", Kind::Str, true)])?;
            let g = get_str(body, "group").unwrap_or_default();
            if !room.config.groups.iter().any(|x| x == g) {
                return Err((ERROR_NO_SUCH_GROUP, format!("No such group ({g})")));
            }
            group = Some(g.to_owned());
        }
        Ok(Admission {
            room: rid,
            id: AbId::Num(0),
            admin,
            group,
        })
    }

    /// The participant id a join asked for (free), or a fresh one.
    fn pick_participant_id(
        &mut self,
        body: &Map<String, Value>,
        rid: &AbId,
    ) -> Result<AbId, Failure> {
        let requested = self
            .id_param(body, "id", false)?
            .filter(|i| *i != AbId::Num(0));
        let participants = self.rooms.get(rid).map(|r| &r.participants);
        let taken = |id: &AbId| participants.is_some_and(|p| p.contains_key(id));
        match requested {
            Some(id) if taken(&id) => {
                Err((ERROR_ID_EXISTS, format!("User ID {id} already exists")))
            }
            Some(id) => Ok(id),
            None => Ok(AbId::random(&mut self.ids, self.config.string_ids, taken)),
        }
    }

    pub(super) fn join(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, bool), Failure> {
        if self.participant(handle).is_some() {
            return Err((
                ERROR_ALREADY_JOINED,
                "Already in a room (use changeroom to join another one)".into(),
            ));
        }
        check(body, JOIN_PARAMS)?;
        // A JSEP wins over `rtp`, as in Janus.
        let rtp = match body.get("rtp") {
            Some(Value::Object(rtp)) if jsep.is_none() => {
                check(rtp, RTP_PARAMS)?;
                true
            }
            Some(Value::Object(_)) | None => false,
            Some(_) => {
                return Err((
                    ERROR_INVALID_ELEMENT,
                    "Invalid element type (rtp should be an object)".into(),
                ));
            }
        };
        let rid = self.room_param(body, true)?.unwrap_or(AbId::Num(0));
        self.id_param(body, "id", false)?;
        let room = self.rooms.get(&rid).ok_or_else(|| no_room(&rid))?;
        if rtp && !room.config.allow_rtp_participants {
            return Err((
                ERROR_UNAUTHORIZED,
                "Plain RTP participants not allowed in this room".into(),
            ));
        }
        let mut admission = self.admit(body, rid)?;
        let Some(room) = self.rooms.get(&admission.room) else {
            return Err(no_room(&admission.room));
        };
        let c = &room.config;
        let prebuffer = get_u64(body, "prebuffer")
            .filter(|p| *p <= MAX_PREBUFFERING)
            .unwrap_or(c.default_prebuffering);
        let bitrate = get_u64(body, "bitrate")
            .filter(|b| (500..=512_000).contains(b))
            .unwrap_or(c.default_bitrate);
        let quality = quality(body)?.unwrap_or(DEFAULT_COMPLEXITY);
        let expected_loss = expected_loss(body)?.unwrap_or(c.default_expectedloss);
        let codec = match get_str(body, "codec") {
            None => MixCodec::Opus,
            Some(name) => parse_codec(name).ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element (codec must opus, pcmu or pcma)".to_owned(),
            ))?,
        };
        let spatial = c.spatial_audio;
        admission.id = self.pick_participant_id(body, &admission.room)?;
        if rtp {
            return Err((
                ERROR_UNKNOWN,
                "Plain RTP participants unsupported in this instance".into(),
            ));
        }
        if get_bool(body, "record") == Some(true) {
            return Err(no_recording());
        }
        let participant = Participant {
            room: admission.room.clone(),
            id: admission.id.clone(),
            display: get_str(body, "display").map(str::to_owned),
            muted: get_bool(body, "muted").unwrap_or(false),
            admin: admission.admin,
            group: admission.group,
            codec,
            prebuffer,
            volume: get_u64(body, "volume").unwrap_or(100),
            spatial_position: if spatial {
                get_u64(body, "spatial_position").unwrap_or(50).min(100)
            } else {
                0
            },
            bitrate,
            quality,
            expected_loss,
            audio_active_packets: get_u64(body, "audio_active_packets").unwrap_or(0),
            audio_level_average: get_u64(body, "audio_level_average").unwrap_or(0),
            talk: TalkWindow::default(),
            kicked: false,
        };
        let rid = admission.room;
        let id = admission.id;
        if let Some(s) = self.sessions.get_mut(&handle) {
            s.participant = Some(participant);
        }
        if let Some(r) = self.rooms.get_mut(&rid) {
            r.participants.insert(id.clone(), handle);
        }
        // Others learn about the newcomer, still without a PeerConnection.
        if let Some(mut entry) = self.participant_json(handle, false) {
            entry["setup"] = false.into();
            let ev = json!({"audiobridge": "joined", "room": rid.json(), "participants": [entry]});
            self.notify(&rid, Some(handle), &ev);
        }
        let list = self.others_json(&rid, handle);
        let data = json!({"audiobridge": "joined", "room": rid.json(), "id": id.json(),
            "participants": list});
        let generate_offer = get_bool(body, "generate_offer") == Some(true);
        if generate_offer && let Some(s) = self.sessions.get_mut(&handle) {
            s.plugin_offer = true;
        }
        Ok((data, generate_offer))
    }

    pub(super) fn configure(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, bool), Failure> {
        let Some(p) = self.participant(handle) else {
            return Err((ERROR_NOT_JOINED, "Can't configure (not in a room)".into()));
        };
        check(body, CONFIGURE_PARAMS)?;
        let quality = quality(body)?;
        let expected_loss = expected_loss(body)?;
        let groups = self
            .rooms
            .get(&p.room)
            .map(|r| r.config.groups.clone())
            .unwrap_or_default();
        let spatial = self
            .rooms
            .get(&p.room)
            .is_some_and(|r| r.config.spatial_audio);
        let group = match get_str(body, "group") {
            Some(g) if !groups.is_empty() => {
                if !groups.iter().any(|x| x == g) {
                    return Err((ERROR_NO_SUCH_GROUP, format!("No such group ({g})")));
                }
                Some(g.to_owned())
            }
            _ => None,
        };
        if get_bool(body, "record") == Some(true) {
            return Err(no_recording());
        }
        let Some(s) = self.sessions.get_mut(&handle) else {
            return Err((ERROR_NOT_JOINED, "Can't configure (not in a room)".into()));
        };
        let Some(p) = s.participant.as_mut() else {
            return Err((ERROR_NOT_JOINED, "Can't configure (not in a room)".into()));
        };
        if let Some(pb) = get_u64(body, "prebuffer").filter(|p| *p <= MAX_PREBUFFERING) {
            p.prebuffer = pb;
        }
        if let Some(v) = get_u64(body, "volume") {
            p.volume = v;
        }
        if let Some(b) = get_u64(body, "bitrate") {
            p.bitrate = if (500..=512_000).contains(&b) { b } else { 0 };
        }
        if let Some(q) = quality {
            p.quality = q;
        }
        if let Some(l) = expected_loss {
            p.expected_loss = l;
        }
        if group.is_some() {
            p.group = group;
        }
        let muted = get_bool(body, "muted");
        let display = get_str(body, "display");
        let position = get_u64(body, "spatial_position").filter(|_| spatial);
        if let Some(m) = muted {
            p.muted = m;
        }
        if let Some(d) = display {
            p.display = Some(d.to_owned());
        }
        if let Some(pos) = position {
            p.spatial_position = pos.min(100);
        }
        if muted.is_some() || display.is_some() || position.is_some() {
            self.notify_update(handle, false);
        }
        let update = get_bool(body, "update") == Some(true);
        let plugin_offer = self.sessions.get(&handle).is_some_and(|s| s.plugin_offer);
        let generate_offer = if update && plugin_offer {
            true
        } else {
            get_bool(body, "generate_offer") == Some(true)
        };
        // An answer to our own offer keeps the plugin-offer state; a client offer with
        // `generate_offer` set is refused in `negotiate`.
        if generate_offer
            && jsep.is_none_or(|j| j.kind != JsepType::Answer)
            && let Some(s) = self.sessions.get_mut(&handle)
        {
            s.plugin_offer = true;
        }
        let generate_offer = generate_offer && jsep.is_none();
        Ok((
            json!({"audiobridge": "event", "result": "ok"}),
            generate_offer,
        ))
    }

    pub(super) fn change_room(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, bool), Failure> {
        check(body, JOIN_PARAMS)?;
        let rid = self.room_param(body, true)?.unwrap_or(AbId::Num(0));
        let Some(old) = self.participant(handle).cloned() else {
            return Err((
                ERROR_NOT_JOINED,
                "Can't change room (not in a room in the first place)".into(),
            ));
        };
        if old.room == rid {
            return Err((ERROR_ALREADY_JOINED, "Already in this room".into()));
        }
        let mut admission = self.admit(body, rid)?;
        let quality = quality(body)?;
        let expected_loss = expected_loss(body)?;
        let Some(room) = self.rooms.get(&admission.room) else {
            return Err(no_room(&admission.room));
        };
        let bitrate = get_u64(body, "bitrate")
            .filter(|b| (500..=512_000).contains(b))
            .unwrap_or(room.config.default_bitrate);
        admission.id = self.pick_participant_id(body, &admission.room)?;
        // Leave the old room…
        if let Some(r) = self.rooms.get_mut(&old.room) {
            r.participants.remove(&old.id);
        }
        let ev = json!({"audiobridge": "event", "room": old.room.json(), "leaving": old.id.json()});
        self.notify(&old.room, Some(handle), &ev);
        // …and join the new one (Janus 1.1.2 defaults the position to 64 here).
        let rid = admission.room.clone();
        let id = admission.id.clone();
        let participant = Participant {
            room: admission.room,
            id: admission.id,
            display: get_str(body, "display").map(str::to_owned),
            muted: get_bool(body, "muted").unwrap_or(false),
            admin: admission.admin,
            group: admission.group,
            codec: old.codec,
            prebuffer: old.prebuffer,
            volume: get_u64(body, "volume").unwrap_or(100),
            spatial_position: get_u64(body, "spatial_position").unwrap_or(64).min(100),
            bitrate,
            quality: quality.unwrap_or(old.quality),
            expected_loss: expected_loss.unwrap_or(old.expected_loss),
            audio_active_packets: old.audio_active_packets,
            audio_level_average: old.audio_level_average,
            talk: TalkWindow::default(),
            kicked: false,
        };
        if let Some(s) = self.sessions.get_mut(&handle) {
            s.participant = Some(participant);
        }
        if let Some(r) = self.rooms.get_mut(&rid) {
            r.participants.insert(id.clone(), handle);
        }
        if let Some(entry) = self.participant_json(handle, false) {
            let ev = json!({"audiobridge": "joined", "room": rid.json(), "participants": [entry]});
            self.notify(&rid, Some(handle), &ev);
        }
        let list = self.others_json(&rid, handle);
        Ok((
            json!({"audiobridge": "roomchanged", "room": rid.json(), "id": id.json(),
                "participants": list}),
            false,
        ))
    }

    pub(super) fn leave(&mut self, handle: HandleId) -> Result<(Value, bool), Failure> {
        let Some(p) = self
            .sessions
            .get_mut(&handle)
            .and_then(|s| s.participant.take())
        else {
            return Err((ERROR_NOT_JOINED, "Can't leave (not in a room)".into()));
        };
        let ev = json!({"audiobridge": "event", "room": p.room.json(), "leaving": p.id.json()});
        self.notify(&p.room, Some(handle), &ev);
        if let Some(r) = self.rooms.get_mut(&p.room) {
            r.participants.remove(&p.id);
        }
        Ok((
            json!({"audiobridge": "left", "room": p.room.json(), "id": p.id.json()}),
            false,
        ))
    }

    /// The SDP step after a request: answer a client offer, take a client answer, or make
    /// the plugin's own offer (`generate_offer`).
    pub(super) fn negotiate(
        &mut self,
        now: Instant,
        handle: HandleId,
        jsep: Option<&Jsep>,
        generate_offer: bool,
    ) -> Result<Option<Jsep>, Failure> {
        let plugin_offer = self.sessions.get(&handle).is_some_and(|s| s.plugin_offer);
        if let Some(j) = jsep {
            if j.e2ee {
                return Err((
                    ERROR_INVALID_ELEMENT,
                    "Media encryption unsupported by this plugin".into(),
                ));
            }
            match j.kind {
                JsepType::Offer if plugin_offer => {
                    return Err((
                        ERROR_INVALID_SDP,
                        "Received an offer on a plugin-offered session".into(),
                    ));
                }
                JsepType::Answer if !plugin_offer => {
                    return Err((
                        ERROR_INVALID_SDP,
                        "Received an answer when we didn't send an offer".into(),
                    ));
                }
                _ => {}
            }
        }
        let parsed = match jsep {
            Some(j) => Some(Sdp::parse(&j.sdp).map_err(|e| {
                let what = if j.kind == JsepType::Offer {
                    "offer"
                } else {
                    "answer"
                };
                (
                    ERROR_INVALID_SDP,
                    format!("Error parsing {what}: {}", e.janus_reason()),
                )
            })?),
            None => None,
        };
        let unix_us = u64::try_from(self.clock.unix(now).as_micros()).unwrap_or(u64::MAX);
        let Some(s) = self.sessions.get_mut(&handle) else {
            return Ok(None);
        };
        if let Some(j) = jsep {
            if j.kind == JsepType::Offer && !j.update {
                s.sdp_session = unix_us;
                s.sdp_version = 1;
            } else if j.kind == JsepType::Offer {
                s.sdp_version += 1;
            }
        }
        if let (Some(j), Some(sdp)) = (jsep, &parsed)
            && j.kind == JsepType::Answer
        {
            // The client answered our offer: the mix can start on its audio m-line.
            s.media = first_audio(sdp).map(|(_, mid)| Negotiated {
                mid,
                fec: s.media.as_ref().is_some_and(|m| m.fec),
                audio_level: s.media.as_ref().is_some_and(|m| m.audio_level),
            });
            return Ok(None);
        }
        let Some(p) = s.participant.as_ref() else {
            return Err((ERROR_NOT_JOINED, "Can't handle SDP (not in a room)".into()));
        };
        let Some(room) = self.rooms.get(&p.room) else {
            return Err((ERROR_NOT_JOINED, "Can't handle SDP (not in a room)".into()));
        };
        let stereo = u8::from(room.config.spatial_audio);
        let session_name = format!("AudioBridge {}", room.config.room);
        let codec = p.codec;
        let audiolevel_ext = room.config.audiolevel_ext;
        let rate = room.config.sampling_rate;
        match parsed {
            Some(offer) => {
                let sdp_text = jsep.map_or("", |j| j.sdp.as_str());
                let opus_offered = offer.media.iter().any(|m| {
                    m.kind() == MediaKind::Audio
                        && m.rtpmaps()
                            .iter()
                            .any(|r| r.encoding.eq_ignore_ascii_case("opus"))
                });
                let fec = opus_offered && sdp_text.contains("useinbandfec=1");
                let level_offered = offer.media.iter().any(|m| {
                    m.kind() == MediaKind::Audio
                        && m.attribute_values("extmap")
                            .any(|v| v.contains(extension::AUDIO_LEVEL))
                });
                let fmtp = format!(
                    "maxplaybackrate={rate}; stereo={stereo}; sprop-stereo={stereo}; useinbandfec={}",
                    u8::from(fec)
                );
                let config = answer_config(session_name, codec, fmtp);
                let first = first_audio(&offer);
                let policies: Vec<MlinePolicy> = (0..offer.media.len())
                    .map(|i| MlinePolicy {
                        enabled: first.as_ref().is_some_and(|(idx, _)| *idx == i),
                        ..MlinePolicy::default()
                    })
                    .collect();
                let bad = |e: portunus_sdp::SdpError| {
                    (
                        ERROR_INVALID_SDP,
                        format!("Error parsing offer: {}", e.janus_reason()),
                    )
                };
                let mut answer = generate_answer(&offer, &config, &policies).map_err(bad)?;
                if let Some(mut o) = answer.origin() {
                    o.session_id = s.sdp_session;
                    o.session_version = s.sdp_version;
                    answer.set_origin(&o);
                }
                // The m-line is in use only if a codec in common was found.
                let accepted = first.and_then(|(idx, mid)| {
                    answer.media.get(idx).filter(|m| m.port() != 0).map(|_| mid)
                });
                s.media = accepted.map(|mid| Negotiated {
                    mid,
                    fec: fec && codec == MixCodec::Opus,
                    audio_level: level_offered && audiolevel_ext,
                });
                let mut j = Jsep::new(JsepType::Answer, answer.to_string());
                j.e2ee = false;
                Ok(Some(j))
            }
            None if generate_offer => {
                if s.sdp_version == 0 || s.sdp_session == 0 {
                    s.sdp_session = unix_us;
                    s.sdp_version = 1;
                } else {
                    s.sdp_version += 1;
                }
                let (cname, pt) = match codec {
                    MixCodec::Opus => (CodecName::Opus, 100),
                    MixCodec::Pcmu => (CodecName::Pcmu, 0),
                    MixCodec::Pcma => (CodecName::Pcma, 8),
                };
                let mut stream = OfferStream::audio(cname)
                    .with_mid("0")
                    .with_direction(portunus_sdp::Direction::SendRecv);
                stream.payload_type = Some(pt);
                stream.extensions = vec![
                    (extension::MID.to_owned(), 1),
                    (extension::AUDIO_LEVEL.to_owned(), 2),
                ];
                if codec == MixCodec::Opus {
                    stream.fmtp = Some(format!(
                        "maxplaybackrate={rate}; stereo={stereo}; sprop-stereo={stereo}; useinbandfec=0"
                    ));
                }
                let mut offer = OfferBuilder::new(&session_name, s.sdp_session, s.sdp_version);
                offer.address = "0.0.0.0".into();
                offer.streams.push(stream);
                let sdp = offer
                    .build()
                    .map_err(|e| (ERROR_UNKNOWN, e.janus_reason()))?;
                // Media flows once the client's answer comes (`configure` with JSEP).
                s.media = None;
                s.plugin_offer = true;
                Ok(Some(Jsep::new(JsepType::Offer, sdp.to_string())))
            }
            None => Ok(None),
        }
    }
}

/// How AudioBridge answers: one audio m-line in the participant's codec, `mid` and audio-level
/// extensions, the room's Opus `fmtp`, nothing else.
fn answer_config(session_name: String, codec: MixCodec, fmtp: String) -> AnswerConfig {
    let audio_codec = match codec {
        MixCodec::Opus => CodecName::Opus,
        MixCodec::Pcmu => CodecName::Pcmu,
        MixCodec::Pcma => CodecName::Pcma,
    };
    AnswerConfig {
        session_name: Some(session_name),
        audio_codecs: vec![audio_codec],
        video_codecs: Vec::new(),
        vp9_profile: None,
        h264_profile: None,
        direction: None,
        audio_extensions: vec![extension::MID.to_owned(), extension::AUDIO_LEVEL.to_owned()],
        video_extensions: Vec::new(),
        opus_fmtp: OpusFmtp::default(),
        audio_fmtp: (codec == MixCodec::Opus).then_some(fmtp),
        opus_red: false,
        dtmf: false,
        video_rtcp_fb: false,
        accept_data: false,
        downgrade_sendonly: false,
    }
}

/// The index and mid of the first audio m-line that is not rejected.
fn first_audio(sdp: &Sdp) -> Option<(usize, String)> {
    sdp.media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind() == MediaKind::Audio && m.port() != 0)
        .map(|(i, m)| (i, m.mid_or_index(i).as_str().to_owned()))
}

fn quality(body: &Map<String, Value>) -> Result<Option<u64>, Failure> {
    match get_u64(body, "quality") {
        Some(q) if !(1..=10).contains(&q) => Err((
            ERROR_INVALID_ELEMENT,
            "Invalid element (quality should be a positive integer between 1 and 10)".into(),
        )),
        q => Ok(q),
    }
}

fn expected_loss(body: &Map<String, Value>) -> Result<Option<u64>, Failure> {
    match get_u64(body, "expected_loss") {
        Some(l) if l > 20 => Err((
            ERROR_INVALID_ELEMENT,
            "Invalid element (expected_loss should be a positive integer between 0 and 20)".into(),
        )),
        l => Ok(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_and_loss_bounds() {
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(quality(&body(json!({"quality": 10}))), Ok(Some(10)));
        assert_eq!(quality(&body(json!({"quality": 0}))).unwrap_err().0, 484);
        assert_eq!(
            expected_loss(&body(json!({"expected_loss": 20}))),
            Ok(Some(20))
        );
        assert_eq!(
            expected_loss(&body(json!({"expected_loss": 21})))
                .unwrap_err()
                .0,
            484
        );
    }
}
