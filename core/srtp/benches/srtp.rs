//! SRTP protect/unprotect at 200 B and 1200 B payloads (GCM and AES-CM-80), and the SFU
//! fan-out: one unprotect, then N × (copy + header rewrite + protect).
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark times itself; packet preparation stays outside the timed region"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portunus_srtp::{SrtpContext, SrtpProfile, protect_rtp_fanout};

const PROFILES: [(&str, SrtpProfile); 2] = [
    ("gcm128", SrtpProfile::AeadAes128Gcm),
    ("aes_cm_80", SrtpProfile::Aes128CmHmacSha1_80),
];
const PAYLOADS: [usize; 2] = [200, 1200];
/// Packets prepared (untimed) per batch for the unprotect benches.
const BATCH: u64 = 256;

fn context(profile: SrtpProfile) -> SrtpContext {
    SrtpContext::new(
        profile,
        &[0x33; 32][..profile.master_key_len()],
        &[0x44; 14][..profile.master_salt_len()],
    )
    .expect("valid key lengths")
}

fn rtp(seq: u16, ssrc: u32, payload: usize) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&u32::from(seq).wrapping_mul(3000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.resize(12 + payload, 0xab);
    p
}

/// A sender producing consecutive SRTP packets for the unprotect benches.
struct Feed {
    tx: SrtpContext,
    seq: u16,
    payload: usize,
}

impl Feed {
    fn new(profile: SrtpProfile, payload: usize) -> Self {
        Self {
            tx: context(profile),
            seq: 0,
            payload,
        }
    }

    fn batch(&mut self, n: u64) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                let mut p = rtp(self.seq, 0x1234_5678, self.payload);
                let len = p.len();
                p.resize(len + self.tx.rtp_overhead(), 0);
                let out = self.tx.protect_rtp(&mut p, len).expect("protect");
                p.truncate(out);
                self.seq = self.seq.wrapping_add(1);
                p
            })
            .collect()
    }
}

fn protect(c: &mut Criterion) {
    let mut g = c.benchmark_group("protect_rtp");
    for (name, profile) in PROFILES {
        for payload in PAYLOADS {
            g.throughput(Throughput::Bytes(payload as u64));
            g.bench_function(BenchmarkId::new(name, payload), |b| {
                let mut ctx = context(profile);
                let plain = rtp(0, 0x1234_5678, payload);
                let mut buf = vec![0u8; plain.len() + ctx.rtp_overhead()];
                buf[..plain.len()].copy_from_slice(&plain);
                let mut seq = 0u16;
                b.iter(|| {
                    // Next sequence number; the payload is whatever the last call left.
                    seq = seq.wrapping_add(1);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    black_box(ctx.protect_rtp(black_box(&mut buf), plain.len()).unwrap())
                });
            });
        }
    }
    g.finish();
}

fn unprotect(c: &mut Criterion) {
    let mut g = c.benchmark_group("unprotect_rtp");
    for (name, profile) in PROFILES {
        for payload in PAYLOADS {
            g.throughput(Throughput::Bytes(payload as u64));
            g.bench_function(BenchmarkId::new(name, payload), |b| {
                let mut feed = Feed::new(profile, payload);
                let mut rx = context(profile);
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(BATCH);
                        let mut packets = feed.batch(n);
                        let start = Instant::now();
                        for p in &mut packets {
                            black_box(rx.unprotect_rtp(black_box(p)).unwrap());
                        }
                        total += start.elapsed();
                        left -= n;
                    }
                    total
                });
            });
        }
    }
    g.finish();
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout_gcm128_1200");
    let profile = SrtpProfile::AeadAes128Gcm;
    for receivers_n in 1..=8usize {
        g.throughput(Throughput::Elements(receivers_n as u64));
        g.bench_function(BenchmarkId::from_parameter(receivers_n), |b| {
            let mut feed = Feed::new(profile, 1200);
            let mut rx = context(profile);
            let mut ctxs: Vec<SrtpContext> = (0..receivers_n).map(|_| context(profile)).collect();
            let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; 1500]; receivers_n];
            let mut results = vec![Ok(0); receivers_n];
            let mut out_seq = vec![0u16; receivers_n];
            b.iter_custom(|iters| {
                let mut receivers: Vec<(&mut SrtpContext, &mut [u8])> = ctxs
                    .iter_mut()
                    .zip(bufs.iter_mut())
                    .map(|(c, b)| (c, b.as_mut_slice()))
                    .collect();
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    let mut packets = feed.batch(n);
                    let start = Instant::now();
                    for p in &mut packets {
                        let len = rx.unprotect_rtp(p).unwrap();
                        protect_rtp_fanout(
                            &p[..len],
                            &mut receivers,
                            |i, pkt| {
                                // Per-receiver SSRC, sequence number and timestamp offset.
                                out_seq[i] = out_seq[i].wrapping_add(1);
                                pkt[2..4].copy_from_slice(&out_seq[i].to_be_bytes());
                                pkt[4..8].copy_from_slice(&(i as u32 * 7919).to_be_bytes());
                                pkt[8..12].copy_from_slice(&(0x1000 + i as u32).to_be_bytes());
                            },
                            &mut results,
                        )
                        .unwrap();
                        black_box(&results);
                    }
                    total += start.elapsed();
                    left -= n;
                }
                total
            });
        });
    }
    g.finish();
}

/// The raw primitives on the same payloads, so the figures above can be read as
/// "crypto + SRTP bookkeeping" on a machine whose speed varies from run to run.
fn baseline(c: &mut Criterion) {
    use aes::cipher::{InnerIvInit, KeyInit, StreamCipherCore};
    use hmac::{Hmac, Mac};
    use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

    let mut g = c.benchmark_group("baseline_1200");
    let mut data = vec![0xabu8; 1212];
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7; 16]).expect("key"));
    g.bench_function("ring_gcm_seal", |b| {
        b.iter(|| {
            let (aad, body) = data.split_at_mut(12);
            black_box(
                key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key([1; 12]),
                    Aad::from(&*aad),
                    body,
                )
                .expect("seal"),
            )
        })
    });
    let aes = aes::Aes128Enc::new(&[7; 16].into());
    g.bench_function("rustcrypto_aes_ctr", |b| {
        b.iter(|| {
            let core = ctr::CtrCore::<&aes::Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(
                &aes,
                &[0; 16].into(),
            );
            core.try_apply_keystream_partial(black_box(&mut data[12..]).into())
                .expect("keystream")
        })
    });
    let mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&[9; 20]).expect("key");
    g.bench_function("rustcrypto_hmac_sha1", |b| {
        b.iter(|| {
            let mut m = mac.clone();
            m.update(black_box(&data));
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function("memcpy", |b| {
        let src = vec![1u8; 1212];
        b.iter(|| data.copy_from_slice(black_box(&src)))
    });
    g.finish();
}

criterion_group!(benches, baseline, protect, unprotect, fanout);
criterion_main!(benches);
