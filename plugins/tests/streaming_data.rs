//! Streaming `data` streams (`shared/janus-api/streaming.md`): created with the `media` array
//! and with the legacy flat keys, answered, listed and described with Janus's shapes
//! (`datatype`, no payload type), offered to viewers as an `m=application` data-channel
//! line, and turned into a data input (`binary`, `buffermsg`) and a viewer forward.

mod common;

use std::time::{Instant, SystemTime};

use common::{Direct, Host, media};
use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{
    InputKind, Jsep, JsepType, LayerPrefs, MediaCommand, PeerEvent, Plugin, PluginOutput,
};
use portunus_plugins::WallClock;
use portunus_plugins::streaming::{Streaming, StreamingConfig};
use serde_json::{Value, json};

const PLUGIN: &str = "janus.plugin.streaming";

fn host() -> (Host, u64) {
    let mut h = Host::new();
    let s = h.attach(PLUGIN);
    (h, s)
}

#[test]
fn a_data_stream_is_created_listed_and_described_as_janus_does() {
    let (mut h, s) = host();
    let r = h.sync(
        s,
        json!({"request": "create", "type": "rtp", "id": 50, "description": "captions",
            "datatype": "binary", "buffermsg": true,
            "media": [
                {"type": "audio", "mid": "a", "port": 0, "pt": 111, "codec": "opus"},
                {"type": "data", "mid": "d", "label": "subs", "port": 0}]}),
    );
    assert_eq!(
        r,
        json!({"streaming": "created", "created": "mp-50", "permanent": false,
            "stream": {"id": 50, "type": "live", "description": "captions",
            "is_private": false,
            "ports": [
                {"type": "audio", "mid": "a", "port": 10000},
                {"type": "data", "mid": "d", "port": 10001}]}})
    );
    let info = h.sync(s, json!({"request": "info", "id": 50}));
    assert_eq!(
        info["info"]["media"][1],
        json!({"mindex": 1, "type": "data", "mid": "d", "label": "subs", "port": 10001,
            "datatype": "binary"}),
        "no pt/codec for data; datatype as configured"
    );
    let list = h.sync(s, json!({"request": "list"}));
    let entry = list["list"]
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["id"] == 50)
        .cloned()
        .expect("listed");
    assert_eq!(
        entry["media"],
        json!([{"mid": "a", "type": "audio", "label": "audio"},
               {"mid": "d", "type": "data", "label": "subs"}])
    );
    // Text is the default datatype; anything else than text/binary is refused.
    let r = h.sync(
        s,
        json!({"request": "create", "type": "rtp", "id": 51,
            "media": [{"type": "data", "mid": "d", "port": 0}]}),
    );
    assert_eq!(r["streaming"], "created", "{r}");
    let info = h.sync(s, json!({"request": "info", "id": 51}));
    assert_eq!(info["info"]["media"][0]["datatype"], "text");
    assert_eq!(
        h.sync(
            s,
            json!({"request": "create", "type": "rtp", "id": 52, "datatype": "json",
                "media": [{"type": "data", "mid": "d", "port": 0}]})
        ),
        json!({"streaming": "event", "error_code": 454,
            "error": "Invalid element (datatype can only be text or binary)"})
    );
}

#[test]
fn legacy_data_keys_create_mid_d_with_a_flat_data_port() {
    let (mut h, s) = host();
    let r = h.sync(
        s,
        json!({"request": "create", "type": "rtp", "id": 60, "data": true, "dataport": 0,
            "datatype": "binary", "databuffermsg": true}),
    );
    assert_eq!(r["streaming"], "created", "{r}");
    assert_eq!(r["warning"], "deprecated_api", "{r}");
    assert_eq!(r["stream"]["data_port"], 10000, "{r}");
    let info = h.sync(s, json!({"request": "info", "id": 60}));
    assert_eq!(info["info"]["media"][0]["mid"], "d");
    assert_eq!(info["info"]["media"][0]["datatype"], "binary");
}

#[test]
fn viewers_are_offered_a_data_channel_line() {
    let (mut h, s) = host();
    h.sync(
        s,
        json!({"request": "create", "type": "rtp", "id": 70,
            "media": [{"type": "data", "mid": "d", "port": 0}]}),
    );
    let v = h.attach(PLUGIN);
    let r = h.message(v, "x", json!({"request": "watch", "id": 70}), None);
    assert_eq!(r["janus"], "ack", "{r}");
    let ev = h.events();
    let offer = ev
        .iter()
        .find_map(|e| e["jsep"]["sdp"].as_str())
        .expect("an offer");
    assert!(
        offer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
        "{offer}"
    );
    assert!(offer.contains("a=mid:d\r\n"), "{offer}");
    assert!(offer.contains("a=sctp-port:5000\r\n"), "{offer}");
    assert!(
        !offer.contains("m=audio") && !offer.contains("m=video"),
        "{offer}"
    );
}

fn direct() -> Direct<Streaming> {
    let now = Instant::now();
    let mut plugin = Streaming::new(
        StreamingConfig::default(),
        WallClock::new(now, SystemTime::UNIX_EPOCH),
        Some(3),
    );
    while plugin.poll().is_some() {}
    let mut d = Direct::new(plugin);
    d.now = now;
    d.attach(1);
    d.attach(2);
    d
}

#[test]
fn a_data_stream_opens_a_data_input_and_forwards_to_viewers() {
    let mut d = direct();
    let out = d.message(
        1,
        json!({"request": "create", "type": "rtp", "id": 80, "datatype": "binary",
            "buffermsg": true, "media": [{"type": "data", "mid": "d", "port": 0}]}),
        None,
    );
    let m = media(&out);
    let [MediaCommand::OpenRtpInput(input)] = m.as_slice() else {
        panic!("one input: {m:?}")
    };
    assert_eq!(input.kind, InputKind::Data);
    assert_eq!(input.mid, "d");
    assert_eq!(input.ports, [10000]);
    assert!(input.binary, "datatype binary");
    assert!(input.buffer_keyframe, "buffermsg keeps the last message");
    assert_eq!((input.payload_type, input.rtpmap.as_deref()), (None, None));

    // A viewer: watch, answer, up: one forward of the data mid to its data m-line.
    let mut out = d.message(2, json!({"request": "watch", "id": 80}), None);
    out.extend(d.message(
        2,
        json!({"request": "start"}),
        Some(Jsep::new(JsepType::Answer, "v=0\r\n")),
    ));
    out.extend(d.peer(2, PeerEvent::WebrtcUp));
    assert_eq!(
        media(&out),
        [MediaCommand::ForwardMountpoint {
            mountpoint: 80,
            mid: "d".into(),
            to: HandleId(2),
            to_mid: "d".into(),
            layers: LayerPrefs::default(),
        }]
    );
    let events: Vec<Value> = out
        .iter()
        .filter_map(|o| match o {
            PluginOutput::Event { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert!(
        events.contains(&json!({"streaming": "event", "result": {"status": "started"}})),
        "{events:?}"
    );
}
