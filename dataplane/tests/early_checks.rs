//! A connectivity check that reaches the shard before its PeerConnection exists (the client
//! of a server offer starts checking while its answer is still on the way through the API)
//! is held and answered once the PeerConnection is created, without the client having to
//! retransmit it; a check that no PeerConnection claims is dropped as `no_route` after the
//! hold. Real UDP on loopback, both backends.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use portunus_dataplane::{
    BackendKind, CreatePeer, DropReason, PeerId, ReplyTo, ShardCommand, ShardEvent, ShardId,
};
use portunus_dtls::DtlsRole;
use portunus_ice::IceCredentials;
use portunus_stun::{Class, IntegrityKey, MessageWriter, Method, StunMessage, TransactionId};

/// A check from `client` credentials to `server` credentials, as an ICE agent sends it.
fn check(server: &IceCredentials, client: &IceCredentials, tid: [u8; 12]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId(tid),
    );
    w.add_username_parts(server.ufrag().as_bytes(), client.ufrag().as_bytes())
        .add_priority(1_853_824_767)
        .add_ice_controlling(7)
        .add_use_candidate();
    let key = IntegrityKey::new(server.pwd().as_bytes());
    let n = w
        .finish_with_integrity_and_fingerprint(&key)
        .expect("check");
    buf[..n].to_vec()
}

fn create(peer: PeerId, server: &IceCredentials, client: &IceCredentials) -> ShardCommand {
    ShardCommand::CreatePeer(Box::new(CreatePeer {
        peer,
        reply: ReplyTo(peer.0),
        local_credentials: server.clone(),
        remote_credentials: Some(client.clone()),
        dtls_role: DtlsRole::Server,
        remote_fingerprint: common::certificate().fingerprint().clone(),
        data_channels: None,
        inbound: Vec::new(),
    }))
}

/// The next STUN message on `sock` within `wait`, as (class, transaction id).
fn next_stun(sock: &UdpSocket, wait: Duration) -> Option<(Class, [u8; 12])> {
    sock.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 1500];
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let Ok(n) = sock.recv(&mut buf) else {
            return None;
        };
        if let Ok(m) = StunMessage::parse(&buf[..n]) {
            return Some((m.class(), m.header().transaction_id.0));
        }
    }
    None
}

fn no_route_drops(dp: &portunus_dataplane::Dataplane, events: &mut Vec<ShardEvent>) -> u64 {
    let st = common::stats(dp, ShardId(0), &mut [], events);
    st.counters.drops(DropReason::NoRoute)
}

fn early_check_is_answered_once_its_peer_exists(backend: BackendKind) {
    let dp = common::start(backend, 1, Duration::from_secs(30));
    let server_addr: SocketAddr = dp.local_addrs(ShardId(0))[0];
    let sock = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    sock.connect(server_addr).expect("connect");
    let server = IceCredentials::generate(&[1; IceCredentials::RANDOM_BYTES]);
    let client = IceCredentials::generate(&[2; IceCredentials::RANDOM_BYTES]);
    let mut events = Vec::new();

    // The check leaves before the PeerConnection is created, and only once.
    let tid = [9u8; 12];
    sock.send(&check(&server, &client, tid)).expect("send");
    assert_eq!(
        next_stun(&sock, Duration::from_millis(300)),
        None,
        "no session yet: nothing answers"
    );
    common::send(&dp, ShardId(0), create(PeerId(1), &server, &client));
    assert_eq!(
        next_stun(&sock, Duration::from_secs(5)),
        Some((Class::SuccessResponse, tid)),
        "the held check is answered when its PeerConnection appears"
    );
    let st = common::stats(&dp, ShardId(0), &mut [], &mut events);
    assert_eq!(
        (st.counters.early_checks, st.counters.early_checks_answered),
        (1, 1)
    );
    assert_eq!(st.counters.drops(DropReason::NoRoute), 0);

    // A check for a ufrag no PeerConnection takes is dropped after the hold, counted.
    let stranger = IceCredentials::generate(&[3; IceCredentials::RANDOM_BYTES]);
    sock.send(&check(&stranger, &client, [4; 12]))
        .expect("send");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut dropped = 0;
    while Instant::now() < deadline {
        dropped = no_route_drops(&dp, &mut events);
        if dropped > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(dropped, 1, "the unclaimed check ends as a no_route drop");
    let st = common::stats(&dp, ShardId(0), &mut [], &mut events);
    assert_eq!(
        (st.counters.early_checks, st.counters.early_checks_answered),
        (2, 1)
    );
    // A creation for that ufrag now finds nothing held: no answer to the dropped check.
    common::send(&dp, ShardId(0), create(PeerId(2), &stranger, &client));
    assert_eq!(next_stun(&sock, Duration::from_millis(500)), None);
    dp.stop();
}

#[test]
fn early_check_is_answered_once_its_peer_exists_epoll() {
    early_check_is_answered_once_its_peer_exists(BackendKind::Epoll);
}

#[test]
fn early_check_is_answered_once_its_peer_exists_io_uring() {
    early_check_is_answered_once_its_peer_exists(BackendKind::IoUring);
}
