//! The controlling full agent and the ICE-lite agent talking in virtual time.

#![allow(
    clippy::disallowed_methods,
    reason = "tests take one base Instant for virtual time and never read the clock again"
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{HOST_PRIORITY, Peer, Side, Sim, creds};
use portunus_ice::{
    CandidatePair, IceAgent, IceAgentConfig, IceEvent, IceLite, IceLiteConfig, IceRole, IceState,
};
use portunus_stun::{Class, StunMessage};

fn pair(local: &str, remote: &str) -> CandidatePair {
    CandidatePair {
        local: local.parse().unwrap(),
        remote: remote.parse().unwrap(),
    }
}

fn assert_connected_on(sim: &Sim, agent_side: CandidatePair) {
    let lite_side = CandidatePair {
        local: agent_side.remote,
        remote: agent_side.local,
    };
    for (side, p, name) in [(&sim.a, agent_side, "agent"), (&sim.b, lite_side, "lite")] {
        assert!(
            side.has_event(&IceEvent::Connected),
            "{name} never connected: {:?}",
            side.events
        );
        assert_eq!(
            side.events.iter().rev().find_map(|(_, e)| match e {
                IceEvent::SelectedPairChanged(p) => Some(*p),
                _ => None,
            }),
            Some(p),
            "{name} selected pair"
        );
        assert_eq!(side.peer.state(), IceState::Connected, "{name} state");
    }
}

fn error_codes_sent(side: &Side) -> Vec<u16> {
    side.sent
        .iter()
        .filter_map(|(_, _, d)| StunMessage::parse(d).ok())
        .filter(|m| m.class() == Class::ErrorResponse)
        .filter_map(|m| m.error_code().map(|e| e.code))
        .collect()
}

#[test]
fn connects_over_ipv4() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000"],
        &["192.0.2.1:3478"],
        IceAgentConfig::default(),
    );
    sim.run_for(Duration::from_secs(1));
    assert_connected_on(&sim, pair("198.51.100.2:50000", "192.0.2.1:3478"));
    // One check, one nominating check: connected within a few round trips.
    let (t, _) = sim
        .a
        .events
        .iter()
        .find(|(_, e)| *e == IceEvent::Connected)
        .unwrap();
    assert!(*t < Duration::from_millis(200), "took {t:?}");
    assert_eq!(
        sim.b.peer.lite().selected_pair(),
        Some(pair("192.0.2.1:3478", "198.51.100.2:50000"))
    );
}

#[test]
fn connects_over_ipv6() {
    let mut sim = Sim::agent_and_lite(
        &["[2001:db8::2]:50000"],
        &["[2001:db8::1]:3478"],
        IceAgentConfig::default(),
    );
    sim.run_for(Duration::from_secs(1));
    assert_connected_on(&sim, pair("[2001:db8::2]:50000", "[2001:db8::1]:3478"));
}

#[test]
fn selects_the_only_working_path_among_several_pairs() {
    let agent_addrs = [
        "198.51.100.2:50000",
        "198.51.100.3:50000",
        "[2001:db8::2]:50000",
    ];
    let lite_addrs = ["192.0.2.1:3478", "192.0.2.9:3478", "[2001:db8::1]:3478"];
    let mut sim = Sim::agent_and_lite(&agent_addrs, &lite_addrs, IceAgentConfig::default());
    let (x, b): (SocketAddr, SocketAddr) = (
        "198.51.100.3:50000".parse().unwrap(),
        "192.0.2.9:3478".parse().unwrap(),
    );
    sim.link = Box::new(move |from, to| (from, to) == (x, b) || (from, to) == (b, x));
    sim.run_for(Duration::from_secs(20));
    assert_connected_on(&sim, pair("198.51.100.3:50000", "192.0.2.9:3478"));
    assert_eq!(
        sim.a
            .count(|e| matches!(e, IceEvent::SelectedPairChanged(_))),
        1
    );
    // The dead pairs have long failed by now, without disturbing the selected one.
    assert!(!sim.a.has_event(&IceEvent::Failed));
    assert!(!sim.b.has_event(&IceEvent::Failed));
}

#[test]
fn agent_fails_when_no_path_works() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000"],
        &["192.0.2.1:3478", "192.0.2.2:3478"],
        IceAgentConfig::default(),
    );
    sim.link = Box::new(|_, _| false);
    sim.run_for(Duration::from_secs(30));
    let failed_at = sim
        .a
        .events
        .iter()
        .find(|(_, e)| *e == IceEvent::Failed)
        .map(|(t, _)| *t);
    // 7 transmissions with RTO 0.5, 1, 1.6, ... s: each pair fails 9.5 s after its first check.
    let t = failed_at.expect("agent failed");
    assert!(
        t >= Duration::from_millis(9_500) && t < Duration::from_secs(10),
        "failed at {t:?}"
    );
    assert_eq!(sim.b.peer.state(), IceState::New);
    assert!(sim.a.peer.poll_timeout().is_none());
}

#[test]
fn renomination_moves_both_sides_to_the_new_pair() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000", "198.51.100.3:50000"],
        &["192.0.2.1:3478"],
        IceAgentConfig::default(),
    );
    sim.run_for(Duration::from_secs(2));
    let first = sim.a.peer.agent().selected_pair().expect("connected");
    let other = pair(
        if first.local.to_string() == "198.51.100.2:50000" {
            "198.51.100.3:50000"
        } else {
            "198.51.100.2:50000"
        },
        "192.0.2.1:3478",
    );
    sim.a
        .peer
        .agent()
        .renominate(other)
        .expect("other pair is valid");
    sim.run_for(Duration::from_secs(1));
    assert_connected_on(&sim, other);
    assert_eq!(
        sim.a
            .count(|e| matches!(e, IceEvent::SelectedPairChanged(_))),
        2
    );
    assert_eq!(
        sim.b
            .count(|e| matches!(e, IceEvent::SelectedPairChanged(_))),
        2
    );
    assert_eq!(sim.b.count(|e| *e == IceEvent::Connected), 1);
}

#[test]
fn renominate_rejects_pairs_that_never_succeeded() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000"],
        &["192.0.2.1:3478"],
        IceAgentConfig::default(),
    );
    let unknown = pair("198.51.100.2:50000", "192.0.2.77:1");
    assert!(sim.a.peer.agent().renominate(unknown).is_err());
}

#[test]
fn wrong_password_gets_401_and_never_connects() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000"],
        &["192.0.2.1:3478"],
        IceAgentConfig::default(),
    );
    let wrong =
        portunus_ice::IceCredentials::new(creds(2).ufrag(), "wrongwrongwrongwrongwrong").unwrap();
    sim.a.peer.agent().set_remote_credentials(wrong);
    sim.run_for(Duration::from_secs(15));
    let codes = error_codes_sent(&sim.b);
    assert!(
        !codes.is_empty() && codes.iter().all(|&c| c == 401),
        "{codes:?}"
    );
    assert!(!sim.b.has_event(&IceEvent::Connected));
    assert!(!sim.a.has_event(&IceEvent::Connected));
    assert_eq!(sim.b.peer.state(), IceState::New);
    // A 401 fails the pair at once; with end-of-candidates the agent fails.
    assert_eq!(sim.a.peer.state(), IceState::Failed);
    assert!(sim.a.has_event(&IceEvent::Failed));
}

#[test]
fn controlled_agent_gets_487_from_lite_switches_role_and_connects() {
    let config = IceAgentConfig {
        role: IceRole::Controlled,
        ..Default::default()
    };
    let mut sim = Sim::agent_and_lite(&["198.51.100.2:50000"], &["192.0.2.1:3478"], config);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(error_codes_sent(&sim.b), vec![487]);
    assert_eq!(sim.a.peer.agent().role(), IceRole::Controlling);
    assert_connected_on(&sim, pair("198.51.100.2:50000", "192.0.2.1:3478"));
}

fn two_agents(a_cfg: IceAgentConfig, b_cfg: IceAgentConfig) -> Sim {
    let (ac, bc) = (creds(1), creds(2));
    let a_addr: SocketAddr = "198.51.100.2:50000".parse().unwrap();
    let b_addr: SocketAddr = "203.0.113.5:40000".parse().unwrap();
    let start = std::time::Instant::now();
    let a = IceAgent::new(start, a_cfg, ac.clone(), 1);
    let b = IceAgent::new(start, b_cfg, bc.clone(), 2);
    let mut sim = Sim::new(
        Side::new(Peer::Agent(Box::new(a)), &["198.51.100.2:50000"]),
        Side::new(Peer::Agent(Box::new(b)), &["203.0.113.5:40000"]),
    );
    sim.start = start;
    sim.now = start;
    let now = sim.now;
    for (side, own, other, remote) in [
        (&mut sim.a, a_addr, b_addr, &bc),
        (&mut sim.b, b_addr, a_addr, &ac),
    ] {
        let agent = side.peer.agent();
        agent.handle_timeout(now);
        agent.set_remote_credentials(remote.clone());
        agent.add_local_candidate(own).unwrap();
        agent.add_remote_candidate(other, HOST_PRIORITY).unwrap();
        agent.end_of_remote_candidates();
    }
    sim
}

#[test]
fn full_agents_resolve_a_double_controlling_conflict_by_tie_breaker() {
    let a = IceAgentConfig {
        tie_breaker: Some(10),
        ..Default::default()
    };
    let b = IceAgentConfig {
        tie_breaker: Some(20),
        ..Default::default()
    };
    let mut sim = two_agents(a, b);
    sim.run_for(Duration::from_secs(3));
    // The smaller tie-breaker yields (RFC 8445 §7.3.1.1).
    assert_eq!(sim.a.peer.agent().role(), IceRole::Controlled);
    assert_eq!(sim.b.peer.agent().role(), IceRole::Controlling);
    let a_sel = sim.a.peer.agent().selected_pair().expect("a connected");
    let b_sel = sim.b.peer.agent().selected_pair().expect("b connected");
    assert_eq!((a_sel.local, a_sel.remote), (b_sel.remote, b_sel.local));
}

#[test]
fn full_agents_connect_controlling_to_controlled() {
    let b = IceAgentConfig {
        role: IceRole::Controlled,
        ..Default::default()
    };
    let mut sim = two_agents(IceAgentConfig::default(), b);
    sim.run_for(Duration::from_secs(2));
    assert!(sim.a.has_event(&IceEvent::Connected));
    assert!(sim.b.has_event(&IceEvent::Connected));
    assert_eq!(sim.b.peer.agent().role(), IceRole::Controlled);
    assert!(
        sim.a.errors.is_empty() && sim.b.errors.is_empty(),
        "{:?} {:?}",
        sim.a.errors,
        sim.b.errors
    );
}

#[test]
fn consent_expires_after_30s_of_silence_on_both_sides() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000"],
        &["192.0.2.1:3478"],
        IceAgentConfig::default(),
    );
    sim.run_for(Duration::from_secs(10));
    assert_connected_on(&sim, pair("198.51.100.2:50000", "192.0.2.1:3478"));
    let cut = sim.elapsed();
    sim.link = Box::new(|_, _| false);
    sim.run_for(Duration::from_secs(40));
    for (side, name) in [(&sim.a, "agent"), (&sim.b, "lite")] {
        let lost = side
            .events
            .iter()
            .position(|(_, e)| matches!(e, IceEvent::ConsentLost(_)));
        let failed = side.events.iter().position(|(_, e)| *e == IceEvent::Failed);
        let (Some(lost), Some(failed)) = (lost, failed) else {
            panic!("{name}: {:?}", side.events);
        };
        assert!(lost < failed, "{name}: consent lost before failing");
        let at = side.events[failed].0 - cut;
        // The last check or response came at most one consent interval (6 s) before the cut.
        assert!(
            at > Duration::from_secs(23) && at <= Duration::from_secs(30),
            "{name} failed {at:?} after the cut"
        );
        assert_eq!(side.peer.state(), IceState::Failed);
    }
    assert_eq!(sim.b.peer.lite().selected_pair(), None);
}

#[test]
fn consent_is_kept_alive_for_two_minutes() {
    let mut sim = Sim::agent_and_lite(
        &["198.51.100.2:50000"],
        &["192.0.2.1:3478"],
        IceAgentConfig::default(),
    );
    sim.run_for(Duration::from_secs(1));
    let answered = sim.b.peer.lite().stats().checks_answered;
    sim.run_for(Duration::from_secs(120));
    for side in [&sim.a, &sim.b] {
        assert!(
            !side
                .events
                .iter()
                .any(|(_, e)| matches!(e, IceEvent::ConsentLost(_) | IceEvent::Failed))
        );
        assert_eq!(side.peer.state(), IceState::Connected);
    }
    // A consent check every 4-6 s: between 20 and 30 in two minutes.
    let checks = sim.b.peer.lite().stats().checks_answered - answered;
    assert!((20..=30).contains(&checks), "{checks} consent checks");
}

#[test]
fn consent_checks_are_randomized_by_the_seed() {
    let intervals = |seed: u64| {
        let (ac, lc) = (creds(1), creds(2));
        let start = std::time::Instant::now();
        let mut agent = IceAgent::new(start, IceAgentConfig::default(), ac.clone(), seed);
        agent.set_remote_credentials(lc.clone());
        let mut lite = IceLite::new(IceLiteConfig::default(), lc);
        lite.set_remote_credentials(ac);
        let mut sim = Sim::new(
            Side::new(Peer::Agent(Box::new(agent)), &["198.51.100.2:50000"]),
            Side::new(Peer::Lite(Box::new(lite)), &["192.0.2.1:3478"]),
        );
        sim.start = start;
        sim.now = start;
        let agent = sim.a.peer.agent();
        agent
            .add_local_candidate("198.51.100.2:50000".parse().unwrap())
            .unwrap();
        agent
            .add_remote_candidate("192.0.2.1:3478".parse().unwrap(), HOST_PRIORITY)
            .unwrap();
        sim.run_for(Duration::from_secs(60));
        let sent: Vec<_> = sim
            .a
            .sent
            .iter()
            .skip(2)
            .map(|(_, _, d)| d.clone())
            .collect();
        assert!(sent.len() >= 9, "{} consent checks", sent.len());
        sent
    };
    assert_ne!(intervals(1), intervals(99));
}

#[test]
fn new_checks_are_paced_by_ta_and_retransmitted_with_the_same_transaction() {
    let start = std::time::Instant::now();
    let config = IceAgentConfig {
        ta: Duration::from_millis(20),
        ..Default::default()
    };
    let mut agent = IceAgent::new(start, config, creds(1), 7);
    agent.set_remote_credentials(creds(2));
    agent
        .add_local_candidate("198.51.100.2:50000".parse().unwrap())
        .unwrap();
    for i in 1..=4u8 {
        agent
            .add_remote_candidate(
                SocketAddr::from(([192, 0, 2, i], 3478)),
                HOST_PRIORITY - u32::from(i),
            )
            .unwrap();
    }
    let mut buf = [0u8; portunus_ice::MAX_MESSAGE_LEN];
    let mut sent_at = |ms: u64, agent: &mut IceAgent| {
        agent.handle_timeout(start + Duration::from_millis(ms));
        std::iter::from_fn(|| {
            agent.poll_transmit(&mut buf).map(|t| {
                let m = StunMessage::parse(&buf[..t.len]).unwrap();
                (t.remote, m.transaction_id())
            })
        })
        .collect::<Vec<_>>()
    };
    let first = sent_at(0, &mut agent);
    // Highest-priority pair first.
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, SocketAddr::from(([192, 0, 2, 1], 3478)));
    assert_eq!(
        agent.poll_timeout(),
        Some(start + Duration::from_millis(20))
    );
    assert!(sent_at(19, &mut agent).is_empty());
    assert_eq!(sent_at(20, &mut agent).len(), 1);
    assert_eq!(sent_at(40, &mut agent).len(), 1);
    assert_eq!(sent_at(60, &mut agent).len(), 1);
    assert!(
        sent_at(80, &mut agent).is_empty(),
        "every pair has a check in flight"
    );
    // The first check's RTO (500 ms) expires: same transaction id again.
    let again = sent_at(500, &mut agent);
    assert_eq!(again, first);
}

#[test]
fn agent_rejects_success_responses_with_bad_integrity() {
    let start = std::time::Instant::now();
    let mut agent = IceAgent::new(start, IceAgentConfig::default(), creds(1), 7);
    agent.set_remote_credentials(creds(2));
    let (local, remote): (SocketAddr, SocketAddr) = (
        "198.51.100.2:50000".parse().unwrap(),
        "192.0.2.1:3478".parse().unwrap(),
    );
    agent.add_local_candidate(local).unwrap();
    agent.add_remote_candidate(remote, HOST_PRIORITY).unwrap();
    agent.handle_timeout(start);
    let mut buf = [0u8; portunus_ice::MAX_MESSAGE_LEN];
    let t = agent.poll_transmit(&mut buf).unwrap();
    let tid = StunMessage::parse(&buf[..t.len]).unwrap().transaction_id();
    let response = |pwd: &[u8], buf: &mut [u8]| {
        let mut w = portunus_stun::MessageWriter::new(
            buf,
            Class::SuccessResponse,
            portunus_stun::Method::BINDING,
            tid,
        );
        w.add_xor_mapped_address(local);
        w.finish_with_integrity_and_fingerprint(&portunus_stun::IntegrityKey::new(pwd))
            .unwrap()
    };
    let n = response(b"forged-password-0123456789", &mut buf);
    let r = agent.handle_stun(start, local, remote, &buf[..n]);
    assert_eq!(
        r,
        Err(portunus_ice::IceError::Stun(
            portunus_stun::StunError::BadIntegrity
        ))
    );
    assert_eq!(agent.state(), IceState::Checking);
    // The genuine response (keyed by the lite's password) still counts afterwards.
    let n = response(creds(2).pwd().as_bytes(), &mut buf);
    agent.handle_stun(start, local, remote, &buf[..n]).unwrap();
    // First valid pair: a nominating check follows.
    agent.handle_timeout(start + Duration::from_millis(50));
    let t = agent.poll_transmit(&mut buf).unwrap();
    assert!(StunMessage::parse(&buf[..t.len]).unwrap().use_candidate());
}
