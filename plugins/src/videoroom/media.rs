//! PeerConnection events, the forwarding intents they cause, talk detection and the
//! `fir_freq` keyframe timer.

use std::time::Duration;

use super::*;

impl VideoRoom {
    pub(super) fn handle_peer(&mut self, now: Instant, handle: HandleId, event: PeerEvent) {
        match event {
            PeerEvent::WebrtcUp => match self.handles.get_mut(&handle) {
                Some(Role::Publisher(p)) if p.negotiated && !p.up => {
                    p.up = true;
                    let rid = p.room;
                    let fir = self.rooms.get(&rid).map_or(0, |r| r.config.fir_freq);
                    if let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) {
                        p.next_fir = (fir > 0).then(|| now + Duration::from_secs(fir));
                        let ev = json!({"videoroom": "event", "room": rid,
                            "publishers": [publisher_json(p)]});
                        self.notify(rid, Some(handle), &ev);
                    }
                }
                Some(Role::Subscriber(s)) if !s.up => {
                    s.up = true;
                    self.forward_pending(handle);
                }
                _ => {}
            },
            PeerEvent::Hangup { .. } => match self.handles.get_mut(&handle) {
                Some(Role::Publisher(_)) => self.feed_gone(handle, true),
                Some(Role::Subscriber(_)) => {
                    self.unforward_handle(handle);
                    if let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) {
                        s.up = false;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Installs a `Forward` for every stream of subscriber `handle` that has none yet (its
    /// PeerConnection is up and its last offer answered).
    pub(super) fn forward_pending(&mut self, handle: HandleId) {
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return;
        };
        if !s.up {
            return;
        }
        let paused = s.paused;
        let pending: Vec<(String, HandleId, String, LayerPrefs, bool)> = s
            .streams
            .iter_mut()
            .filter(|st| !st.forwarded)
            .map(|st| {
                st.forwarded = true;
                st.current = None;
                (
                    st.mid.clone(),
                    st.feed_handle,
                    st.feed_mid.clone(),
                    st.layers,
                    st.send,
                )
            })
            .collect();
        for (to_mid, from, from_mid, layers, send) in pending {
            // A stream the subscriber, its publisher or a moderator paused starts paused.
            let sends = !paused && send && self.source_sends(from, &from_mid);
            self.out.media(MediaCommand::Forward {
                from,
                from_mid,
                to: handle,
                to_mid: to_mid.clone(),
                layers,
            });
            if !sends {
                self.out.media(MediaCommand::SetSending {
                    to: handle,
                    to_mid,
                    send: false,
                });
            }
        }
    }

    /// Whether the publisher stream `feed`/`mid` is relayed at all (not paused by its
    /// publisher, not muted by a moderator).
    pub(super) fn source_sends(&self, feed: HandleId, mid: &str) -> bool {
        match self.handles.get(&feed) {
            Some(Role::Publisher(p)) => p
                .streams
                .iter()
                .find(|s| s.mid == mid)
                .is_none_or(|s| !s.paused && !s.moderated),
            _ => true,
        }
    }

    /// Tells every subscriber stream fed by `feed`/`mid` whether to relay, after the
    /// publisher paused/resumed it or a moderator muted/unmuted it.
    pub(super) fn refresh_sending(&mut self, feed: HandleId, mid: &str) {
        let source = self.source_sends(feed, mid);
        let mut cmds = Vec::new();
        for (h, role) in &self.handles {
            if let Role::Subscriber(s) = role {
                for st in &s.streams {
                    if st.forwarded && st.feed_handle == feed && st.feed_mid == mid {
                        cmds.push(MediaCommand::SetSending {
                            to: *h,
                            to_mid: st.mid.clone(),
                            send: source && st.send && !s.paused,
                        });
                    }
                }
            }
        }
        sort_by_destination(&mut cmds);
        for c in cmds {
            self.out.media(c);
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
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return;
        };
        let mut cmds = Vec::new();
        for st in &mut s.streams {
            if std::mem::take(&mut st.forwarded) {
                cmds.push(MediaCommand::Unforward {
                    to: handle,
                    to_mid: st.mid.clone(),
                });
            }
        }
        for c in cmds {
            self.out.media(c);
        }
    }

    /// Stop every forward whose source is `feed` (a publisher going away); autoupdate
    /// subscribers get an `updated` event with a new offer.
    pub(super) fn unforward_feed(&mut self, feed: HandleId) {
        let mut cmds = Vec::new();
        let mut changed = Vec::new();
        for (h, role) in &mut self.handles {
            if let Role::Subscriber(s) = role {
                let before = s.streams.len();
                s.streams.retain(|st| {
                    if st.feed_handle != feed {
                        return true;
                    }
                    if st.forwarded {
                        cmds.push(MediaCommand::Unforward {
                            to: *h,
                            to_mid: st.mid.clone(),
                        });
                    }
                    s.offer.unsubscribe(&st.mid);
                    false
                });
                if s.streams.len() != before && s.autoupdate {
                    changed.push(*h);
                }
            }
        }
        sort_by_destination(&mut cmds);
        for c in cmds {
            self.out.media(c);
        }
        changed.sort_by_key(|h| h.0);
        for h in changed {
            if let Some((data, jsep)) = self.renegotiate(h) {
                self.out.event(h, None, data, jsep);
            }
        }
    }

    /// An event to every publisher-type participant of the room except `except`.
    pub(super) fn notify(&mut self, rid: u64, except: Option<HandleId>, ev: &Value) {
        if let Some(room) = self.rooms.get(&rid) {
            self.out
                .event_to_all(room.participants.values().copied(), except, ev);
        }
    }

    /// Audio levels from a publisher: every `audio_active_packets` packets (the publisher's
    /// own value, else the room's), a change between talking and silent is announced to the
    /// whole room (the speaker included); see [`TalkWindow::feed`].
    pub(super) fn handle_audio_level(
        &mut self,
        handle: HandleId,
        mid: &str,
        packets: u32,
        level_sum: u32,
    ) {
        let Some(Role::Publisher(p)) = self.handles.get_mut(&handle) else {
            return;
        };
        let Some(room) = self.rooms.get(&p.room) else {
            return;
        };
        let c = &room.config;
        if !c.audiolevel_event {
            return;
        }
        let window = p.audio_active_packets.unwrap_or(c.audio_active_packets);
        let threshold = p.audio_level_average.unwrap_or(c.audio_level_average);
        if window == 0 {
            return;
        }
        let Some(st) = p
            .streams
            .iter_mut()
            .find(|s| s.mid == mid && s.kind == MediaKind::Audio)
        else {
            return;
        };
        let changes = st.talk.feed(packets, level_sum, window, threshold);
        let (rid, id, mindex, mid) = (p.room, p.id, st.mindex, st.mid.clone());
        for (talking, avg) in changes {
            let verb = if talking {
                "talking"
            } else {
                "stopped-talking"
            };
            let avg = (avg * 100.0).round() / 100.0;
            let ev = json!({"videoroom": verb, "room": rid, "id": id, "mindex": mindex,
                "mid": mid, "audio-level-dBov-avg": avg});
            self.notify(rid, None, &ev);
        }
    }

    /// What a subscriber's simulcast m-line forwards changed: `substream` and/or `temporal`
    /// notifications to that subscriber, for the values that differ from the last report.
    pub(super) fn handle_layer_changed(
        &mut self,
        handle: HandleId,
        mid: &str,
        substream: u8,
        temporal: u8,
    ) {
        let Some(Role::Subscriber(sub)) = self.handles.get_mut(&handle) else {
            return;
        };
        let rid = sub.room;
        let Some(st) = sub
            .streams
            .iter_mut()
            .find(|s| s.mid == mid && s.kind == MediaKind::Video)
        else {
            return;
        };
        let before = st.current.replace((substream, temporal));
        if before.map(|b| b.0) != Some(substream) {
            let ev = json!({"videoroom": "event", "room": rid, "mid": mid, "substream": substream});
            self.out.event(handle, None, ev, None);
        }
        if before.map(|b| b.1) != Some(temporal) {
            let ev = json!({"videoroom": "event", "room": rid, "mid": mid, "temporal": temporal});
            self.out.event(handle, None, ev, None);
        }
    }

    /// `fir_freq`: a keyframe request to each due publisher.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (h, role) in &mut self.handles {
            if let Role::Publisher(p) = role
                && let Some(at) = p.next_fir
                && at <= now
            {
                let fir = self.rooms.get(&p.room).map_or(0, |r| r.config.fir_freq);
                p.next_fir = (fir > 0).then(|| now + Duration::from_secs(fir));
                due.push(*h);
            }
        }
        due.sort_by_key(|h| h.0);
        for handle in due {
            self.out
                .media(MediaCommand::RequestKeyframe { handle, mid: None });
        }
    }
}

/// Deterministic order for intents gathered from a hash map.
fn sort_by_destination(cmds: &mut [MediaCommand]) {
    cmds.sort_by_key(|c| match c {
        MediaCommand::Unforward { to, to_mid } | MediaCommand::SetSending { to, to_mid, .. } => {
            (to.0, to_mid.clone())
        }
        _ => (0, String::new()),
    });
}
