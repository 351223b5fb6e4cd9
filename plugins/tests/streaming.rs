//! Streaming conformance: transcripts through `ControlPlane` with the exact JSON of Janus
//! 1.1.2 (`shared/janus-api/streaming.md`) for every request and its error paths.

mod common;

use common::Host;
use portunus_ctrl::plugin::PeerEvent;
use serde_json::{Value, json};

const PLUGIN: &str = "janus.plugin.streaming";

fn err(code: u16, reason: &str) -> Value {
    json!({"streaming": "event", "error_code": code, "error": reason})
}

fn host() -> (Host, u64) {
    let mut h = Host::new();
    let s = h.attach(PLUGIN);
    (h, s)
}

/// Sends an asynchronous request: asserts the ack and returns the events that followed.
fn async_req(h: &mut Host, handle: u64, body: Value, jsep: Option<Value>) -> Vec<Value> {
    let r = h.message(handle, "x", body, jsep);
    assert_eq!(r["janus"], "ack", "{r}");
    h.events()
}

/// The `plugindata.data` of the single event, checking its transaction.
fn one(events: &[Value]) -> Value {
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["transaction"], "x");
    events[0]["plugindata"]["data"].clone()
}

const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE a v\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=recvonly\r\na=rtcp-mux\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
a=setup:active\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=recvonly\r\na=rtcp-mux\r\n\
a=rtpmap:100 VP8/90000\r\n";

#[test]
fn list_shows_the_sample_mountpoints() {
    let (mut h, s) = host();
    assert_eq!(
        h.sync(s, json!({"request": "list"})),
        json!({"streaming": "list", "list": [
            {"id": 1, "type": "live",
             "description": "Opus/VP8 live stream coming from external source",
             "metadata": "You can use this metadata section to put any info you want!",
             "enabled": true,
             "media": [{"mid": "a", "type": "audio", "label": "audio"},
                       {"mid": "v", "type": "video", "label": "video"}]},
            {"id": 123, "type": "live", "description": "Multistream test (1 audio, 2 video)",
             "metadata": "This is an example of a multistream mountpoint: you'll get an audio stream and two video feeds",
             "enabled": true,
             "media": [{"mid": "a", "type": "audio", "label": "Audio stream"},
                       {"mid": "v1", "type": "video", "label": "Video stream #1"},
                       {"mid": "v2", "type": "video", "label": "Video stream #2"}]}]})
    );
    // Requests are matched case-insensitively, as Janus's strcasecmp does.
    assert_eq!(h.sync(s, json!({"request": "LIST"}))["streaming"], "list");
}

#[test]
fn info_shows_admin_fields_only_with_the_secret() {
    let (mut h, s) = host();
    let public = h.sync(s, json!({"request": "info", "id": 1}));
    assert_eq!(
        public,
        json!({"streaming": "info", "info": {"id": 1,
            "description": "Opus/VP8 live stream coming from external source",
            "metadata": "You can use this metadata section to put any info you want!",
            "enabled": true, "type": "live",
            "media": [
                {"mindex": 0, "type": "audio", "mid": "a", "label": "audio", "pt": 111,
                 "codec": "opus", "rtpmap": "opus/48000/2"},
                {"mindex": 1, "type": "video", "mid": "v", "label": "video", "pt": 100,
                 "codec": "vp8", "rtpmap": "VP8/90000"}]}})
    );
    let admin = h.sync(s, json!({"request": "info", "id": 1, "secret": "adminpwd"}));
    assert_eq!(admin["info"]["name"], "rtp-sample");
    assert_eq!(admin["info"]["secret"], "adminpwd");
    assert_eq!(admin["info"]["viewers"], 0);
    assert_eq!(admin["info"]["media"][0]["port"], 5002);
    assert_eq!(admin["info"]["media"][1]["port"], 5004);
    assert_eq!(
        h.sync(s, json!({"request": "info", "id": 9})),
        err(455, "No such mountpoint/stream 9")
    );
    assert_eq!(
        h.sync(s, json!({"request": "info"})),
        err(453, "Missing mandatory element (id)")
    );
    assert_eq!(
        h.sync(s, json!({"request": "info", "id": "1"})),
        err(
            454,
            "Invalid element type (id should be a positive integer)"
        )
    );
}

#[test]
fn request_errors_use_streaming_codes() {
    let (mut h, s) = host();
    assert_eq!(
        h.sync(s, json!({"request": "dance"})),
        err(452, "Unknown request 'dance'")
    );
    assert_eq!(
        h.sync(s, json!({"nothing": 1})),
        err(453, "Missing mandatory element (request)")
    );
    assert_eq!(
        h.sync(s, json!({"request": 5})),
        err(454, "Invalid element type (request should be a string)")
    );
}

#[test]
fn create_with_media_array_picks_ports_and_lists_them() {
    let (mut h, s) = host();
    let r = h.sync(
        s,
        json!({"request": "create", "type": "rtp", "id": 77, "description": "cam",
            "media": [
                {"type": "audio", "mid": "a", "port": 0, "pt": 111, "codec": "opus",
                 "msid": "s1 t1"},
                {"type": "video", "mid": "v", "port": 7004, "pt": 96, "codec": "vp8",
                 "rtcpport": 0, "simulcast": true, "port2": 0, "port3": 7008},
                {"type": "data", "mid": "d", "port": 0}]}),
    );
    assert_eq!(
        r,
        json!({"streaming": "created", "created": "mp-77", "permanent": false,
            "stream": {"id": 77, "type": "live", "description": "cam", "is_private": false,
            "ports": [
                {"type": "audio", "mid": "a", "msid": "s1 t1", "port": 10000},
                {"type": "video", "mid": "v", "port": 7004, "rtcp_port": 10001,
                 "port_2": 10002, "port_3": 7008},
                {"type": "data", "mid": "d", "port": 10003}]}})
    );
    let info = h.sync(s, json!({"request": "info", "id": 77}));
    assert_eq!(
        info["info"]["name"], "mp-77",
        "no secret: admin fields shown"
    );
    assert_eq!(info["info"]["media"][1]["videosimulcast"], true);
    assert_eq!(info["info"]["media"][1]["port2"], 10002);
    assert_eq!(info["info"]["media"][2]["datatype"], "text");
    // The same id again, and a port another mountpoint holds.
    assert_eq!(
        h.sync(
            s,
            json!({"request": "create", "type": "rtp", "id": 77,
            "media": [{"type": "audio", "mid": "a", "port": 0, "codec": "opus"}]})
        ),
        err(456, "A stream with the provided ID already exists")
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "create", "type": "rtp",
            "media": [{"type": "audio", "mid": "a", "port": 5002, "codec": "opus"}]})
        ),
        err(
            456,
            "Can't add 'rtp' stream, error creating data source stream"
        )
    );
    // Destroying gives the ports back.
    h.sync(s, json!({"request": "destroy", "id": 77}));
    let r = h.sync(
        s,
        json!({"request": "create", "type": "rtp", "name": "again",
        "media": [{"type": "video", "mid": "v", "port": 7004, "codec": "vp8", "pt": 96}]}),
    );
    assert_eq!(r["created"], "again");
    assert_eq!(r["stream"]["description"], "again");
}

#[test]
fn legacy_create_answers_flat_ports_and_a_warning() {
    let (mut h, s) = host();
    let r = h.sync(
        s,
        json!({"request": "create", "type": "rtp", "id": 5, "audio": true, "video": true,
        "audioport": 6002, "audiopt": 111, "audiocodec": "opus",
        "videoport": 6004, "videopt": 100, "videocodec": "vp8"}),
    );
    assert_eq!(
        r,
        json!({"streaming": "created", "created": "mp-5", "permanent": false,
            "stream": {"id": 5, "type": "live", "description": "mp-5", "is_private": false,
                "audio_port": 6002, "video_port": 6004},
            "warning": "deprecated_api"})
    );
    let list = h.sync(s, json!({"request": "list"}));
    assert_eq!(list["list"][1]["media"][0]["mid"], "a");
    assert_eq!(list["list"][1]["media"][1]["mid"], "v");
    assert_eq!(
        h.sync(
            s,
            json!({"request": "create", "type": "rtp", "audio": true})
        ),
        err(453, "Missing mandatory element (audioport)")
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "create", "type": "rtp", "video": true,
            "videoport": 6004, "videopt": 100, "videocodec": "vp8"})
        ),
        err(
            456,
            "Can't add 'rtp' stream, error creating video source stream"
        )
    );
}

#[test]
fn create_errors_follow_janus() {
    let (mut h, s) = host();
    let cases = [
        (
            json!({"request": "create"}),
            err(453, "Missing mandatory element (type)"),
        ),
        (
            json!({"request": "create", "type": "rtp", "is_private": "yes"}),
            err(454, "Invalid element type (is_private should be a boolean)"),
        ),
        (
            json!({"request": "create", "type": "rtp", "permanent": true}),
            err(
                470,
                "No configuration file, can't create permanent mountpoint",
            ),
        ),
        (
            json!({"request": "create", "type": "webm"}),
            err(454, "Unknown stream type 'webm'...\n"),
        ),
        (
            json!({"request": "create", "type": "rtsp", "url": "rtsp://x"}),
            err(
                454,
                "Can't create 'rtsp' mountpoint, libcurl support not compiled...\n",
            ),
        ),
        (
            json!({"request": "create", "type": "live"}),
            err(453, "Missing mandatory element (filename)"),
        ),
        (
            json!({"request": "create", "type": "ondemand", "filename": "/x.opus"}),
            err(456, "Error creating 'ondemand' stream"),
        ),
        (
            json!({"request": "create", "type": "rtp"}),
            err(
                456,
                "Can't add 'rtp' stream, no audio or video have to be streamed...",
            ),
        ),
        (
            json!({"request": "create", "type": "rtp", "media": []}),
            err(
                456,
                "Can't add 'rtp' stream, no audio or video have to be streamed...",
            ),
        ),
        (
            json!({"request": "create", "type": "rtp", "srtpsuite": 40, "media": []}),
            err(456, "Can't add 'rtp' stream, invalid SRTP suite..."),
        ),
        (
            json!({"request": "create", "type": "rtp", "media": [{"type": "audio"}]}),
            err(453, "Missing mandatory element (mid)"),
        ),
        (
            json!({"request": "create", "type": "rtp", "media": [7]}),
            err(453, "Missing mandatory element (type)"),
        ),
        (
            json!({"request": "create", "type": "rtp",
                "media": [{"type": "text", "mid": "t", "port": 0}]}),
            err(456, "Unsupported media type in media stream"),
        ),
        (
            json!({"request": "create", "type": "rtp",
                "media": [{"type": "audio", "mid": "a", "port": 0}]}),
            err(
                456,
                "Can't add 'rtp' stream, error creating data source stream",
            ),
        ),
        (
            json!({"request": "create", "type": "rtp", "datatype": "xml",
                "media": [{"type": "data", "mid": "d", "port": 0}]}),
            err(454, "Invalid element (datatype can only be text or binary)"),
        ),
        (
            json!({"request": "create", "type": "rtp",
                "media": [{"type": "audio", "mid": "a", "port": -1}]}),
            err(
                454,
                "Invalid element type (port should be a positive integer)",
            ),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(h.sync(s, body.clone()), want, "{body}");
    }
    // Nothing was created by the failures.
    assert_eq!(
        h.sync(s, json!({"request": "list"}))["list"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn admin_key_guards_create_and_unlocks_private_mountpoints() {
    let mut config = portunus_plugins::PluginsConfig {
        seed: Some(1),
        ..Default::default()
    };
    config.streaming.admin_key = Some("key".into());
    config.streaming.mountpoints[1].is_private = true;
    let mut h = Host::with(config);
    let s = h.attach(PLUGIN);
    let body = json!({"request": "create", "type": "rtp",
        "media": [{"type": "audio", "mid": "a", "port": 0, "codec": "opus"}]});
    assert_eq!(
        h.sync(s, body.clone()),
        err(453, "Missing mandatory element (admin_key)")
    );
    let mut wrong = body.clone();
    wrong["admin_key"] = "nope".into();
    assert_eq!(h.sync(s, wrong), err(457, "Unauthorized (wrong admin_key)"));
    let mut right = body;
    right["admin_key"] = "key".into();
    assert_eq!(h.sync(s, right)["streaming"], "created");
    let ids = |v: Value| -> Vec<u64> {
        v["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect()
    };
    let public = ids(h.sync(s, json!({"request": "list"})));
    assert_eq!(public.len(), 2, "private 123 hidden: {public:?}");
    assert!(!public.contains(&123));
    let all = ids(h.sync(s, json!({"request": "list", "admin_key": "key"})));
    assert_eq!(all.len(), 3);
    assert_eq!(
        h.sync(s, json!({"request": "list", "admin_key": "bad"})),
        err(457, "Unauthorized (wrong admin_key)")
    );
}

#[test]
fn edit_changes_fields_and_tells_viewers_about_metadata() {
    let (mut h, s) = host();
    let viewer = h.attach(PLUGIN);
    async_req(&mut h, viewer, json!({"request": "watch", "id": 1}), None);
    assert_eq!(
        h.sync(
            s,
            json!({"request": "edit", "id": 1, "new_description": "x"})
        ),
        err(453, "Missing mandatory element (secret)")
    );
    assert_eq!(
        h.sync(s, json!({"request": "edit", "id": 1, "secret": "no"})),
        err(457, "Unauthorized (wrong secret)")
    );
    assert_eq!(
        h.sync(s, json!({"request": "edit", "id": 2, "secret": "no"})),
        err(455, "No such mountpoint (2)")
    );
    assert_eq!(
        h.sync(s, json!({"request": "edit", "id": 1, "permanent": true})),
        err(
            470,
            "No configuration file, can't edit mountpoint permanently"
        )
    );
    assert_eq!(
        h.sync(s, json!({"request": "edit", "id": 1, "new_pin": 5})),
        err(454, "Invalid element type (new_pin should be a string)")
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "edit", "id": 1, "secret": "adminpwd", "new_description": "New",
            "new_metadata": "md", "new_pin": "1234", "edited_event": true})
        ),
        json!({"streaming": "edited", "id": 1, "permanent": false})
    );
    let ev = h.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["sender"], viewer);
    assert_eq!(
        ev[0]["plugindata"]["data"],
        json!({"event": "edited", "id": 1, "metadata": "md"})
    );
    // The same metadata again is no change: no event.
    h.sync(
        s,
        json!({"request": "edit", "id": 1, "secret": "adminpwd", "new_metadata": "md",
        "edited_event": true}),
    );
    assert!(h.events().is_empty());
    let info = h.sync(s, json!({"request": "info", "id": 1, "secret": "adminpwd"}));
    assert_eq!(info["info"]["description"], "New");
    assert_eq!(info["info"]["pin"], "1234");
    assert_eq!(info["info"]["viewers"], 1);
    // An empty new_pin removes the PIN.
    h.sync(
        s,
        json!({"request": "edit", "id": 1, "secret": "adminpwd", "new_pin": ""}),
    );
    let info = h.sync(s, json!({"request": "info", "id": 1, "secret": "adminpwd"}));
    assert!(info["info"].get("pin").is_none());
}

#[test]
fn destroy_stops_viewers_and_closes_their_peer_connections() {
    let (mut h, s) = host();
    let viewer = h.attach(PLUGIN);
    async_req(&mut h, viewer, json!({"request": "watch", "id": 1}), None);
    assert_eq!(
        h.sync(s, json!({"request": "destroy", "id": 1})),
        err(453, "Missing mandatory element (secret)")
    );
    assert_eq!(
        h.sync(s, json!({"request": "destroy", "id": 1, "permanent": true})),
        err(
            470,
            "No configuration file, can't destroy mountpoint permanently"
        )
    );
    assert_eq!(
        h.sync(s, json!({"request": "destroy", "id": 3})),
        err(455, "No such mountpoint/stream 3")
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "destroy", "id": 1, "secret": "adminpwd"})
        ),
        json!({"streaming": "destroyed", "destroyed": 1})
    );
    let ev = h.events();
    assert_eq!(ev[0]["sender"], viewer);
    assert!(ev[0].get("transaction").is_none());
    assert_eq!(
        ev[0]["plugindata"]["data"],
        json!({"streaming": "event", "result": {"status": "stopped"}})
    );
    assert_eq!(
        h.sync(s, json!({"request": "info", "id": 1})),
        err(455, "No such mountpoint/stream 1")
    );
    // The viewer is idle again: it can watch another mountpoint.
    let ev = async_req(&mut h, viewer, json!({"request": "watch", "id": 123}), None);
    assert_eq!(one(&ev)["result"]["status"], "preparing");
}

#[test]
fn enable_disable_and_kick_all() {
    let (mut h, s) = host();
    let viewer = h.attach(PLUGIN);
    async_req(&mut h, viewer, json!({"request": "watch", "id": 1}), None);
    assert_eq!(
        h.sync(
            s,
            json!({"request": "disable", "id": 1, "secret": "adminpwd"})
        ),
        json!({"streaming": "ok"})
    );
    assert_eq!(
        h.sync(s, json!({"request": "list"}))["list"][0]["enabled"],
        false
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "disable", "id": 1, "secret": "adminpwd", "stop_recording": 1})
        ),
        err(
            454,
            "Invalid element type (stop_recording should be a boolean)"
        )
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "enable", "id": 1, "secret": "adminpwd"})
        ),
        json!({"streaming": "ok"})
    );
    assert_eq!(
        h.sync(s, json!({"request": "enable", "id": 1, "secret": "x"})),
        err(457, "Unauthorized (wrong secret)")
    );
    assert_eq!(
        h.sync(s, json!({"request": "enable", "id": 8})),
        err(455, "No such mountpoint/stream 8")
    );
    assert_eq!(
        h.sync(
            s,
            json!({"request": "kick_all", "id": 1, "secret": "adminpwd"})
        ),
        json!({"streaming": "kicked_all"})
    );
    let ev = h.events();
    assert_eq!(
        ev[0]["plugindata"]["data"],
        json!({"streaming": "event", "result": {"status": "kicked_all"}})
    );
    let info = h.sync(s, json!({"request": "info", "id": 1, "secret": "adminpwd"}));
    assert_eq!(info["info"]["viewers"], 0);
}

#[test]
fn recording_is_refused_without_files() {
    let (mut h, s) = host();
    let cases = [
        (
            json!({"request": "recording", "id": 1}),
            err(453, "Missing mandatory element (action)"),
        ),
        (
            json!({"request": "recording", "action": "go", "id": 1}),
            err(454, "Invalid action (should be start|stop)"),
        ),
        (
            json!({"request": "recording", "action": "start", "id": 1}),
            err(453, "Missing mandatory element (secret)"),
        ),
        (
            json!({"request": "recording", "action": "start", "id": 1, "secret": "adminpwd"}),
            err(452, "Missing audio, video and/or data"),
        ),
        (
            json!({"request": "recording", "action": "start", "id": 1, "secret": "adminpwd",
                "audio": true}),
            err(454, "Invalid element type (audio should be a string)"),
        ),
        (
            json!({"request": "recording", "action": "start", "id": 1, "secret": "adminpwd",
                "media": [{"mid": "v", "filename": "/tmp/x"}]}),
            err(459, "Error starting recorder"),
        ),
        (
            json!({"request": "recording", "action": "stop", "id": 1, "secret": "adminpwd",
                "video": true}),
            json!({"streaming": "ok"}),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(h.sync(s, body.clone()), want, "{body}");
    }
}

#[test]
fn watch_offers_the_mountpoint_streams_with_its_payload_types() {
    let (mut h, v) = host();
    let ev = async_req(&mut h, v, json!({"request": "watch", "id": 1}), None);
    assert_eq!(
        one(&ev),
        json!({"streaming": "event", "result": {"status": "preparing"}})
    );
    assert_eq!(ev[0]["jsep"]["type"], "offer");
    let sdp = ev[0]["jsep"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("s=Mountpoint 1\r\n"), "{sdp}");
    assert!(sdp.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:111 opus/48000/2\r\n"), "{sdp}");
    assert!(sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 100\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:100 VP8/90000\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtcp-fb:100 nack pli\r\n"), "{sdp}");
    assert!(
        sdp.contains("a=mid:a\r\n") && sdp.contains("a=mid:v\r\n"),
        "{sdp}"
    );
    assert!(sdp.contains("a=sendonly\r\n"), "{sdp}");
    // Answer, PeerConnection up, then stop.
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "start"}),
        Some(json!({"type": "answer", "sdp": ANSWER})),
    );
    assert_eq!(
        one(&ev),
        json!({"streaming": "event", "result": {"status": "starting"}})
    );
    h.peer(v, PeerEvent::WebrtcUp);
    let started: Vec<Value> = h
        .events()
        .into_iter()
        .filter(|e| e["janus"] == "event")
        .collect();
    assert_eq!(
        started[0]["plugindata"]["data"],
        json!({"streaming": "event", "result": {"status": "started"}})
    );
    assert!(started[0].get("transaction").is_none());
    let ev = async_req(&mut h, v, json!({"request": "pause"}), None);
    assert_eq!(one(&ev)["result"]["status"], "pausing");
    let ev = async_req(&mut h, v, json!({"request": "start"}), None);
    assert_eq!(one(&ev)["result"]["status"], "started");
    let ev = async_req(&mut h, v, json!({"request": "stop"}), None);
    let data: Vec<&Value> = ev
        .iter()
        .filter(|e| e["janus"] == "event")
        .map(|e| &e["plugindata"]["data"])
        .collect();
    assert_eq!(
        data,
        [&json!({"streaming": "event", "result": {"status": "stopping"}})]
    );
}

#[test]
fn watch_filters_streams_by_mid() {
    let (mut h, v) = host();
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "watch", "id": 123, "media": ["v2"]}),
        None,
    );
    let sdp = ev[0]["jsep"]["sdp"].as_str().unwrap();
    assert_eq!(sdp.matches("m=").count(), 1, "{sdp}");
    assert!(sdp.contains("a=mid:v2\r\n"), "{sdp}");
    // The deprecated filters, on a fresh handle.
    let w = h.attach(PLUGIN);
    let ev = async_req(
        &mut h,
        w,
        json!({"request": "watch", "id": 123, "offer_video": false}),
        None,
    );
    let sdp = ev[0]["jsep"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("m=audio") && !sdp.contains("m=video"), "{sdp}");
}

#[test]
fn watch_errors() {
    let (mut h, v) = host();
    let mut config = portunus_plugins::PluginsConfig::default();
    config.streaming.mountpoints[0].pin = Some("1111".into());
    let cases = [
        (
            json!({"request": "watch"}),
            err(453, "Missing mandatory element (id)"),
        ),
        (
            json!({"request": "watch", "id": 1, "restart": "yes"}),
            err(454, "Invalid element type (restart should be a boolean)"),
        ),
        (
            json!({"request": "watch", "id": 1, "media": ["a", 3]}),
            err(
                454,
                "The media array must only contain strings (mid values)",
            ),
        ),
        (
            json!({"request": "watch", "id": 42}),
            err(455, "No such mountpoint/stream 42"),
        ),
        (
            json!({"request": "watch", "id": 1, "media": ["zz"]}),
            err(
                452,
                "Can't offer an SDP with no audio, video or data for this mountpoint",
            ),
        ),
        (
            json!({"request": "watch", "id": 1, "restart": true}),
            err(455, "Can't perform ICE restart: no mountpoint set"),
        ),
        (
            json!({"request": "start"}),
            err(455, "Can't start: no mountpoint set"),
        ),
        (
            json!({"request": "pause"}),
            err(455, "Can't start: no mountpoint set"),
        ),
        (
            json!({"request": "configure", "send": false}),
            err(455, "Can't configure: not on a mountpoint"),
        ),
        (
            json!({"request": "switch", "id": 123}),
            err(455, "Can't switch: not on a mountpoint"),
        ),
    ];
    for (body, want) in cases {
        let ev = async_req(&mut h, v, body.clone(), None);
        assert_eq!(one(&ev), want, "{body}");
    }
    // stop before anything started: no event at all (Janus 1.1.2).
    assert!(async_req(&mut h, v, json!({"request": "stop"}), None).is_empty());
    // Watching twice, or something else, while not started.
    async_req(&mut h, v, json!({"request": "watch", "id": 1}), None);
    for id in [1, 123] {
        let ev = async_req(&mut h, v, json!({"request": "watch", "id": id}), None);
        assert_eq!(one(&ev), err(460, "Already watching mountpoint 1"));
    }
    // PIN-protected mountpoint.
    let mut h = Host::with(config);
    let v = h.attach(PLUGIN);
    let ev = async_req(&mut h, v, json!({"request": "watch", "id": 1}), None);
    assert_eq!(one(&ev), err(453, "Missing mandatory element (pin)"));
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "watch", "id": 1, "pin": "2"}),
        None,
    );
    assert_eq!(one(&ev), err(457, "Unauthorized (wrong pin)"));
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "watch", "id": 1, "pin": "1111"}),
        None,
    );
    assert_eq!(one(&ev)["result"]["status"], "preparing");
}

#[test]
fn configure_and_switch_answer_with_their_events() {
    let (mut h, v) = host();
    async_req(&mut h, v, json!({"request": "watch", "id": 1}), None);
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "configure", "mid": "v", "send": false}),
        None,
    );
    assert_eq!(
        one(&ev),
        json!({"streaming": "event", "result": {"event": "configured"}})
    );
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "configure", "audio": true}),
        None,
    );
    assert_eq!(
        one(&ev),
        err(454, "Invalid element type (audio should be a string)")
    );
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "configure", "substream": 3}),
        None,
    );
    assert_eq!(
        one(&ev),
        err(
            454,
            "Invalid value (substream/spatial_layer should be 0, 1 or 2)"
        )
    );
    let ev = async_req(
        &mut h,
        v,
        json!({"request": "configure", "temporal_layer": 7}),
        None,
    );
    assert_eq!(
        one(&ev),
        err(
            454,
            "Invalid value (temporal/temporal_layer should be 0, 1 or 2)"
        )
    );
    let ev = async_req(&mut h, v, json!({"request": "switch", "id": 9}), None);
    assert_eq!(one(&ev), err(455, "No such mountpoint/stream 9"));
    let ev = async_req(&mut h, v, json!({"request": "switch"}), None);
    assert_eq!(one(&ev), err(453, "Missing mandatory element (id)"));
    let ev = async_req(&mut h, v, json!({"request": "switch", "id": 123}), None);
    assert_eq!(
        one(&ev),
        json!({"streaming": "event", "result": {"switched": "ok", "id": 123}})
    );
    let s = h.attach(PLUGIN);
    let info = h.sync(
        s,
        json!({"request": "info", "id": 123, "secret": "adminpwd"}),
    );
    assert_eq!(info["info"]["viewers"], 1);
}
