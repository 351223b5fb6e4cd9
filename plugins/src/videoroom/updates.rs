//! Changing a subscription: `subscribe`, `unsubscribe`, `update` (one renegotiation for
//! several changes), `switch` and subscriber `configure`.

use super::subscriber::{Wanted, layer_prefs, wanted_list};
use super::*;

/// One `unsubscribe` entry: `feed`, `feed`+`mid`, or `sub_mid`.
struct Unwanted {
    feed: Option<u64>,
    mid: Option<String>,
    sub_mid: Option<String>,
}

impl VideoRoom {
    pub(super) fn subscribe(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(body, &[("streams", Kind::Array, true)])?;
        let wanted =
            non_empty(body, "streams", "Empty subscription list").and_then(|l| wanted_list(l))?;
        self.change_subscription(handle, &wanted, &[])
    }

    pub(super) fn unsubscribe(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(body, &[("streams", Kind::Array, true)])?;
        let unwanted = non_empty(body, "streams", "Empty unsubscription list")
            .and_then(|l| unwanted_list(l))?;
        self.change_subscription(handle, &[], &unwanted)
    }

    pub(super) fn update(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("subscribe", Kind::Array, false),
                ("unsubscribe", Kind::Array, false),
            ],
        )?;
        if !body.contains_key("subscribe") && !body.contains_key("unsubscribe") {
            return Err((
                ERROR_MISSING_ELEMENT,
                "At least one of either 'subscribe' or 'unsubscribe' must be present".into(),
            ));
        }
        let wanted = match body.get("subscribe").and_then(Value::as_array) {
            Some(l) => wanted_list(l)?,
            None => Vec::new(),
        };
        let unwanted = match body.get("unsubscribe").and_then(Value::as_array) {
            Some(l) => unwanted_list(l)?,
            None => Vec::new(),
        };
        self.change_subscription(handle, &wanted, &unwanted)
    }

    /// Removes `unwanted` then adds `wanted` (so that freed m-lines are reused), and answers
    /// with `updated` (+ offer), a bare `updated`, or `updating` while an offer is out.
    fn change_subscription(
        &mut self,
        handle: HandleId,
        wanted: &[Wanted],
        unwanted: &[Unwanted],
    ) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Subscriber(sub)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = sub.room;
        // Validate the additions against a copy first: a failure changes nothing.
        let mut scratch = sub.clone();
        let mut removed = Vec::new();
        scratch.streams.retain(|st| {
            let gone = unwanted.iter().any(|u| u.matches(st));
            if gone {
                removed.push(st.clone());
            }
            !gone
        });
        for st in &removed {
            if st.kind != MediaKind::Application {
                scratch.offer.unsubscribe(&st.mid);
            }
        }
        let added = self.add_streams(rid, &mut scratch, wanted)?;
        let mut cmds = Vec::new();
        for st in removed.iter().filter(|st| st.forwarded) {
            cmds.push(MediaCommand::Unforward {
                to: handle,
                to_mid: st.mid.clone(),
            });
        }
        let changed = added > 0 || !removed.is_empty();
        if let Some(Role::Subscriber(sub)) = self.handles.get_mut(&handle) {
            *sub = scratch;
        }
        for c in cmds {
            self.out.media(c);
        }
        if !changed {
            return Ok((json!({"videoroom": "updated", "room": rid}), None));
        }
        Ok(self
            .renegotiate(handle)
            .unwrap_or_else(|| (json!({"videoroom": "updating", "room": rid}), None)))
    }

    /// A new offer for subscriber `handle` (`updated` with the full `streams`), or `None`
    /// when its previous offer is still unanswered: the offer then follows the answer.
    pub(super) fn renegotiate(&mut self, handle: HandleId) -> Option<(Value, Option<Jsep>)> {
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return None;
        };
        if s.awaiting_answer {
            s.pending_update = true;
            return None;
        }
        let sdp = s.offer.plugin_offer().ok()?.to_string();
        s.awaiting_answer = true;
        let rid = s.room;
        let Some(Role::Subscriber(s)) = self.handles.get(&handle) else {
            return None;
        };
        let list = self.sub_streams_json(s);
        Some((
            json!({"videoroom": "updated", "room": rid, "streams": list}),
            Some(Jsep::new(JsepType::Offer, sdp)),
        ))
    }

    pub(super) fn switch(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(body, &[("streams", Kind::Array, true)])?;
        let list = non_empty(body, "streams", "Empty switch list")?;
        let mut moves = Vec::new();
        for e in list {
            let m = e.as_object().ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element type (streams should be an array of objects)".to_owned(),
            ))?;
            check(
                m,
                &[
                    ("feed", Kind::PosInt, true),
                    ("mid", Kind::Str, true),
                    ("sub_mid", Kind::Str, true),
                ],
            )?;
            let feed = get_u64(m, "feed").unwrap_or_default();
            let mid = get_str(m, "mid").unwrap_or_default().to_owned();
            let sub_mid = get_str(m, "sub_mid").unwrap_or_default().to_owned();
            moves.push((feed, mid, sub_mid));
        }
        let Some(Role::Subscriber(sub)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = sub.room;
        let mut plan = Vec::new();
        for (feed, mid, sub_mid) in moves {
            if !sub.streams.iter().any(|s| s.mid == sub_mid) {
                return Err((
                    ERROR_NO_SUCH_FEED,
                    format!("No such mid '{sub_mid}' in subscription"),
                ));
            }
            let Some((feed_handle, p)) = self.rooms.get(&rid).and_then(|r| {
                let h = *r.participants.get(&feed)?;
                match self.handles.get(&h) {
                    Some(Role::Publisher(p)) if p.negotiated => Some((h, p)),
                    _ => None,
                }
            }) else {
                return Err((ERROR_NO_SUCH_FEED, format!("No such feed ({feed})")));
            };
            let Some(ps) = p.streams.iter().find(|s| s.mid == mid) else {
                return Err((
                    ERROR_NO_SUCH_FEED,
                    format!("No such mid '{mid}' in feed ({feed})"),
                ));
            };
            plan.push((feed, feed_handle, ps.clone(), sub_mid));
        }
        let mut changes = 0u64;
        let mut cmds = Vec::new();
        if let Some(Role::Subscriber(sub)) = self.handles.get_mut(&handle) {
            for (feed, feed_handle, ps, sub_mid) in plan {
                let Some(st) = sub.streams.iter_mut().find(|s| s.mid == sub_mid) else {
                    continue;
                };
                // The new source must fit the negotiated m-line.
                if ps.disabled || st.kind != ps.kind || st.codec != ps.codec {
                    continue;
                }
                if st.feed_handle == feed_handle && st.feed_mid == ps.mid {
                    continue;
                }
                st.feed_id = feed;
                st.feed_handle = feed_handle;
                st.feed_mid = ps.mid.clone();
                st.current = None;
                changes += 1;
                if st.forwarded {
                    cmds.push(MediaCommand::Forward {
                        from: feed_handle,
                        from_mid: ps.mid.clone(),
                        to: handle,
                        to_mid: st.mid.clone(),
                        layers: st.layers,
                    });
                }
            }
        }
        for c in cmds {
            self.out.media(c);
        }
        let Some(Role::Subscriber(sub)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let list = self.sub_streams_json(sub);
        Ok((
            json!({"videoroom": "event", "switched": "ok", "room": rid, "changes": changes,
                "streams": list}),
            None,
        ))
    }

    pub(super) fn configure_subscriber(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("streams", Kind::Array, false),
                ("mid", Kind::Str, false),
                ("send", Kind::Bool, false),
                ("audio", Kind::Bool, false),
                ("video", Kind::Bool, false),
                ("data", Kind::Bool, false),
                ("restart", Kind::Bool, false),
                ("update", Kind::Bool, false),
            ],
        )?;
        let mut entries: Vec<&Map<String, Value>> = Vec::new();
        match body.get("streams").and_then(Value::as_array) {
            Some(list) => {
                for e in list {
                    let m = e.as_object().ok_or((
                        ERROR_INVALID_ELEMENT,
                        "Invalid element type (streams should be an array of objects)".to_owned(),
                    ))?;
                    check(m, &[("mid", Kind::Str, true), ("send", Kind::Bool, false)])?;
                    entries.push(m);
                }
            }
            None => entries.push(body),
        }
        let Some(Role::Subscriber(sub)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = sub.room;
        // Check every entry before changing anything.
        let mut plan = Vec::new();
        for m in entries {
            let mid = get_str(m, "mid");
            if let Some(mid) = mid
                && !sub.streams.iter().any(|s| s.mid == mid)
            {
                return Err((
                    ERROR_NO_SUCH_FEED,
                    format!("No such mid '{mid}' in subscription"),
                ));
            }
            for (i, st) in sub.streams.iter().enumerate() {
                if mid.is_some_and(|x| x != st.mid) {
                    continue;
                }
                let (layers, fallback_set) = layer_prefs(m, st.layers)?;
                let legacy = match st.kind {
                    MediaKind::Audio => get_bool(body, "audio"),
                    MediaKind::Video => get_bool(body, "video"),
                    MediaKind::Application => get_bool(body, "data"),
                };
                let send = get_bool(m, "send").or(legacy);
                let asked = (m.contains_key("substream"), m.contains_key("temporal"));
                plan.push((i, send, layers, fallback_set, asked));
            }
        }
        let mut cmds = Vec::new();
        let mut touched = Vec::new();
        let mut at_target = Vec::new();
        if let Some(Role::Subscriber(sub)) = self.handles.get_mut(&handle) {
            let paused = sub.paused;
            for (i, send, layers, fallback_set, asked) in plan {
                let Some(st) = sub.streams.get_mut(i) else {
                    continue;
                };
                // A layer asked for that is already the one forwarded is notified at once
                // (there will be no change to report).
                if let Some((substream, temporal)) = st.current {
                    if asked.0 && layers.substream == substream {
                        at_target.push(json!({"videoroom": "event", "room": rid,
                            "mid": st.mid, "substream": substream}));
                    }
                    if asked.1 && layers.temporal == temporal {
                        at_target.push(json!({"videoroom": "event", "room": rid,
                            "mid": st.mid, "temporal": temporal}));
                    }
                }
                if let Some(send) = send
                    && send != st.send
                {
                    st.send = send;
                    if st.forwarded && !paused {
                        touched.push((st.feed_handle, st.feed_mid.clone(), st.mid.clone()));
                    }
                }
                if layers != st.layers && st.kind == MediaKind::Video {
                    st.layers = layers;
                    st.fallback_set |= fallback_set;
                    if st.forwarded {
                        cmds.push(MediaCommand::SetLayers {
                            to: handle,
                            to_mid: st.mid.clone(),
                            layers,
                        });
                    }
                }
            }
        }
        for (feed, feed_mid, to_mid) in touched {
            let send = self.source_sends(feed, &feed_mid)
                && matches!(self.handles.get(&handle), Some(Role::Subscriber(s))
                    if s.streams.iter().any(|x| x.mid == to_mid && x.send));
            self.out.media(MediaCommand::SetSending {
                to: handle,
                to_mid: to_mid.clone(),
                send,
            });
            if send {
                self.out.media(MediaCommand::RequestKeyframe {
                    handle: feed,
                    mid: Some(feed_mid),
                });
            }
        }
        for c in cmds {
            self.out.media(c);
        }
        for ev in at_target {
            self.out.event(handle, None, ev, None);
        }
        let data = json!({"videoroom": "event", "room": rid, "configured": "ok"});
        let restart = get_bool(body, "restart") == Some(true);
        if restart || get_bool(body, "update") == Some(true) {
            // A renegotiation that must wait for an unanswered offer sends no event now.
            return Ok(match self.renegotiate(handle) {
                Some((_, jsep)) => {
                    let jsep = jsep.map(|mut j| {
                        j.restart = restart;
                        j
                    });
                    (data, jsep)
                }
                None => (Value::Null, None),
            });
        }
        Ok((data, None))
    }
}

impl Unwanted {
    fn matches(&self, st: &SubStream) -> bool {
        if let Some(sub_mid) = &self.sub_mid {
            return &st.mid == sub_mid;
        }
        match (self.feed, &self.mid) {
            (Some(feed), Some(mid)) => st.feed_id == feed && &st.feed_mid == mid,
            (Some(feed), None) => st.feed_id == feed,
            _ => false,
        }
    }
}

/// The array `name`, refused with 430 `empty` when it has no entries.
fn non_empty<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    empty: &str,
) -> Result<&'a Vec<Value>, Failure> {
    match body.get(name).and_then(Value::as_array) {
        Some(l) if !l.is_empty() => Ok(l),
        _ => Err((ERROR_INVALID_ELEMENT, empty.to_owned())),
    }
}

/// An `unsubscribe` array.
fn unwanted_list(list: &[Value]) -> Result<Vec<Unwanted>, Failure> {
    list.iter()
        .map(|e| {
            let m = e.as_object().ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element type (streams should be an array of objects)".to_owned(),
            ))?;
            check(
                m,
                &[
                    ("feed", Kind::PosInt, false),
                    ("mid", Kind::Str, false),
                    ("sub_mid", Kind::Str, false),
                ],
            )?;
            Ok(Unwanted {
                feed: get_u64(m, "feed"),
                mid: get_str(m, "mid").map(str::to_owned),
                sub_mid: get_str(m, "sub_mid").map(str::to_owned),
            })
        })
        .collect()
}
