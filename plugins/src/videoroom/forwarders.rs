//! Synchronous requests on publishers: `moderate`, and RTP forwarders (`rtp_forward`,
//! `stop_rtp_forward`, `listforwarders`) as [`MediaCommand::RtpForward`] intents.

use super::*;
use crate::rooms::pick_forwarder_id;

impl VideoRoom {
    pub(super) fn moderate(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("secret", Kind::Str, false),
                ("id", Kind::PosInt, true),
                ("mid", Kind::Str, true),
                ("mute", Kind::Bool, true),
            ],
        )?;
        let rid = self.room_with_secret(body)?;
        let user = get_u64(body, "id").unwrap_or_default();
        let mid = get_str(body, "mid").unwrap_or_default().to_owned();
        let mute = get_bool(body, "mute").unwrap_or_default();
        let Some(&h) = self.rooms[&rid].participants.get(&user) else {
            return Err((
                ERROR_NO_SUCH_FEED,
                format!("No such user {user} in room {rid}"),
            ));
        };
        let Some(Role::Publisher(p)) = self.handles.get_mut(&h) else {
            return Err((
                ERROR_NO_SUCH_FEED,
                format!("No such user {user} in room {rid}"),
            ));
        };
        let Some(st) = p.streams.iter_mut().find(|s| s.mid == mid) else {
            return Err((ERROR_NO_SUCH_FEED, format!("No such mid '{mid}' published")));
        };
        let changed = st.moderated != mute;
        st.moderated = mute;
        if changed {
            self.refresh_sending(h, &mid);
        }
        let verb = if mute { "muted" } else { "unmuted" };
        let ev = json!({"videoroom": "event", "room": rid, "id": user, "mid": mid,
            "moderation": verb});
        self.notify(rid, None, &ev);
        Ok(json!({"videoroom": "success"}))
    }

    pub(super) fn rtp_forward(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("publisher_id", Kind::PosInt, true),
                ("host", Kind::Str, true),
                ("host_family", Kind::Str, false),
                ("secret", Kind::Str, false),
                ("admin_key", Kind::Str, false),
                ("srtp_suite", Kind::PosInt, false),
                ("srtp_crypto", Kind::Str, false),
                ("streams", Kind::Array, false),
            ],
        )?;
        if self.config.lock_rtp_forward
            && let Some(key) = &self.config.admin_key
        {
            CODES.check_secret(Some(key), body, "admin_key")?;
        }
        let rid = self.room_with_secret(body)?;
        let family = get_str(body, "host_family");
        if let Some(f) = family.filter(|f| !matches!(*f, "ipv4" | "ipv6")) {
            return Err((
                ERROR_INVALID_ELEMENT,
                format!("Unsupported protocol family ({f})"),
            ));
        }
        let pid = get_u64(body, "publisher_id").unwrap_or_default();
        let Some(&h) = self.rooms[&rid].participants.get(&pid) else {
            return Err((ERROR_NO_SUCH_FEED, format!("No such publisher ({pid})")));
        };
        let default_host = get_str(body, "host").unwrap_or_default().to_owned();
        let default_srtp = srtp(body)?;
        let legacy = !body.contains_key("streams");
        let Some(Role::Publisher(p)) = self.handles.get(&h) else {
            return Err((ERROR_NO_SUCH_FEED, format!("No such publisher ({pid})")));
        };
        let requests = if legacy {
            legacy_requests(body, p)?
        } else {
            stream_requests(body, p)?
        };
        let mut created = Vec::new();
        for r in requests {
            let handles = &self.handles;
            // Ids drawn for this request's earlier streams are taken too.
            let id = pick_forwarder_id(&mut self.ids, |id| {
                created.iter().any(|(f, _): &(Forwarder, _)| f.id == id)
                    || handles.values().any(|role| {
                        matches!(role, Role::Publisher(p) if p.forwarders.iter().any(|f| f.id == id))
                    })
            });
            let host = r.host.unwrap_or_else(|| default_host.clone());
            let srtp = r.srtp.or_else(|| default_srtp.clone());
            created.push((
                Forwarder {
                    id,
                    mid: r.mid,
                    kind: r.kind,
                    host,
                    port: r.port,
                    rtcp_port: r.rtcp_port,
                    pt: r.pt,
                    ssrc: r.ssrc,
                    substream: r.substream,
                    srtp: srtp.is_some(),
                },
                srtp,
            ));
        }
        for (f, srtp) in &created {
            self.out.media(MediaCommand::RtpForward {
                id: f.id,
                from: h,
                mid: f.mid.clone(),
                host: f.host.clone(),
                port: f.port,
                ssrc: f.ssrc,
                payload_type: f.pt,
                srtp: srtp.clone(),
            });
        }
        let forwarders: Vec<Forwarder> = created.into_iter().map(|(f, _)| f).collect();
        let data = if legacy {
            let mut rtp = json!({"host": default_host});
            for f in &forwarders {
                let key = match (f.kind, f.substream) {
                    (MediaKind::Audio, _) => "audio".to_owned(),
                    (MediaKind::Video, Some(s)) if s > 0 => format!("video_{}", s + 1),
                    (MediaKind::Video, _) => "video".to_owned(),
                    (MediaKind::Application, _) => "data".to_owned(),
                };
                rtp[format!("{key}_stream_id")] = f.id.into();
                rtp[key] = f.port.into();
            }
            rtp["warning"] = "deprecated_api".into();
            json!({"videoroom": "rtp_forward", "room": rid, "publisher_id": pid,
                "rtp_stream": rtp})
        } else {
            let list: Vec<Value> = forwarders.iter().map(forwarder_json).collect();
            json!({"videoroom": "rtp_forward", "room": rid, "publisher_id": pid,
                "forwarders": list})
        };
        if let Some(Role::Publisher(p)) = self.handles.get_mut(&h) {
            p.forwarders.extend(forwarders);
        }
        Ok(data)
    }

    pub(super) fn stop_rtp_forward(&mut self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(
            body,
            &[
                ROOM,
                ("publisher_id", Kind::PosInt, true),
                ("stream_id", Kind::PosInt, true),
                ("secret", Kind::Str, false),
            ],
        )?;
        let rid = self.room_with_secret(body)?;
        let pid = get_u64(body, "publisher_id").unwrap_or_default();
        let sid = get_u64(body, "stream_id").unwrap_or_default();
        let p = self.rooms[&rid]
            .participants
            .get(&pid)
            .copied()
            .and_then(|h| match self.handles.get_mut(&h) {
                Some(Role::Publisher(p)) => Some(p),
                _ => None,
            });
        let Some(p) = p else {
            return Err((ERROR_NO_SUCH_FEED, format!("No such publisher ({pid})")));
        };
        let Some(i) = p.forwarders.iter().position(|f| u64::from(f.id) == sid) else {
            return Err((ERROR_NO_SUCH_FEED, format!("No such stream ({sid})")));
        };
        let f = p.forwarders.remove(i);
        self.out.media(MediaCommand::StopRtpForward { id: f.id });
        Ok(
            json!({"videoroom": "stop_rtp_forward", "room": rid, "publisher_id": pid,
            "stream_id": sid}),
        )
    }

    pub(super) fn list_forwarders(&self, body: &Map<String, Value>) -> Result<Value, Failure> {
        check(body, &[ROOM, ("secret", Kind::Str, false)])?;
        let rid = self.room_with_secret(body)?;
        let publishers: Vec<Value> = self.rooms[&rid]
            .participants
            .values()
            .filter_map(|h| match self.handles.get(h) {
                Some(Role::Publisher(p)) if !p.forwarders.is_empty() => {
                    let mut m = json!({"publisher_id": p.id});
                    if let Some(d) = &p.display {
                        m["display"] = d.clone().into();
                    }
                    let list: Vec<Value> = p.forwarders.iter().map(forwarder_json).collect();
                    m["forwarders"] = list.into();
                    Some(m)
                }
                _ => None,
            })
            .collect();
        Ok(json!({"videoroom": "forwarders", "room": rid, "publishers": publishers}))
    }
}

/// One forwarder to create.
struct ForwardRequest {
    mid: String,
    kind: MediaKind,
    host: Option<String>,
    port: u16,
    rtcp_port: Option<u16>,
    pt: Option<u8>,
    ssrc: Option<u32>,
    substream: Option<u8>,
    srtp: Option<(u8, String)>,
}

/// `srtp_suite` + `srtp_crypto` of a request or stream entry.
fn srtp(m: &Map<String, Value>) -> Result<Option<(u8, String)>, Failure> {
    let (Some(suite), Some(crypto)) = (get_u64(m, "srtp_suite"), get_str(m, "srtp_crypto")) else {
        return Ok(None);
    };
    match suite {
        32 | 80 => Ok(Some((suite as u8, crypto.to_owned()))),
        _ => Err((
            ERROR_INVALID_ELEMENT,
            format!("Invalid SRTP suite ({suite})"),
        )),
    }
}

fn port(v: Option<u64>) -> Option<u16> {
    v.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0)
}

/// The `streams` array of an `rtp_forward`.
fn stream_requests(
    body: &Map<String, Value>,
    p: &Publisher,
) -> Result<Vec<ForwardRequest>, Failure> {
    let list = body
        .get("streams")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    for e in list {
        let m = e.as_object().ok_or((
            ERROR_INVALID_ELEMENT,
            "Invalid element type (streams should be an array of objects)".to_owned(),
        ))?;
        check(
            m,
            &[
                ("mid", Kind::Str, true),
                ("port", Kind::PosInt, true),
                ("host", Kind::Str, false),
                ("host_family", Kind::Str, false),
                ("rtcp_port", Kind::PosInt, false),
                ("ssrc", Kind::PosInt, false),
                ("pt", Kind::PosInt, false),
                ("simulcast", Kind::Bool, false),
                ("port_2", Kind::PosInt, false),
                ("port_3", Kind::PosInt, false),
                ("srtp_suite", Kind::PosInt, false),
                ("srtp_crypto", Kind::Str, false),
            ],
        )?;
        let mid = get_str(m, "mid").unwrap_or_default();
        let Some(st) = p.streams.iter().find(|s| s.mid == mid) else {
            return Err((ERROR_NO_SUCH_FEED, format!("No such mid '{mid}' published")));
        };
        let srtp = srtp(m)?;
        let layered = st.simulcast && get_bool(m, "simulcast") != Some(true);
        for (i, key, ssrc_key, pt_key) in [
            (0u8, "port", "ssrc", "pt"),
            (1, "port_2", "ssrc_2", "pt_2"),
            (2, "port_3", "ssrc_3", "pt_3"),
        ] {
            let Some(port) = port(get_u64(m, key)) else {
                if i == 0 {
                    return Err((ERROR_INVALID_ELEMENT, "Invalid element (port)".to_owned()));
                }
                continue;
            };
            out.push(ForwardRequest {
                mid: mid.to_owned(),
                kind: st.kind,
                host: get_str(m, "host").map(str::to_owned),
                port,
                rtcp_port: if i == 0 {
                    port_of(m, "rtcp_port")
                } else {
                    None
                },
                pt: get_u64(m, pt_key).and_then(|v| u8::try_from(v).ok()),
                ssrc: get_u64(m, ssrc_key).and_then(|v| u32::try_from(v).ok()),
                substream: (layered && st.kind == MediaKind::Video).then_some(i),
                srtp: srtp.clone(),
            });
        }
    }
    Ok(out)
}

fn port_of(m: &Map<String, Value>, key: &str) -> Option<u16> {
    port(get_u64(m, key))
}

/// The legacy `audio_port`/`video_port`/`data_port` form: the first stream of each kind.
fn legacy_requests(
    body: &Map<String, Value>,
    p: &Publisher,
) -> Result<Vec<ForwardRequest>, Failure> {
    check(
        body,
        &[
            ("audio_port", Kind::PosInt, false),
            ("audio_rtcp_port", Kind::PosInt, false),
            ("audio_ssrc", Kind::PosInt, false),
            ("audio_pt", Kind::PosInt, false),
            ("video_port", Kind::PosInt, false),
            ("video_rtcp_port", Kind::PosInt, false),
            ("video_ssrc", Kind::PosInt, false),
            ("video_pt", Kind::PosInt, false),
            ("video_port_2", Kind::PosInt, false),
            ("video_port_3", Kind::PosInt, false),
            ("data_port", Kind::PosInt, false),
        ],
    )?;
    let mut out = Vec::new();
    for (kind, prefix) in [
        (MediaKind::Audio, "audio"),
        (MediaKind::Video, "video"),
        (MediaKind::Application, "data"),
    ] {
        let Some(st) = p.streams.iter().find(|s| s.kind == kind && !s.disabled) else {
            continue;
        };
        let suffixes: &[(u8, &str)] = if kind == MediaKind::Video {
            &[(0, ""), (1, "_2"), (2, "_3")]
        } else {
            &[(0, "")]
        };
        for &(i, suffix) in suffixes {
            let Some(port) = port_of(body, &format!("{prefix}_port{suffix}")) else {
                continue;
            };
            out.push(ForwardRequest {
                mid: st.mid.clone(),
                kind,
                host: None,
                port,
                rtcp_port: (i == 0)
                    .then(|| port_of(body, &format!("{prefix}_rtcp_port")))
                    .flatten(),
                pt: get_u64(body, &format!("{prefix}_pt{suffix}"))
                    .and_then(|v| u8::try_from(v).ok()),
                ssrc: get_u64(body, &format!("{prefix}_ssrc{suffix}"))
                    .and_then(|v| u32::try_from(v).ok()),
                substream: (!suffix.is_empty()).then_some(i),
                srtp: None,
            });
        }
    }
    Ok(out)
}

/// A forwarder as `rtp_forward` and `listforwarders` show it.
fn forwarder_json(f: &Forwarder) -> Value {
    let mut m = json!({"stream_id": f.id, "type": kind_str(f.kind), "host": f.host,
        "port": f.port});
    if let Some(p) = f.rtcp_port {
        m["remote_rtcp_port"] = p.into();
    }
    if let Some(pt) = f.pt {
        m["pt"] = pt.into();
    }
    if let Some(s) = f.ssrc {
        m["ssrc"] = s.into();
    }
    if let Some(s) = f.substream {
        m["substream"] = s.into();
    }
    if f.srtp {
        m["srtp"] = true.into();
    }
    m
}
