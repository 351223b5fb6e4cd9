//! The mixer's behaviour, driven tick by tick without sockets: G.711 at 8 kHz makes every
//! sample exact (µ-law codes decode to fixed values and encode back to the same codes), so
//! the N-1 mix, mute, volume, prebuffer and forwarders can be checked to the sample.

use std::net::SocketAddr;

use portunus_mixer::{Codec, Join, Mixer, ParticipantSettings, g711};

const ROOM: u64 = 1;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn pcmu(participant: u64, prebuffer: usize) -> Join {
    Join {
        mix: ROOM,
        participant,
        ssrc: 0x1000 + participant as u32,
        payload_type_in: Some(0),
        payload_type_out: 0,
        settings: ParticipantSettings {
            codec: Codec::Pcmu,
            prebuffer,
            ..ParticipantSettings::default()
        },
    }
}

/// One PCMU RTP packet of a constant level from participant `p`.
fn packet(p: u64, seq: u16, level: i16) -> Vec<u8> {
    let mut rtp = vec![0x80, 0];
    rtp.extend_from_slice(&seq.to_be_bytes());
    rtp.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    rtp.extend_from_slice(&(0x1000 + p as u32).to_be_bytes());
    rtp.extend(std::iter::repeat_n(g711::ulaw_encode(level), 160));
    rtp
}

/// Runs one tick; what each destination port received, decoded to its first sample.
fn tick(mixer: &mut Mixer) -> Vec<(u16, i16)> {
    let mut out = Vec::new();
    mixer.tick(&mut |to, pkt| {
        let payload = &pkt[12..];
        assert_eq!(payload.len(), 160);
        assert!(payload.iter().all(|c| *c == payload[0]), "a constant frame");
        out.push((to.port(), g711::ulaw_decode(payload[0])));
        true
    });
    out.sort_unstable();
    out
}

fn room(participants: &[u64], prebuffer: usize) -> Mixer {
    let mut mixer = Mixer::default();
    mixer.open_room(ROOM, 8_000, false).expect("room");
    for p in participants {
        mixer.join(&pcmu(*p, prebuffer)).expect("join");
        mixer
            .set_destination(*p, addr(*p as u16))
            .expect("destination");
    }
    mixer
}

#[test]
fn each_participant_hears_everyone_but_itself() {
    let mut mixer = room(&[1, 2, 3], 1);
    mixer.handle_datagram(&packet(1, 10, 1000));
    mixer.handle_datagram(&packet(2, 50, 2000));
    mixer.handle_datagram(&packet(3, 7, -500));
    let heard = tick(&mut mixer);
    // µ-law levels: 1000 → 988, 2000 → 1980, -500 → -492; their sums re-quantised.
    let expect = |v: i16| g711::ulaw_decode(g711::ulaw_encode(v));
    assert_eq!(
        heard,
        vec![
            (1, expect(1980 - 492)),
            (2, expect(988 - 492)),
            (3, expect(988 + 1980)),
        ]
    );
}

#[test]
fn a_muted_participant_is_in_nobodys_mix_but_hears_everyone() {
    let mut mixer = room(&[1, 2, 3], 1);
    let mut settings = pcmu(3, 1).settings;
    settings.muted = true;
    mixer.update(3, &settings, false).expect("update");
    mixer.handle_datagram(&packet(1, 1, 1000));
    mixer.handle_datagram(&packet(2, 1, 2000));
    mixer.handle_datagram(&packet(3, 1, 8000));
    let expect = |v: i16| g711::ulaw_decode(g711::ulaw_encode(v));
    assert_eq!(
        tick(&mut mixer),
        vec![(1, 1980), (2, 988), (3, expect(988 + 1980))]
    );
}

#[test]
fn volume_scales_a_voice_for_everyone_else() {
    let mut mixer = room(&[1, 2], 1);
    let mut settings = pcmu(2, 1).settings;
    settings.volume_percent = 50;
    mixer.update(2, &settings, false).expect("update");
    mixer.handle_datagram(&packet(2, 1, 2000));
    let expect = |v: i16| g711::ulaw_decode(g711::ulaw_encode(v));
    assert_eq!(tick(&mut mixer), vec![(1, expect(990)), (2, 0)]);
}

#[test]
fn loud_voices_clip_instead_of_wrapping() {
    let mut mixer = room(&[1, 2, 3], 1);
    mixer.handle_datagram(&packet(1, 1, 30_000));
    mixer.handle_datagram(&packet(2, 1, 30_000));
    let heard = tick(&mut mixer);
    // Participant 3 hears 1 + 2 = 60 000 → the largest µ-law level, not a negative one.
    assert_eq!(heard[2], (3, g711::ulaw_decode(0x80)));
}

#[test]
fn nothing_is_mixed_until_the_prebuffer_fills() {
    let mut mixer = room(&[1, 2], 3);
    mixer.handle_datagram(&packet(2, 100, 2000));
    mixer.handle_datagram(&packet(2, 101, 2000));
    for _ in 0..5 {
        assert_eq!(
            tick(&mut mixer),
            vec![(1, 0), (2, 0)],
            "two of three buffered"
        );
    }
    mixer.handle_datagram(&packet(2, 102, 2000));
    for _ in 0..3 {
        assert_eq!(tick(&mut mixer), vec![(1, 1980), (2, 0)]);
    }
    assert_eq!(tick(&mut mixer), vec![(1, 0), (2, 0)], "ran dry");
    let c = mixer.counters().snapshot();
    assert_eq!(c.underruns, 1);
    assert_eq!(c.packets_out, 2 * 9);
}

#[test]
fn garbage_is_counted_and_never_mixed() {
    let mut mixer = Mixer::default();
    mixer.open_room(ROOM, 16_000, true).expect("room");
    let mut opus = pcmu(1, 1);
    opus.settings.codec = Codec::Opus;
    opus.payload_type_in = Some(111);
    opus.payload_type_out = 111;
    mixer.join(&opus).expect("join");
    mixer.join(&pcmu(2, 1)).expect("join");
    mixer.set_destination(2, addr(2)).expect("destination");
    mixer.handle_datagram(&[0xde, 0xad]);
    mixer.handle_datagram(&packet(9, 1, 0));
    mixer.handle_datagram(&packet(1, 1, 0)); // PT 0 where Opus (111) was negotiated
    let mut corrupt = packet(1, 2, 0);
    corrupt[1] = 111;
    for (i, b) in corrupt[12..].iter_mut().enumerate() {
        *b = (i * 37) as u8 | 0x03; // code 3: a frame count follows, then nonsense
    }
    mixer.handle_datagram(&corrupt);
    let mut empty = corrupt.clone();
    empty.truncate(12);
    empty[3] = 3;
    mixer.handle_datagram(&empty);
    let heard = tick(&mut mixer);
    assert_eq!(heard, vec![(2, 0)], "nothing decodable from 1");
    let c = mixer.counters().snapshot();
    assert_eq!(c.malformed, 1);
    assert_eq!(c.unknown_ssrc, 1);
    assert_eq!(c.wrong_payload_type, 1);
    assert_eq!(c.decode_errors, 1, "{c:?}");
    assert_eq!(mixer.join(&pcmu(3, 1)).map(|()| 0), Ok(0));
    let mut clash = pcmu(4, 1);
    clash.ssrc = 0x1003;
    assert!(
        mixer.join(&clash).is_err(),
        "SSRCs demultiplex: no two alike"
    );
}

#[test]
fn datagrams_find_their_participant_after_others_leave_and_rooms_close() {
    let mut mixer = room(&[1, 2, 3], 1);
    // 3 takes 1's place in the room: its datagrams must still reach it, not 2.
    mixer.remove_participant(1);
    mixer.handle_datagram(&packet(2, 1, 2000));
    mixer.handle_datagram(&packet(3, 1, 1000));
    assert_eq!(tick(&mut mixer), vec![(2, 988), (3, 1980)]);
    mixer.handle_datagram(&packet(1, 2, 1000));
    assert_eq!(mixer.counters().snapshot().unknown_ssrc, 1, "1 has left");

    // A room opened in a closed room's place gets only its own participants' audio.
    const OTHER: u64 = 2;
    mixer.open_room(OTHER, 8_000, false).expect("other room");
    mixer.close_room(ROOM);
    mixer.handle_datagram(&packet(2, 2, 2000));
    assert_eq!(
        mixer.counters().snapshot().unknown_ssrc,
        2,
        "2 left with its room"
    );
    mixer.open_room(ROOM, 8_000, false).expect("room again");
    for p in [4, 5] {
        mixer
            .join(&Join {
                mix: OTHER,
                ..pcmu(p, 1)
            })
            .expect("join other");
        mixer
            .set_destination(p, addr(p as u16))
            .expect("destination");
    }
    mixer.join(&pcmu(6, 1)).expect("join");
    mixer.set_destination(6, addr(6)).expect("destination");
    mixer.handle_datagram(&packet(4, 1, 1000));
    mixer.handle_datagram(&packet(5, 1, 2000));
    mixer.handle_datagram(&packet(6, 1, -500));
    assert_eq!(tick(&mut mixer), vec![(4, 1980), (5, 988), (6, 0)]);
}

/// A PCMU forwarder of the whole mix to `port`.
fn forwarder(port: u16) -> portunus_mixer::ForwarderSpec {
    portunus_mixer::ForwarderSpec {
        id: 77,
        mix: ROOM,
        destination: addr(port),
        codec: Codec::Pcmu,
        payload_type: 0,
        ssrc: 0xf0f0,
        srtp: None,
    }
}

#[test]
fn a_forwarder_gets_the_whole_mix_with_and_without_listeners() {
    let expect = |v: i16| g711::ulaw_decode(g711::ulaw_encode(v));
    // Both talking: no listener, so the forwarder's whole mix is made for it alone.
    let mut mixer = room(&[1, 2], 1);
    mixer.add_forwarder(forwarder(900)).expect("forwarder");
    mixer.handle_datagram(&packet(1, 10, 1000));
    mixer.handle_datagram(&packet(2, 50, 2000));
    let heard = tick(&mut mixer);
    assert!(
        heard.contains(&(900, expect(988 + 1980))),
        "the forwarder hears both: {heard:?}"
    );
    // One talker and a silent listener: the listener's shared encode already made the whole
    // mix, and the forwarder gets that same mix.
    let mut mixer = room(&[1, 2], 1);
    mixer.add_forwarder(forwarder(900)).expect("forwarder");
    mixer.handle_datagram(&packet(1, 10, 1000));
    let heard = tick(&mut mixer);
    assert!(heard.contains(&(900, expect(988))), "{heard:?}");
    assert!(
        heard.contains(&(2, expect(988))),
        "the listener hears the talker: {heard:?}"
    );
}
