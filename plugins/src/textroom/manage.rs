//! Room management: list, listparticipants, exists, create, edit, destroy, allowed, kick.

use super::*;

use crate::rooms::{apply_allowed, is_admin, pick_id};

impl TextRoom {
    pub(super) fn list(&self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[("admin_key", Kind::Str, false)])?;
        let admin = is_admin(self.config.admin_key.as_deref(), body);
        let list: Vec<Value> = self
            .rooms
            .iter()
            .filter(|(_, r)| !r.is_private || admin)
            .map(|(id, r)| {
                json!({
                    "room": id,
                    "description": r.description,
                    "pin_required": r.pin.is_some(),
                    "num_participants": r.participants.len(),
                    "history": r.history,
                })
            })
            .collect();
        let mut rest = Map::new();
        rest.insert("list".into(), list.into());
        Ok(Answer::success(rest))
    }

    pub(super) fn list_participants(&self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[ROOM])?;
        let id = self.room_id(body)?;
        let participants: Vec<Value> = self.rooms[&id]
            .participants
            .iter()
            .map(participant_json)
            .collect();
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("participants".into(), participants.into());
        Ok(Answer {
            key: None,
            ..Answer::success(rest)
        })
    }

    pub(super) fn exists(&self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(body, &[ROOM])?;
        let id = get_u64(body, "room").unwrap_or_default();
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("exists".into(), self.rooms.contains_key(&id).into());
        Ok(Answer::success(rest))
    }

    pub(super) fn create(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ("room", Kind::PosInt, false),
                ("admin_key", Kind::Str, false),
                ("description", Kind::Str, false),
                ("secret", Kind::Str, false),
                ("pin", Kind::Str, false),
                ("post", Kind::Str, false),
                ("is_private", Kind::Bool, false),
                ("history", Kind::PosInt, false),
                ("allowed", Kind::Array, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        if let Some(key) = &self.config.admin_key {
            CODES.check_secret(Some(key), body, "admin_key")?;
        }
        let allowed = CODES.allowed_list(body)?;
        CODES.refuse_permanent(body, "create permanent room")?;
        if let Some(id) = get_u64(body, "room").filter(|id| self.rooms.contains_key(id)) {
            return Err((ERROR_ROOM_EXISTS, format!("Room {id} already exists")));
        }
        let id = pick_id(get_u64(body, "room"), &mut self.ids, |i| {
            self.rooms.contains_key(&i)
        });
        let room = Room {
            description: get_str(body, "description")
                .map_or_else(|| format!("Room {id}"), str::to_owned),
            is_private: get_bool(body, "is_private").unwrap_or(false),
            secret: get_str(body, "secret").map(str::to_owned),
            pin: get_str(body, "pin").map(str::to_owned),
            history: get_u64(body, "history").unwrap_or(0),
            post: get_str(body, "post").map(str::to_owned),
            allowed,
            participants: Vec::new(),
            messages: VecDeque::new(),
        };
        self.rooms.insert(id, room);
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("permanent".into(), false.into());
        Ok(Answer {
            api: "created",
            ..Answer::success(rest)
        })
    }

    pub(super) fn edit(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("new_description", Kind::Str, false),
                ("new_secret", Kind::Str, false),
                ("new_pin", Kind::Str, false),
                ("new_post", Kind::Str, false),
                ("new_is_private", Kind::Bool, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        CODES.check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        CODES.refuse_permanent(body, "edit room permanently")?;
        let room = self.rooms.get_mut(&id).ok_or_else(no_room(id))?;
        if let Some(d) = get_str(body, "new_description").filter(|d| !d.is_empty()) {
            room.description = d.to_owned();
        }
        if let Some(s) = get_str(body, "new_secret") {
            room.secret = Some(s.to_owned());
        }
        if let Some(p) = get_str(body, "new_pin") {
            room.pin = (!p.is_empty()).then(|| p.to_owned());
        }
        if let Some(p) = get_str(body, "new_post") {
            room.post = (!p.is_empty()).then(|| p.to_owned());
        }
        if let Some(p) = get_bool(body, "new_is_private") {
            room.is_private = p;
        }
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("permanent".into(), false.into());
        Ok(Answer {
            api: "edited",
            ..Answer::success(rest)
        })
    }

    pub(super) fn destroy(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("permanent", Kind::Bool, false),
            ],
        )?;
        let id = self.room_id(body)?;
        CODES.check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        CODES.refuse_permanent(body, "destroy room permanently")?;
        self.broadcast(id, &json!({"textroom": "destroyed", "room": id}), None);
        if let Some(room) = self.rooms.remove(&id) {
            for p in room.participants {
                if let Some(s) = self.sessions.get_mut(&p.handle) {
                    s.rooms.remove(&id);
                }
            }
        }
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        rest.insert("permanent".into(), false.into());
        Ok(Answer {
            api: "destroyed",
            ..Answer::success(rest)
        })
    }

    pub(super) fn allowed(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("action", Kind::Str, true),
                ("allowed", Kind::Array, false),
            ],
        )?;
        let id = self.room_id(body)?;
        CODES.check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        let (action, tokens) = CODES.allowed_action(body)?;
        let room = self.rooms.get_mut(&id).ok_or_else(no_room(id))?;
        apply_allowed(&mut room.allowed, action, tokens);
        let mut rest = Map::new();
        rest.insert("room".into(), id.into());
        if let Some(list) = &room.allowed {
            rest.insert("allowed".into(), list.clone().into());
        }
        Ok(Answer::success(rest))
    }

    pub(super) fn kick(&mut self, body: &Map<String, Value>) -> Result<Answer, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("username", Kind::Str, true),
            ],
        )?;
        let id = self.room_id(body)?;
        CODES.check_secret(self.rooms[&id].secret.as_deref(), body, "secret")?;
        let username = get_str(body, "username").unwrap_or_default().to_owned();
        let Some(kicked) = self.rooms[&id]
            .participants
            .iter()
            .find(|p| p.username == username)
            .map(|p| p.handle)
        else {
            return Err((
                ERROR_NO_SUCH_USER,
                format!("No such user {username} in room {id}"),
            ));
        };
        let ev = json!({"textroom": "kicked", "room": id, "username": username});
        self.broadcast(id, &ev, None);
        if let Some(room) = self.rooms.get_mut(&id) {
            room.participants.retain(|p| p.handle != kicked);
        }
        if let Some(s) = self.sessions.get_mut(&kicked) {
            s.rooms.remove(&id);
        }
        // Janus 1.1.2 misspells the key; clients match on it.
        Ok(Answer {
            key: Some("textbridge"),
            ..Answer::success(Map::new())
        })
    }
}
