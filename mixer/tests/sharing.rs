//! Shared encodes and mute, driven tick by tick without sockets: listeners (muted or silent
//! participants) share one encode of the whole mix and each still decodes every talker;
//! a talker never hears itself, also when it moves between the shared encoder and its own;
//! a participant unmuted is heard again from its fresh packets, never from what it sent
//! while muted.

use std::collections::HashMap;
use std::net::SocketAddr;

use portunus_mixer::{Codec, Join, Mixer, OWN_ENCODER_HOLD, ParticipantSettings, g711};

const ROOM: u64 = 1;
const RATE: u32 = 16_000;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn join(participant: u64, codec: Codec, muted: bool) -> Join {
    let payload_type = if codec == Codec::Opus { 111 } else { 0 };
    Join {
        mix: ROOM,
        participant,
        ssrc: 0x1000 + participant as u32,
        payload_type_in: Some(payload_type),
        payload_type_out: payload_type,
        settings: ParticipantSettings {
            codec,
            prebuffer: 1,
            muted,
            ..ParticipantSettings::default()
        },
    }
}

fn room(rate: u32, joins: &[Join]) -> Mixer {
    let mut mixer = Mixer::default();
    mixer.open_room(ROOM, rate, false).expect("room");
    for j in joins {
        mixer.join(j).expect("join");
        mixer
            .set_destination(j.participant, addr(j.participant as u16))
            .expect("destination");
    }
    mixer
}

fn rtp(participant: u64, seq: u16, payload_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut rtp = vec![0x80, payload_type];
    rtp.extend_from_slice(&seq.to_be_bytes());
    rtp.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    rtp.extend_from_slice(&(0x1000 + participant as u32).to_be_bytes());
    rtp.extend_from_slice(payload);
    rtp
}

/// A talker: an Opus encoder of a sine at its own frequency.
struct Talker {
    participant: u64,
    freq: f64,
    encoder: opus::Encoder,
    seq: u16,
}

impl Talker {
    fn new(participant: u64, freq: f64) -> Self {
        let encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio)
            .expect("encoder");
        Self {
            participant,
            freq,
            encoder,
            seq: 0,
        }
    }

    fn packet(&mut self) -> Vec<u8> {
        let frame: Vec<i16> = (0..960)
            .map(|k| {
                let t = f64::from(u32::from(self.seq) * 960 + k) / 48_000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * self.freq * t).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 1500];
        let len = self.encoder.encode(&frame, &mut payload).expect("encode");
        let packet = rtp(self.participant, self.seq, 111, &payload[..len]);
        self.seq = self.seq.wrapping_add(1);
        packet
    }
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

/// Each destination's stream, decoded as one continuous Opus stream (48 kHz, as a browser
/// does), one frame per tick.
#[derive(Default)]
struct Listeners {
    decoders: HashMap<u16, opus::Decoder>,
    pcm: HashMap<u16, Vec<i16>>,
    /// (port, ssrc, payload) of the last tick.
    last: Vec<(u16, u32, Vec<u8>)>,
}

impl Listeners {
    fn tick(&mut self, mixer: &mut Mixer) {
        let mut last = Vec::new();
        mixer.tick(&mut |to, pkt| {
            let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
            last.push((to.port(), ssrc, pkt[12..].to_vec()));
            true
        });
        for (port, _, payload) in &last {
            let decoder = self.decoders.entry(*port).or_insert_with(|| {
                opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder")
            });
            let mut out = [0i16; 960];
            let n = decoder
                .decode(payload, &mut out, false)
                .expect("every packet decodes, across encoder switches too");
            self.pcm
                .entry(*port)
                .or_default()
                .extend_from_slice(&out[..n]);
        }
        last.sort_unstable();
        self.last = last;
    }

    /// Tone energies heard by `port` over ticks `from..to`.
    fn energies(&self, port: u16, (from, to): (usize, usize), tones: &[f64]) -> Vec<f64> {
        let pcm = &self.pcm[&port][from * 960..to * 960];
        tones.iter().map(|f| goertzel(pcm, 48_000.0, *f)).collect()
    }
}

#[test]
fn muted_listeners_share_one_encode_and_each_decodes_every_talker() {
    const TONES: [f64; 3] = [440.0, 1100.0, 3500.0];
    const TICKS: u64 = 60;
    // 1 and 2 talk; 3…6 are muted listeners (6 sends a tone nobody may hear).
    let mut joins = vec![join(1, Codec::Opus, false), join(2, Codec::Opus, false)];
    joins.extend((3..=6).map(|p| join(p, Codec::Opus, true)));
    let mut mixer = room(RATE, &joins);
    let mut talkers = [
        Talker::new(1, TONES[0]),
        Talker::new(2, TONES[1]),
        Talker::new(6, TONES[2]),
    ];
    let mut heard = Listeners::default();
    for _ in 0..TICKS {
        for t in &mut talkers {
            mixer.handle_datagram(&t.packet());
        }
        heard.tick(&mut mixer);
        let listeners: Vec<_> = heard.last.iter().filter(|(p, ..)| *p >= 3).collect();
        assert_eq!(listeners.len(), 4);
        assert!(
            listeners
                .iter()
                .all(|(.., payload)| *payload == listeners[0].2),
            "one payload for every listener"
        );
        let mut ssrcs: Vec<u32> = heard.last.iter().map(|(_, s, _)| *s).collect();
        ssrcs.dedup();
        assert_eq!(ssrcs.len(), 6, "each stream keeps its own SSRC");
    }
    let c = mixer.counters().snapshot();
    assert_eq!(c.shared_sends, 4 * TICKS, "{c:?}");
    assert_eq!(
        c.encodes,
        3 * TICKS,
        "two talkers' own mixes and one shared: {c:?}"
    );
    assert_eq!(
        c.muted, TICKS,
        "the muted tone is dropped on arrival: {c:?}"
    );
    let window = (TICKS as usize / 3, TICKS as usize);
    for port in 1..=6u16 {
        let e = heard.energies(port, window, &TONES);
        let (hears_1, hears_2) = (port != 1, port != 2);
        assert_eq!(e[0] > 1e5, hears_1, "participant {port}: {e:?}");
        assert_eq!(e[1] > 1e5, hears_2, "participant {port}: {e:?}");
        let quietest = if hears_1 && hears_2 {
            e[0].min(e[1])
        } else {
            e[0].max(e[1])
        };
        assert!(e[2] < quietest / 100.0, "muted tone heard by {port}: {e:?}");
        if !hears_1 {
            assert!(e[0] < e[1] / 100.0, "1 hears itself: {e:?}");
        }
        if !hears_2 {
            assert!(e[1] < e[0] / 100.0, "2 hears itself: {e:?}");
        }
    }
}

#[test]
fn a_talker_moves_between_its_own_and_the_shared_encode_without_hearing_itself() {
    const TONES: [f64; 2] = [440.0, 1100.0];
    let hold = OWN_ENCODER_HOLD as usize;
    // 1 talks, pauses for longer than the hold, talks again; 2 talks throughout; 3 listens.
    let joins = [
        join(1, Codec::Opus, false),
        join(2, Codec::Opus, false),
        join(3, Codec::Opus, true),
    ];
    let mut mixer = room(RATE, &joins);
    let (mut one, mut two) = (Talker::new(1, TONES[0]), Talker::new(2, TONES[1]));
    let talk = 40;
    let pause = hold + 40;
    let mut heard = Listeners::default();
    let mut shared_sends_to_1 = 0;
    for tick in 0..(talk + pause + talk) {
        let one_talks = tick < talk || tick >= talk + pause;
        if one_talks {
            mixer.handle_datagram(&one.packet());
        }
        mixer.handle_datagram(&two.packet());
        heard.tick(&mut mixer);
        let to_1 = heard.last.iter().find(|(p, ..)| *p == 1).expect("1 hears");
        let to_3 = heard.last.iter().find(|(p, ..)| *p == 3).expect("3 hears");
        if to_1.2 == to_3.2 {
            shared_sends_to_1 += 1;
        }
    }
    // While 1 pauses (after the hold) it hears through the listeners' encode.
    assert!(
        shared_sends_to_1 >= pause - hold - 2,
        "{shared_sends_to_1} shared packets to 1"
    );
    let segments = [
        ("talking", (talk / 2, talk)),
        ("pausing, shared", (talk + hold + 10, talk + pause)),
        ("talking again", (talk + pause + 10, talk + pause + talk)),
    ];
    for (what, window) in segments {
        let e = heard.energies(1, window, &TONES);
        assert!(e[1] > 1e5, "1 hears 2 while {what}: {e:?}");
        assert!(e[0] < e[1] / 100.0, "1 hears itself while {what}: {e:?}");
        let e = heard.energies(3, window, &TONES);
        let one_talks = what != "pausing, shared";
        assert_eq!(e[0] > 1e5, one_talks, "3 hears 1 while {what}: {e:?}");
        assert!(e[1] > 1e5, "3 hears 2 while {what}: {e:?}");
    }
}

/// One PCMU packet of a constant level.
fn pcmu(participant: u64, seq: u16, level: i16) -> Vec<u8> {
    rtp(participant, seq, 0, &[g711::ulaw_encode(level); 160])
}

/// One tick; the first sample each port hears.
fn pcmu_tick(mixer: &mut Mixer) -> Vec<(u16, i16)> {
    let mut out = Vec::new();
    mixer.tick(&mut |to, pkt| {
        out.push((to.port(), g711::ulaw_decode(pkt[12])));
        true
    });
    out.sort_unstable();
    out
}

#[test]
fn an_unmuted_participant_is_heard_again_without_replaying_what_it_sent_while_muted() {
    let mut joins = [join(1, Codec::Pcmu, false), join(2, Codec::Pcmu, true)];
    joins[1].settings.prebuffer = 2;
    let mut mixer = room(8_000, &joins);
    // A burst while muted: the old code kept it and played it after unmuting.
    for seq in 0..5 {
        mixer.handle_datagram(&pcmu(2, seq, 8000));
    }
    assert_eq!(pcmu_tick(&mut mixer), vec![(1, 0), (2, 0)], "muted");
    let mut unmuted = joins[1].settings;
    unmuted.muted = false;
    mixer.update(2, &unmuted, false).expect("unmute");
    let fresh = g711::ulaw_decode(g711::ulaw_encode(-3000));
    let mut heard = Vec::new();
    for seq in 5..12 {
        mixer.handle_datagram(&pcmu(2, seq, -3000));
        heard.push(pcmu_tick(&mut mixer)[0].1);
    }
    assert_eq!(heard[0], 0, "prebuffering its fresh packets: {heard:?}");
    assert!(heard[1..].iter().all(|s| *s == fresh), "{heard:?}");
    // Muted again: gone from the next tick on, even with packets still arriving.
    let mut muted = unmuted;
    muted.muted = true;
    mixer.update(2, &muted, false).expect("mute");
    mixer.handle_datagram(&pcmu(2, 12, -3000));
    assert_eq!(pcmu_tick(&mut mixer), vec![(1, 0), (2, 0)]);
    assert_eq!(mixer.counters().snapshot().muted, 6);
}

#[test]
fn listeners_with_different_encoder_settings_get_one_encode_per_setting() {
    let mut odd = join(5, Codec::Opus, true);
    odd.settings.opus.bitrate = 32_000;
    let joins = [
        join(1, Codec::Pcmu, false),
        join(2, Codec::Pcmu, true),
        join(3, Codec::Pcmu, true),
        join(4, Codec::Opus, true),
        odd,
    ];
    let mut mixer = room(RATE, &joins);
    let mut seq = 0;
    let mut encodes = |mixer: &mut Mixer| {
        let before = mixer.counters().snapshot().encodes;
        mixer.handle_datagram(&pcmu(1, seq, 1000));
        seq += 1;
        mixer.tick(&mut |_, _| true);
        mixer.counters().snapshot().encodes - before
    };
    // 1 talks (its own), PCMU listeners 2 and 3 (one), Opus at two bitrates (two).
    assert_eq!(encodes(&mut mixer), 4);
    mixer.remove_participant(5);
    assert_eq!(encodes(&mut mixer), 3, "an unused setting's encoder goes");
    let mut same = join(4, Codec::Opus, true).settings;
    same.codec = Codec::Pcmu;
    mixer.update(4, &same, false).expect("update");
    assert_eq!(encodes(&mut mixer), 2, "4 now shares the PCMU encode");
}
