//! Behaviour of the public API: ROC estimation, replay, tampering, truncation, fan-out,
//! hinted protection and round trips.

use portunus_srtp::{
    DtlsSrtpKeys, RTP_REPLAY_WINDOW, SrtpContext, SrtpError, SrtpProfile, fuzzing,
    protect_rtp_fanout,
};
use proptest::prelude::*;

const PROFILES: [SrtpProfile; 4] = [
    SrtpProfile::Aes128CmHmacSha1_80,
    SrtpProfile::Aes128CmHmacSha1_32,
    SrtpProfile::AeadAes128Gcm,
    SrtpProfile::AeadAes256Gcm,
];

fn pair(profile: SrtpProfile) -> (SrtpContext, SrtpContext) {
    let key = [0x11u8; 32];
    let salt = [0x22u8; 14];
    let k = &key[..profile.master_key_len()];
    let s = &salt[..profile.master_salt_len()];
    (
        SrtpContext::new(profile, k, s).unwrap(),
        SrtpContext::new(profile, k, s).unwrap(),
    )
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    // A receiver report with no report blocks, plus an SDES-ish tail to have a body.
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x81, 202, 0, 2, 1, 2, 3, 4, 1, 1, b'x', 0]);
    p
}

fn protect(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + ctx.rtp_overhead(), 0);
    let n = ctx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn protect_c(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + ctx.rtcp_overhead(), 0);
    let n = ctx.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(ctx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    let n = ctx.unprotect_rtp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn unprotect_c(ctx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    let n = ctx.unprotect_rtcp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn roc_follows_sequence_wrap_with_reordering_near_it() {
    for profile in [SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmHmacSha1_80] {
        let (mut tx, mut rx) = pair(profile);
        let ssrc = 0xdead_beef;
        let start = 0u16;
        let n = 70_000usize;
        let plain: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                rtp(
                    start.wrapping_add(i as u16),
                    ssrc,
                    &(i as u32).to_be_bytes(),
                )
            })
            .collect();
        let wire: Vec<Vec<u8>> = plain.iter().map(|p| protect(&mut tx, p)).collect();
        assert_eq!(tx.highest_rtp_index(ssrc), Some(n as u64 - 1));

        // Reorder around the wrap: deliver 65530..65546 as 65533, 65530, 65536 (ROC 1, seq 0),
        // 65531, 65538, 65535 (ROC 0 after ROC 1 was seen), …
        let mut order: Vec<usize> = (0..n).collect();
        let near = [
            65533, 65530, 65536, 65531, 65538, 65535, 65532, 65537, 65534, 65540, 65539, 65541,
        ];
        order.splice(65530..65542, near);
        for &i in &order {
            let got = unprotect(&mut rx, &wire[i]).unwrap_or_else(|e| panic!("packet {i}: {e}"));
            assert_eq!(got, plain[i], "packet {i}");
        }
        assert_eq!(
            rx.highest_rtp_index(ssrc),
            Some(n as u64 - 1),
            "ROC 1, seq 4463"
        );
        // Every packet now is a replay, including one from before the wrap.
        assert_eq!(unprotect(&mut rx, &wire[n - 1]), Err(SrtpError::Replay));
        assert_eq!(unprotect(&mut rx, &wire[n - 700]), Err(SrtpError::Replay));
    }
}

#[test]
fn sender_reuses_the_index_of_a_retransmitted_sequence_number() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    let first = protect(&mut tx, &rtp(65535, 7, b"a"));
    let _ = protect(&mut tx, &rtp(3, 7, b"b"));
    assert_eq!(tx.highest_rtp_index(7), Some(0x1_0003));
    // Re-protecting seq 65535 after the wrap uses ROC 0 again: identical bytes.
    assert_eq!(protect(&mut tx, &rtp(65535, 7, b"a")), first);
    assert_eq!(unprotect(&mut rx, &first).unwrap(), rtp(65535, 7, b"a"));
}

#[test]
fn rejects_replayed_rtp_and_rtcp() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        let w = protect(&mut tx, &rtp(100, 1, b"payload"));
        assert!(unprotect(&mut rx, &w).is_ok());
        assert_eq!(
            unprotect(&mut rx, &w),
            Err(SrtpError::Replay),
            "{profile:?}"
        );
        let c = protect_c(&mut tx, &rtcp(1));
        assert_eq!(unprotect_c(&mut rx, &c).unwrap(), rtcp(1));
        assert_eq!(
            unprotect_c(&mut rx, &c),
            Err(SrtpError::Replay),
            "{profile:?}"
        );
    }
}

#[test]
fn rejects_packets_older_than_the_replay_window() {
    let (mut tx, mut rx) = pair(SrtpProfile::Aes128CmHmacSha1_80);
    let w: Vec<Vec<u8>> = (0..2000u16)
        .map(|s| protect(&mut tx, &rtp(s, 9, b"x")))
        .collect();
    unprotect(&mut rx, &w[0]).unwrap();
    unprotect(&mut rx, &w[1999]).unwrap();
    let edge = 1999 - RTP_REPLAY_WINDOW as usize;
    assert_eq!(unprotect(&mut rx, &w[edge]), Err(SrtpError::TooOld));
    assert!(
        unprotect(&mut rx, &w[edge + 1]).is_ok(),
        "oldest index inside the window"
    );
    assert_eq!(unprotect(&mut rx, &w[0]), Err(SrtpError::TooOld));
}

#[test]
fn rejects_tampering_without_touching_stream_state() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        let plain = rtp(5, 3, b"some payload bytes");
        let w = protect(&mut tx, &plain);
        for at in [1, 8, 12, w.len() - 1] {
            let mut bad = w.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                unprotect(&mut rx, &bad),
                Err(SrtpError::AuthenticationFailed),
                "{profile:?} byte {at}"
            );
        }
        assert_eq!(rx.stream_count(), 0, "forged packets create no stream");
        assert_eq!(unprotect(&mut rx, &w).unwrap(), plain);

        let c = protect_c(&mut tx, &rtcp(3));
        let mut bad = c.clone();
        bad[10] ^= 0x80;
        assert_eq!(
            unprotect_c(&mut rx, &bad),
            Err(SrtpError::AuthenticationFailed)
        );
        assert_eq!(unprotect_c(&mut rx, &c).unwrap(), rtcp(3));
    }
}

#[test]
fn rejects_truncated_input() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        let w = protect(&mut tx, &rtp(1, 1, b""));
        for cut in 0..w.len() {
            let r = unprotect(&mut rx, &w[..cut]);
            assert!(r.is_err(), "{profile:?} cut {cut}");
        }
        assert_eq!(unprotect(&mut rx, &[]), Err(SrtpError::Truncated));
        assert_eq!(unprotect(&mut rx, &w[..11]), Err(SrtpError::Truncated));
        // A header announcing 15 CSRCs that are not there.
        let mut csrc = w.clone();
        csrc[0] |= 0x0f;
        assert_eq!(unprotect(&mut rx, &csrc), Err(SrtpError::Truncated));
        let c = protect_c(&mut tx, &rtcp(1));
        assert_eq!(unprotect_c(&mut rx, &c[..7]), Err(SrtpError::Truncated));
        assert_eq!(
            unprotect_c(&mut rx, &c[..8 + profile.rtcp_overhead() - 1]),
            Err(SrtpError::Truncated)
        );
    }
}

#[test]
fn rejects_non_version_2_packets() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    let mut p = rtp(1, 1, b"abc");
    p[0] = 0x40;
    let mut buf = p.clone();
    buf.resize(p.len() + 16, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf, p.len()),
        Err(SrtpError::BadVersion)
    );
    let mut w = vec![0x40; 40];
    assert_eq!(rx.unprotect_rtp(&mut w), Err(SrtpError::BadVersion));
    assert_eq!(rx.unprotect_rtcp(&mut w), Err(SrtpError::BadVersion));
}

#[test]
fn protect_needs_room_for_the_tag() {
    let (mut tx, _) = pair(SrtpProfile::Aes128CmHmacSha1_80);
    let p = rtp(1, 1, b"abc");
    let mut buf = p.clone();
    buf.resize(p.len() + 9, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf, p.len()),
        Err(SrtpError::BufferTooSmall {
            needed: p.len() + 10
        })
    );
    let over = buf.len() + 1;
    assert_eq!(
        tx.protect_rtp(&mut buf, over),
        Err(SrtpError::BufferTooSmall { needed: over })
    );
    let mut small = [0u8; 4];
    assert!(matches!(
        tx.protect_rtp_into(&p, &mut small),
        Err(SrtpError::BufferTooSmall { .. })
    ));
}

#[test]
fn srtcp_index_counts_up_from_zero_with_e_bit_set() {
    for profile in PROFILES {
        let (mut tx, _) = pair(profile);
        for expected in 0u32..3 {
            let c = protect_c(&mut tx, &rtcp(77));
            assert_eq!(c.len(), rtcp(77).len() + profile.rtcp_overhead());
            let at = if profile.is_aead() {
                c.len() - 4
            } else {
                c.len() - 4 - profile.rtcp_tag_len()
            };
            let word = u32::from_be_bytes(c[at..at + 4].try_into().unwrap());
            assert_eq!(word, 0x8000_0000 | expected, "{profile:?}");
        }
    }
}

#[test]
fn aes_cm_32_has_short_srtp_tag_and_long_srtcp_tag() {
    let (mut tx, mut rx) = pair(SrtpProfile::Aes128CmHmacSha1_32);
    let p = rtp(1, 1, b"abcd");
    let w = protect(&mut tx, &p);
    assert_eq!(w.len(), p.len() + 4);
    assert_eq!(unprotect(&mut rx, &w).unwrap(), p);
    let c = protect_c(&mut tx, &rtcp(1));
    assert_eq!(c.len(), rtcp(1).len() + 4 + 10);
}

#[test]
fn new_ssrcs_beyond_the_bound_are_refused() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    rx.set_max_streams(2);
    assert_eq!(rx.max_streams(), 2);
    for ssrc in 1..=3u32 {
        let w = protect(&mut tx, &rtp(1, ssrc, b"x"));
        let r = unprotect(&mut rx, &w);
        if ssrc <= 2 {
            assert!(r.is_ok());
        } else {
            assert_eq!(r, Err(SrtpError::TooManyStreams { limit: 2 }));
        }
    }
    assert_eq!(rx.stream_count(), 2);
    assert!(rx.remove_stream(1));
    let w = protect(&mut tx, &rtp(2, 3, b"x"));
    assert!(unprotect(&mut rx, &w).is_ok());
    assert_eq!(rx.highest_rtp_index(3), Some(2));
    assert_eq!(rx.highest_rtp_index(1), None);
}

#[test]
fn wrong_key_or_salt_lengths_are_refused() {
    let p = SrtpProfile::AeadAes128Gcm;
    assert_eq!(
        SrtpContext::new(p, &[0; 15], &[0; 12]).unwrap_err(),
        SrtpError::BadMasterKeyLength {
            expected: 16,
            actual: 15
        }
    );
    assert_eq!(
        SrtpContext::new(p, &[0; 16], &[0; 14]).unwrap_err(),
        SrtpError::BadMasterSaltLength {
            expected: 12,
            actual: 14
        }
    );
}

#[test]
fn dtls_keys_give_working_opposite_directions() {
    let p = SrtpProfile::Aes128CmHmacSha1_80;
    let material: Vec<u8> = (0..p.keying_material_len() as u8).collect();
    let k = DtlsSrtpKeys::split(p, &material).unwrap();
    let mut client_tx = SrtpContext::new(p, k.client_key, k.client_salt).unwrap();
    let mut server_rx = SrtpContext::new(p, k.client_key, k.client_salt).unwrap();
    let mut server_tx = SrtpContext::new(p, k.server_key, k.server_salt).unwrap();
    let w = protect(&mut client_tx, &rtp(1, 1, b"hi"));
    assert!(unprotect(&mut server_rx, &w).is_ok());
    let mut client_rx_wrong = SrtpContext::new(p, k.server_key, k.server_salt).unwrap();
    assert_eq!(
        unprotect(&mut client_rx_wrong, &w),
        Err(SrtpError::AuthenticationFailed)
    );
    let w2 = protect(&mut server_tx, &rtp(1, 1, b"hi"));
    assert_ne!(w, w2);
}

#[test]
fn cryptex_adds_an_empty_extension_for_csrcs_alone() {
    for profile in PROFILES {
        let (mut tx, mut rx) = pair(profile);
        tx.set_cryptex(true);
        assert_eq!(tx.rtp_overhead(), profile.rtp_tag_len() + 4);
        // CC = 1, no extension.
        let mut p = vec![
            0x81, 96, 0, 9, 0, 0, 0, 1, 0, 0, 0, 5, 0xaa, 0xbb, 0xcc, 0xdd,
        ];
        p.extend_from_slice(b"payload");
        let w = protect(&mut tx, &p);
        assert_eq!(w.len(), p.len() + 4 + profile.rtp_tag_len());
        assert_eq!(w[0], 0x91, "X bit set");
        assert_eq!(&w[16..20], &[0xc0, 0xde, 0, 0]);
        assert_ne!(&w[12..16], &p[12..16], "CSRC encrypted");
        let got = unprotect(&mut rx, &w).unwrap();
        let mut want = p.clone();
        want[0] = 0x91;
        want.splice(16..16, [0xbe, 0xde, 0, 0]);
        assert_eq!(got, want);
    }
}

#[test]
fn cryptex_leaves_non_rfc8285_extensions_in_clear() {
    let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm);
    tx.set_cryptex(true);
    let mut p = vec![
        0x90, 96, 0, 9, 0, 0, 0, 1, 0, 0, 0, 5, 0x12, 0x34, 0, 1, 1, 2, 3, 4,
    ];
    p.extend_from_slice(b"payload");
    let w = protect(&mut tx, &p);
    assert_eq!(&w[..20], &p[..20]);
    assert_eq!(unprotect(&mut rx, &w).unwrap(), p);
}

#[test]
fn fanout_matches_individual_protection() {
    let profile = SrtpProfile::AeadAes128Gcm;
    let plain = rtp(500, 0xabc, &[7u8; 300]);
    let mut ctxs: Vec<(SrtpContext, SrtpContext)> = (0..4).map(|_| pair(profile)).collect();
    let mut expected_ctx: Vec<SrtpContext> = (0..4).map(|_| pair(profile).0).collect();
    let mut bufs = vec![vec![0u8; 1500]; 4];
    let mut results = [Ok(0); 4];
    let rewrite = |i: usize, pkt: &mut [u8]| {
        pkt[8..12].copy_from_slice(&(1000 + i as u32).to_be_bytes());
        pkt[2..4].copy_from_slice(&(i as u16 * 10).to_be_bytes());
    };
    {
        let mut receivers: Vec<(&mut SrtpContext, &mut [u8])> = ctxs
            .iter_mut()
            .zip(bufs.iter_mut())
            .map(|((tx, _), b)| (tx, b.as_mut_slice()))
            .collect();
        protect_rtp_fanout(&plain, &mut receivers, rewrite, &mut results).unwrap();
    }
    for i in 0..4 {
        let n = results[i].unwrap();
        let mut own = plain.clone();
        rewrite(i, &mut own);
        assert_eq!(
            &bufs[i][..n],
            &protect(&mut expected_ctx[i], &own)[..],
            "receiver {i}"
        );
        assert_eq!(unprotect(&mut ctxs[i].1, &bufs[i][..n]).unwrap(), own);
    }
}

#[test]
fn fanout_reports_per_receiver_failures() {
    let (mut a, _) = pair(SrtpProfile::AeadAes128Gcm);
    let (mut b, _) = pair(SrtpProfile::AeadAes128Gcm);
    let plain = rtp(1, 1, b"abc");
    let mut big = [0u8; 200];
    let mut small = [0u8; 20];
    let mut receivers = [(&mut a, &mut big[..]), (&mut b, &mut small[..])];
    let mut results = [Ok(0); 2];
    protect_rtp_fanout(&plain, &mut receivers, |_, _| {}, &mut results).unwrap();
    assert_eq!(results[0], Ok(plain.len() + 16));
    assert!(matches!(results[1], Err(SrtpError::BufferTooSmall { .. })));
    let mut too_few = [Ok(0); 1];
    assert_eq!(
        protect_rtp_fanout(&plain, &mut receivers, |_, _| {}, &mut too_few),
        Err(SrtpError::BufferTooSmall { needed: 2 })
    );
}

#[test]
fn null_srtp_round_trips_in_clear_and_still_checks_replay() {
    let mut tx = SrtpContext::dangerous_null_srtp();
    let mut rx = SrtpContext::dangerous_null_srtp();
    let p = rtp(3, 4, b"clear");
    let w = protect(&mut tx, &p);
    assert_eq!(&w[..p.len()], &p[..]);
    assert_eq!(w.len(), p.len() + 10);
    assert_eq!(unprotect(&mut rx, &w).unwrap(), p);
    assert_eq!(unprotect(&mut rx, &w), Err(SrtpError::Replay));
    let c = protect_c(&mut tx, &rtcp(4));
    assert_eq!(unprotect_c(&mut rx, &c).unwrap(), rtcp(4));
}

/// A random RTP packet shape: payload, first sequence number, SSRC, CSRCs and an optional
/// RFC 8285 extension (two-byte form?, one fill byte per 32-bit word).
#[derive(Debug, Clone)]
struct Shape {
    payload: Vec<u8>,
    seq: u16,
    ssrc: u32,
    csrcs: Vec<u32>,
    ext: Option<(bool, Vec<u8>)>,
}

fn arb_rtp() -> impl Strategy<Value = Shape> {
    (
        proptest::collection::vec(any::<u8>(), 0..1400),
        any::<u16>(),
        any::<u32>(),
        proptest::collection::vec(any::<u32>(), 0..4),
        proptest::option::of((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..3))),
    )
        .prop_map(|(payload, seq, ssrc, csrcs, ext)| Shape {
            payload,
            seq,
            ssrc,
            csrcs,
            ext,
        })
}

fn build(s: &Shape, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80 | s.csrcs.len() as u8, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[1, 2, 3, 4]);
    p.extend_from_slice(&s.ssrc.to_be_bytes());
    for c in &s.csrcs {
        p.extend_from_slice(&c.to_be_bytes());
    }
    if let Some((two_byte, words)) = &s.ext {
        p[0] |= 0x10;
        p.extend_from_slice(if *two_byte {
            &[0x10, 0x00]
        } else {
            &[0xbe, 0xde]
        });
        p.extend_from_slice(&(words.len() as u16).to_be_bytes());
        for w in words {
            p.extend_from_slice(&[*w; 4]);
        }
    }
    p.extend_from_slice(&s.payload);
    p
}

/// An RTCP sender report-shaped packet carrying `body`.
fn rtcp_with(ssrc: u32, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 0];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(body);
    p
}

proptest! {
    #[test]
    fn protect_then_unprotect_round_trips(
        shape in arb_rtp(),
        count in 1usize..6,
        profile in proptest::sample::select(PROFILES.to_vec()),
        cryptex in any::<bool>(),
    ) {
        let (mut tx, mut rx) = pair(profile);
        tx.set_cryptex(cryptex);
        for k in 0..count {
            let p = build(&shape, shape.seq.wrapping_add(k as u16));
            let w = protect(&mut tx, &p);
            let tag = profile.rtp_tag_len();
            if shape.payload.len() >= 8 {
                // The payload travels encrypted (equal only with probability 2^-64).
                let sent = &w[w.len() - tag - shape.payload.len()..w.len() - tag];
                prop_assert_ne!(sent, &shape.payload[..]);
            }
            let got = unprotect(&mut rx, &w).unwrap();
            if cryptex && !shape.csrcs.is_empty() && shape.ext.is_none() {
                prop_assert_eq!(got.len(), p.len() + 4);
                prop_assert_eq!(&got[got.len() - shape.payload.len()..], &shape.payload[..]);
            } else {
                prop_assert_eq!(got, p);
            }
            let c = rtcp_with(shape.ssrc, &shape.payload);
            let wc = protect_c(&mut tx, &c);
            prop_assert_eq!(unprotect_c(&mut rx, &wc).unwrap(), c);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_unprotect(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        fuzzing::unprotect(&data);
    }

    #[test]
    fn arbitrary_rtp_like_bytes_never_panic_unprotect(
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        first in 0x80u8..0xa0,
    ) {
        let mut data = vec![first];
        data.extend_from_slice(&tail);
        fuzzing::unprotect(&data);
    }
}

/// One packet of [`hinted_protection_is_byte_identical_to_plain_protection`]: which
/// stream sends it, how its sequence number moves, and which hint the caller passes.
#[derive(Debug, Clone)]
struct HintStep {
    stream: usize,
    /// Back this many packets (a retransmission) instead of the next one, when non-zero.
    back: u16,
    hint: HintChoice,
}

#[derive(Debug, Clone)]
enum HintChoice {
    /// The hint this stream's caller kept from its previous packet.
    Own,
    /// Another stream's kept hint: points at the wrong SSRC's state.
    Other(usize),
    /// Any value at all.
    Arbitrary(usize),
}

fn arb_hint_steps(streams: usize) -> impl Strategy<Value = Vec<HintStep>> {
    let hint = prop_oneof![
        4 => Just(HintChoice::Own),
        1 => (0..streams).prop_map(HintChoice::Other),
        1 => any::<usize>().prop_map(HintChoice::Arbitrary),
    ];
    let back = prop_oneof![6 => Just(0u16), 1 => 1u16..5];
    proptest::collection::vec(
        (0..streams, back, hint).prop_map(|(stream, back, hint)| HintStep { stream, back, hint }),
        1..60,
    )
}

proptest! {
    #[test]
    fn hinted_protection_is_byte_identical_to_plain_protection(
        profile in proptest::sample::select(PROFILES.to_vec()),
        cryptex in any::<bool>(),
        // SSRCs in any order: a later first packet can sort before an earlier stream and
        // move it, which makes that stream's kept hint stale.
        ssrcs in proptest::collection::vec(any::<u32>(), 1..4),
        // Each stream starts a few packets before its sequence number wraps (the ROC moves).
        starts in proptest::collection::vec(65_520u16..=65_535, 4),
        steps in arb_hint_steps(4),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (mut plain, mut hinted) = pair(profile);
        plain.set_cryptex(cryptex);
        hinted.set_cryptex(cryptex);
        let mut next: Vec<u16> = starts.clone();
        let mut kept = [0usize; 4];
        for step in steps {
            let stream = step.stream % ssrcs.len();
            let seq = if step.back > 0 {
                next[stream].wrapping_sub(1).wrapping_sub(step.back)
            } else {
                let s = next[stream];
                next[stream] = s.wrapping_add(1);
                s
            };
            let packet = rtp(seq, ssrcs[stream], &payload);
            let room = packet.len() + plain.rtp_overhead();
            let mut a = packet.clone();
            a.resize(room, 0);
            let mut b = a.clone();
            let want = plain.protect_rtp(&mut a, packet.len());
            let mut hint = match step.hint {
                HintChoice::Own => kept[stream],
                HintChoice::Other(o) => kept[o % ssrcs.len()],
                HintChoice::Arbitrary(h) => h,
            };
            let got = hinted.protect_rtp_hinted(&mut b, packet.len(), &mut hint);
            prop_assert_eq!(&got, &want, "seq {} of stream {}", seq, stream);
            if let Ok(n) = want {
                prop_assert_eq!(&b[..n], &a[..n], "seq {} of stream {}", seq, stream);
                kept[stream] = hint;
            }
            prop_assert_eq!(
                hinted.highest_rtp_index(ssrcs[stream]),
                plain.highest_rtp_index(ssrcs[stream])
            );
        }
        prop_assert_eq!(hinted.stream_count(), plain.stream_count());
    }
}

#[test]
fn a_stale_hint_does_not_borrow_another_streams_rollover_counter() {
    for profile in PROFILES {
        let (mut plain, mut hinted) = pair(profile);
        let (mut hint_a, mut hint_b) = (0, 0);
        let mut check = |seq: u16, ssrc: u32, hint: &mut usize| {
            let packet = rtp(seq, ssrc, b"same bytes either way");
            let mut a = packet.clone();
            a.resize(packet.len() + plain.rtp_overhead(), 0);
            let mut b = a.clone();
            let n = plain.protect_rtp(&mut a, packet.len()).unwrap();
            let m = hinted
                .protect_rtp_hinted(&mut b, packet.len(), hint)
                .unwrap();
            assert_eq!(&b[..m], &a[..n], "{profile:?} seq {seq} ssrc {ssrc:#x}");
        };
        // Stream 0x50 wraps (its ROC becomes 1) …
        for seq in [65_534, 65_535, 0, 1] {
            check(seq, 0x50, &mut hint_a);
        }
        // … then 0x10 starts and sorts before it: 0x50's kept hint now points at 0x10.
        check(7, 0x10, &mut hint_b);
        assert_eq!(hint_b, 0);
        check(2, 0x50, &mut hint_a);
        assert_eq!(hint_a, 1, "{profile:?}: the stale hint was replaced");
        // 0x10 passed 0x50's (now correct) hint still protects with ROC 0.
        let mut wrong = hint_a;
        check(8, 0x10, &mut wrong);
        assert_eq!(wrong, 0);
        assert_eq!(plain.highest_rtp_index(0x50), Some(65_536 + 2));
        assert_eq!(hinted.highest_rtp_index(0x10), Some(8));
    }
}
