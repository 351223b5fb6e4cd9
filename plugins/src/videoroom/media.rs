//! PeerConnection events and the forwarding intents they cause.

use super::*;

impl VideoRoom {
    pub(super) fn handle_peer(&mut self, handle: HandleId, event: PeerEvent) {
        match event {
            PeerEvent::WebrtcUp => match self.handles.get_mut(&handle) {
                Some(Role::Publisher(p)) if p.negotiated && !p.up => {
                    p.up = true;
                    let rid = p.room;
                    let ev = json!({"videoroom": "event", "room": rid,
                        "publishers": [publisher_json(p)]});
                    self.notify(rid, Some(handle), &ev);
                }
                Some(Role::Subscriber(s)) if !s.up => {
                    s.up = true;
                    let paused = s.paused;
                    let cmds: Vec<MediaCommand> = s
                        .streams
                        .iter()
                        .flat_map(|st| {
                            let fwd = MediaCommand::Forward {
                                from: st.feed_handle,
                                from_mid: st.feed_mid.clone(),
                                to: handle,
                                to_mid: st.mid.clone(),
                                layers: LayerPrefs::default(),
                            };
                            let pause = MediaCommand::SetSending {
                                to: handle,
                                to_mid: st.mid.clone(),
                                send: false,
                            };
                            std::iter::once(fwd).chain(paused.then_some(pause))
                        })
                        .collect();
                    for c in cmds {
                        self.out.media(c);
                    }
                }
                _ => {}
            },
            PeerEvent::Hangup { .. } => match self.handles.get_mut(&handle) {
                Some(Role::Publisher(_)) => self.feed_gone(handle, true),
                Some(Role::Subscriber(s)) => {
                    s.up = false;
                    self.unforward_handle(handle);
                }
                _ => {}
            },
            _ => {}
        }
    }

    pub(super) fn detach(&mut self, handle: HandleId) {
        match self.handles.get(&handle) {
            Some(Role::Publisher(p)) => {
                let (rid, id) = (p.room, p.id);
                // Janus: `unpublished` then `leaving` for a publishing handle.
                self.feed_gone(handle, true);
                if let Some(room) = self.rooms.get_mut(&rid) {
                    room.participants.remove(&id);
                }
                let ev = json!({"videoroom": "event", "room": rid, "leaving": id});
                self.notify(rid, Some(handle), &ev);
            }
            Some(Role::Subscriber(s)) => {
                let rid = s.room;
                self.unforward_handle(handle);
                if let Some(room) = self.rooms.get_mut(&rid) {
                    room.subscribers.retain(|h| *h != handle);
                }
            }
            _ => {}
        }
        self.handles.remove(&handle);
    }

    /// Stop everything fed into `handle` (a subscriber going away).
    pub(super) fn unforward_handle(&mut self, handle: HandleId) {
        let Some(Role::Subscriber(s)) = self.handles.get(&handle) else {
            return;
        };
        if !s.up {
            return;
        }
        let cmds: Vec<MediaCommand> = s
            .streams
            .iter()
            .map(|st| MediaCommand::Unforward {
                to: handle,
                to_mid: st.mid.clone(),
            })
            .collect();
        for c in cmds {
            self.out.media(c);
        }
    }

    /// Stop every forward whose source is `feed` (a publisher going away).
    pub(super) fn unforward_feed(&mut self, feed: HandleId) {
        let mut cmds = Vec::new();
        for (h, role) in &mut self.handles {
            if let Role::Subscriber(s) = role {
                let up = s.up;
                s.streams.retain(|st| {
                    if st.feed_handle != feed {
                        return true;
                    }
                    if up {
                        cmds.push(MediaCommand::Unforward {
                            to: *h,
                            to_mid: st.mid.clone(),
                        });
                    }
                    s.offer.unsubscribe(&st.mid);
                    false
                });
            }
        }
        cmds.sort_by_key(|c| match c {
            MediaCommand::Unforward { to, to_mid } => (to.0, to_mid.clone()),
            _ => (0, String::new()),
        });
        for c in cmds {
            self.out.media(c);
        }
    }

    /// An event to every publisher-type participant of the room except `except`.
    pub(super) fn notify(&mut self, rid: u64, except: Option<HandleId>, ev: &Value) {
        let Some(room) = self.rooms.get(&rid) else {
            return;
        };
        let targets: Vec<HandleId> = room
            .participants
            .values()
            .copied()
            .filter(|h| Some(*h) != except)
            .collect();
        for h in targets {
            self.out.event(h, None, ev.clone(), None);
        }
    }
}
