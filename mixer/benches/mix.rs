//! Mixer ticks (20 ms of audio each), sans IO: per participant one RTP packet queued, frames
//! decoded and mixed, the mixes encoded and handed to the send callback. Divide by the
//! participant count for the CPU cost of one participant per tick (budget: 20 ms per tick for
//! one mixer thread).
//!
//! - `all_talking_16khz_opus/{10,50}`: everyone speaks (each hears its own N-1 mix);
//! - `all_talking_16khz_pcmu/{10,50}`: the same in G.711 µ-law;
//! - `webinar_16khz_opus/5+500`: 5 talkers and 500 muted listeners who still send packets
//!   (AudioBridge mutes on the server side), the case of a large event.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portunus_mixer::{Codec, Join, Mixer, ParticipantSettings, g711};

fn tone(participant: usize, n: usize, rate: usize) -> Vec<i16> {
    let freq = 200.0 + 97.0 * participant as f64;
    let frame = rate / 50;
    (0..frame)
        .map(|k| {
            let t = (n * frame + k) as f64 / rate as f64;
            (6000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

fn opus_packets(participant: usize, count: usize) -> Vec<Vec<u8>> {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    (0..count)
        .map(|n| {
            let mut out = [0u8; 1500];
            let len = encoder
                .encode(&tone(participant, n, 48_000), &mut out)
                .expect("encode");
            out[..len].to_vec()
        })
        .collect()
}

fn pcmu_packets(participant: usize, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| {
            tone(participant, n, 8_000)
                .into_iter()
                .map(g711::ulaw_encode)
                .collect()
        })
        .collect()
}

/// A room of `talkers` + `listeners` (muted) participants, and each one's packets.
struct Room {
    mixer: Mixer,
    payloads: Vec<Vec<Vec<u8>>>,
    payload_type: u8,
    seq: u16,
    datagram: Vec<u8>,
}

impl Room {
    fn new(codec: Codec, talkers: usize, listeners: usize) -> Self {
        let mut mixer = Mixer::default();
        mixer.open_room(1, 16_000, false).expect("room");
        let payload_type = if codec == Codec::Opus { 111 } else { 0 };
        let total = talkers + listeners;
        let payloads: Vec<Vec<Vec<u8>>> = (0..total)
            .map(|p| match codec {
                Codec::Opus => opus_packets(p % 50, 50),
                _ => pcmu_packets(p % 50, 50),
            })
            .collect();
        for p in 0..total {
            let settings = ParticipantSettings {
                codec,
                prebuffer: 1,
                muted: p >= talkers,
                ..ParticipantSettings::default()
            };
            let join = Join {
                mix: 1,
                participant: p as u64,
                ssrc: p as u32 + 1,
                payload_type_in: Some(payload_type),
                payload_type_out: payload_type,
                settings,
            };
            mixer.join(&join).expect("join");
            let to = SocketAddr::from(([127, 0, 0, 1], 10_000 + p as u16));
            mixer.set_destination(p as u64, to).expect("destination");
        }
        Self {
            mixer,
            payloads,
            payload_type,
            seq: 0,
            datagram: vec![0u8; 1600],
        }
    }

    /// One packet from everyone, then one tick; the bytes sent.
    fn tick(&mut self) -> usize {
        let seq = self.seq;
        for (p, packets) in self.payloads.iter().enumerate() {
            let payload = &packets[usize::from(seq) % packets.len()];
            let d = &mut self.datagram;
            d[..2].copy_from_slice(&[0x80, self.payload_type]);
            d[2..4].copy_from_slice(&seq.to_be_bytes());
            d[4..8].copy_from_slice(&(u32::from(seq) * 960).to_be_bytes());
            d[8..12].copy_from_slice(&(p as u32 + 1).to_be_bytes());
            d[12..12 + payload.len()].copy_from_slice(payload);
            self.mixer.handle_datagram(&d[..12 + payload.len()]);
        }
        self.seq = seq.wrapping_add(1);
        let mut bytes = 0usize;
        self.mixer.tick(&mut |_, pkt| {
            bytes += pkt.len();
            true
        });
        bytes
    }
}

fn bench_all_talking(c: &mut Criterion) {
    for (name, codec) in [
        ("all_talking_16khz_opus", Codec::Opus),
        ("all_talking_16khz_pcmu", Codec::Pcmu),
    ] {
        let mut group = c.benchmark_group(name);
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(4));
        for participants in [10usize, 50] {
            let mut room = Room::new(codec, participants, 0);
            group.throughput(Throughput::Elements(participants as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(participants),
                &participants,
                |b, _| b.iter(|| black_box(room.tick())),
            );
        }
        group.finish();
    }
}

fn bench_webinar(c: &mut Criterion) {
    let mut group = c.benchmark_group("webinar_16khz_opus");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    let (talkers, listeners) = (5usize, 500usize);
    let mut room = Room::new(Codec::Opus, talkers, listeners);
    group.throughput(Throughput::Elements((talkers + listeners) as u64));
    group.bench_function(BenchmarkId::from_parameter("5+500"), |b| {
        b.iter(|| black_box(room.tick()));
    });
    group.finish();
}

criterion_group!(benches, bench_all_talking, bench_webinar);
criterion_main!(benches);
