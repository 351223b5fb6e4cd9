//! STUN Binding check costs: parsing and authenticating a typical browser ICE check, and
//! writing the success response.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use portunus_stun::{Class, IntegrityKey, MessageWriter, Method, StunMessage, TransactionId};

const PWD: &[u8] = b"uK4p3R0DqGm8t3nWk5Y2bPzQ";

/// A check shaped like Chrome's: USERNAME, a Chrome network-info attribute, ICE-CONTROLLING,
/// USE-CANDIDATE, PRIORITY, MESSAGE-INTEGRITY, FINGERPRINT (about 100 bytes).
fn browser_check(buf: &mut [u8]) -> usize {
    let mut w = MessageWriter::new(
        buf,
        Class::Request,
        Method::BINDING,
        TransactionId([0x5a; 12]),
    );
    w.add_username(b"srv8ufrg:Fx3k")
        .add_attribute(portunus_stun::AttributeType(0xc057), &[0, 1, 0, 10])
        .add_ice_controlling(0x1234_5678_9abc_def0)
        .add_use_candidate()
        .add_priority(1_845_501_695);
    w.finish_with_integrity_and_fingerprint(&IntegrityKey::new(PWD))
        .expect("fits")
}

fn bench(c: &mut Criterion) {
    let mut buf = [0u8; 256];
    let n = browser_check(&mut buf);
    let req = &buf[..n];
    let key = IntegrityKey::new(PWD);
    let from: SocketAddr = "203.0.113.10:54321".parse().unwrap();

    c.bench_function("parse+verify check (prepared key)", |b| {
        b.iter(|| {
            let m = StunMessage::parse(black_box(req)).unwrap();
            assert!(m.verify_fingerprint() && m.verify_integrity_with(&key));
            black_box((
                m.username(),
                m.priority(),
                m.use_candidate(),
                m.ice_controlling(),
            ))
        })
    });
    c.bench_function("parse+verify check (raw password)", |b| {
        b.iter(|| {
            let m = StunMessage::parse(black_box(req)).unwrap();
            assert!(m.verify_fingerprint() && m.verify_integrity(PWD));
        })
    });
    c.bench_function("parse only", |b| {
        b.iter(|| StunMessage::parse(black_box(req)).unwrap().transaction_id())
    });
    let msg = StunMessage::parse(req).unwrap();
    c.bench_function("verify MESSAGE-INTEGRITY only", |b| {
        b.iter(|| black_box(&msg).verify_integrity_with(&key))
    });
    c.bench_function("verify FINGERPRINT only", |b| {
        b.iter(|| black_box(&msg).verify_fingerprint())
    });
    let mut out = [0u8; 128];
    c.bench_function("write success response", |b| {
        b.iter(|| {
            let mut w = MessageWriter::new(
                &mut out,
                Class::SuccessResponse,
                Method::BINDING,
                black_box(msg.transaction_id()),
            );
            w.add_xor_mapped_address(black_box(from));
            w.finish_with_integrity_and_fingerprint(&key).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
