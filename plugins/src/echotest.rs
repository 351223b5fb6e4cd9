//! `janus.plugin.echotest` (Janus 1.1.2, API version 7): whatever the peer sends comes back
//! on the same PeerConnection. Specification: `shared/janus-api/echotest.md`.
//!
//! Every message is asynchronous (`ack` with `I'm taking my time!`, then an event with the
//! same transaction). The echo itself is a set of [`MediaCommand::Forward`]s from the handle
//! to itself, one per audio/video mid, installed at `webrtcup`; settings become
//! [`MediaCommand::SetSending`], [`MediaCommand::SetBitrateCap`], [`MediaCommand::SetLayers`]
//! and [`MediaCommand::RequestKeyframe`]. Data-channel text comes back prefixed with
//! `Janus EchoTest here! You wrote: `, binary unchanged.
//!
//! Simulcast layer changes the media side reports ([`PluginInput::LayerChanged`]) become
//! `substream` / `temporal` events.
//!
//! Not done: recording (`record`/`filename` are accepted and ignored, as a Janus build without
//! a writable recording directory effectively does), playout-delay (`min_delay`/`max_delay`
//! are validated and ignored).

use std::collections::HashMap;
use std::time::Instant;

use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    Jsep, JsepType, LayerPrefs, MediaCommand, MediaKind as PeerKind, PeerEvent, Plugin, PluginInfo,
    PluginInput, PluginOutput,
};
use portunus_sdp::jsep::{AnswerConfig, generate_answer};
use portunus_sdp::{CodecName, Direction, MediaKind, Sdp};
use serde_json::{Map, Value, json};

use crate::util::{Kind, Outbox, Param, get_bool, get_str, get_u64, mline_codec, validate};

/// Package name clients attach to.
pub const PACKAGE: &str = "janus.plugin.echotest";

const ERROR_INVALID_ELEMENT: u16 = 413;
const ERROR_INVALID_SDP: u16 = 414;

const PARAMS: &[Param] = &[
    ("audio", Kind::Bool, false),
    ("video", Kind::Bool, false),
    ("bitrate", Kind::PosInt, false),
    ("record", Kind::Bool, false),
    ("filename", Kind::Str, false),
    ("substream", Kind::PosInt, false),
    ("temporal", Kind::PosInt, false),
    ("fallback", Kind::PosInt, false),
    ("audiocodec", Kind::Str, false),
    ("videocodec", Kind::Str, false),
    ("videoprofile", Kind::Str, false),
    ("opusred", Kind::Bool, false),
    ("min_delay", Kind::Int, false),
    ("max_delay", Kind::Int, false),
];

/// The members that make a message meaningful on their own (without a JSEP).
const SUPPORTED: &[&str] = &[
    "audio",
    "video",
    "videocodec",
    "videoprofile",
    "opusred",
    "bitrate",
    "substream",
    "temporal",
    "fallback",
    "record",
    "min_delay",
    "max_delay",
];

/// The EchoTest plugin.
#[derive(Debug, Default)]
pub struct EchoTest {
    sessions: HashMap<HandleId, Session>,
    out: Outbox,
}

#[derive(Debug)]
struct Session {
    audio_active: bool,
    video_active: bool,
    bitrate: u64,
    layers: LayerPrefs,
    /// Negotiated audio/video m-lines: (mid, kind, codec).
    mlines: Vec<(String, MediaKind, Option<CodecName>)>,
    /// `webrtcup` seen and no hangup since: forwards are installed.
    up: bool,
    /// The simulcast (substream, temporal layer) last reported forwarded, per video mid.
    current: HashMap<String, (u8, u8)>,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            audio_active: true,
            video_active: true,
            bitrate: 0,
            layers: LayerPrefs::default(),
            mlines: Vec::new(),
            up: false,
            current: HashMap::new(),
        }
    }
}

impl EchoTest {
    /// A plugin without sessions.
    pub fn new() -> Self {
        Self::default()
    }

    fn handle_message(
        &mut self,
        handle: HandleId,
        transaction: &str,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) {
        if !self.sessions.contains_key(&handle) {
            self.out
                .hard_error(handle, "No session associated with this handle...");
            return;
        }
        self.out.ack(handle, Some("I'm taking my time!"));
        let (data, answer) = match self.process(handle, body, jsep) {
            Ok(answer) => (json!({"echotest": "event", "result": "ok"}), answer),
            Err((code, reason)) => (
                json!({"echotest": "event", "error_code": code, "error": reason}),
                None,
            ),
        };
        self.out.event(handle, Some(transaction), data, answer);
    }

    /// Applies a message; the answer JSEP when an offer came with it.
    fn process(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
        jsep: Option<&Jsep>,
    ) -> Result<Option<Jsep>, (u16, String)> {
        validate(body, PARAMS).map_err(|e| (ERROR_INVALID_ELEMENT, e.reason().to_owned()))?;
        if jsep.is_none() && !SUPPORTED.iter().any(|k| body.contains_key(*k)) {
            return Err((
                ERROR_INVALID_ELEMENT,
                "Message error: no supported attributes found".into(),
            ));
        }
        let Some(s) = self.sessions.get_mut(&handle) else {
            return Ok(None);
        };
        let mut cmds = Vec::new();
        if let Some(a) = get_bool(body, "audio") {
            if a != s.audio_active && s.up {
                cmds.extend(set_sending(handle, s, MediaKind::Audio, a));
            }
            s.audio_active = a;
        }
        if let Some(v) = get_bool(body, "video") {
            if v != s.video_active && s.up {
                cmds.extend(set_sending(handle, s, MediaKind::Video, v));
            }
            if v && !s.video_active {
                // Janus sends a PLI when video is switched back on.
                cmds.push(MediaCommand::RequestKeyframe { handle, mid: None });
            }
            s.video_active = v;
        }
        if let Some(b) = get_u64(body, "bitrate") {
            s.bitrate = b;
            cmds.push(MediaCommand::SetBitrateCap {
                handle,
                bitrate: u32::try_from(b).unwrap_or(u32::MAX),
            });
        }
        let mut layers = s.layers;
        let layer = |name: &str| -> Result<Option<u8>, (u16, String)> {
            match get_u64(body, name) {
                None => Ok(None),
                Some(v @ 0..=2) => Ok(Some(v as u8)),
                Some(_) => Err((
                    ERROR_INVALID_ELEMENT,
                    format!("Invalid value ({name} should be 0, 1 or 2)"),
                )),
            }
        };
        let outcome = (|| {
            if let Some(v) = layer("substream")? {
                layers.substream = v;
            }
            if let Some(v) = layer("temporal")? {
                layers.temporal = v;
            }
            Ok(())
        })();
        if let Some(f) = get_u64(body, "fallback") {
            layers.fallback_us = f;
        }
        // A layer asked for that is already the one forwarded is notified at once.
        for (mid, &(substream, temporal)) in &s.current {
            if get_u64(body, "substream") == Some(u64::from(substream)) {
                self.out.event(
                    handle,
                    None,
                    layer_event(s, mid, "substream", substream),
                    None,
                );
            }
            if get_u64(body, "temporal") == Some(u64::from(temporal)) {
                self.out.event(
                    handle,
                    None,
                    layer_event(s, mid, "temporal", temporal),
                    None,
                );
            }
        }
        if layers != s.layers {
            s.layers = layers;
            if s.up {
                cmds.extend(video_mids(s).map(|mid| MediaCommand::SetLayers {
                    to: handle,
                    to_mid: mid,
                    layers,
                }));
            }
        }
        for c in cmds {
            self.out.media(c);
        }
        outcome?;
        match jsep {
            Some(j) if j.kind == JsepType::Offer => self.answer(handle, body, j).map(Some),
            _ => Ok(None),
        }
    }

    fn answer(
        &mut self,
        handle: HandleId,
        body: &Map<String, Value>,
        offer: &Jsep,
    ) -> Result<Jsep, (u16, String)> {
        let invalid = |e: portunus_sdp::SdpError| {
            (
                ERROR_INVALID_SDP,
                format!("Error parsing offer: {}", e.janus_reason()),
            )
        };
        let sdp = Sdp::parse(&offer.sdp).map_err(invalid)?;
        let mut config = AnswerConfig::echotest();
        if let Some(c) = get_str(body, "audiocodec").and_then(CodecName::parse) {
            config.audio_codecs = vec![c];
        }
        let video_codec = get_str(body, "videocodec").and_then(CodecName::parse);
        if let Some(c) = video_codec {
            config.video_codecs = vec![c];
        }
        if let Some(p) = get_str(body, "videoprofile") {
            match video_codec {
                Some(CodecName::Vp9) => config.vp9_profile = Some(p.to_owned()),
                Some(CodecName::H264) => config.h264_profile = Some(p.to_owned()),
                _ => {}
            }
        }
        config.opus_red = get_bool(body, "opusred").unwrap_or(false);
        let answer = generate_answer(&sdp, &config, &[]).map_err(invalid)?;
        let mut mlines = Vec::new();
        for (i, (o, a)) in sdp.media.iter().zip(&answer.media).enumerate() {
            let kind = a.kind();
            if kind == MediaKind::Application
                || a.port() == 0
                || a.direction() == Direction::Inactive
            {
                continue;
            }
            let mid = o.mid_or_index(i).as_str().to_owned();
            mlines.push((mid, kind, mline_codec(a)));
        }
        if let Some(s) = self.sessions.get_mut(&handle) {
            let old: Vec<String> = s.mlines.iter().map(|m| m.0.clone()).collect();
            s.mlines = mlines;
            if s.up {
                // Renegotiation after webrtcup: echo new m-lines, stop removed ones.
                for mid in &old {
                    if !s.mlines.iter().any(|m| &m.0 == mid) {
                        self.out.media(MediaCommand::Unforward {
                            to: handle,
                            to_mid: mid.clone(),
                        });
                    }
                }
                let added: Vec<String> = s
                    .mlines
                    .iter()
                    .filter(|m| !old.contains(&m.0))
                    .map(|m| m.0.clone())
                    .collect();
                for mid in added {
                    install(&mut self.out, handle, s, &mid);
                }
            }
        }
        let mut j = Jsep::new(JsepType::Answer, answer.to_string());
        j.e2ee = offer.e2ee;
        Ok(j)
    }

    fn handle_peer(&mut self, handle: HandleId, event: PeerEvent) {
        let Some(s) = self.sessions.get_mut(&handle) else {
            return;
        };
        match event {
            PeerEvent::WebrtcUp => {
                if s.up {
                    return;
                }
                s.up = true;
                let mids: Vec<String> = s.mlines.iter().map(|m| m.0.clone()).collect();
                for mid in mids {
                    install(&mut self.out, handle, s, &mid);
                }
                if s.bitrate > 0 {
                    self.out.media(MediaCommand::SetBitrateCap {
                        handle,
                        bitrate: u32::try_from(s.bitrate).unwrap_or(u32::MAX),
                    });
                }
            }
            PeerEvent::SlowLink {
                kind,
                uplink: false,
                ..
            } => {
                let mut data = json!({
                    "echotest": "event",
                    "event": "slow_link",
                    "media": kind.as_str(),
                });
                if kind == PeerKind::Video {
                    data["current-bitrate"] = s.bitrate.into();
                }
                self.out.event(handle, None, data, None);
            }
            PeerEvent::Hangup { .. } => {
                if s.up {
                    for (mid, _, _) in &s.mlines {
                        self.out.media(MediaCommand::Unforward {
                            to: handle,
                            to_mid: mid.clone(),
                        });
                    }
                }
                // Janus resets the settings with the PeerConnection.
                *s = Session::default();
                self.out.event(
                    handle,
                    None,
                    json!({"echotest": "event", "result": "done"}),
                    None,
                );
            }
            _ => {}
        }
    }

    /// A simulcast layer change on `mid`: `substream` and/or `temporal` events for the values
    /// that differ from the last report.
    fn handle_layer_changed(&mut self, handle: HandleId, mid: &str, substream: u8, temporal: u8) {
        let Some(s) = self.sessions.get_mut(&handle) else {
            return;
        };
        if !s
            .mlines
            .iter()
            .any(|m| m.0 == mid && m.1 == MediaKind::Video)
        {
            return;
        }
        let before = s.current.insert(mid.to_owned(), (substream, temporal));
        if before.map(|b| b.0) != Some(substream) {
            let ev = layer_event(s, mid, "substream", substream);
            self.out.event(handle, None, ev, None);
        }
        if before.map(|b| b.1) != Some(temporal) {
            let ev = layer_event(s, mid, "temporal", temporal);
            self.out.event(handle, None, ev, None);
        }
    }

    fn handle_data(
        &mut self,
        handle: HandleId,
        label: Option<String>,
        binary: bool,
        data: Vec<u8>,
    ) {
        if !self.sessions.contains_key(&handle) {
            return;
        }
        let data = if binary {
            data
        } else {
            let mut reply = b"Janus EchoTest here! You wrote: ".to_vec();
            reply.extend_from_slice(&data);
            reply
        };
        self.out.media(MediaCommand::SendData {
            handle,
            label,
            binary,
            data,
        });
    }

    fn handle_info(&self, handle: HandleId) -> Map<String, Value> {
        let mut m = Map::new();
        let Some(s) = self.sessions.get(&handle) else {
            m.insert("destroyed".into(), 1.into());
            return m;
        };
        m.insert("audio_active".into(), s.audio_active.into());
        m.insert("video_active".into(), s.video_active.into());
        let codec = |k: MediaKind| {
            s.mlines
                .iter()
                .find(|m| m.1 == k)
                .and_then(|m| m.2)
                .map(CodecName::as_str)
        };
        if let Some(c) = codec(MediaKind::Audio) {
            m.insert("audio_codec".into(), c.into());
        }
        if let Some(c) = codec(MediaKind::Video) {
            m.insert("video_codec".into(), c.into());
        }
        m.insert("bitrate".into(), s.bitrate.into());
        m.insert("peer-bitrate".into(), 0.into());
        m.insert("hangingup".into(), 0.into());
        m.insert("destroyed".into(), 0.into());
        m
    }
}

/// `{"echotest":"event","videocodec":"vp8","substream":1}` (or `temporal`) for video `mid`.
fn layer_event(s: &Session, mid: &str, which: &str, value: u8) -> Value {
    let mut ev = json!({"echotest": "event"});
    if let Some(c) = s.mlines.iter().find(|m| m.0 == mid).and_then(|m| m.2) {
        ev["videocodec"] = c.as_str().into();
    }
    ev[which] = value.into();
    ev
}

/// Forward one mid to itself with the session's settings.
fn install(out: &mut Outbox, handle: HandleId, s: &Session, mid: &str) {
    let Some(&(_, kind, _)) = s.mlines.iter().find(|m| m.0 == mid) else {
        return;
    };
    out.media(MediaCommand::Forward {
        from: handle,
        from_mid: mid.to_owned(),
        to: handle,
        to_mid: mid.to_owned(),
        layers: s.layers,
    });
    let active = match kind {
        MediaKind::Audio => s.audio_active,
        _ => s.video_active,
    };
    if !active {
        out.media(MediaCommand::SetSending {
            to: handle,
            to_mid: mid.to_owned(),
            send: false,
        });
    }
}

fn set_sending(
    handle: HandleId,
    s: &Session,
    kind: MediaKind,
    send: bool,
) -> impl Iterator<Item = MediaCommand> + '_ {
    s.mlines
        .iter()
        .filter(move |m| m.1 == kind)
        .map(move |m| MediaCommand::SetSending {
            to: handle,
            to_mid: m.0.clone(),
            send,
        })
}

fn video_mids(s: &Session) -> impl Iterator<Item = String> + '_ {
    s.mlines
        .iter()
        .filter(|m| m.1 == MediaKind::Video)
        .map(|m| m.0.clone())
}

impl Plugin for EchoTest {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: PACKAGE,
            name: "JANUS EchoTest plugin",
            author: "Meetecho s.r.l.",
            description: "This is a trivial EchoTest plugin for Janus, just used to showcase the plugin interface.",
            version: 7,
            version_string: "0.0.7",
        }
    }

    fn handle(&mut self, _now: Instant, input: PluginInput) {
        match input {
            PluginInput::Attach { handle, .. } => {
                self.sessions.insert(handle, Session::default());
            }
            PluginInput::Message {
                handle,
                transaction,
                body,
                jsep,
            } => self.handle_message(handle, &transaction, &body, jsep.as_ref()),
            PluginInput::Peer { handle, event } => self.handle_peer(handle, event),
            PluginInput::Data {
                handle,
                label,
                binary,
                data,
            } => self.handle_data(handle, label, binary, data),
            PluginInput::LayerChanged {
                handle,
                mid,
                substream,
                temporal,
            } => self.handle_layer_changed(handle, &mid, substream, temporal),
            PluginInput::Detach { handle } => {
                self.sessions.remove(&handle);
            }
            PluginInput::QueryHandle { handle } => {
                let info = self.handle_info(handle);
                self.out.push(PluginOutput::HandleInfo { handle, info });
            }
            _ => {}
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop()
    }
}
