//! The plugin host and the media seam, driven without sockets: PeerConnection events and
//! their JSON shapes, the hangup/detached rules, the JSEP path through a media engine, and
//! timers with a hand-advanced clock.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SDP, TEST_PLUGIN, TestPlugin};
use portunus_ctrl::api::{ApiError, JanusCode};
use portunus_ctrl::config::Config;
use portunus_ctrl::media::{CloseReason, HangupReason, Jsep, MediaEngine, MediaKind, PeerEvent};
use portunus_ctrl::{
    ConnId, ControlPlane, HandleId, Output, SessionId, SessionOverReason, Transport,
};
use serde_json::{Map, Value, json};

const WS: Transport = Transport::Ws(ConnId(7));

struct Host {
    cp: ControlPlane,
    now: Instant,
    log: Arc<Mutex<Vec<String>>>,
    media: Arc<Mutex<Vec<String>>>,
}

/// A media engine that records calls and can be told to fail.
struct RecordingEngine {
    calls: Arc<Mutex<Vec<String>>>,
}

impl MediaEngine for RecordingEngine {
    fn handle_remote_jsep(
        &mut self,
        _now: Instant,
        handle: HandleId,
        jsep: &Jsep,
        reneg: bool,
    ) -> Result<Jsep, ApiError> {
        self.calls.lock().unwrap().push(format!(
            "remote {} {} reneg={reneg}",
            handle.0,
            jsep.kind.as_str()
        ));
        if jsep.sdp.contains("s=fail") {
            return Err(ApiError::new(
                JanusCode::JsepInvalidSdp,
                "Error processing SDP",
            ));
        }
        let mut out = Jsep::new(
            jsep.kind,
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=anonymized\r\nm=audio 9 X 0\r\n",
        );
        out.update = reneg;
        Ok(out)
    }

    fn handle_local_jsep(
        &mut self,
        _now: Instant,
        handle: HandleId,
        jsep: &Jsep,
    ) -> Result<Jsep, ApiError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("local {} {}", handle.0, jsep.kind.as_str()));
        Ok(Jsep::new(
            jsep.kind,
            format!("{}a=candidate:merged\r\n", jsep.sdp),
        ))
    }

    fn handle_trickle(
        &mut self,
        _now: Instant,
        handle: HandleId,
        candidates: &[Value],
        completed: bool,
    ) {
        self.calls.lock().unwrap().push(format!(
            "trickle {} {} {completed}",
            handle.0,
            candidates.len()
        ));
    }

    fn handle_close(&mut self, _now: Instant, handle: HandleId, reason: CloseReason) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("close {} {reason:?}", handle.0));
    }

    fn handle_info(&self, _handle: HandleId) -> Option<Map<String, Value>> {
        let mut m = Map::new();
        m.insert("webrtc".into(), json!({"ice":{"state":"connected"}}));
        Some(m)
    }
}

impl Host {
    fn new(config: Config) -> Self {
        let now = Instant::now();
        let mut cp = ControlPlane::new(&config, now);
        let log = Arc::new(Mutex::new(Vec::new()));
        let media = Arc::new(Mutex::new(Vec::new()));
        cp.register_plugin(Box::new(TestPlugin::new(Arc::clone(&log))))
            .unwrap();
        cp.set_media_engine(Box::new(RecordingEngine {
            calls: Arc::clone(&media),
        }));
        Self {
            cp,
            now,
            log,
            media,
        }
    }

    fn call(&mut self, req: Value) -> Value {
        self.cp.handle_request(self.now, WS, req)
    }

    fn session(&mut self) -> u64 {
        self.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
            .as_u64()
            .unwrap()
    }

    fn handle(&mut self, sid: u64, opaque: Option<&str>) -> u64 {
        let mut req =
            json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN});
        if let Some(o) = opaque {
            req["opaque_id"] = o.into();
        }
        self.call(req)["data"]["id"].as_u64().unwrap()
    }

    fn message(&mut self, sid: u64, hid: u64, body: Value, jsep: Option<Value>) -> Value {
        let mut req = json!({"janus":"message","transaction":"m","session_id":sid,"handle_id":hid,"body":body});
        if let Some(j) = jsep {
            req["jsep"] = j;
        }
        self.call(req)
    }

    /// Drain outputs, returning the event JSONs (and checking they go to the owner).
    fn events(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(o) = self.cp.poll_output() {
            if let Output::Event { to, json, .. } = o {
                assert_eq!(to, WS);
                out.push(json);
            }
        }
        out
    }

    /// A handle with a negotiated PeerConnection (client offer, plugin answer).
    fn connected(&mut self, sid: u64, hid: u64) {
        let r = self.message(
            sid,
            hid,
            json!({"request":"x"}),
            Some(json!({"type":"offer","sdp":SDP})),
        );
        assert_eq!(r["janus"], "ack");
        let ev = self.events();
        assert_eq!(ev.len(), 1);
        self.cp
            .handle_peer_event(self.now, HandleId(hid), PeerEvent::WebrtcUp);
        assert_eq!(
            self.events(),
            vec![json!({"janus":"webrtcup","session_id":sid,"sender":hid})]
        );
    }
}

#[test]
fn peer_events_have_janus_shapes() {
    let mut c = Config::default();
    c.media.no_media_timer = 3;
    let mut h = Host::new(c);
    let sid = h.session();
    let hid = h.handle(sid, None);
    h.connected(sid, hid);
    let handle = HandleId(hid);
    // webrtcup is sent once per PeerConnection.
    h.cp.handle_peer_event(h.now, handle, PeerEvent::WebrtcUp);
    assert!(h.events().is_empty());
    h.cp.handle_peer_event(
        h.now,
        handle,
        PeerEvent::Media {
            mid: "0".into(),
            kind: MediaKind::Audio,
            substream: None,
            receiving: true,
        },
    );
    h.cp.handle_peer_event(
        h.now,
        handle,
        PeerEvent::Media {
            mid: "1".into(),
            kind: MediaKind::Video,
            substream: Some(2),
            receiving: false,
        },
    );
    h.cp.handle_peer_event(
        h.now,
        handle,
        PeerEvent::SlowLink {
            mid: "1".into(),
            kind: MediaKind::Video,
            uplink: true,
            lost: 37,
        },
    );
    h.cp.handle_peer_event(h.now, handle, PeerEvent::LocalCandidate { candidate: Some(json!({"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"})) });
    h.cp.handle_peer_event(h.now, handle, PeerEvent::LocalCandidate { candidate: None });
    h.cp.handle_peer_event(
        h.now,
        handle,
        PeerEvent::Hangup {
            reason: HangupReason::IceFailed,
        },
    );
    h.cp.handle_peer_event(
        h.now,
        handle,
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    );
    assert_eq!(
        h.events(),
        vec![
            json!({"janus":"media","session_id":sid,"sender":hid,"mid":"0","type":"audio","receiving":true}),
            json!({"janus":"media","session_id":sid,"sender":hid,"mid":"1","type":"video","substream":2,"receiving":false,"seconds":3}),
            json!({"janus":"slowlink","session_id":sid,"sender":hid,"mid":"1","media":"video","uplink":true,"lost":37}),
            json!({"janus":"trickle","session_id":sid,"sender":hid,"candidate":{"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}),
            json!({"janus":"trickle","session_id":sid,"sender":hid,"candidate":{"completed":true}}),
            json!({"janus":"hangup","session_id":sid,"sender":hid,"reason":"ICE failed"}),
        ]
    );
    let log = h.log.lock().unwrap().clone();
    assert!(log.contains(&format!("peer {hid} WebrtcUp")));
    assert!(log.contains(&format!("peer {hid} Hangup {{ reason: IceFailed }}")));
    assert!(
        h.media
            .lock()
            .unwrap()
            .contains(&format!("close {hid} Hangup(IceFailed)"))
    );
}

#[test]
fn opaque_id_is_added_to_events_when_configured() {
    let mut c = Config::default();
    c.general.opaqueid_in_api = true;
    let mut h = Host::new(c);
    let sid = h.session();
    let hid = h.handle(sid, Some("tag"));
    let r = h.message(sid, hid, json!({"request":"sync"}), None);
    assert_eq!(r["opaque_id"], "tag");
    h.connected_with_opaque(sid, hid);
}

impl Host {
    fn connected_with_opaque(&mut self, sid: u64, hid: u64) {
        self.message(
            sid,
            hid,
            json!({"request":"x"}),
            Some(json!({"type":"offer","sdp":SDP})),
        );
        let ev = self.events();
        assert_eq!(ev[0]["opaque_id"], "tag");
        self.cp
            .handle_peer_event(self.now, HandleId(hid), PeerEvent::WebrtcUp);
        assert_eq!(
            self.events(),
            vec![json!({"janus":"webrtcup","session_id":sid,"sender":hid,"opaque_id":"tag"})]
        );
    }
}

#[test]
fn detach_and_destroy_send_no_hangup() {
    let mut h = Host::new(Config::default());
    let sid = h.session();
    let h1 = h.handle(sid, None);
    let h2 = h.handle(sid, None);
    h.connected(sid, h1);
    h.connected(sid, h2);
    let r = h.call(json!({"janus":"detach","transaction":"d","session_id":sid,"handle_id":h1}));
    assert_eq!(r["janus"], "success");
    assert_eq!(
        h.events(),
        vec![json!({"janus":"detached","session_id":sid,"sender":h1})]
    );
    assert!(
        h.media
            .lock()
            .unwrap()
            .contains(&format!("close {h1} Detach"))
    );
    // Late dataplane events for the detached handle are dropped.
    h.cp.handle_peer_event(
        h.now,
        HandleId(h1),
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    );
    assert!(h.events().is_empty());
    h.call(json!({"janus":"destroy","transaction":"x","session_id":sid}));
    let mut outs = Vec::new();
    while let Some(o) = h.cp.poll_output() {
        outs.push(o);
    }
    assert_eq!(
        outs,
        vec![Output::SessionOver {
            to: WS,
            session: SessionId(sid),
            reason: SessionOverReason::Destroyed
        }]
    );
    assert!(h.log.lock().unwrap().contains(&format!("detach {h2}")));
    assert_eq!(h.cp.handle_count(), 0);
}

#[test]
fn jsep_goes_through_the_media_engine_both_ways() {
    let mut h = Host::new(Config::default());
    let sid = h.session();
    let hid = h.handle(sid, None);
    h.message(
        sid,
        hid,
        json!({"request":"x"}),
        Some(json!({"type":"offer","sdp":SDP,"e2ee":true})),
    );
    let ev = h.events();
    // The plugin saw the engine's anonymized SDP (the test plugin answers with it); the
    // client sees the engine's merge of the plugin's answer, with e2ee.
    let anonymized = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=anonymized\r\nm=audio 9 X 0\r\n";
    assert_eq!(
        ev[0]["jsep"],
        json!({"type":"answer","sdp":format!("{anonymized}a=candidate:merged\r\n"),"e2ee":true})
    );
    // Renegotiation: a second offer is flagged as an update.
    h.message(
        sid,
        hid,
        json!({"request":"x"}),
        Some(json!({"type":"offer","sdp":SDP})),
    );
    h.events();
    let calls = h.media.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            format!("remote {hid} offer reneg=false"),
            format!("local {hid} answer"),
            format!("remote {hid} offer reneg=true"),
            format!("local {hid} answer"),
        ]
    );
    // Engine errors become the message's error.
    let r = h.message(
        sid,
        hid,
        json!({"request":"x"}),
        Some(json!({"type":"offer","sdp":format!("{SDP}s=fail\r\n")})),
    );
    assert_eq!(
        r["error"],
        json!({"code":465,"reason":"Error processing SDP"})
    );
    let info = h.cp.handle_admin_request(
        h.now,
        json!({"janus":"handle_info","transaction":"i","session_id":sid,"handle_id":hid}),
    );
    assert_eq!(info["info"]["webrtc"], json!({"ice":{"state":"connected"}}));
    assert_eq!(info["info"]["flags"]["negotiated"], true);
    assert_eq!(info["info"]["sdps"]["remote"], SDP);
}

#[test]
fn early_trickles_are_acked_unchecked_and_passed_on() {
    let mut h = Host::new(Config::default());
    let sid = h.session();
    let hid = h.handle(sid, None);
    let r = h.call(json!({"janus":"trickle","transaction":"t","session_id":sid,"handle_id":hid,"candidate":{"bogus":true}}));
    assert_eq!(r, json!({"janus":"ack","session_id":sid,"transaction":"t"}));
    let r = h.call(json!({"janus":"trickle","transaction":"t","session_id":sid,"handle_id":hid,"candidates":[{"completed":true}]}));
    assert_eq!(r["janus"], "ack");
    let calls = h.media.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            format!("trickle {hid} 1 false"),
            format!("trickle {hid} 0 true")
        ]
    );
    assert!(
        h.log
            .lock()
            .unwrap()
            .contains(&format!("trickle {hid} 0 true"))
    );
}

#[test]
fn session_timeout_with_a_virtual_clock() {
    let mut c = Config::default();
    c.general.session_timeout = 10;
    let mut h = Host::new(c);
    let sid = h.session();
    let _hid = h.handle(sid, None);
    let t0 = h.now;
    h.cp.handle_timeout(t0 + Duration::from_secs(9));
    assert!(h.cp.poll_output().is_none());
    // A keepalive at 9 s pushes expiry to 19 s.
    h.now = t0 + Duration::from_secs(9);
    h.call(json!({"janus":"keepalive","transaction":"k","session_id":sid}));
    h.cp.handle_timeout(t0 + Duration::from_secs(18));
    assert!(h.cp.poll_output().is_none());
    h.cp.handle_timeout(t0 + Duration::from_secs(20));
    assert_eq!(
        h.cp.poll_output(),
        Some(Output::Event {
            to: WS,
            session: SessionId(sid),
            json: json!({"janus":"timeout","session_id":sid})
        })
    );
    assert_eq!(
        h.cp.poll_output(),
        Some(Output::SessionOver {
            to: WS,
            session: SessionId(sid),
            reason: SessionOverReason::TimedOut
        })
    );
    assert_eq!(h.cp.session_count(), 0);
    assert!(h.cp.poll_timeout().is_some());
}

#[test]
fn transport_loss_destroys_without_timeout_event() {
    let mut h = Host::new(Config::default());
    let sid = h.session();
    h.cp.handle_transport_closed(h.now, WS);
    assert_eq!(
        h.cp.poll_output(),
        Some(Output::SessionOver {
            to: WS,
            session: SessionId(sid),
            reason: SessionOverReason::TransportGone
        })
    );
    assert!(h.cp.poll_output().is_none());
}

#[test]
fn plugins_register_once_per_package() {
    let mut h = Host::new(Config::default());
    let again =
        h.cp.register_plugin(Box::new(TestPlugin::new(Arc::clone(&h.log))));
    assert!(matches!(again, Err(portunus_ctrl::CtrlError::DuplicatePlugin(p)) if p == TEST_PLUGIN));
}
