//! Mountpoint definitions from `create` bodies (the `media` array or the legacy flat keys),
//! and opening a mountpoint: ports resolved and held, inputs opened.

use super::*;
use crate::util::{codec_from_rtpmap, get_bool, get_u64};

const MEDIA_PARAMS: &[Param] = &[
    ("type", Kind::Str, true),
    ("mid", Kind::Str, true),
    ("label", Kind::Str, false),
    ("msid", Kind::Str, false),
    ("mcast", Kind::Str, false),
    ("iface", Kind::Str, false),
    ("port", Kind::PosInt, true),
    ("rtcpport", Kind::PosInt, false),
    ("pt", Kind::PosInt, false),
    ("codec", Kind::Str, false),
    ("rtpmap", Kind::Str, false),
    ("fmtp", Kind::Str, false),
    ("skew", Kind::Bool, false),
    ("bufferkf", Kind::Bool, false),
    ("simulcast", Kind::Bool, false),
    ("port2", Kind::PosInt, false),
    ("port3", Kind::PosInt, false),
    ("svc", Kind::Bool, false),
    ("datatype", Kind::Str, false),
    ("buffermsg", Kind::Bool, false),
];

const AUDIO_PARAMS: &[Param] = &[
    ("audiomcast", Kind::Str, false),
    ("audioport", Kind::PosInt, true),
    ("audiortcpport", Kind::PosInt, false),
    ("audiopt", Kind::PosInt, true),
    ("audiocodec", Kind::Str, false),
    ("audiortpmap", Kind::Str, false),
    ("audiofmtp", Kind::Str, false),
    ("audioiface", Kind::Str, false),
    ("audioskew", Kind::Bool, false),
];

const VIDEO_PARAMS: &[Param] = &[
    ("videomcast", Kind::Str, false),
    ("videoport", Kind::PosInt, true),
    ("videortcpport", Kind::PosInt, false),
    ("videopt", Kind::PosInt, true),
    ("videocodec", Kind::Str, false),
    ("videortpmap", Kind::Str, false),
    ("videofmtp", Kind::Str, false),
    ("videobufferkf", Kind::Bool, false),
    ("videoiface", Kind::Str, false),
    ("videosimulcast", Kind::Bool, false),
    ("videoport2", Kind::PosInt, false),
    ("videoport3", Kind::PosInt, false),
    ("videoskew", Kind::Bool, false),
    ("videosvc", Kind::Bool, false),
];

const DATA_PARAMS: &[Param] = &[
    ("dataport", Kind::PosInt, true),
    ("databuffermsg", Kind::Bool, false),
    ("datatype", Kind::Str, false),
    ("dataiface", Kind::Str, false),
];

/// `create` of an `rtp` mountpoint: the streams, and whether the legacy keys were used.
pub(super) fn rtp_streams(body: &Map<String, Value>) -> Result<(Vec<StreamConfig>, bool), Failure> {
    let Some(media) = body.get("media") else {
        return legacy_streams(body).map(|s| (s, true));
    };
    let list = media.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        return Err(nothing_to_stream());
    }
    let empty = Map::new();
    let mut streams = Vec::new();
    for m in list {
        // Janus reads members of a non-object as absent.
        let m = m.as_object().unwrap_or(&empty);
        check(m, MEDIA_PARAMS)?;
        let kind = match get_str(m, "type")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "audio" => InputKind::Audio,
            "video" => InputKind::Video,
            "data" => InputKind::Data,
            _ => {
                return Err((
                    ERROR_CANT_CREATE,
                    "Unsupported media type in media stream".into(),
                ));
            }
        };
        let video = kind == InputKind::Video;
        let codec_name = get_str(m, "codec")
            .map(str::to_owned)
            .or_else(|| get_str(m, "rtpmap").and_then(|r| r.split('/').next().map(str::to_owned)));
        let mut s = StreamConfig {
            kind,
            mid: get_str(m, "mid").unwrap_or_default().to_owned(),
            label: get_str(m, "label").unwrap_or(kind_str(kind)).to_owned(),
            msid: get_str(m, "msid").and_then(split_msid),
            port: port(m, "port"),
            port2: if video { port(m, "port2") } else { 0 },
            port3: if video { port(m, "port3") } else { 0 },
            rtcp_port: m.get("rtcpport").map(|_| port(m, "rtcpport")),
            mcast: get_str(m, "mcast").map(str::to_owned),
            iface: get_str(m, "iface").map(str::to_owned),
            pt: 0,
            codec: None,
            fmtp: get_str(m, "fmtp").map(str::to_owned),
            skew: get_bool(m, "skew").unwrap_or(false),
            bufferkf: video && get_bool(m, "bufferkf").unwrap_or(false),
            simulcast: video && get_bool(m, "simulcast").unwrap_or(false),
            svc: false,
            binary: false,
            buffermsg: false,
        };
        if kind == InputKind::Data {
            // Janus reads these two from the request root, not from the media entry.
            s.buffermsg = get_bool(body, "buffermsg").unwrap_or(false);
            s.binary = datatype(body, "datatype")?;
        } else {
            let failed = || {
                (
                    ERROR_CANT_CREATE,
                    "Can't add 'rtp' stream, error creating data source stream".to_owned(),
                )
            };
            s.codec = Some(
                codec_name
                    .as_deref()
                    .and_then(|c| codec(c, kind))
                    .ok_or_else(failed)?,
            );
            s.pt = payload_type(m, "pt").ok_or_else(failed)?;
            s.svc = video && get_bool(m, "svc").unwrap_or(false) && s.codec == Some(CodecName::Vp9);
        }
        streams.push(s);
    }
    Ok((streams, false))
}

/// The deprecated flat keys (`audio`, `audioport`, …): mids `a`, `v`, `d`.
fn legacy_streams(body: &Map<String, Value>) -> Result<Vec<StreamConfig>, Failure> {
    let on = |k| get_bool(body, k).unwrap_or(false);
    if !on("audio") && !on("video") && !on("data") {
        return Err(nothing_to_stream());
    }
    let mut streams = Vec::new();
    for (kind, prefix, mid, params) in [
        (InputKind::Audio, "audio", "a", AUDIO_PARAMS),
        (InputKind::Video, "video", "v", VIDEO_PARAMS),
        (InputKind::Data, "data", "d", DATA_PARAMS),
    ] {
        if !on(prefix) {
            continue;
        }
        check(body, params)?;
        let key = |k: &str| format!("{prefix}{k}");
        let mut s = StreamConfig::data(mid, port(body, &key("port")));
        s = s.with_kind(kind);
        let failed = || {
            (
                ERROR_CANT_CREATE,
                format!("Can't add 'rtp' stream, error creating {prefix} source stream"),
            )
        };
        if kind == InputKind::Data {
            s.binary = datatype(body, "datatype")?;
            s.buffermsg = get_bool(body, "databuffermsg").unwrap_or(false);
            s.iface = get_str(body, "dataiface").map(str::to_owned);
        } else {
            let name = get_str(body, &key("codec")).map(str::to_owned).or_else(|| {
                get_str(body, &key("rtpmap")).and_then(|r| r.split('/').next().map(str::to_owned))
            });
            s.codec = name.as_deref().and_then(|c| codec(c, kind));
            s.codec.ok_or_else(failed)?;
            s.pt = payload_type(body, &key("pt")).ok_or_else(failed)?;
            s.rtcp_port = body
                .get(&key("rtcpport"))
                .map(|_| port(body, &key("rtcpport")));
            s.mcast = get_str(body, &key("mcast")).map(str::to_owned);
            s.iface = get_str(body, &key("iface")).map(str::to_owned);
            s.fmtp = get_str(body, &key("fmtp")).map(str::to_owned);
            s.skew = get_bool(body, &key("skew")).unwrap_or(false);
        }
        if kind == InputKind::Video {
            s.bufferkf = get_bool(body, "videobufferkf").unwrap_or(false);
            s.simulcast = get_bool(body, "videosimulcast").unwrap_or(false);
            s.port2 = port(body, "videoport2");
            s.port3 = port(body, "videoport3");
            s.svc = get_bool(body, "videosvc").unwrap_or(false) && s.codec == Some(CodecName::Vp9);
        }
        streams.push(s);
    }
    Ok(streams)
}

fn nothing_to_stream() -> Failure {
    (
        ERROR_CANT_CREATE,
        "Can't add 'rtp' stream, no audio or video have to be streamed...".into(),
    )
}

/// A port member (validated as a non-negative integer); out of range reads as 0 = pick.
fn port(m: &Map<String, Value>, key: &str) -> u16 {
    get_u64(m, key)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0)
}

/// A payload type member; absent is 0 (as Janus), above 127 is refused.
fn payload_type(m: &Map<String, Value>, key: &str) -> Option<u8> {
    u8::try_from(get_u64(m, key).unwrap_or(0))
        .ok()
        .filter(|p| *p < 128)
}

/// `datatype`: `text` (default) or `binary`; returns whether binary.
fn datatype(m: &Map<String, Value>, key: &str) -> Result<bool, Failure> {
    match get_str(m, key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("text") => Ok(false),
        Some("binary") => Ok(true),
        Some(_) => Err((
            ERROR_INVALID_ELEMENT,
            "Invalid element (datatype can only be text or binary)".into(),
        )),
    }
}

/// A Janus codec name (`opus`, `vp8`, …, or an `rtpmap` encoding) of the right kind.
fn codec(name: &str, kind: InputKind) -> Option<CodecName> {
    let c = CodecName::parse(&name.to_ascii_lowercase()).or_else(|| codec_from_rtpmap(name, 0))?;
    let want = match kind {
        InputKind::Audio => portunus_sdp::MediaKind::Audio,
        InputKind::Video => portunus_sdp::MediaKind::Video,
        InputKind::Data => return None,
    };
    (c.kind() == want && c != CodecName::Dtmf).then_some(c)
}

/// `msid` is `<stream> <track>`; anything else is ignored, as Janus does.
fn split_msid(s: &str) -> Option<(String, String)> {
    let mut it = s.split_whitespace();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Some((a.to_owned(), b.to_owned())),
        _ => None,
    }
}

impl Streaming {
    /// Holds the mountpoint's ports (resolving 0s from the range), adds it and opens its
    /// inputs. Fails with the index of the stream whose port is taken (nothing is held then).
    pub(super) fn add_mountpoint(&mut self, mut config: MountpointConfig) -> Result<(), usize> {
        let mut held = Vec::new();
        let mut failed = None;
        let mut seen_mids = BTreeSet::new();
        for (i, s) in config.streams.iter_mut().enumerate() {
            let mut wanted = vec![&mut s.port];
            if let Some(p) = s.rtcp_port.as_mut() {
                wanted.push(p);
            }
            if s.simulcast {
                wanted.push(&mut s.port2);
                wanted.push(&mut s.port3);
            }
            let mut ok = seen_mids.insert(s.mid.clone());
            for p in wanted {
                if !ok {
                    break;
                }
                match self.take_port(*p) {
                    Some(got) => {
                        *p = got;
                        held.push(got);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                failed = Some(i);
                break;
            }
        }
        if let Some(i) = failed {
            for p in held {
                self.ports.remove(&p);
            }
            return Err(i);
        }
        let name = config
            .name
            .clone()
            .filter(|n| n.parse::<i64>().map_or(true, |v| v == 0))
            .unwrap_or_else(|| match &config.name {
                // Janus turns a numeric name into `mp-<name>`.
                Some(n) => format!("mp-{n}"),
                None => format!("mp-{}", config.id),
            });
        let description = config.description.clone().unwrap_or_else(|| name.clone());
        let mp = Mountpoint {
            config,
            name,
            description,
            enabled: true,
            viewers: Vec::new(),
        };
        for c in mp.inputs() {
            self.out.media(c);
        }
        self.mountpoints.insert(mp.config.id, mp);
        Ok(())
    }

    /// A free port: `wanted` itself, or for 0 the next free one of the range.
    fn take_port(&mut self, wanted: u16) -> Option<u16> {
        if wanted != 0 {
            return self.ports.insert(wanted).then_some(wanted);
        }
        let (lo, hi) = self.config.rtp_port_range;
        let (lo, hi) = (lo.min(hi).max(1), hi.max(lo));
        let span = u32::from(hi - lo) + 1;
        for _ in 0..span {
            let p = self.next_port.clamp(lo, hi);
            self.next_port = if p >= hi { lo } else { p + 1 };
            if self.ports.insert(p) {
                return Some(p);
            }
        }
        None
    }

    /// Closes a mountpoint's inputs and gives its ports back.
    pub(super) fn close_inputs(&mut self, mp: &Mountpoint) {
        for s in &mp.config.streams {
            self.ports.remove(&s.port);
            if let Some(p) = s.rtcp_port {
                self.ports.remove(&p);
            }
            if s.simulcast {
                self.ports.remove(&s.port2);
                self.ports.remove(&s.port3);
            }
            self.out.media(MediaCommand::CloseRtpInput {
                mountpoint: mp.config.id,
                mid: s.mid.clone(),
            });
        }
    }
}
