//! The per-packet forwarding path without system calls: demux, route, SRTP unprotect once,
//! then per subscriber copy + rewrite + SRTP protect + queue. Throughput is counted in
//! egress packets, so criterion's time per element is the cost per egress packet (target:
//! ≤ 1 µs).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use portunus_dataplane::bench::{ForwardPath, Publisher};
use portunus_srtp::SrtpProfile;

fn forward(c: &mut Criterion) {
    for (name, profile) in [
        ("gcm", SrtpProfile::AeadAes128Gcm),
        ("aes_cm_sha1_80", SrtpProfile::Aes128CmHmacSha1_80),
    ] {
        let mut group = c.benchmark_group(format!("forward_{name}_1200B"));
        for subscribers in [1usize, 10, 100] {
            group.throughput(Throughput::Elements(subscribers as u64));
            let mut path = ForwardPath::new(subscribers, profile);
            let mut publisher = Publisher::new(profile);
            group.bench_function(format!("{subscribers}_subscribers"), |b| {
                b.iter_batched_ref(
                    || {
                        let mut buf = vec![0u8; 2048];
                        let n = publisher.next(1200, &mut buf);
                        buf.truncate(n);
                        buf
                    },
                    |datagram| {
                        let queued = path.forward(datagram);
                        assert_eq!(queued, subscribers);
                    },
                    BatchSize::SmallInput,
                );
            });
        }
        group.finish();
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
