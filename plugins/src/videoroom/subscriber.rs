//! Subscribers: join with the server's offer, start, pause, leave, and the `streams` list
//! they are shown.

use super::*;

/// One requested subscription (`streams` entry of `join`/`subscribe`).
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    pub(super) feed: u64,
    pub(super) mid: Option<String>,
    pub(super) crossrefid: Option<String>,
    pub(super) send: bool,
    pub(super) layers: LayerPrefs,
    pub(super) fallback_set: bool,
}

impl VideoRoom {
    pub(super) fn join_subscriber(
        &mut self,
        now: Instant,
        handle: HandleId,
        body: &Map<String, Value>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        check(
            body,
            &[
                ("streams", Kind::Array, false),
                ("feed", Kind::PosInt, false),
                ("private_id", Kind::PosInt, false),
                ("use_msid", Kind::Bool, false),
                ("autoupdate", Kind::Bool, false),
            ],
        )?;
        let rid = self.room(body)?;
        let room = &self.rooms[&rid];
        CODES.check_secret(room.config.pin.as_deref(), body, "pin")?;
        if room.config.require_pvtid {
            let pvt = get_u64(body, "private_id");
            let valid = pvt.is_some_and(|pvt| {
                room.participants.values().any(|h| {
                    matches!(self.handles.get(h), Some(Role::Publisher(p)) if p.private_id == pvt)
                })
            });
            if !valid {
                return Err(unauthorized_text(
                    "Unauthorized (this room requires a valid private_id)",
                ));
            }
        }
        let legacy = body
            .get("streams")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        let wanted = requested_streams(body)?;
        let unix_us = u64::try_from(self.clock.unix(now).as_micros()).unwrap_or(u64::MAX);
        let mut sub = Subscriber {
            room: rid,
            offer: SubscriberOffer::new(&format!("VideoRoom {rid}"), unix_us),
            streams: Vec::new(),
            paused: false,
            up: false,
            autoupdate: get_bool(body, "autoupdate").unwrap_or(true),
            awaiting_answer: true,
            pending_update: false,
        };
        self.add_streams(rid, &mut sub, &wanted)?;
        if sub.streams.is_empty() {
            return Err((
                ERROR_INVALID_SDP,
                "Can't offer an SDP with no stream".into(),
            ));
        }
        let sdp = sub
            .offer
            .plugin_offer()
            .map_err(|e| (ERROR_UNKNOWN, e.janus_reason()))?
            .to_string();
        let list = self.sub_streams_json(&sub);
        if let Some(r) = self.rooms.get_mut(&rid) {
            r.subscribers.push(handle);
        }
        self.handles.insert(handle, Role::Subscriber(sub));
        let mut data = json!({"videoroom": "attached", "room": rid, "streams": list});
        if legacy && let Some(w) = wanted.first() {
            // The legacy `feed` join also names the publisher.
            data["id"] = w.feed.into();
            if let Some(d) = self
                .publisher_by_id(rid, w.feed)
                .and_then(|p| p.display.clone())
            {
                data["display"] = d.into();
            }
            data["warning"] = "deprecated_api".into();
        }
        Ok((data, Some(Jsep::new(JsepType::Offer, sdp))))
    }

    /// The publisher `id` of room `rid`, when it is publishing.
    pub(super) fn publisher_by_id(&self, rid: u64, id: u64) -> Option<&Publisher> {
        let h = self.rooms.get(&rid)?.participants.get(&id)?;
        match self.handles.get(h) {
            Some(Role::Publisher(p)) => Some(p),
            _ => None,
        }
    }

    /// Adds the `wanted` streams to `sub` (each taking an m-line, reusing inactive ones).
    pub(super) fn add_streams(
        &self,
        rid: u64,
        sub: &mut Subscriber,
        wanted: &[Wanted],
    ) -> Result<usize, Failure> {
        let room = self.rooms.get(&rid).ok_or_else(|| no_room(rid))?;
        // Check everything first: a failing entry changes nothing.
        let mut chosen = Vec::new();
        for w in wanted {
            let feed = w.feed;
            let (Some(&feed_handle), Some(p)) = (
                room.participants.get(&feed),
                self.publisher_by_id(rid, feed).filter(|p| p.negotiated),
            ) else {
                return Err((ERROR_NO_SUCH_FEED, format!("No such feed ({feed})")));
            };
            let streams: Vec<&PubStream> = match &w.mid {
                Some(m) => vec![p.streams.iter().find(|s| &s.mid == m).ok_or_else(|| {
                    (
                        ERROR_NO_SUCH_FEED,
                        format!("No such mid '{m}' in feed ({feed})"),
                    )
                })?],
                None => p.streams.iter().collect(),
            };
            for s in streams.into_iter().filter(|s| !s.disabled) {
                chosen.push((w, feed_handle, s.clone()));
            }
        }
        let mut added = 0;
        for (w, feed_handle, s) in chosen {
            let Some(os) = offer_stream(&s) else {
                continue;
            };
            let mindex = sub.offer.subscribe(os);
            let mid = sub
                .offer
                .slots
                .get(mindex)
                .and_then(|slot| slot.stream.mid.as_ref())
                .map_or_else(|| mindex.to_string(), |m| m.as_str().to_owned());
            sub.streams.push(SubStream {
                mindex,
                mid,
                kind: s.kind,
                codec: s.codec,
                feed_id: w.feed,
                feed_handle,
                feed_mid: s.mid.clone(),
                crossrefid: w.crossrefid.clone(),
                send: w.send,
                layers: w.layers,
                fallback_set: w.fallback_set,
                forwarded: false,
                current: None,
            });
            added += 1;
        }
        Ok(added)
    }

    /// The `streams` list of `attached`/`updated`/`switched`: one entry per m-line.
    pub(super) fn sub_streams_json(&self, sub: &Subscriber) -> Vec<Value> {
        sub.offer
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let mid = slot
                    .stream
                    .mid
                    .as_ref()
                    .map_or_else(|| i.to_string(), |m| m.as_str().to_owned());
                let on_line: Vec<&SubStream> =
                    sub.streams.iter().filter(|s| s.mindex == i).collect();
                let mut m = Map::new();
                m.insert("type".into(), kind_str(slot.stream.kind).into());
                let data = slot.stream.kind == MediaKind::Application;
                m.insert("active".into(), (data || !on_line.is_empty()).into());
                m.insert("mindex".into(), i.into());
                m.insert("mid".into(), mid.into());
                let first = on_line.first();
                if let Some(c) = first.and_then(|s| s.crossrefid.as_ref()) {
                    m.insert("crossrefid".into(), c.clone().into());
                }
                m.insert("ready".into(), false.into());
                m.insert("send".into(), first.is_none_or(|s| s.send).into());
                if data {
                    let ids: Vec<u64> = on_line.iter().map(|s| s.feed_id).collect();
                    m.insert("sources".into(), ids.len().into());
                    m.insert("source_ids".into(), ids.into());
                } else if let Some(s) = first {
                    self.feed_json(&mut m, s);
                }
                Value::Object(m)
            })
            .collect()
    }

    /// The source members of an audio/video entry of a subscriber's `streams`.
    fn feed_json(&self, m: &mut Map<String, Value>, s: &SubStream) {
        m.insert("feed_id".into(), s.feed_id.into());
        let feed = match self.handles.get(&s.feed_handle) {
            Some(Role::Publisher(p)) => Some(p),
            _ => None,
        };
        if let Some(d) = feed.and_then(|p| p.display.as_ref()) {
            m.insert("feed_display".into(), d.clone().into());
        }
        m.insert("feed_mid".into(), s.feed_mid.clone().into());
        if let Some(d) = feed.and_then(|p| p.descriptions.get(&s.feed_mid)) {
            m.insert("feed_description".into(), d.clone().into());
        }
        if let Some(c) = s.codec {
            m.insert("codec".into(), c.as_str().into());
        }
        let source = feed.and_then(|p| p.streams.iter().find(|x| x.mid == s.feed_mid));
        if source.is_some_and(|x| x.simulcast) {
            // The layers forwarded now, as the media side last reported them (-1: none yet).
            let (substream, temporal) = s
                .current
                .map_or((-1, -1), |(s, t)| (i32::from(s), i32::from(t)));
            let mut sim = json!({"substream": substream, "substream-target": s.layers.substream,
                "temporal-layer": temporal, "temporal-layer-target": s.layers.temporal});
            if s.fallback_set {
                sim["fallback"] = s.layers.fallback_us.into();
            }
            m.insert("simulcast".into(), sim);
        }
        if source.is_some_and(|x| x.svc) {
            m.insert(
                "svc".into(),
                json!({"spatial-layer": -1, "target-spatial-layer": s.layers.substream,
                    "temporal-layer": -1, "target-temporal-layer": s.layers.temporal}),
            );
        }
    }

    pub(super) fn start(
        &mut self,
        handle: HandleId,
        jsep: Option<&Jsep>,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        if jsep.is_some_and(|j| j.kind == JsepType::Offer) {
            return Err((ERROR_INVALID_SDP_TYPE, "Only publishers send offers".into()));
        }
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return Err(join_first());
        };
        let rid = s.room;
        let answered = jsep.is_some();
        if answered {
            s.awaiting_answer = false;
        }
        let resumed = std::mem::take(&mut s.paused);
        let pending = answered && std::mem::take(&mut s.pending_update);
        if resumed {
            let cmds: Vec<MediaCommand> = s
                .streams
                .iter()
                .filter(|st| st.forwarded && st.send)
                .flat_map(|st| {
                    [
                        MediaCommand::SetSending {
                            to: handle,
                            to_mid: st.mid.clone(),
                            send: true,
                        },
                        MediaCommand::RequestKeyframe {
                            handle: st.feed_handle,
                            mid: Some(st.feed_mid.clone()),
                        },
                    ]
                })
                .collect();
            for c in cmds {
                self.out.media(c);
            }
        }
        if answered {
            self.forward_pending(handle);
        }
        if pending {
            // Changes that came while the previous offer was out: offer them now, after
            // `started` (the caller emits that event first, so queue this one behind it).
            self.deferred.push(handle);
        }
        Ok((
            json!({"videoroom": "event", "room": rid, "started": "ok"}),
            None,
        ))
    }

    pub(super) fn pause(&mut self, handle: HandleId) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Subscriber(s)) = self.handles.get_mut(&handle) else {
            return Err(join_first());
        };
        s.paused = true;
        let rid = s.room;
        let cmds: Vec<MediaCommand> = s
            .streams
            .iter()
            .filter(|st| st.forwarded)
            .map(|st| MediaCommand::SetSending {
                to: handle,
                to_mid: st.mid.clone(),
                send: false,
            })
            .collect();
        for c in cmds {
            self.out.media(c);
        }
        Ok((
            json!({"videoroom": "event", "room": rid, "paused": "ok"}),
            None,
        ))
    }

    pub(super) fn subscriber_leave(
        &mut self,
        handle: HandleId,
    ) -> Result<(Value, Option<Jsep>), Failure> {
        let Some(Role::Subscriber(s)) = self.handles.get(&handle) else {
            return Err(join_first());
        };
        let rid = s.room;
        self.unforward_handle(handle);
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.subscribers.retain(|h| *h != handle);
        }
        self.handles.insert(handle, Role::None);
        self.out.push(PluginOutput::ClosePeerConnection { handle });
        Ok((
            json!({"videoroom": "event", "room": rid, "left": "ok"}),
            None,
        ))
    }
}

/// The subscriber m-line for a publisher stream (Janus's payload types and extensions).
fn offer_stream(s: &PubStream) -> Option<OfferStream> {
    Some(match (s.kind, s.codec) {
        (MediaKind::Audio, Some(c)) => OfferStream::audio(c)
            .with_extension(extension::MID)
            .with_extension(extension::AUDIO_LEVEL),
        (MediaKind::Video, Some(c)) => OfferStream::video(c)
            .with_extension(extension::MID)
            .with_extension(extension::ABS_SEND_TIME)
            .with_extension(extension::TRANSPORT_WIDE_CC)
            .with_extension(extension::VIDEO_ORIENTATION)
            .with_extension(extension::PLAYOUT_DELAY),
        (MediaKind::Application, _) => OfferStream::data(),
        _ => return None,
    })
}

/// Simulcast/SVC layer members of a `streams` entry (`substream`/`temporal`/`fallback` or
/// `spatial_layer`/`temporal_layer`), over `base`.
pub(super) fn layer_prefs(
    m: &Map<String, Value>,
    base: LayerPrefs,
) -> Result<(LayerPrefs, bool), Failure> {
    check(
        m,
        &[
            ("substream", Kind::PosInt, false),
            ("temporal", Kind::PosInt, false),
            ("fallback", Kind::PosInt, false),
            ("spatial_layer", Kind::PosInt, false),
            ("temporal_layer", Kind::PosInt, false),
        ],
    )?;
    let mut layers = base;
    let spatial = get_u64(m, "substream").or_else(|| get_u64(m, "spatial_layer"));
    if let Some(v) = spatial {
        layers.substream = u8::try_from(v).ok().filter(|v| *v <= 2).ok_or((
            ERROR_INVALID_ELEMENT,
            "Invalid value (substream/spatial_layer should be 0, 1 or 2)".to_owned(),
        ))?;
    }
    let temporal = get_u64(m, "temporal").or_else(|| get_u64(m, "temporal_layer"));
    if let Some(v) = temporal {
        layers.temporal = u8::try_from(v).ok().filter(|v| *v <= 2).ok_or((
            ERROR_INVALID_ELEMENT,
            "Invalid value (temporal/temporal_layer should be 0, 1 or 2)".to_owned(),
        ))?;
    }
    let fallback = get_u64(m, "fallback");
    if let Some(f) = fallback {
        layers.fallback_us = f;
    }
    Ok((layers, fallback.is_some()))
}

/// A `streams` array of `join`/`subscribe` entries.
pub(super) fn wanted_list(list: &[Value]) -> Result<Vec<Wanted>, Failure> {
    list.iter()
        .map(|s| {
            let m = s.as_object().ok_or((
                ERROR_INVALID_ELEMENT,
                "Invalid element type (streams should be an array of objects)".to_owned(),
            ))?;
            check(
                m,
                &[
                    ("feed", Kind::PosInt, true),
                    ("mid", Kind::Str, false),
                    ("crossrefid", Kind::Str, false),
                    ("send", Kind::Bool, false),
                ],
            )?;
            let (layers, fallback_set) = layer_prefs(m, LayerPrefs::default())?;
            Ok(Wanted {
                feed: get_u64(m, "feed").unwrap_or_default(),
                mid: get_str(m, "mid").map(str::to_owned),
                crossrefid: get_str(m, "crossrefid").map(str::to_owned),
                send: get_bool(m, "send").unwrap_or(true),
                layers,
                fallback_set,
            })
        })
        .collect()
}

/// `streams` (or the legacy `feed`) of a subscriber join.
pub(super) fn requested_streams(body: &Map<String, Value>) -> Result<Vec<Wanted>, Failure> {
    match body.get("streams").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => wanted_list(list),
        _ => match get_u64(body, "feed") {
            Some(feed) => {
                let (layers, fallback_set) = layer_prefs(body, LayerPrefs::default())?;
                Ok(vec![Wanted {
                    feed,
                    mid: None,
                    crossrefid: None,
                    send: true,
                    layers,
                    fallback_set,
                }])
            }
            None => Err((
                ERROR_MISSING_ELEMENT,
                "At least one between 'streams' and 'feed' must be specified".into(),
            )),
        },
    }
}
