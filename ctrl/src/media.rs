//! The seam between the control plane and the media side (SDP processing, ICE/DTLS, the
//! dataplane shards).
//!
//! Two directions:
//!
//! * **Into media**: the host calls a [`MediaEngine`] synchronously when a client JSEP arrives
//!   (before the plugin sees it), when a plugin JSEP leaves (before the client sees it), on
//!   trickle and when a PeerConnection must close. Its errors become the Janus error of the
//!   `message` request (465, 469, 471, 490 …). [`NoMedia`] is the stand-in used until the
//!   `portunus-sdp` / dataplane engine is wired: it only checks the SDP's first lines.
//! * **Out of media**: the dataplane reports [`PeerEvent`]s through
//!   [`ControlPlane::handle_peer_event`](crate::ControlPlane::handle_peer_event); the host turns
//!   them into `webrtcup`, `media`, `slowlink`, `hangup` and `trickle` events with Janus's
//!   shapes and rules, and forwards them to the plugin.

use std::time::Instant;

use serde_json::{Map, Value};

use crate::HandleId;
use crate::api::{ApiError, JanusCode};
use crate::plugin::MediaCommand;

/// `jsep.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsepType {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
}

impl JsepType {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Answer => "answer",
        }
    }
}

/// A JSEP object (session description plus Janus's extra members).
#[derive(Clone, Debug, PartialEq)]
pub struct Jsep {
    /// Offer or answer.
    pub kind: JsepType,
    /// The SDP text.
    pub sdp: String,
    /// Client → core: `trickle` (absent means true).
    pub trickle: Option<bool>,
    /// End-to-end encryption (insertable streams) flag.
    pub e2ee: bool,
    /// Core → plugin: this is a renegotiation.
    pub update: bool,
    /// Plugin → core: the plugin wants an ICE restart.
    pub restart: bool,
    /// Core → plugin: the simulcast description (`[{mindex, mid, rids|ssrcs, rid-ext}]`).
    pub simulcast: Option<Value>,
}

impl Jsep {
    /// A plain offer or answer.
    pub fn new(kind: JsepType, sdp: impl Into<String>) -> Self {
        Self {
            kind,
            sdp: sdp.into(),
            trickle: None,
            e2ee: false,
            update: false,
            restart: false,
            simulcast: None,
        }
    }

    /// The JSON form: `{type, sdp, simulcast?, update?, e2ee?}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), self.kind.as_str().into());
        m.insert("sdp".into(), self.sdp.clone().into());
        if let Some(s) = &self.simulcast {
            m.insert("simulcast".into(), s.clone());
        }
        if self.update {
            m.insert("update".into(), true.into());
        }
        if self.e2ee {
            m.insert("e2ee".into(), true.into());
        }
        Value::Object(m)
    }
}

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    /// Audio m-line.
    Audio,
    /// Video m-line.
    Video,
}

impl MediaKind {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }
}

/// Why a PeerConnection went away; the texts are Janus 1.1.2's `hangup` reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HangupReason {
    /// The client sent `hangup`.
    JanusApi,
    /// Admin `hangup_webrtc`.
    AdminApi,
    /// The plugin asked to close it.
    ClosePc,
    /// A DTLS alert arrived.
    DtlsAlert,
    /// The DTLS handshake timed out.
    DtlsTimeout,
    /// A DTLS error.
    DtlsError,
    /// SRTP setup failed.
    DtlsSrtpError,
    /// ICE failed.
    IceFailed,
    /// Candidate gathering failed.
    GatheringError,
    /// ICE gathering failed.
    IceGatheringError,
}

impl HangupReason {
    /// The `reason` text.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::JanusApi => "Janus API",
            Self::AdminApi => "Admin API",
            Self::ClosePc => "Close PC",
            Self::DtlsAlert => "DTLS alert",
            Self::DtlsTimeout => "DTLS timeout",
            Self::DtlsError => "DTLS error",
            Self::DtlsSrtpError => "DTLS-SRTP stack error",
            Self::IceFailed => "ICE failed",
            Self::GatheringError => "Gathering error",
            Self::IceGatheringError => "ICE gathering error",
        }
    }
}

/// Something that happened to a handle's PeerConnection, reported by the media side.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PeerEvent {
    /// ICE connected and DTLS done (`webrtcup`).
    WebrtcUp,
    /// Media started or stopped arriving on an m-line (`media`).
    Media {
        /// The m-line's mid.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
        /// Simulcast layer, for per-layer reports.
        substream: Option<u8>,
        /// Whether packets are arriving.
        receiving: bool,
    },
    /// Losses crossed `slowlink_threshold` in the last second (`slowlink`).
    SlowLink {
        /// The m-line's mid.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
        /// True: trouble on media the server sends; false: on media it receives.
        uplink: bool,
        /// Lost packets in the last period.
        lost: u32,
    },
    /// The PeerConnection is gone (`hangup`).
    Hangup {
        /// Why.
        reason: HangupReason,
    },
    /// A local candidate to trickle to the client (only with `full_trickle`); `None` = done.
    LocalCandidate {
        /// `{"sdpMid","sdpMLineIndex","candidate"}`, or `None` for `{"completed":true}`.
        candidate: Option<Value>,
    },
}

/// Why the host asks the media side to close a handle's PeerConnection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// A hangup (client, admin, plugin or failure).
    Hangup(HangupReason),
    /// The handle is being detached or its session destroyed.
    Detach,
}

/// The synchronous JSEP/ICE seam the host calls; the SDP and dataplane side implements it.
pub trait MediaEngine {
    /// A client JSEP passed the envelope checks: apply it (ICE, DTLS, codecs) and return what
    /// the plugin sees (anonymized SDP, simulcast info). `renegotiation` is true after a
    /// completed offer/answer round.
    ///
    /// # Errors
    /// The Janus error for the `message` request (465 `Error processing SDP`, 490 …).
    fn handle_remote_jsep(
        &mut self,
        now: Instant,
        handle: HandleId,
        jsep: &Jsep,
        renegotiation: bool,
    ) -> Result<Jsep, ApiError>;

    /// A plugin JSEP is about to go to the client: merge the server's ICE/DTLS details.
    ///
    /// # Errors
    /// Any error: the event is not sent (Janus behaves the same).
    fn handle_local_jsep(
        &mut self,
        now: Instant,
        handle: HandleId,
        jsep: &Jsep,
    ) -> Result<Jsep, ApiError>;

    /// Trickled candidates from the client (each a `{candidate, sdpMid?, sdpMLineIndex?}`
    /// object; invalid ones already filtered out), and whether gathering completed.
    fn handle_trickle(
        &mut self,
        now: Instant,
        handle: HandleId,
        candidates: &[Value],
        completed: bool,
    );

    /// Close the handle's PeerConnection.
    fn handle_close(&mut self, now: Instant, handle: HandleId, reason: CloseReason);

    /// A plugin's media intent (forward a stream, pause it, cap a bitrate, send data …),
    /// already checked to concern a handle of that plugin. The default ignores it.
    fn handle_media_command(&mut self, _now: Instant, _command: MediaCommand) {}

    /// The `webrtc` section (and friends) of Admin `handle_info` for this handle.
    fn handle_info(&self, _handle: HandleId) -> Option<Map<String, Value>> {
        None
    }
}

/// A stand-in engine with no media: passes SDPs through unchanged (the host has already
/// checked that they look like SDP).
#[derive(Clone, Debug, Default)]
pub struct NoMedia;

impl MediaEngine for NoMedia {
    fn handle_remote_jsep(
        &mut self,
        _now: Instant,
        _handle: HandleId,
        jsep: &Jsep,
        renegotiation: bool,
    ) -> Result<Jsep, ApiError> {
        let mut out = Jsep::new(jsep.kind, jsep.sdp.clone());
        out.update = renegotiation;
        out.e2ee = jsep.e2ee;
        Ok(out)
    }

    fn handle_local_jsep(
        &mut self,
        _now: Instant,
        _handle: HandleId,
        jsep: &Jsep,
    ) -> Result<Jsep, ApiError> {
        Ok(Jsep::new(jsep.kind, jsep.sdp.clone()))
    }

    fn handle_trickle(
        &mut self,
        _now: Instant,
        _handle: HandleId,
        _candidates: &[Value],
        _completed: bool,
    ) {
    }

    fn handle_close(&mut self, _now: Instant, _handle: HandleId, _reason: CloseReason) {}
}

/// The first checks of Janus's SDP parser (`janus_sdp_parse`), with its texts; the host runs
/// them on every JSEP before the engine sees it.
pub(crate) fn check_sdp(sdp: &str) -> Result<(), ApiError> {
    if !sdp.starts_with("v=") {
        return Err(ApiError::new(
            JanusCode::JsepInvalidSdp,
            "Invalid SDP (doesn't start with v=)",
        ));
    }
    let has = |p: &str| sdp.lines().any(|l| l.starts_with(p));
    if !(has("o=") && has("s=") && has("m=")) {
        return Err(ApiError::new(
            JanusCode::JsepInvalidSdp,
            "Missing mandatory lines (o=, s= or m=)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_check_uses_janus_texts() {
        let e = check_sdp("hello").unwrap_err();
        assert_eq!(e.code, JanusCode::JsepInvalidSdp);
        assert_eq!(e.reason, "Invalid SDP (doesn't start with v=)");
        let e = check_sdp("v=0\r\n").unwrap_err();
        assert_eq!(e.reason, "Missing mandatory lines (o=, s= or m=)");
        assert!(
            check_sdp(
                "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn no_media_passes_through_and_marks_update() {
        let mut m = NoMedia;
        let out = m
            .handle_remote_jsep(
                Instant::now(),
                HandleId(1),
                &Jsep::new(JsepType::Offer, "v=0"),
                true,
            )
            .unwrap();
        assert!(out.update);
        assert_eq!(out.sdp, "v=0");
    }

    #[test]
    fn jsep_json_has_update_only_on_renegotiation() {
        let mut j = Jsep::new(JsepType::Answer, "v=0");
        assert_eq!(
            j.to_json(),
            serde_json::json!({"type":"answer","sdp":"v=0"})
        );
        j.update = true;
        assert_eq!(
            j.to_json(),
            serde_json::json!({"type":"answer","sdp":"v=0","update":true})
        );
    }
}
