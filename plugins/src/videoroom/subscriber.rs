//! Subscribers: join with the server's offer, start, pause, leave.

use super::*;

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
        let wanted = requested_streams(body)?;
        let unix_us = u64::try_from(self.clock.unix(now).as_micros()).unwrap_or(u64::MAX);
        let mut offer = SubscriberOffer::new(&format!("VideoRoom {rid}"), unix_us);
        let mut streams = Vec::new();
        for (feed, mid, crossrefid) in wanted {
            let Some(Role::Publisher(p)) = room
                .participants
                .get(&feed)
                .and_then(|h| self.handles.get(h))
                .filter(|r| matches!(r, Role::Publisher(p) if p.negotiated))
            else {
                return Err((ERROR_NO_SUCH_FEED, format!("No such feed ({feed})")));
            };
            let feed_handle = room.participants[&feed];
            let chosen: Vec<&PubStream> = match &mid {
                Some(m) => {
                    let s = p.streams.iter().find(|s| &s.mid == m).ok_or_else(|| {
                        (
                            ERROR_NO_SUCH_FEED,
                            format!("No such mid '{m}' in feed ({feed})"),
                        )
                    })?;
                    vec![s]
                }
                None => p.streams.iter().collect(),
            };
            for s in chosen.into_iter().filter(|s| !s.disabled) {
                let os = match (s.kind, s.codec) {
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
                    _ => continue,
                };
                let mindex = offer.subscribe(os);
                streams.push(SubStream {
                    mindex,
                    mid: mindex.to_string(),
                    kind: s.kind,
                    codec: s.codec,
                    feed_id: feed,
                    feed_handle,
                    feed_mid: s.mid.clone(),
                    crossrefid: crossrefid.clone(),
                });
            }
        }
        if streams.is_empty() {
            return Err((
                ERROR_INVALID_SDP,
                "Can't offer an SDP with no stream".into(),
            ));
        }
        let sdp = offer
            .plugin_offer()
            .map_err(|e| (ERROR_UNKNOWN, e.janus_reason()))?
            .to_string();
        let list: Vec<Value> = streams
            .iter()
            .map(|s| self.sub_stream_json(s, &streams))
            .collect();
        let mut room_entry = self.rooms.get_mut(&rid);
        if let Some(r) = room_entry.as_mut() {
            r.subscribers.push(handle);
        }
        self.handles.insert(
            handle,
            Role::Subscriber(Subscriber {
                room: rid,
                offer,
                streams,
                paused: false,
                up: false,
            }),
        );
        Ok((
            json!({"videoroom": "attached", "room": rid, "streams": list}),
            Some(Jsep::new(JsepType::Offer, sdp)),
        ))
    }

    pub(super) fn sub_stream_json(&self, s: &SubStream, all: &[SubStream]) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), kind_str(s.kind).into());
        m.insert("active".into(), true.into());
        m.insert("mindex".into(), s.mindex.into());
        m.insert("mid".into(), s.mid.clone().into());
        if let Some(c) = &s.crossrefid {
            m.insert("crossrefid".into(), c.clone().into());
        }
        m.insert("ready".into(), false.into());
        m.insert("send".into(), true.into());
        if s.kind == MediaKind::Application {
            let ids: Vec<u64> = all
                .iter()
                .filter(|o| o.kind == MediaKind::Application)
                .map(|o| o.feed_id)
                .collect();
            m.insert("sources".into(), ids.len().into());
            m.insert("source_ids".into(), ids.into());
            return Value::Object(m);
        }
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
        Value::Object(m)
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
        if s.paused {
            s.paused = false;
            let cmds: Vec<MediaCommand> = s
                .streams
                .iter()
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
                .filter(|c| !matches!(c, MediaCommand::RequestKeyframe { .. }) || s.up)
                .collect();
            for c in cmds {
                self.out.media(c);
            }
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

/// `streams` (or the legacy `feed`) of a subscriber join: (feed, mid, crossrefid).
pub(super) fn requested_streams(body: &Map<String, Value>) -> Result<Vec<Wanted>, Failure> {
    let streams = body.get("streams").and_then(Value::as_array);
    match streams {
        Some(list) if !list.is_empty() => list
            .iter()
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
                    ],
                )?;
                Ok((
                    get_u64(m, "feed").unwrap_or_default(),
                    get_str(m, "mid").map(str::to_owned),
                    get_str(m, "crossrefid").map(str::to_owned),
                ))
            })
            .collect(),
        _ => match get_u64(body, "feed") {
            Some(feed) => Ok(vec![(feed, None, None)]),
            None => Err((
                ERROR_MISSING_ELEMENT,
                "At least one between 'streams' and 'feed' must be specified".into(),
            )),
        },
    }
}
