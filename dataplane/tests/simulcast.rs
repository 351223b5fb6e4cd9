//! Simulcast over loopback with str0m: a rid-simulcast publisher on one shard, a subscriber
//! on the other. Substream switches wait for keyframes (asked for by PLI), a silent
//! substream falls back to a lower one, and the subscriber's sequence numbers run on
//! without a gap through every switch. VP8 and H.264 (`packetization-mode=1`, str0m's
//! packetizer: SPS and PPS in a STAP-A before the IDR, FU-A for large NAL units), both
//! backends.

mod common;

use std::time::{Duration, Instant};

use common::{Client, connect_all, run_until, simulcast_publisher_with, subscriber_with};
use portunus_dataplane::{
    BackendKind, Dataplane, LayerPrefs, MediaKind, ShardCommand, ShardEvent, ShardId, StreamKey,
    Subscription, VideoCodec,
};
use portunus_rtp::ExtIdMap;
use portunus_sdp::CodecName;
use str0m::media::{MediaTime, Rid};

const KEY: u32 = 0x5151_0000;

/// Writes one frame on each substream in `layers`, a keyframe where it is the layer's first
/// or the publisher was asked for one; then drives everyone for 20 ms.
struct Feed {
    codec: CodecName,
    n: u32,
    started: [bool; 3],
    requests_seen: usize,
}

impl Feed {
    fn step(
        &mut self,
        dp: &Dataplane,
        clients: &mut [&mut Client],
        events: &mut Vec<ShardEvent>,
        layers: &[usize],
    ) {
        let now = Instant::now();
        let publ = &mut *clients[0];
        let asked: Vec<String> = publ.keyframe_rids[self.requests_seen..].to_vec();
        self.requests_seen = publ.keyframe_rids.len();
        for &l in layers {
            let key = !self.started[l] || asked.contains(&publ.rids[l]);
            self.started[l] = true;
            if self.codec == CodecName::H264 {
                write_h264_layer(publ, now, l, self.n, key);
            } else {
                publ.write_layer(now, l, self.n, key);
            }
        }
        self.n += 1;
        run_until(dp, clients, events, Duration::from_millis(20), |_, _| false);
    }
}

/// An H.264 SPS (constrained baseline, level 3.1) and PPS: the decoder's parameters that
/// browsers send before every IDR.
const SPS: &[u8] = &[0x67, 0x42, 0xe0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
const START_CODE: &[u8] = &[0, 0, 0, 1];

/// Writes H.264 access unit `n` on substream `layer` (Annex B; str0m packetizes it). A
/// keyframe is an IDR slice (type 5), otherwise a non-IDR slice (type 1); the slice names
/// the layer and the frame in bytes that never form a start code. Substream 0's slices fit
/// one packet (single NAL unit), the others' are FU-A fragmented. Keyframes of substreams
/// 0 and 2 bring SPS and PPS (str0m sends them as a STAP-A ahead of the IDR, as browsers
/// do); substream 1's IDR comes alone, so it is recognised by the FU-A start fragment.
fn write_h264_layer(publ: &mut Client, now: Instant, layer: usize, n: u32, key: bool) {
    let mut au = Vec::new();
    if key && layer != 1 {
        for nal in [SPS, PPS] {
            au.extend_from_slice(START_CODE);
            au.extend_from_slice(nal);
        }
    }
    au.extend_from_slice(START_CODE);
    let slice_start = au.len();
    au.push(if key { 0x65 } else { 0x41 });
    au.extend_from_slice(&[
        0x80 | layer as u8,
        0x80 | (n >> 7) as u8,
        0x80 | (n & 0x7f) as u8,
    ]);
    let size = if layer == 0 { 200 } else { 2500 };
    au.resize(slice_start + size, 0x33);
    let pt = publ.pt.into();
    let rid = Rid::from(publ.rids[layer].as_str());
    let w = publ.rtc.writer(publ.mid).expect("writer").rid(rid);
    w.write(pt, now, MediaTime::from_90khz(u64::from(n) * 3000), au)
        .expect("str0m writes the access unit");
}

/// The NAL units of an Annex B access unit as str0m's depacketizer hands it over.
fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
            // A 4-byte start code leaves its leading zero on the previous unit.
            let end = if end > s && data[end - 1] == 0 && k + 1 < starts.len() {
                end - 1
            } else {
                end
            };
            &data[s..end]
        })
        .collect()
}

/// The NAL unit types of an access unit, in order.
fn nal_types(data: &[u8]) -> Vec<u8> {
    nal_units(data)
        .iter()
        .filter_map(|n| n.first().map(|h| h & 0x1f))
        .collect()
}

/// The slice of an H.264 access unit (type 1 or 5).
fn h264_slice(data: &[u8]) -> &[u8] {
    nal_units(data)
        .into_iter()
        .find(|n| n.first().is_some_and(|h| matches!(h & 0x1f, 1 | 5)))
        .expect("the access unit carries a slice")
}

fn layer_of(codec: CodecName, data: &[u8]) -> u8 {
    match codec {
        CodecName::H264 => h264_slice(data)[1] & 0x7f,
        _ => data[6],
    }
}

/// Whether a received frame is one a decoder can start from: a VP8 keyframe, or an H.264
/// access unit with an IDR slice (with SPS and PPS first where the publisher sent them).
fn starts_decoding(codec: CodecName, layer: u8, data: &[u8]) -> bool {
    match codec {
        CodecName::H264 if layer == 1 => nal_types(data) == [5],
        CodecName::H264 => nal_types(data) == [7, 8, 5],
        _ => data[0] & 1 == 0,
    }
}

fn changes(events: &[ShardEvent]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            ShardEvent::LayerChanged { substream, .. } => Some(*substream),
            _ => None,
        })
        .collect()
}

fn simulcast_switches(backend: BackendKind, codec: CodecName) {
    let dp = common::start(backend, 2, Duration::from_secs(30));
    let now = Instant::now();
    let mut publ = simulcast_publisher_with(&dp, ShardId(0), 12, now, KEY, codec);
    let mut sub = subscriber_with(&dp, ShardId(1), 13, now, codec);
    let mut events = Vec::new();
    connect_all(&dp, &mut [&mut publ, &mut sub], &mut events);
    let s = Subscription {
        subscriber: sub.peer,
        source: StreamKey {
            publisher: publ.peer,
            ssrc: KEY,
        },
        source_shard: publ.shard,
        ssrc: sub.ssrc,
        rtx: None,
        payload_types: vec![(publ.pt, sub.pt)],
        extensions: ExtIdMap::new(),
        clock_rate: 90_000,
        kind: MediaKind::Video,
        codec: Some(match codec {
            CodecName::H264 => VideoCodec::H264,
            _ => VideoCodec::Vp8,
        }),
        simulcast: Some(LayerPrefs {
            substream: 0,
            ..LayerPrefs::default()
        }),
    };
    dp.add_forward(sub.shard, s).expect("queue has room");
    let mut clients = [&mut publ, &mut sub];
    // Both shards have taken the forward (commands run in order, so their stats answers come
    // after it) before the first keyframe: installed halfway through one, the route would
    // start the subscriber at the IDR after the SPS/PPS packet it missed.
    for shard in [ShardId(0), sub_shard()] {
        common::stats(&dp, shard, &mut clients, &mut events);
    }
    let mut feed = Feed {
        codec,
        n: 0,
        started: [false; 3],
        requests_seen: 0,
    };
    let all = [0, 1, 2];
    for _ in 0..15 {
        feed.step(&dp, &mut clients, &mut events, &all);
    }
    assert_eq!(changes(&events), [0], "starts on substream 0");
    assert!(
        events.iter().any(|e| matches!(
            e,
            ShardEvent::Media {
                receiving: true,
                substream: Some(2),
                mid: Some(_),
                ..
            }
        )),
        "media start is reported per substream"
    );

    // Up to the highest: at its next keyframe, which the dataplane asks for.
    common::send(
        &dp,
        sub_shard(),
        ShardCommand::SetLayers {
            subscriber: clients[1].peer,
            ssrc: clients[1].ssrc,
            substream: Some(2),
            temporal: None,
            fallback: None,
        },
    );
    let mut extra = 0;
    while extra < 10 && feed.n < 200 {
        feed.step(&dp, &mut clients, &mut events, &all);
        if changes(&events).len() == 2 {
            extra += 1;
        }
    }
    assert_eq!(changes(&events), [0, 2], "switched up to 2");
    assert!(
        clients[0].keyframe_rids.contains(&clients[0].rids[2]),
        "a PLI asked for substream 2's keyframe: {:?}",
        clients[0].keyframe_rids
    );

    // Substream 2 stops: after the fallback, down to 1 at its keyframe.
    let mut extra = 0;
    while extra < 10 && feed.n < 400 {
        feed.step(&dp, &mut clients, &mut events, &[0, 1]);
        if changes(&events).len() == 3 {
            extra += 1;
        }
    }
    assert_eq!(changes(&events), [0, 2, 1], "fell back to 1");
    let done = run_until(
        &dp,
        &mut clients,
        &mut events,
        Duration::from_millis(300),
        |_, _| false,
    );
    assert!(!done);

    // What the subscriber saw: layer 0 frames, then 2, then 1, each run starting with a
    // keyframe, and sequence numbers without a gap throughout.
    let frames = &clients[1].frames;
    assert!(frames.len() >= 30, "got {} frames", frames.len());
    let mut runs: Vec<u8> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let layer = layer_of(codec, &f.data);
        if runs.last() != Some(&layer) {
            runs.push(layer);
            assert!(
                starts_decoding(codec, layer, &f.data),
                "frame {i} starts substream {layer} with a keyframe"
            );
        }
        if i > 0 {
            assert_eq!(
                *f.seq_range.start(),
                (**frames[i - 1].seq_range.end() + 1).into(),
                "frame {i}: sequence numbers run on without a gap"
            );
        }
    }
    assert_eq!(runs, [0, 2, 1]);
    dp.stop();
}

fn sub_shard() -> ShardId {
    ShardId(1)
}

#[test]
fn simulcast_switches_at_keyframes_and_falls_back_gap_free_epoll() {
    simulcast_switches(BackendKind::Epoll, CodecName::Vp8);
}

#[test]
fn simulcast_switches_at_keyframes_and_falls_back_gap_free_io_uring() {
    simulcast_switches(BackendKind::IoUring, CodecName::Vp8);
}

#[test]
fn h264_simulcast_switches_at_idr_and_falls_back_gap_free_epoll() {
    simulcast_switches(BackendKind::Epoll, CodecName::H264);
}

#[test]
fn h264_simulcast_switches_at_idr_and_falls_back_gap_free_io_uring() {
    simulcast_switches(BackendKind::IoUring, CodecName::H264);
}

/// The helpers that read H.264 access units back: NAL units split at 3- and 4-byte start
/// codes, the slice found behind SPS and PPS.
#[test]
fn h264_access_units_split_into_nal_units() {
    let mut au = Vec::new();
    for nal in [SPS, PPS, &[0x65, 0x82, 0x80, 0x85, 0x33][..]] {
        au.extend_from_slice(START_CODE);
        au.extend_from_slice(nal);
    }
    assert_eq!(nal_types(&au), [7, 8, 5]);
    assert_eq!(nal_units(&au)[0], SPS);
    assert_eq!(layer_of(CodecName::H264, &au), 2);
    assert!(starts_decoding(CodecName::H264, 2, &au));
    let delta = [0, 0, 1, 0x41, 0x81, 0x80, 0x86];
    assert_eq!(nal_units(&delta), [&delta[3..]]);
    assert!(!starts_decoding(CodecName::H264, 1, &delta));
}
