//! Application data and closing after a completed handshake.

mod common;

use common::{Endpoint, Pair, base_instant};
use portunus_dtls::{
    DtlsError, DtlsErrorKind, DtlsEvent, DtlsOptions, DtlsRole, MAX_APPLICATION_DATA_LEN,
    MAX_RECORD_OVERHEAD,
};

fn connected_pair(a_role: DtlsRole) -> Pair {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, a_role);
    pair.handshake(base_instant());
    assert!(pair.a.keys().is_some() && pair.b.keys().is_some());
    pair
}

fn message(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn application_data_flows_both_ways_with_boundaries_kept() {
    for a_role in [DtlsRole::Client, DtlsRole::Server] {
        let mut pair = connected_pair(a_role);
        let sizes = [1usize, 100, 1100, 3000, 8000, MAX_APPLICATION_DATA_LEN];
        let from_a: Vec<_> = sizes.iter().map(|&n| message(n, 1)).collect();
        let from_b: Vec<_> = sizes.iter().rev().map(|&n| message(n, 2)).collect();
        for m in &from_a {
            pair.a.conn.send_application_data(m).unwrap();
        }
        for m in &from_b {
            pair.b.conn.send_application_data(m).unwrap();
        }
        pair.a.sent.clear();
        pair.pump(base_instant());
        assert_eq!(pair.b.application_data(), from_a, "{a_role:?}");
        assert_eq!(pair.a.application_data(), from_b, "{a_role:?}");
        // One record per message, one datagram per record.
        assert_eq!(pair.a.sent.len(), from_a.len());
        for (d, m) in pair.a.sent.iter().zip(&from_a) {
            assert!(d.len() > m.len() && d.len() <= m.len() + MAX_RECORD_OVERHEAD);
        }
    }
}

#[test]
fn application_data_is_refused_before_connect_and_when_too_large() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Client);
    let err = pair.a.conn.send_application_data(b"early").unwrap_err();
    assert!(matches!(err, DtlsError::NotConnected));
    assert_eq!(err.kind(), DtlsErrorKind::Misuse);
    pair.handshake(base_instant());
    let err = pair
        .a
        .conn
        .send_application_data(&vec![0; MAX_APPLICATION_DATA_LEN + 1])
        .unwrap_err();
    assert!(matches!(err, DtlsError::MessageTooLarge { .. }));
    pair.a.conn.send_application_data(b"").unwrap();
    assert!(
        pair.a.take_transmits().is_empty(),
        "empty data sends nothing"
    );
}

#[test]
fn close_notify_is_reported_as_closed_on_the_peer() {
    for a_role in [DtlsRole::Client, DtlsRole::Server] {
        let mut pair = connected_pair(a_role);
        pair.a.conn.close();
        assert!(pair.a.conn.is_ended() && !pair.a.conn.is_connected());
        let close = pair.a.take_transmits();
        assert_eq!(close.len(), 1, "one close_notify datagram");
        assert_eq!(close[0][0], 21, "an alert record");
        let now = base_instant();
        pair.b.conn.handle_datagram(now, &close[0]).unwrap();
        pair.b.drain_events();
        assert!(
            matches!(pair.b.events.last(), Some(DtlsEvent::Closed)),
            "{:?}",
            pair.b.events
        );
        assert!(
            !pair
                .b
                .events
                .iter()
                .any(|e| matches!(e, DtlsEvent::Alert { .. })),
            "close_notify is not reported as an alert"
        );
        assert!(pair.b.conn.is_ended());
        // Both sides now refuse input and output.
        assert!(matches!(
            pair.b.conn.handle_datagram(now, &close[0]),
            Err(DtlsError::ConnectionEnded)
        ));
        assert!(matches!(
            pair.a.conn.send_application_data(b"x"),
            Err(DtlsError::NotConnected)
        ));
        assert!(matches!(
            pair.b.conn.send_application_data(b"x"),
            Err(DtlsError::NotConnected)
        ));
        pair.a.conn.close();
        assert!(pair.a.take_transmits().is_empty(), "close is idempotent");
    }
}

#[test]
fn close_during_handshake_sends_nothing() {
    let (x, y) = (
        Endpoint::new(DtlsOptions::default()),
        Endpoint::new(DtlsOptions::default()),
    );
    let mut pair = Pair::new(&x, &y, DtlsRole::Client);
    let now = base_instant();
    pair.a.conn.handle_timeout(now);
    let hello = pair.a.take_transmits();
    pair.b.conn.handle_datagram(now, &hello[0]).unwrap();
    pair.b.conn.close();
    assert!(pair.b.take_transmits().is_empty());
    assert!(pair.b.conn.is_ended());
    assert!(pair.b.conn.poll_timeout().is_none());
}

#[test]
fn poll_transmit_keeps_a_datagram_that_does_not_fit() {
    let mut pair = connected_pair(DtlsRole::Client);
    pair.a.conn.send_application_data(&[7; 500]).unwrap();
    let len = pair.a.conn.next_transmit_len().unwrap();
    assert!(pair.a.conn.poll_transmit(&mut [0; 100]).is_none());
    let mut buf = vec![0; len];
    assert_eq!(pair.a.conn.poll_transmit(&mut buf), Some(len));
    assert_eq!(pair.a.conn.next_transmit_len(), None);
}
