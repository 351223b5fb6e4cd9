//! The latency of the load generator's own path with no server in it: stamped, media-sized
//! datagrams from one loopback socket to another, received exactly as the clients receive
//! media (`recvmmsg`, kernel receive timestamps). Subtracted from a run's latency, it leaves
//! what the server added.

use std::os::fd::AsRawFd;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::BenchError;
use crate::media::{Stamp, stamp_clock_ns};
use crate::rx::{self, RxBatch};

/// Datagrams sent to measure the baseline.
const PACKETS: u64 = 2000;
/// Sent in bursts of this many (a video frame), like the media they stand for.
const BURST: u64 = 6;
/// Pause between bursts.
const GAP: Duration = Duration::from_micros(500);
/// Bytes per datagram: a video packet's size.
const SIZE: usize = 1200;

/// Baseline latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    /// 50th percentile.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Datagrams that arrived and were measured (of `PACKETS` sent).
    pub samples: u64,
}

/// Sends `PACKETS` stamped datagrams over loopback and measures send stamp → kernel
/// receive timestamp. Takes about 0.2 s.
///
/// # Errors
/// Socket setup failures.
pub fn measure() -> Result<Baseline, BenchError> {
    let setup = |e: std::io::Error| BenchError::Setup(format!("baseline socket: {e}"));
    let rx_sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(setup)?;
    rx_sock.set_nonblocking(true).map_err(setup)?;
    rx::enable_timestamps(rx_sock.as_raw_fd()).map_err(setup)?;
    let to = rx_sock.local_addr().map_err(setup)?;
    let tx_sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(setup)?;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut batch = RxBatch::new();
    let mut buf = [0u8; SIZE];
    let mut seq = 0;
    while seq < PACKETS {
        for _ in 0..BURST.min(PACKETS - seq) {
            Stamp {
                stream: u32::MAX,
                seq,
                sent_ns: stamp_clock_ns(),
            }
            .write(&mut buf);
            let _ = tx_sock.send_to(&buf, to);
            seq += 1;
        }
        std::thread::sleep(GAP);
        drain(&mut batch, &rx_sock, &mut hist);
    }
    drain(&mut batch, &rx_sock, &mut hist);
    Ok(Baseline {
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        samples: hist.len(),
    })
}

fn drain(batch: &mut RxBatch, sock: &std::net::UdpSocket, hist: &mut Histogram<u64>) {
    while let Ok(n) = batch.recv(sock.as_raw_fd()) {
        let batch_ns = stamp_clock_ns();
        for i in 0..n {
            if let Some((data, _, at)) = batch.get(i, 0)
                && let Some(stamp) = Stamp::read(data)
            {
                let us = at.unwrap_or(batch_ns).saturating_sub(stamp.sent_ns) / 1000;
                hist.saturating_record(us.max(1));
            }
        }
        if n < rx::BATCH {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_baseline_is_measured_from_every_packet() {
        let b = measure().expect("baseline");
        assert_eq!(
            b.samples, PACKETS,
            "every datagram sent over loopback is measured"
        );
        assert!(b.p50_us >= 1 && b.p99_us >= b.p50_us, "{b:?}");
    }
}
