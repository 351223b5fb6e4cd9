//! The dataplane seam on a running server: a loop hook drains a queue of PeerConnection events
//! fed from another thread into the control plane, and clients see Janus's events.

mod common;

use std::sync::mpsc;
use std::time::Instant;

use common::{SDP, TEST_PLUGIN, TestPlugin, Ws, test_config};
use portunus_ctrl::media::{HangupReason, PeerEvent};
use portunus_ctrl::metrics::ShardCounters;
use portunus_ctrl::{ControlPlane, HandleId, LoopHook, RunningServer, Server};
use serde_json::json;

/// What a dataplane would push to the control thread.
enum FromDataplane {
    Peer(HandleId, PeerEvent),
    Counters(u16, ShardCounters),
}

struct DataplaneHook(mpsc::Receiver<FromDataplane>);

impl LoopHook for DataplaneHook {
    fn on_round(&mut self, now: Instant, cp: &mut ControlPlane) {
        while let Ok(msg) = self.0.try_recv() {
            match msg {
                FromDataplane::Peer(h, ev) => cp.handle_peer_event(now, h, ev),
                FromDataplane::Counters(shard, c) => cp.set_shard_counters(shard, c),
            }
        }
    }
}

#[test]
fn dataplane_events_reach_clients_through_a_loop_hook() {
    let (tx, rx) = mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let plugin_log = std::sync::Arc::clone(&log);
    let server = RunningServer::spawn(test_config(), move |s: &mut Server| {
        s.control_plane()
            .register_plugin(Box::new(TestPlugin::new(plugin_log)))
            .unwrap();
        s.add_hook(Box::new(DataplaneHook(rx)));
    })
    .unwrap();
    let mut ws = Ws::connect(server.ports.ws.unwrap(), "janus-protocol");
    let sid = ws.call(json!({"janus":"create","transaction":"c"}))["data"]["id"]
        .as_u64()
        .unwrap();
    let hid =
        ws.call(json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN}))
            ["data"]["id"]
            .as_u64()
            .unwrap();
    let r = ws.call(
        json!({"janus":"message","transaction":"m","session_id":sid,"handle_id":hid,
                           "body":{"request":"x"},"jsep":{"type":"offer","sdp":SDP}}),
    );
    assert_eq!(r["janus"], "ack");
    assert_eq!(ws.recv()["jsep"]["type"], "answer");

    let handle = server.handle();
    tx.send(FromDataplane::Peer(HandleId(hid), PeerEvent::WebrtcUp))
        .unwrap();
    tx.send(FromDataplane::Peer(
        HandleId(hid),
        PeerEvent::Hangup {
            reason: HangupReason::DtlsAlert,
        },
    ))
    .unwrap();
    tx.send(FromDataplane::Counters(
        3,
        ShardCounters {
            packets_in: 42,
            sends: 9,
            ..Default::default()
        },
    ))
    .unwrap();
    handle.wake();
    assert_eq!(
        ws.recv(),
        json!({"janus":"webrtcup","session_id":sid,"sender":hid})
    );
    assert_eq!(
        ws.recv(),
        json!({"janus":"hangup","session_id":sid,"sender":hid,"reason":"DTLS alert"})
    );
    let mut admin = common::Http::connect(server.ports.admin.unwrap());
    let text = String::from_utf8(admin.get("/metrics").body).unwrap();
    assert!(
        text.contains("portunus_shard_packets_in_total{shard=\"3\"} 42\n"),
        "{text}"
    );
    assert!(
        text.contains("portunus_shard_sends_total{shard=\"3\"} 9\n"),
        "{text}"
    );
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l == &format!("peer {hid} WebrtcUp"))
    );
}
