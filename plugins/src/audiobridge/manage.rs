//! Room management (synchronous): create, edit, destroy, list, exists, allowed, kick,
//! kick_all, mute/unmute, mute_room/unmute_room, listparticipants, resetdecoder, RTP
//! forwarders and the recording requests this server refuses.

use std::net::IpAddr;

use super::*;
use crate::rooms::{apply_allowed, is_admin, pick_forwarder_id};
use crate::util::get_bool;

impl AudioBridge {
    pub(super) fn create(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ("description", Kind::Str, false),
                ("secret", Kind::Str, false),
                ("pin", Kind::Str, false),
                ("is_private", Kind::Bool, false),
                ("allowed", Kind::Array, false),
                ("sampling_rate", Kind::PosInt, false),
                ("sampling", Kind::PosInt, false),
                ("spatial_audio", Kind::Bool, false),
                ("record", Kind::Bool, false),
                ("record_file", Kind::Str, false),
                ("record_dir", Kind::Str, false),
                ("mjrs", Kind::Bool, false),
                ("mjrs_dir", Kind::Str, false),
                ("allow_rtp_participants", Kind::Bool, false),
                ("permanent", Kind::Bool, false),
                ("audiolevel_ext", Kind::Bool, false),
                ("audiolevel_event", Kind::Bool, false),
                ("audio_active_packets", Kind::PosInt, false),
                ("audio_level_average", Kind::PosInt, false),
                ("default_prebuffering", Kind::PosInt, false),
                ("default_expectedloss", Kind::PosInt, false),
                ("default_bitrate", Kind::PosInt, false),
                ("groups", Kind::Array, false),
            ],
        )?;
        let requested = self.room_param(body, false)?;
        if let Some(key) = &self.config.admin_key {
            check(body, &[("admin_key", Kind::Str, true)])?;
            CODES.check_secret(Some(key), body, "admin_key")?;
        }
        let allowed = CODES.allowed_list(body)?;
        let groups = groups(body)?;
        CODES.refuse_permanent(body, "create permanent room")?;
        // 0 (numeric) means "pick one", as in Janus.
        let requested = requested.filter(|id| *id != AbId::Num(0));
        if let Some(id) = requested.as_ref().filter(|id| self.rooms.contains_key(id)) {
            return Err((ERROR_ROOM_EXISTS, format!("Room {id} already exists")));
        }
        let sampling_rate = get_u64(body, "sampling_rate")
            .or_else(|| get_u64(body, "sampling"))
            .unwrap_or(16_000);
        let rate = u32::try_from(sampling_rate).ok().filter(|r| valid_rate(*r));
        let Some(sampling_rate) = rate else {
            return Err((
                ERROR_UNKNOWN,
                format!("Unsupported sampling rate {}", sampling_rate as u32),
            ));
        };
        if get_bool(body, "record") == Some(true) || get_bool(body, "mjrs") == Some(true) {
            return Err(no_recording());
        }
        let id = match requested {
            Some(id) => id,
            None => AbId::random(&mut self.ids, self.config.string_ids, |i| {
                self.rooms.contains_key(i)
            }),
        };
        let audiolevel_event = get_bool(body, "audiolevel_event").unwrap_or(false);
        let positive_or = |name: &str, default: u64| match get_u64(body, name) {
            Some(v) if v > 0 => v,
            _ => default,
        };
        let (active, average) = if audiolevel_event {
            (
                positive_or("audio_active_packets", 100),
                positive_or("audio_level_average", 25),
            )
        } else {
            (0, 0)
        };
        let prebuffering = get_u64(body, "default_prebuffering")
            .filter(|p| *p <= MAX_PREBUFFERING)
            .unwrap_or(DEFAULT_PREBUFFERING);
        let config = RoomConfig {
            description: get_str(body, "description")
                .filter(|d| !d.is_empty())
                .map_or_else(|| format!("Room {id}"), str::to_owned),
            is_private: get_bool(body, "is_private").unwrap_or(false),
            secret: get_str(body, "secret").map(str::to_owned),
            pin: get_str(body, "pin").map(str::to_owned),
            sampling_rate,
            spatial_audio: get_bool(body, "spatial_audio").unwrap_or(false),
            audiolevel_ext: get_bool(body, "audiolevel_ext").unwrap_or(true),
            audiolevel_event,
            audio_active_packets: active,
            audio_level_average: average,
            default_prebuffering: prebuffering,
            default_expectedloss: get_u64(body, "default_expectedloss")
                .filter(|l| *l <= 20)
                .unwrap_or(0),
            default_bitrate: get_u64(body, "default_bitrate")
                .filter(|b| (500..=512_000).contains(b))
                .unwrap_or(0),
            allow_rtp_participants: get_bool(body, "allow_rtp_participants").unwrap_or(false),
            groups,
            room: id.clone(),
        };
        self.add_room(config, allowed);
        Ok(json!({"audiobridge": "created", "room": id.json(), "permanent": false}))
    }

    pub(super) fn edit(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ("secret", Kind::Str, false),
                ("new_description", Kind::Str, false),
                ("new_secret", Kind::Str, false),
                ("new_pin", Kind::Str, false),
                ("new_is_private", Kind::Bool, false),
                ("new_record_dir", Kind::Str, false),
                ("new_mjrs_dir", Kind::Str, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        self.room_param(body, true)?;
        CODES.refuse_permanent(body, "edit room permanently")?;
        let id = self.room_with_secret(body)?;
        let Some(room) = self.rooms.get_mut(&id) else {
            return Err(no_room(&id));
        };
        let c = &mut room.config;
        if let Some(d) = get_str(body, "new_description").filter(|d| !d.is_empty()) {
            c.description = d.to_owned();
        }
        if let Some(p) = get_bool(body, "new_is_private") {
            c.is_private = p;
        }
        if let Some(s) = get_str(body, "new_secret").filter(|s| !s.is_empty()) {
            c.secret = Some(s.to_owned());
        }
        if let Some(p) = get_str(body, "new_pin") {
            c.pin = (!p.is_empty()).then(|| p.to_owned());
        }
        Ok(json!({"audiobridge": "edited", "room": id.json(), "permanent": false}))
    }

    pub(super) fn destroy(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[("permanent", Kind::Bool, false)])?;
        self.room_param(body, true)?;
        CODES.refuse_permanent(body, "destroy room permanently")?;
        let id = self.room_with_secret(body)?;
        let Some(room) = self.rooms.remove(&id) else {
            return Err(no_room(&id));
        };
        let ev = json!({"audiobridge": "destroyed", "room": id.json()});
        for h in room.participants.values().copied() {
            self.out.event(h, None, ev.clone(), None);
            if let Some(s) = self.sessions.get_mut(&h) {
                s.participant = None;
                // CloseMix takes every participant out of the mix.
                s.mixed = None;
            }
            self.out
                .push(PluginOutput::ClosePeerConnection { handle: h });
        }
        self.out.media(MediaCommand::CloseMix { mix: room.mix });
        Ok(json!({"audiobridge": "destroyed", "room": id.json(), "permanent": false}))
    }

    pub(super) fn list(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        let mut unlocked = false;
        if let Some(key) = &self.config.admin_key
            && get_str(body, "admin_key").is_some_and(|k| !k.is_empty())
        {
            CODES.check_secret(Some(key), body, "admin_key")?;
            unlocked = is_admin(Some(key), body);
        }
        let list: Vec<Value> = self
            .rooms
            .values()
            .filter(|r| !r.config.is_private || unlocked)
            .map(|r| {
                json!({
                    "room": r.config.room.json(),
                    "description": r.config.description,
                    "sampling_rate": r.config.sampling_rate,
                    "spatial_audio": r.config.spatial_audio,
                    "pin_required": r.config.pin.is_some(),
                    "record": false,
                    "muted": r.muted,
                    "num_participants": r.participants.len(),
                })
            })
            .collect();
        Ok(json!({"audiobridge": "success", "list": list}))
    }

    pub(super) fn exists(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        let id = self.room_param(body, true)?.unwrap_or(AbId::Num(0));
        let exists = self.rooms.contains_key(&id);
        Ok(json!({"audiobridge": "success", "room": id.json(), "exists": exists}))
    }

    pub(super) fn allowed(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ("secret", Kind::Str, false),
                ("action", Kind::Str, true),
                ("allowed", Kind::Array, false),
            ],
        )?;
        self.room_param(body, true)?;
        let action = get_str(body, "action").unwrap_or_default();
        if !["enable", "disable", "add", "remove"].contains(&action) {
            return Err((
                ERROR_INVALID_ELEMENT,
                format!("Unsupported action '{action}' (allowed)"),
            ));
        }
        let id = self.room_with_secret(body)?;
        let (action, tokens) = CODES.allowed_action(body)?;
        let Some(room) = self.rooms.get_mut(&id) else {
            return Err(no_room(&id));
        };
        apply_allowed(&mut room.allowed, action, tokens);
        let mut m = json!({"audiobridge": "success", "room": id.json()});
        if let Some(list) = &room.allowed {
            m["allowed"] = list.clone().into();
        }
        Ok(m)
    }

    /// The room of a management request after its `secret` check.
    fn room_with_secret(&self, body: &Map<String, Value>) -> Result<AbId, Failure> {
        let id = self.room_id(body)?;
        let secret = self.rooms.get(&id).and_then(|r| r.config.secret.as_deref());
        CODES.check_secret(secret, body, "secret")?;
        Ok(id)
    }

    /// `room` (with `secret`) and `id` of a moderation request: the room and the handle.
    fn moderated(&self, body: &Map<String, Value>) -> Result<(AbId, HandleId), Failure> {
        check(body, &[("secret", Kind::Str, false)])?;
        self.room_param(body, true)?;
        let user = self.id_param(body, "id", true)?.unwrap_or(AbId::Num(0));
        let rid = self.room_with_secret(body)?;
        match self.rooms.get(&rid).and_then(|r| r.participants.get(&user)) {
            Some(h) => Ok((rid, *h)),
            None => Err((
                ERROR_NO_SUCH_USER,
                format!("No such user {user} in room {rid}"),
            )),
        }
    }

    pub(super) fn kick(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        let (rid, h) = self.moderated(body)?;
        let Some(user) = self.participant(h).map(|p| p.id.clone()) else {
            return Err(no_room(&rid));
        };
        let ev = json!({"audiobridge": "event", "room": rid.json(), "kicked": user.json()});
        self.notify(&rid, None, &ev);
        self.kick_out(h);
        Ok(json!({"audiobridge": "success"}))
    }

    pub(super) fn kick_all(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[("secret", Kind::Str, false)])?;
        self.room_param(body, true)?;
        let rid = self.room_with_secret(body)?;
        let members: Vec<(AbId, HandleId)> = self
            .rooms
            .get(&rid)
            .map(|r| {
                r.participants
                    .iter()
                    .map(|(i, h)| (i.clone(), *h))
                    .collect()
            })
            .unwrap_or_default();
        for (user, h) in members {
            let ev = json!({"audiobridge": "event", "room": rid.json(), "kicked_all": user.json()});
            self.out.event(h, None, ev, None);
            self.kick_out(h);
        }
        Ok(json!({"audiobridge": "success"}))
    }

    /// Out of the mix now; out of the room when its PeerConnection closes (Janus `close_pc`).
    fn kick_out(&mut self, h: HandleId) {
        if let Some(p) = self
            .sessions
            .get_mut(&h)
            .and_then(|s| s.participant.as_mut())
        {
            p.kicked = true;
        }
        self.sync_mix(h);
        self.out
            .push(PluginOutput::ClosePeerConnection { handle: h });
    }

    pub(super) fn mute(
        &mut self,
        body: &Map<String, Value>,
        muted: bool,
    ) -> Result<Value, Failure> {
        let (rid, h) = self.moderated(body)?;
        let Some(p) = self
            .sessions
            .get_mut(&h)
            .and_then(|s| s.participant.as_mut())
        else {
            return Err(no_room(&rid));
        };
        if p.muted == muted {
            return Ok(json!({"audiobridge": "success"}));
        }
        p.muted = muted;
        self.notify_update(h, true);
        self.sync_mix(h);
        Ok(json!({"audiobridge": "success", "room": rid.json()}))
    }

    pub(super) fn mute_room(
        &mut self,
        body: &Map<String, Value>,
        muted: bool,
    ) -> Result<Value, Failure> {
        check(body, &[("secret", Kind::Str, false)])?;
        self.room_param(body, true)?;
        let rid = self.room_with_secret(body)?;
        let Some(room) = self.rooms.get_mut(&rid) else {
            return Err(no_room(&rid));
        };
        if room.muted == muted {
            return Ok(json!({"audiobridge": "success"}));
        }
        room.muted = muted;
        let members: Vec<HandleId> = room.participants.values().copied().collect();
        let ev = json!({"audiobridge": "event", "room": rid.json(), "muted": muted});
        self.notify(&rid, None, &ev);
        for h in members {
            self.sync_mix(h);
        }
        Ok(json!({"audiobridge": "success", "room": rid.json()}))
    }

    pub(super) fn list_participants(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        let id = self.room_id(body)?;
        let list: Vec<Value> = self.rooms.get(&id).map_or_else(Vec::new, |r| {
            r.participants
                .values()
                .filter_map(|h| self.participant_json(*h, true))
                .collect()
        });
        Ok(json!({"audiobridge": "participants", "room": id.json(), "participants": list}))
    }

    pub(super) fn reset_decoder(&mut self, handle: Option<HandleId>) -> Result<Value, Failure> {
        let Some(h) = handle.filter(|h| self.participant(*h).is_some()) else {
            return Err((ERROR_NOT_JOINED, "Can't reset (not in a room)".into()));
        };
        if let Some((_, _, settings)) = self.sessions.get(&h).and_then(|s| s.mixed.clone()) {
            self.out.media(MediaCommand::UpdateMix {
                handle: h,
                settings: MixParticipant {
                    reset_decoder: true,
                    ..settings
                },
            });
        }
        Ok(json!({"audiobridge": "success"}))
    }

    /// `enable_recording` (`flag` = `record`) and `enable_mjrs` (`mjrs`): turning recording on
    /// is refused, turning it off is a no-op.
    pub(super) fn enable_recording(
        &self,
        body: &Map<String, Value>,
        flag: &'static str,
    ) -> Result<Value, Failure> {
        let dir = if flag == "record" {
            "record_dir"
        } else {
            "mjrs_dir"
        };
        let mut params = vec![(flag, Kind::Bool, true), (dir, Kind::Str, false)];
        if flag == "record" {
            params.push(("record_file", Kind::Str, false));
        }
        check(body, &params)?;
        self.room_param(body, true)?;
        let id = self.room_with_secret(body)?;
        if get_bool(body, flag) == Some(true) {
            return Err(no_recording());
        }
        let mut m = json!({"audiobridge": "success", "room": id.json()});
        m[flag] = false.into();
        Ok(m)
    }

    pub(super) fn rtp_forward(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ("group", Kind::Str, false),
                ("ssrc", Kind::PosInt, false),
                ("codec", Kind::Str, false),
                ("ptype", Kind::PosInt, false),
                ("port", Kind::PosInt, true),
                ("host", Kind::Str, true),
                ("host_family", Kind::Str, false),
                ("srtp_suite", Kind::PosInt, false),
                ("srtp_crypto", Kind::Str, false),
                ("always_on", Kind::Bool, false),
            ],
        )?;
        self.room_param(body, true)?;
        self.check_rtp_forward_key(body)?;
        let codec = match get_str(body, "codec") {
            None => MixCodec::Opus,
            Some(c) => parse_codec(c)
                .ok_or_else(|| (ERROR_INVALID_ELEMENT, format!("Unsupported codec ({c})")))?,
        };
        let ptype = get_u64(body, "ptype").map_or(100, |p| (p & 0x7f) as u8);
        let port = get_u64(body, "port").unwrap_or(0) as u16;
        if port == 0 {
            return Err((
                ERROR_INVALID_ELEMENT,
                format!("Invalid port number ({port})"),
            ));
        }
        let host = get_str(body, "host").unwrap_or_default();
        let family = get_str(body, "host_family");
        let want_v6 = match family.map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("ipv4") => Some(false),
            Some("ipv6") => Some(true),
            Some(_) => {
                return Err((
                    ERROR_INVALID_ELEMENT,
                    format!(
                        "Unsupported protocol family ({})",
                        family.unwrap_or_default()
                    ),
                ));
            }
        };
        let addr = host
            .parse::<IpAddr>()
            .ok()
            .filter(|a| want_v6.is_none_or(|v6| a.is_ipv6() == v6))
            .ok_or_else(|| {
                (
                    ERROR_INVALID_ELEMENT,
                    format!("Could not resolve address ({host})..."),
                )
            })?;
        let srtp = match (get_u64(body, "srtp_suite"), get_str(body, "srtp_crypto")) {
            (Some(suite), Some(key)) => {
                if suite != 32 && suite != 80 {
                    return Err((
                        ERROR_INVALID_ELEMENT,
                        format!("Invalid SRTP suite ({suite})"),
                    ));
                }
                Some((suite as u8, key.to_owned()))
            }
            _ => None,
        };
        let id = self.room_with_secret(body)?;
        let Some(room) = self.rooms.get(&id) else {
            return Err(no_room(&id));
        };
        let group = get_str(body, "group").filter(|_| !room.config.groups.is_empty());
        if let Some(g) = group {
            if !room.config.groups.iter().any(|x| x == g) {
                return Err((ERROR_NO_SUCH_GROUP, "No such group".into()));
            }
            return Err((
                ERROR_UNKNOWN,
                "Per-group RTP forwarders unsupported in this instance".into(),
            ));
        }
        let mix = room.mix;
        let rooms = &self.rooms;
        let stream_id = pick_forwarder_id(&mut self.ids, |id| {
            rooms.values().any(|r| r.forwarders.contains_key(&id))
        });
        let ssrc = get_u64(body, "ssrc").map(|s| s as u32);
        let forwarder = Forwarder {
            host: addr.to_string(),
            port,
            ssrc,
            codec,
            ptype,
            srtp: srtp.is_some(),
            always_on: get_bool(body, "always_on").unwrap_or(false),
        };
        self.out.media(MediaCommand::MixRtpForward {
            id: stream_id,
            mix,
            host: forwarder.host.clone(),
            port,
            codec,
            payload_type: ptype,
            ssrc,
            srtp,
        });
        let host = forwarder.host.clone();
        if let Some(room) = self.rooms.get_mut(&id) {
            room.forwarders.insert(stream_id, forwarder);
        }
        Ok(
            json!({"audiobridge": "success", "room": id.json(), "stream_id": stream_id,
            "host": host, "port": port}),
        )
    }

    fn check_rtp_forward_key(&self, body: &Map<String, Value>) -> Result<(), Failure> {
        if self.config.lock_rtp_forward
            && let Some(key) = &self.config.admin_key
        {
            check(body, &[("admin_key", Kind::Str, true)])?;
            CODES.check_secret(Some(key), body, "admin_key")?;
        }
        Ok(())
    }

    pub(super) fn stop_rtp_forward(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[("stream_id", Kind::PosInt, true)])?;
        self.room_param(body, true)?;
        self.check_rtp_forward_key(body)?;
        let stream_id = get_u64(body, "stream_id").unwrap_or(0);
        let id = self.room_with_secret(body)?;
        let removed = u32::try_from(stream_id).ok().and_then(|s| {
            self.rooms
                .get_mut(&id)
                .and_then(|r| r.forwarders.remove(&s))
                .map(|_| s)
        });
        if let Some(s) = removed {
            self.out.media(MediaCommand::StopMixRtpForward { id: s });
        }
        Ok(json!({"audiobridge": "success", "room": id.json(), "stream_id": stream_id}))
    }

    pub(super) fn list_forwarders(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        self.room_param(body, true)?;
        let id = self.room_with_secret(body)?;
        let list: Vec<Value> = self.rooms.get(&id).map_or_else(Vec::new, |r| {
            r.forwarders
                .iter()
                .map(|(sid, f)| {
                    let mut m = json!({"stream_id": sid, "ip": f.host, "port": f.port,
                        "ssrc": f.ssrc.unwrap_or(*sid), "codec": codec_name(f.codec),
                        "ptype": f.ptype});
                    if f.srtp {
                        m["srtp"] = true.into();
                    }
                    m["always_on"] = f.always_on.into();
                    m
                })
                .collect()
        });
        Ok(json!({"audiobridge": "forwarders", "room": id.json(), "rtp_forwarders": list}))
    }
}

/// The `groups` of a `create`: up to five strings, duplicates dropped.
fn groups(body: &Map<String, Value>) -> Result<Vec<String>, Failure> {
    let Some(Value::Array(items)) = body.get("groups") else {
        return Ok(Vec::new());
    };
    if items.len() > MAX_GROUPS {
        return Err((
            ERROR_INVALID_ELEMENT,
            format!("Too many groups specified (max {MAX_GROUPS} allowed)"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for v in items {
        let Some(s) = v.as_str() else {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Invalid element in the groups array (not a string)".into(),
            ));
        };
        if !out.iter().any(|g| g == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}
