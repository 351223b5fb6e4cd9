//! Starting and stopping the dataplane: sockets per shard, the control thread's wakeup,
//! commands handed back.

mod common;

use std::net::UdpSocket;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use portunus_dataplane::{
    BackendKind, Dataplane, DataplaneConfig, SendError, ShardCommand, ShardEvent, ShardId,
};
use portunus_dtls::{DtlsConfig, DtlsOptions};

fn config() -> DataplaneConfig {
    let dtls =
        Arc::new(DtlsConfig::new(common::certificate(), DtlsOptions::default()).expect("dtls"));
    let mut c = DataplaneConfig::new(dtls);
    c.shards = 2;
    c.pin_cores = false;
    c
}

fn readable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    n == 1 && p.revents & libc::POLLIN != 0
}

#[test]
fn every_shard_binds_its_own_port_on_ipv4_and_ipv6_when_available() {
    let dp = Dataplane::start(config()).expect("start");
    assert_eq!(dp.shard_count(), 2);
    let ipv6 = UdpSocket::bind("[::]:0").is_ok();
    let mut ports = Vec::new();
    for shard in [ShardId(0), ShardId(1)] {
        let addrs = dp.local_addrs(shard);
        assert!(
            addrs.iter().any(|a| a.is_ipv4() && a.port() != 0),
            "{addrs:?}"
        );
        assert_eq!(addrs.iter().any(|a| a.is_ipv6()), ipv6, "{addrs:?}");
        ports.push(addrs[0].port());
    }
    assert_ne!(ports[0], ports[1], "one port per shard");
    assert!(dp.local_addrs(ShardId(2)).is_empty());
    dp.stop();
}

#[test]
fn port_base_gives_shard_i_port_base_plus_i() {
    // Find two free consecutive ports (bounded tries).
    let base = (0..50)
        .find_map(|_| {
            let a = UdpSocket::bind("127.0.0.1:0").ok()?;
            let p = a.local_addr().ok()?.port();
            let b = UdpSocket::bind(("127.0.0.1", p.checked_add(1)?)).ok()?;
            drop((a, b));
            Some(p)
        })
        .expect("two free ports");
    let mut c = config();
    c.bind = vec!["127.0.0.1".parse().expect("ip")];
    c.port_base = base;
    c.backend = BackendKind::Epoll;
    let dp = Dataplane::start(c).expect("start");
    assert_eq!(dp.local_addrs(ShardId(0))[0].port(), base);
    assert_eq!(dp.local_addrs(ShardId(1))[0].port(), base + 1);
    dp.stop();
}

#[test]
fn the_wake_fd_turns_readable_when_events_wait() {
    let mut c = config();
    c.bind = vec!["127.0.0.1".parse().expect("ip")];
    let dp = Dataplane::start(c).expect("start");
    assert!(!readable(dp.wake_fd(), 0), "nothing queued yet");
    dp.send(ShardId(1), ShardCommand::GetStats).expect("queued");
    assert!(
        readable(dp.wake_fd(), 5000),
        "the shard wakes the control thread"
    );
    dp.clear_wake();
    match dp.try_recv() {
        Some(ShardEvent::Stats(s)) => {
            assert_eq!(s.shard, ShardId(1));
            assert_eq!(s.peers, 0);
            assert_eq!(s.counters.commands, 1);
        }
        other => panic!("expected stats, got {other:?}"),
    }
    assert!(dp.recv_timeout(Duration::from_millis(20)).is_none());
    dp.stop();
}

#[test]
fn a_command_for_an_unknown_shard_is_handed_back() {
    let mut c = config();
    c.bind = vec!["127.0.0.1".parse().expect("ip")];
    let dp = Dataplane::start(c).expect("start");
    match dp.send(ShardId(7), ShardCommand::GetStats) {
        Err(SendError::NoSuchShard(ShardCommand::GetStats)) => {}
        other => panic!("expected the command back, got {other:?}"),
    }
    dp.stop();
}

#[test]
fn an_impossible_port_range_is_refused() {
    let mut c = config();
    c.port_base = 65_535;
    assert!(Dataplane::start(c).is_err());
}
