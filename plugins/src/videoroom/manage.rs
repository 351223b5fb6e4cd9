//! Room management: the synchronous requests (create, edit, destroy, list, exists, allowed,
//! kick, listparticipants).

use super::*;
use crate::rooms::{apply_allowed, is_admin, pick_id};

impl VideoRoom {
    pub(super) fn room(&self, body: &Map<String, Value>) -> Result<u64, Failure> {
        let id = get_u64(body, "room").unwrap_or_default();
        if self.rooms.contains_key(&id) {
            Ok(id)
        } else {
            Err((ERROR_NO_SUCH_ROOM, format!("No such room ({id})")))
        }
    }

    pub(super) fn room_with_secret(&self, body: &Map<String, Value>) -> Result<u64, Failure> {
        let id = self.room(body)?;
        CODES.check_secret(self.rooms[&id].config.secret.as_deref(), body, "secret")?;
        Ok(id)
    }

    pub(super) fn create(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ("room", Kind::PosInt, false),
                ("permanent", Kind::Bool, false),
                ("admin_key", Kind::Str, false),
                ("description", Kind::Str, false),
                ("is_private", Kind::Bool, false),
                ("secret", Kind::Str, false),
                ("pin", Kind::Str, false),
                ("allowed", Kind::Array, false),
                ("require_pvtid", Kind::Bool, false),
                ("publishers", Kind::PosInt, false),
                ("bitrate", Kind::PosInt, false),
                ("bitrate_cap", Kind::Bool, false),
                ("fir_freq", Kind::PosInt, false),
                ("audiocodec", Kind::Str, false),
                ("videocodec", Kind::Str, false),
                ("video_svc", Kind::Bool, false),
                ("notify_joining", Kind::Bool, false),
                ("audiolevel_event", Kind::Bool, false),
                ("audio_active_packets", Kind::PosInt, false),
                ("audio_level_average", Kind::PosInt, false),
            ],
        )?;
        if let Some(key) = &self.config.admin_key {
            CODES.check_secret(Some(key), body, "admin_key")?;
        }
        let allowed = CODES.allowed_list(body)?;
        let audio = codec_list(body, "audiocodec", MediaKind::Audio)?;
        let video = codec_list(body, "videocodec", MediaKind::Video)?;
        CODES.refuse_permanent(body, "create permanent room")?;
        if let Some(id) = get_u64(body, "room").filter(|id| self.rooms.contains_key(id)) {
            return Err((ERROR_ROOM_EXISTS, format!("Room {id} already exists")));
        }
        let id = pick_id(get_u64(body, "room"), &mut self.ids, |i| {
            self.rooms.contains_key(&i)
        });
        let mut c = RoomConfig::new(id);
        if let Some(d) = get_str(body, "description") {
            d.clone_into(&mut c.description);
        }
        c.is_private = get_bool(body, "is_private").unwrap_or(false);
        c.secret = get_str(body, "secret").map(str::to_owned);
        c.pin = get_str(body, "pin").map(str::to_owned);
        c.require_pvtid = get_bool(body, "require_pvtid").unwrap_or(false);
        c.publishers = get_u64(body, "publishers").unwrap_or(3);
        c.bitrate = bitrate_floor(get_u64(body, "bitrate").unwrap_or(0));
        c.bitrate_cap = get_bool(body, "bitrate_cap").unwrap_or(false);
        c.fir_freq = get_u64(body, "fir_freq").unwrap_or(0);
        if let Some(a) = audio {
            c.audiocodec = a;
        }
        if let Some(v) = video {
            c.videocodec = v;
        }
        c.video_svc = get_bool(body, "video_svc").unwrap_or(false);
        c.notify_joining = get_bool(body, "notify_joining").unwrap_or(false);
        c.audiolevel_event = get_bool(body, "audiolevel_event").unwrap_or(false);
        if let Some(n) = get_u64(body, "audio_active_packets").filter(|n| *n > 0) {
            c.audio_active_packets = n;
        }
        if let Some(n) = get_u64(body, "audio_level_average").filter(|n| *n <= 127) {
            c.audio_level_average = n;
        }
        let mut room = Room::new(c);
        room.allowed = allowed;
        self.rooms.insert(id, room);
        Ok(json!({"videoroom": "created", "room": id, "permanent": false}))
    }

    pub(super) fn edit(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("new_description", Kind::Str, false),
                ("new_is_private", Kind::Bool, false),
                ("new_secret", Kind::Str, false),
                ("new_pin", Kind::Str, false),
                ("new_require_pvtid", Kind::Bool, false),
                ("new_bitrate", Kind::PosInt, false),
                ("new_fir_freq", Kind::PosInt, false),
                ("new_publishers", Kind::PosInt, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_with_secret(body)?;
        CODES.refuse_permanent(body, "edit room permanently")?;
        let Some(c) = self.rooms.get_mut(&id).map(|r| &mut r.config) else {
            return Err(no_room(id));
        };
        if let Some(d) = get_str(body, "new_description").filter(|d| !d.is_empty()) {
            d.clone_into(&mut c.description);
        }
        if let Some(p) = get_bool(body, "new_is_private") {
            c.is_private = p;
        }
        if let Some(s) = get_str(body, "new_secret") {
            c.secret = Some(s.to_owned());
        }
        if let Some(p) = get_str(body, "new_pin") {
            c.pin = (!p.is_empty()).then(|| p.to_owned());
        }
        if let Some(p) = get_bool(body, "new_require_pvtid") {
            c.require_pvtid = p;
        }
        if let Some(b) = get_u64(body, "new_bitrate") {
            c.bitrate = bitrate_floor(b);
        }
        if let Some(f) = get_u64(body, "new_fir_freq") {
            c.fir_freq = f;
        }
        if let Some(p) = get_u64(body, "new_publishers") {
            c.publishers = p;
        }
        Ok(json!({"videoroom": "edited", "room": id, "permanent": false}))
    }

    pub(super) fn destroy(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_with_secret(body)?;
        CODES.refuse_permanent(body, "destroy room permanently")?;
        let Some(room) = self.rooms.remove(&id) else {
            return Err(no_room(id));
        };
        let ev = json!({"videoroom": "destroyed", "room": id});
        for h in room.participants.values().chain(&room.subscribers) {
            self.unforward_handle(*h);
            self.out.event(*h, None, ev.clone(), None);
            self.out
                .push(PluginOutput::ClosePeerConnection { handle: *h });
            if let Some(r) = self.handles.get_mut(h) {
                *r = Role::None;
            }
        }
        Ok(json!({"videoroom": "destroyed", "room": id, "permanent": false}))
    }

    pub(super) fn list(&self, body: &Map<String, Value>) -> Value {
        let admin = is_admin(self.config.admin_key.as_deref(), body);
        let list: Vec<Value> = self
            .rooms
            .iter()
            .filter(|(_, r)| !r.config.is_private || admin)
            .map(|(id, r)| {
                let c = &r.config;
                let mut m = json!({
                    "room": id,
                    "description": c.description,
                    "pin_required": c.pin.is_some(),
                    "is_private": c.is_private,
                    "max_publishers": c.publishers,
                    "bitrate": c.bitrate,
                    "fir_freq": c.fir_freq,
                    "require_pvtid": c.require_pvtid,
                    "require_e2ee": false,
                    "dummy_publisher": false,
                    "notify_joining": c.notify_joining,
                    "audiocodec": join_codecs(&c.audiocodec),
                    "videocodec": join_codecs(&c.videocodec),
                    "opus_fec": true,
                    "record": false,
                    "lock_record": false,
                    "num_participants": r.participants.len(),
                    "audiolevel_ext": true,
                    "audiolevel_event": c.audiolevel_event,
                    "videoorient_ext": true,
                    "playoutdelay_ext": true,
                    "transport_wide_cc_ext": true,
                });
                if c.video_svc {
                    m["video_svc"] = true.into();
                }
                if c.bitrate_cap {
                    // Janus lists it right after `bitrate`, and only when set.
                    let mut o = Map::new();
                    for (k, v) in m.as_object().into_iter().flatten() {
                        o.insert(k.clone(), v.clone());
                        if k == "bitrate" {
                            o.insert("bitrate_cap".into(), true.into());
                        }
                    }
                    m = Value::Object(o);
                }
                if c.audiolevel_event {
                    // Janus lists the talk-detection settings after `audiolevel_event`.
                    let mut o = Map::new();
                    for (k, v) in m.as_object().into_iter().flatten() {
                        o.insert(k.clone(), v.clone());
                        if k == "audiolevel_event" {
                            o.insert("audio_active_packets".into(), c.audio_active_packets.into());
                            o.insert("audio_level_average".into(), c.audio_level_average.into());
                        }
                    }
                    m = Value::Object(o);
                }
                m
            })
            .collect();
        json!({"videoroom": "success", "list": list})
    }

    pub(super) fn exists(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[ROOM])?;
        let id = get_u64(body, "room").unwrap_or_default();
        Ok(json!({"videoroom": "success", "room": id, "exists": self.rooms.contains_key(&id)}))
    }

    pub(super) fn allowed(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("action", Kind::Str, true),
                ("allowed", Kind::Array, false),
            ],
        )?;
        let (action, tokens) = CODES.allowed_action(body)?;
        let id = self.room_with_secret(body)?;
        let Some(room) = self.rooms.get_mut(&id) else {
            return Err(no_room(id));
        };
        apply_allowed(&mut room.allowed, action, tokens);
        let mut m = json!({"videoroom": "success", "room": id});
        if let Some(list) = &room.allowed {
            m["allowed"] = list.clone().into();
        }
        Ok(m)
    }

    pub(super) fn kick(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("id", Kind::PosInt, true),
            ],
        )?;
        let id = self.room_with_secret(body)?;
        let user = get_u64(body, "id").unwrap_or_default();
        let Some(&h) = self.rooms[&id].participants.get(&user) else {
            return Err((
                ERROR_NO_SUCH_FEED,
                format!("No such user {user} in room {id}"),
            ));
        };
        self.unforward_feed(h);
        self.unforward_handle(h);
        if let Some(room) = self.rooms.get_mut(&id) {
            room.participants.remove(&user);
            room.kicked.push(user);
        }
        self.handles.insert(h, Role::None);
        self.out.event(
            h,
            None,
            json!({"videoroom": "event", "room": id, "leaving": "ok", "reason": "kicked"}),
            None,
        );
        self.notify(
            id,
            None,
            &json!({"videoroom": "event", "room": id, "kicked": user}),
        );
        self.out
            .push(PluginOutput::ClosePeerConnection { handle: h });
        Ok(json!({"videoroom": "success"}))
    }

    pub(super) fn list_participants(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[ROOM])?;
        let id = self.room(body)?;
        let list: Vec<Value> = self.rooms[&id]
            .participants
            .values()
            .filter_map(|h| match self.handles.get(h) {
                Some(Role::Publisher(p)) => {
                    let mut m = json!({"id": p.id});
                    if let Some(d) = &p.display {
                        m["display"] = d.clone().into();
                    }
                    m["publisher"] = p.up.into();
                    if self.rooms[&id].config.audiolevel_event {
                        let talking = p.streams.iter().any(|s| s.talk.talking);
                        m["talking"] = talking.into();
                    }
                    Some(m)
                }
                _ => None,
            })
            .collect();
        Ok(json!({"videoroom": "participants", "room": id, "participants": list}))
    }
}

pub(super) fn codec_list(
    body: &Map<String, Value>,
    name: &str,
    kind: MediaKind,
) -> Result<Option<Vec<CodecName>>, Failure> {
    let Some(text) = get_str(body, name) else {
        return Ok(None);
    };
    let mut list = Vec::new();
    for part in text.split(',').take(5) {
        match CodecName::parse(part.trim()).filter(|c| c.kind() == kind) {
            Some(c) => list.push(c),
            None => {
                let what = if kind == MediaKind::Audio {
                    "Invalid element (audiocodec can only be or contain opus, isac32, isac16, pcmu, pcma or g722)"
                } else {
                    "Invalid element (videocodec can only be or contain vp8, vp9, av1, h264 or h265)"
                };
                return Err((ERROR_INVALID_ELEMENT, what.into()));
            }
        }
    }
    Ok(Some(list))
}

pub(super) fn join_codecs(list: &[CodecName]) -> String {
    list.iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
