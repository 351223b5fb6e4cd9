//! The mixer thread over real loopback UDP: four participants send Opus RTP, each a sine of
//! its own frequency; each one's stream decodes to the others' tones and not its own, and a
//! muted participant's tone is in nobody's stream. Garbage on the socket is counted and
//! changes nothing. A pool of two threads mixes two rooms, one on each, apart. A thread
//! whose mixes are empty does not tick.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use portunus_mixer::{Codec, Join, MixerCommand, MixerPool, MixerThread, ParticipantSettings};

const ROOM: u64 = 7;
/// Tones per participant (Hz), well inside a 16 kHz mix; the last participant is muted.
const TONES: [f64; 4] = [440.0, 1100.0, 2300.0, 3500.0];
const PACKETS: u32 = 75;

/// A mixer thread on loopback with mix `ROOM` (16 kHz, mono) open.
fn started_with_room() -> MixerThread {
    let mixer = MixerThread::start(IpAddr::V4(Ipv4Addr::LOCALHOST)).expect("mixer");
    let open = MixerCommand::OpenRoom {
        mix: ROOM,
        sampling_rate: 16_000,
        spatial: false,
    };
    assert!(mixer.send(open).is_ok());
    mixer
}

/// Energy of `samples` at `freq` (Goertzel), normalised by length.
fn goertzel(samples: &[i16], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = f64::from(*x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.len() as f64
}

#[test]
fn each_participant_hears_the_others_tones_and_not_its_own() {
    let mixer = started_with_room();
    let send = |c: MixerCommand| assert!(mixer.send(c).is_ok());
    let sockets: Vec<UdpSocket> = (0..TONES.len())
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
            s.set_nonblocking(true).expect("nonblocking");
            s
        })
        .collect();
    for (i, socket) in sockets.iter().enumerate() {
        let settings = ParticipantSettings {
            codec: Codec::Opus,
            prebuffer: 4,
            muted: i == TONES.len() - 1,
            ..ParticipantSettings::default()
        };
        send(MixerCommand::Join(Join {
            mix: ROOM,
            participant: i as u64,
            ssrc: 100 + i as u32,
            payload_type_in: Some(111),
            payload_type_out: 111,
            settings,
        }));
        send(MixerCommand::SetDestination {
            participant: i as u64,
            to: socket.local_addr().expect("addr"),
        });
    }
    // Commands apply at the next tick.
    std::thread::sleep(Duration::from_millis(60));

    let mut encoders: Vec<opus::Encoder> = TONES
        .iter()
        .map(|_| opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio))
        .collect::<Result<_, _>>()
        .expect("encoders");
    let mut received: Vec<Vec<Vec<u8>>> = vec![Vec::new(); TONES.len()];
    let start = Instant::now();
    let mut frame = [0i16; 960];
    let mut payload = [0u8; 1500];
    let mut buf = [0u8; 2048];
    for n in 0..PACKETS {
        for (i, (socket, encoder)) in sockets.iter().zip(&mut encoders).enumerate() {
            for (k, s) in frame.iter_mut().enumerate() {
                let t = f64::from(n * 960 + k as u32) / 48_000.0;
                *s = (8000.0 * (2.0 * std::f64::consts::PI * TONES[i] * t).sin()) as i16;
            }
            let len = encoder.encode(&frame, &mut payload).expect("encode");
            let mut rtp = vec![0x80, 111];
            rtp.extend_from_slice(&(n as u16).to_be_bytes());
            rtp.extend_from_slice(&(n * 960).to_be_bytes());
            rtp.extend_from_slice(&(100 + i as u32).to_be_bytes());
            rtp.extend_from_slice(&payload[..len]);
            socket.send_to(&rtp, mixer.local_addr()).expect("send");
        }
        if n == PACKETS / 2 {
            // Garbage: not RTP, an unknown SSRC, and an undecodable Opus packet from 0.
            let s = &sockets[0];
            s.send_to(b"not rtp", mixer.local_addr()).expect("send");
            let mut bad = vec![0x80, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0xad];
            bad.extend_from_slice(&[0xff; 40]);
            s.send_to(&bad, mixer.local_addr()).expect("send");
            bad[2..4].copy_from_slice(&(PACKETS as u16 + 10).to_be_bytes());
            bad[8..12].copy_from_slice(&100u32.to_be_bytes());
            // Opus code 3 with a frame count of 0: invalid.
            bad.truncate(12);
            bad.extend_from_slice(&[0x03, 0x00]);
            s.send_to(&bad, mixer.local_addr()).expect("send");
        }
        // Paced like a real sender: packet n leaves at n × 20 ms.
        let due = start + Duration::from_millis(20 * u64::from(n + 1));
        while Instant::now() < due {
            for (i, socket) in sockets.iter().enumerate() {
                while let Ok(len) = socket.recv(&mut buf) {
                    received[i].push(buf[..len].to_vec());
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    for (i, socket) in sockets.iter().enumerate() {
        while let Ok(len) = socket.recv(&mut buf) {
            received[i].push(buf[..len].to_vec());
        }
    }

    for (i, packets) in received.iter().enumerate() {
        assert!(
            packets.len() > 40,
            "participant {i} got {} packets",
            packets.len()
        );
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
        let mut pcm = Vec::new();
        let mut out = [0i16; 960];
        for p in packets {
            assert_eq!(p[1] & 0x7f, 111, "the participant's payload type");
            let n = decoder
                .decode(&p[12..], &mut out, false)
                .expect("the mix decodes");
            pcm.extend_from_slice(&out[..n]);
        }
        // Skip the prebuffer and the decoder's start.
        let pcm = &pcm[pcm.len() / 3..];
        let energy: Vec<f64> = TONES.iter().map(|f| goertzel(pcm, 48_000.0, *f)).collect();
        let loudest_other = (0..TONES.len() - 1)
            .filter(|j| *j != i)
            .map(|j| energy[j])
            .fold(f64::INFINITY, f64::min);
        for (j, e) in energy.iter().enumerate() {
            let present = j != i && j != TONES.len() - 1;
            if present {
                assert!(*e > 1e5, "participant {i}: tone {j} missing ({energy:?})");
            } else {
                assert!(
                    *e < loudest_other / 100.0,
                    "participant {i}: tone {j} should be absent ({energy:?})"
                );
            }
        }
    }
    let stats = mixer.stats();
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert_eq!(stats.unknown_ssrc, 1, "{stats:?}");
    assert!(stats.decode_errors + stats.late >= 1, "{stats:?}");
    assert!(stats.packets_in >= u64::from(PACKETS) * 4, "{stats:?}");
}

/// Sends `PACKETS` Opus packets of `tones[i]` from `sockets[i]` to `mixers[i]` (SSRC
/// `200 + i`), paced at 20 ms, and returns what each socket received, decoded at 48 kHz.
fn exchange_tones(sockets: &[UdpSocket], mixers: &[SocketAddr], tones: &[f64]) -> Vec<Vec<i16>> {
    let mut encoders: Vec<opus::Encoder> = tones
        .iter()
        .map(|_| opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio))
        .collect::<Result<_, _>>()
        .expect("encoders");
    let mut received: Vec<Vec<Vec<u8>>> = vec![Vec::new(); tones.len()];
    let start = Instant::now();
    let (mut frame, mut payload, mut buf) = ([0i16; 960], [0u8; 1500], [0u8; 2048]);
    let mut drain = |received: &mut Vec<Vec<Vec<u8>>>| {
        for (i, socket) in sockets.iter().enumerate() {
            while let Ok(len) = socket.recv(&mut buf) {
                received[i].push(buf[..len].to_vec());
            }
        }
    };
    for n in 0..PACKETS {
        for (i, encoder) in encoders.iter_mut().enumerate() {
            for (k, s) in frame.iter_mut().enumerate() {
                let t = f64::from(n * 960 + k as u32) / 48_000.0;
                *s = (8000.0 * (2.0 * std::f64::consts::PI * tones[i] * t).sin()) as i16;
            }
            let len = encoder.encode(&frame, &mut payload).expect("encode");
            let mut rtp = vec![0x80, 111];
            rtp.extend_from_slice(&(n as u16).to_be_bytes());
            rtp.extend_from_slice(&(n * 960).to_be_bytes());
            rtp.extend_from_slice(&(200 + i as u32).to_be_bytes());
            rtp.extend_from_slice(&payload[..len]);
            sockets[i].send_to(&rtp, mixers[i]).expect("send");
        }
        let due = start + Duration::from_millis(20 * u64::from(n + 1));
        while Instant::now() < due {
            drain(&mut received);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    drain(&mut received);
    received
        .iter()
        .map(|packets| {
            let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
            let mut pcm = Vec::new();
            let mut out = [0i16; 960];
            for p in packets {
                let n = decoder.decode(&p[12..], &mut out, false).expect("decodes");
                pcm.extend_from_slice(&out[..n]);
            }
            pcm
        })
        .collect()
}

#[test]
fn a_pool_places_rooms_on_separate_threads_and_each_mixes_only_its_own() {
    const TONES: [f64; 4] = [440.0, 1100.0, 2300.0, 3500.0];
    // Participants 0 and 1 in room 1, 2 and 3 in room 2.
    let room_of = |i: usize| 1 + (i / 2) as u64;
    let mut pool = MixerPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2);
    assert_eq!(
        pool.threads_running(),
        0,
        "threads start with their first room"
    );
    for mix in [1, 2] {
        let open = MixerCommand::OpenRoom {
            mix,
            sampling_rate: 16_000,
            spatial: false,
        };
        assert!(pool.send(open).is_ok());
    }
    assert_eq!(pool.threads_running(), 2);
    let (a, b) = (
        pool.room_addr(1).expect("room 1"),
        pool.room_addr(2).expect("room 2"),
    );
    assert_ne!(a, b, "one thread (and socket) per room");
    let sockets: Vec<UdpSocket> = (0..TONES.len())
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
            s.set_nonblocking(true).expect("nonblocking");
            s
        })
        .collect();
    for (i, socket) in sockets.iter().enumerate() {
        let join = Join {
            mix: room_of(i),
            participant: i as u64,
            ssrc: 200 + i as u32,
            payload_type_in: Some(111),
            payload_type_out: 111,
            settings: ParticipantSettings {
                prebuffer: 4,
                ..ParticipantSettings::default()
            },
        };
        assert!(pool.send(MixerCommand::Join(join)).is_ok());
        let to = socket.local_addr().expect("addr");
        let destination = MixerCommand::SetDestination {
            participant: i as u64,
            to,
        };
        assert!(pool.send(destination).is_ok());
    }
    assert!(
        pool.send(MixerCommand::Join(Join {
            mix: 9,
            participant: 9,
            ssrc: 9,
            payload_type_in: None,
            payload_type_out: 111,
            settings: ParticipantSettings::default(),
        }))
        .is_err(),
        "no thread holds room 9"
    );
    std::thread::sleep(Duration::from_millis(60));
    let mixers: Vec<SocketAddr> = (0..TONES.len())
        .map(|i| pool.room_addr(room_of(i)).expect("room"))
        .collect();
    let pcm = exchange_tones(&sockets, &mixers, &TONES);
    for (i, pcm) in pcm.iter().enumerate() {
        assert!(
            pcm.len() > 40 * 960,
            "participant {i} got {} samples",
            pcm.len()
        );
        let pcm = &pcm[pcm.len() / 3..];
        let energy: Vec<f64> = TONES.iter().map(|f| goertzel(pcm, 48_000.0, *f)).collect();
        let partner = i ^ 1;
        for (j, e) in energy.iter().enumerate() {
            if j == partner {
                assert!(*e > 1e5, "participant {i}: tone {j} missing ({energy:?})");
            } else {
                assert!(
                    *e < energy[partner] / 100.0,
                    "participant {i}: tone {j} should be absent ({energy:?})"
                );
            }
        }
    }
    let stats = pool.stats();
    assert!(
        stats.packets_in >= u64::from(PACKETS) * 4,
        "both threads counted: {stats:?}"
    );
    assert_eq!(stats.unknown_ssrc, 0, "{stats:?}");
}

/// Waits (bounded) until `ready` holds for the thread's counters; returns the last snapshot.
fn wait_for(
    mixer: &MixerThread,
    ready: impl Fn(&portunus_mixer::MixStats) -> bool,
) -> portunus_mixer::MixStats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = mixer.stats();
        if ready(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_thread_ticks_only_while_a_mix_has_a_participant() {
    // An open mix with nobody in it, like AudioBridge's sample room: no ticks at all.
    let mixer = started_with_room();
    let send = |c: MixerCommand| assert!(mixer.send(c).is_ok());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mixer.stats().ticks, 0, "an empty mix is not ticked");
    // A participant: ticking starts at once (the command wakes the thread) …
    send(MixerCommand::Join(Join {
        mix: ROOM,
        participant: 1,
        ssrc: 101,
        payload_type_in: Some(111),
        payload_type_out: 111,
        settings: ParticipantSettings::default(),
    }));
    let s = wait_for(&mixer, |s| s.ticks >= 5);
    assert!(s.ticks >= 5, "ticks with a participant: {}", s.ticks);
    // … and stops when the mix is empty again.
    send(MixerCommand::Leave { participant: 1 });
    std::thread::sleep(Duration::from_millis(100));
    let after_leave = mixer.stats().ticks;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mixer.stats().ticks, after_leave, "no ticks once empty");
    // Dropping the handle ends a sleeping thread (the drop joins it).
    drop(mixer);
}
