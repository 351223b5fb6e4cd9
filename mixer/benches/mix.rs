//! One mixer tick (20 ms of audio) at 16 kHz: per participant one Opus packet queued,
//! decoded, mixed, its N-1 mix encoded and handed to the send callback. Divide by the
//! participant count for the CPU cost of one participant per tick (budget: 20 ms per tick for
//! the whole mixer thread).

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portunus_mixer::{Codec, Join, Mixer, ParticipantSettings};

fn opus_packets(participant: usize, count: usize) -> Vec<Vec<u8>> {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    let freq = 200.0 + 97.0 * participant as f64;
    (0..count)
        .map(|n| {
            let frame: Vec<i16> = (0..960)
                .map(|k| {
                    let t = (n * 960 + k) as f64 / 48_000.0;
                    (6000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
                })
                .collect();
            let mut out = [0u8; 1500];
            let len = encoder.encode(&frame, &mut out).expect("encode");
            out[..len].to_vec()
        })
        .collect()
}

fn bench_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("mix_tick_16khz_opus");
    for participants in [10usize, 50] {
        let mut mixer = Mixer::default();
        mixer.open_room(1, 16_000, false).expect("room");
        let payloads: Vec<Vec<Vec<u8>>> = (0..participants).map(|p| opus_packets(p, 50)).collect();
        for p in 0..participants {
            let settings = ParticipantSettings {
                codec: Codec::Opus,
                prebuffer: 1,
                ..ParticipantSettings::default()
            };
            let join = Join {
                mix: 1,
                participant: p as u64,
                ssrc: p as u32 + 1,
                payload_type_in: Some(111),
                payload_type_out: 111,
                settings,
            };
            mixer.join(&join).expect("join");
            let to = SocketAddr::from(([127, 0, 0, 1], 10_000 + p as u16));
            mixer.set_destination(p as u64, to).expect("destination");
        }
        let mut seq = 0u16;
        let mut datagram = vec![0u8; 1600];
        group.throughput(Throughput::Elements(participants as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(participants),
            &participants,
            |b, _| {
                b.iter(|| {
                    for (p, packets) in payloads.iter().enumerate() {
                        let payload = &packets[usize::from(seq) % packets.len()];
                        datagram[..2].copy_from_slice(&[0x80, 111]);
                        datagram[2..4].copy_from_slice(&seq.to_be_bytes());
                        datagram[4..8].copy_from_slice(&(u32::from(seq) * 960).to_be_bytes());
                        datagram[8..12].copy_from_slice(&(p as u32 + 1).to_be_bytes());
                        datagram[12..12 + payload.len()].copy_from_slice(payload);
                        mixer.handle_datagram(&datagram[..12 + payload.len()]);
                    }
                    seq = seq.wrapping_add(1);
                    let mut bytes = 0usize;
                    mixer.tick(&mut |_, pkt| {
                        bytes += pkt.len();
                        true
                    });
                    black_box(bytes)
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_tick);
criterion_main!(benches);
