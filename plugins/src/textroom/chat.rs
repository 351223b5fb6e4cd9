//! Participants: join, leave, public and whispered messages, announcements, history.

use super::*;

impl TextRoom {
    pub(super) fn join(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("username", Kind::Str, true),
                ("pin", Kind::Str, false),
                ("display", Kind::Str, false),
                ("token", Kind::Str, false),
                ("history", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        let room = &self.rooms[&id];
        CODES.check_secret(room.pin.as_deref(), body, "pin")?;
        if !token_allowed(room.allowed.as_deref(), body) {
            return Err(CODES.unauthorized("not in the allowed list"));
        }
        let session = self.sessions.entry(handle).or_default();
        if session.rooms.contains_key(&id) {
            return Err((ERROR_ALREADY_IN_ROOM, format!("Already in room {id}")));
        }
        let username = get_str(body, "username").unwrap_or_default().to_owned();
        let display = get_str(body, "display").map(str::to_owned);
        let room = self.rooms.get_mut(&id).ok_or_else(no_room(id))?;
        if room.participants.iter().any(|p| p.username == username) {
            return Err((ERROR_USERNAME_EXISTS, "Username already taken".into()));
        }
        let others: Vec<Value> = room.participants.iter().map(participant_json).collect();
        room.participants.push(Participant {
            handle,
            username: username.clone(),
            display: display.clone(),
        });
        session.rooms.insert(id, username.clone());
        let mut ev = Map::new();
        ev.insert("textroom".into(), "join".into());
        ev.insert("room".into(), id.into());
        ev.insert("username".into(), username.into());
        if let Some(d) = display {
            ev.insert("display".into(), d.into());
        }
        self.broadcast(id, &Value::Object(ev), None);
        let mut rest = Map::new();
        rest.insert("participants".into(), others.into());
        Ok(Answer::success(rest))
    }

    pub(super) fn replay_history(&mut self, handle: HandleId, body: &Map<String, Value>) {
        if get_bool(body, "history") == Some(false) {
            return;
        }
        let id = get_u64(body, "room").unwrap_or_default();
        let joined = self
            .sessions
            .get(&handle)
            .is_some_and(|s| s.rooms.contains_key(&id));
        let Some(room) = self.rooms.get(&id).filter(|_| joined) else {
            return;
        };
        let msgs: Vec<Value> = room.messages.iter().cloned().collect();
        for m in msgs {
            self.send(handle, &m);
        }
    }

    pub(super) fn leave(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<Answer, Failure> {
        check(body, &[ROOM])?;
        let id = self.room_id(body)?;
        let in_room = self
            .sessions
            .get(&handle)
            .is_some_and(|s| s.rooms.contains_key(&id));
        if !in_room {
            return Err((ERROR_NOT_IN_ROOM, format!("Not in room {id}")));
        }
        self.remove_from_room(handle, id, true);
        Ok(Answer::success(Map::new()))
    }

    /// Takes `handle` out of room `id`; everyone left (and the leaver when `tell_leaver`)
    /// gets a `leave` event.
    pub(super) fn remove_from_room(&mut self, handle: HandleId, id: u64, tell_leaver: bool) {
        let Some(username) = self
            .sessions
            .get_mut(&handle)
            .and_then(|s| s.rooms.remove(&id))
        else {
            return;
        };
        if let Some(room) = self.rooms.get_mut(&id) {
            room.participants.retain(|p| p.handle != handle);
        }
        let ev = json!({"textroom": "leave", "room": id, "username": username});
        self.broadcast(id, &ev, None);
        if tell_leaver {
            self.send(handle, &ev);
        }
    }

    pub(super) fn message(
        &mut self,
        now: Instant,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<Option<Answer>, Failure> {
        check(
            body,
            &[
                ROOM,
                ("text", Kind::Str, true),
                ("to", Kind::Str, false),
                ("tos", Kind::Array, false),
                ("ack", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        if body.contains_key("to") && body.contains_key("tos") {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Both to and tos array provided".into(),
            ));
        }
        let Some(from) = self
            .sessions
            .get(&handle)
            .and_then(|s| s.rooms.get(&id))
            .cloned()
        else {
            return Err((ERROR_NOT_IN_ROOM, format!("Not in room {id}")));
        };
        let targets: Option<Vec<String>> = match (get_str(body, "to"), body.get("tos")) {
            (Some(to), _) => Some(vec![to.to_owned()]),
            (None, Some(Value::Array(tos))) => Some(
                tos.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        };
        let mut ev = Map::new();
        ev.insert("textroom".into(), "message".into());
        ev.insert("room".into(), id.into());
        ev.insert("from".into(), from.into());
        ev.insert("date".into(), self.clock.date(now).into());
        ev.insert(
            "text".into(),
            get_str(body, "text").unwrap_or_default().into(),
        );
        if targets.is_some() {
            ev.insert("whisper".into(), true.into());
        }
        let ev = Value::Object(ev);
        let mut rest = Map::new();
        match &targets {
            Some(t) => {
                let room = &self.rooms[&id];
                let sent: Map<String, Value> = t
                    .iter()
                    .map(|u| {
                        let present = room.participants.iter().any(|p| &p.username == u);
                        (u.clone(), present.into())
                    })
                    .collect();
                self.broadcast(id, &ev, Some(t));
                rest.insert("sent".into(), sent.into());
            }
            None => {
                self.broadcast(id, &ev, None);
                if let Some(room) = self.rooms.get_mut(&id)
                    && room.history > 0
                {
                    room.messages.push_back(ev);
                    while room.messages.len() as u64 > room.history {
                        room.messages.pop_front();
                    }
                }
            }
        }
        if get_bool(body, "ack") == Some(false) {
            return Ok(None);
        }
        Ok(Some(Answer::success(rest)))
    }

    pub(super) fn announcement(
        &mut self,
        now: Instant,
        body: &Map<String, Value>,
    ) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("text", Kind::Str, true),
            ],
        )?;
        let id = self.room_id(body)?;
        CODES.check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        let ev = json!({
            "textroom": "announcement",
            "room": id,
            "date": self.clock.date(now),
            "text": get_str(body, "text").unwrap_or_default(),
        });
        self.broadcast(id, &ev, None);
        Ok(Answer::success(Map::new()))
    }

    /// The PeerConnection is gone: the user leaves every room.
    pub(super) fn hangup(&mut self, handle: HandleId) {
        let rooms: Vec<u64> = self
            .sessions
            .get(&handle)
            .map(|s| s.rooms.keys().copied().collect())
            .unwrap_or_default();
        for id in rooms {
            self.remove_from_room(handle, id, false);
        }
        if let Some(s) = self.sessions.get_mut(&handle) {
            s.setup = false;
        }
    }
}

pub(super) fn participant_json(p: &Participant) -> Value {
    let mut m = Map::new();
    m.insert("username".into(), p.username.clone().into());
    if let Some(d) = &p.display {
        m.insert("display".into(), d.clone().into());
    }
    Value::Object(m)
}
