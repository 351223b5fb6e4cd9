//! IceLite against hand-written STUN messages: each RFC rule on its own.

#![allow(
    clippy::disallowed_methods,
    reason = "tests take one base Instant for virtual time and never read the clock again"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portunus_ice::{
    CandidatePair, IceCredentials, IceError, IceEvent, IceLite, IceLiteConfig, IceState,
    MAX_MESSAGE_LEN,
};
use portunus_stun::{
    AttributeType, Class, IntegrityKey, MessageWriter, Method, StunError, StunMessage,
    TransactionId,
};

fn local() -> IceCredentials {
    IceCredentials::generate(&[2; 32])
}

fn remote() -> IceCredentials {
    IceCredentials::generate(&[1; 32])
}

const SERVER: &str = "192.0.2.1:3478";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// How to build a check; the default is a valid check from `remote()` to `local()`.
#[derive(Clone)]
struct Check {
    username: Vec<u8>,
    pwd: String,
    use_candidate: bool,
    controlled: bool,
    integrity: bool,
    fingerprint: bool,
    extra: Option<AttributeType>,
    method: Method,
    class: Class,
    tid: u8,
}

impl Default for Check {
    fn default() -> Self {
        Self {
            username: format!("{}:{}", local().ufrag(), remote().ufrag()).into_bytes(),
            pwd: local().pwd().to_owned(),
            use_candidate: false,
            controlled: false,
            integrity: true,
            fingerprint: true,
            extra: None,
            method: Method::BINDING,
            class: Class::Request,
            tid: 1,
        }
    }
}

impl Check {
    fn bytes(&self) -> Vec<u8> {
        let mut buf = [0u8; 1024];
        let mut w = MessageWriter::new(
            &mut buf,
            self.class,
            self.method,
            TransactionId([self.tid; 12]),
        );
        w.add_username(&self.username).add_priority(1_862_270_975);
        if self.controlled {
            w.add_ice_controlled(5);
        } else {
            w.add_ice_controlling(5);
        }
        if self.use_candidate {
            w.add_use_candidate();
        }
        if let Some(t) = self.extra {
            w.add_attribute(t, &[1, 2, 3, 4]);
        }
        let key = IntegrityKey::new(self.pwd.as_bytes());
        let n = match (self.integrity, self.fingerprint) {
            (true, true) => w.finish_with_integrity_and_fingerprint(&key),
            (true, false) => w.finish_with_integrity(&key),
            (false, true) => w.finish_with_fingerprint(),
            (false, false) => w.finish(),
        }
        .unwrap();
        buf[..n].to_vec()
    }
}

type Response = (
    Class,
    Option<u16>,
    bool,
    Option<SocketAddr>,
    Vec<AttributeType>,
);

struct Harness {
    lite: IceLite,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        let mut lite = IceLite::new(IceLiteConfig::default(), local());
        lite.set_remote_credentials(remote());
        Self {
            lite,
            now: Instant::now(),
        }
    }

    fn send(&mut self, from: &str, check: &Check) -> Result<(), IceError> {
        self.lite
            .handle_stun(self.now, addr(SERVER), addr(from), &check.bytes())
    }

    /// The single response queued, parsed: (class, error code, has integrity, XOR-MAPPED,
    /// UNKNOWN-ATTRIBUTES).
    fn response(&mut self) -> Option<Response> {
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let t = self.lite.poll_transmit(&mut buf)?;
        assert_eq!(t.local, addr(SERVER));
        let m = StunMessage::parse(&buf[..t.len]).unwrap();
        assert!(m.verify_fingerprint());
        let key = IntegrityKey::new(local().pwd().as_bytes());
        assert!(m.message_integrity().is_none() || m.verify_integrity_with(&key));
        let out = (
            m.class(),
            m.error_code().map(|e| e.code),
            m.message_integrity().is_some(),
            m.xor_mapped_address(),
            m.unknown_attributes().collect(),
        );
        assert!(
            self.lite.poll_transmit(&mut buf).is_none(),
            "one response per request"
        );
        Some(out)
    }

    fn events(&mut self) -> Vec<IceEvent> {
        std::iter::from_fn(|| self.lite.poll_event()).collect()
    }
}

#[test]
fn valid_check_gets_success_with_xor_mapped_address_and_integrity() {
    let mut h = Harness::new();
    h.send("198.51.100.7:6000", &Check::default()).unwrap();
    let (class, code, mi, xma, _) = h.response().unwrap();
    assert_eq!((class, code, mi), (Class::SuccessResponse, None, true));
    assert_eq!(xma, Some(addr("198.51.100.7:6000")));
    assert_eq!(h.lite.state(), IceState::Checking);
    assert!(h.events().is_empty());
}

#[test]
fn use_candidate_selects_the_pair_and_connects() {
    let mut h = Harness::new();
    h.send(
        "198.51.100.7:6000",
        &Check {
            use_candidate: true,
            ..Default::default()
        },
    )
    .unwrap();
    let pair = CandidatePair {
        local: addr(SERVER),
        remote: addr("198.51.100.7:6000"),
    };
    assert_eq!(
        h.events(),
        vec![IceEvent::SelectedPairChanged(pair), IceEvent::Connected]
    );
    assert_eq!(h.lite.selected_pair(), Some(pair));
}

#[test]
fn latest_nomination_wins() {
    let mut h = Harness::new();
    let nominate = Check {
        use_candidate: true,
        ..Default::default()
    };
    h.send("198.51.100.7:6000", &nominate).unwrap();
    h.send("[2001:db8::7]:6000", &nominate).unwrap();
    h.send("198.51.100.7:6000", &Check::default()).unwrap();
    assert_eq!(
        h.lite.selected_pair().unwrap().remote,
        addr("[2001:db8::7]:6000")
    );
    h.send("198.51.100.7:6000", &nominate).unwrap();
    assert_eq!(
        h.lite.selected_pair().unwrap().remote,
        addr("198.51.100.7:6000")
    );
    assert_eq!(
        h.events()
            .iter()
            .filter(|e| **e == IceEvent::Connected)
            .count(),
        1
    );
}

#[test]
fn wrong_password_gets_401_without_integrity() {
    let mut h = Harness::new();
    let err = h.send(
        "198.51.100.7:6000",
        &Check {
            pwd: "x".repeat(22),
            use_candidate: true,
            ..Default::default()
        },
    );
    assert_eq!(err, Err(IceError::Stun(StunError::BadIntegrity)));
    let (class, code, mi, _, _) = h.response().unwrap();
    assert_eq!((class, code, mi), (Class::ErrorResponse, Some(401), false));
    assert_eq!(h.lite.state(), IceState::New);
}

#[test]
fn wrong_ufrag_on_either_side_gets_401() {
    let mut h = Harness::new();
    for username in [
        format!("nope:{}", remote().ufrag()),
        format!("{}:nope", local().ufrag()),
        local().ufrag().to_owned(),
    ] {
        let err = h.send(
            "198.51.100.7:6000",
            &Check {
                username: username.into_bytes(),
                ..Default::default()
            },
        );
        assert_eq!(err, Err(IceError::Stun(StunError::UnknownUsername)));
        assert_eq!(h.response().unwrap().1, Some(401));
    }
}

#[test]
fn missing_integrity_gets_400() {
    let mut h = Harness::new();
    let err = h.send(
        "198.51.100.7:6000",
        &Check {
            integrity: false,
            ..Default::default()
        },
    );
    assert_eq!(err, Err(IceError::Stun(StunError::MissingIntegrity)));
    assert_eq!(h.response().unwrap().1, Some(400));
}

#[test]
fn missing_fingerprint_gets_400_and_bad_fingerprint_is_dropped_silently() {
    let mut h = Harness::new();
    let err = h.send(
        "198.51.100.7:6000",
        &Check {
            fingerprint: false,
            ..Default::default()
        },
    );
    assert_eq!(err, Err(IceError::Stun(StunError::MissingFingerprint)));
    assert_eq!(h.response().unwrap().1, Some(400));

    let mut bytes = Check::default().bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let err = h
        .lite
        .handle_stun(h.now, addr(SERVER), addr("198.51.100.7:6000"), &bytes);
    assert_eq!(err, Err(IceError::NotStun));
    assert!(h.response().is_none());
}

#[test]
fn unknown_comprehension_required_attribute_gets_420_listing_it() {
    let mut h = Harness::new();
    let err = h.send(
        "198.51.100.7:6000",
        &Check {
            extra: Some(AttributeType(0x7001)),
            ..Default::default()
        },
    );
    assert_eq!(
        err,
        Err(IceError::Stun(StunError::UnknownAttribute {
            attr: AttributeType(0x7001)
        }))
    );
    let (class, code, mi, _, unknown) = h.response().unwrap();
    assert_eq!((class, code, mi), (Class::ErrorResponse, Some(420), true));
    assert_eq!(unknown, vec![AttributeType(0x7001)]);
    // An unknown comprehension-optional attribute is fine.
    h.send(
        "198.51.100.7:6000",
        &Check {
            extra: Some(AttributeType(0xc057)),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn peer_claiming_controlled_gets_487_and_nominates_nothing() {
    let mut h = Harness::new();
    let err = h.send(
        "198.51.100.7:6000",
        &Check {
            controlled: true,
            use_candidate: true,
            ..Default::default()
        },
    );
    assert_eq!(err, Err(IceError::RoleConflict));
    let (class, code, mi, _, _) = h.response().unwrap();
    assert_eq!((class, code, mi), (Class::ErrorResponse, Some(487), true));
    assert_eq!(h.lite.selected_pair(), None);
}

#[test]
fn non_binding_requests_get_400_and_indications_and_responses_are_ignored() {
    let mut h = Harness::new();
    let err = h.send(
        "198.51.100.7:6000",
        &Check {
            method: Method::new(0x003),
            ..Default::default()
        },
    );
    assert_eq!(err, Err(IceError::Stun(StunError::UnsupportedMethod)));
    assert_eq!(h.response().unwrap().1, Some(400));
    assert_eq!(
        h.send(
            "198.51.100.7:6000",
            &Check {
                class: Class::Indication,
                ..Default::default()
            }
        ),
        Ok(())
    );
    let resp = Check {
        class: Class::SuccessResponse,
        ..Default::default()
    };
    assert_eq!(
        h.send("198.51.100.7:6000", &resp),
        Err(IceError::Unexpected)
    );
    assert!(h.response().is_none());
    assert_eq!(h.lite.state(), IceState::New);
}

#[test]
fn checks_before_remote_credentials_are_answered_and_can_connect() {
    let mut lite = IceLite::new(IceLiteConfig::default(), local());
    let now = Instant::now();
    let check = Check {
        use_candidate: true,
        ..Default::default()
    }
    .bytes();
    lite.handle_stun(now, addr(SERVER), addr("198.51.100.7:6000"), &check)
        .unwrap();
    assert_eq!(lite.stats().early_checks, 1);
    assert_eq!(lite.state(), IceState::Connected);
    // The description then confirms the ufrag: the pair stays.
    lite.set_remote_credentials(remote());
    assert!(lite.selected_pair().is_some());
}

#[test]
fn remote_credentials_drop_pairs_learnt_from_another_ufrag() {
    let mut lite = IceLite::new(IceLiteConfig::default(), local());
    let now = Instant::now();
    let stale = Check {
        username: format!("{}:oldufrag", local().ufrag()).into_bytes(),
        use_candidate: true,
        ..Default::default()
    };
    lite.handle_stun(now, addr(SERVER), addr("198.51.100.7:6000"), &stale.bytes())
        .unwrap();
    assert_eq!(lite.state(), IceState::Connected);
    lite.set_remote_credentials(remote());
    assert_eq!(lite.selected_pair(), None);
    assert_eq!(lite.state(), IceState::Disconnected);
    assert_eq!(lite.poll_timeout(), None, "no pairs left to expire");
}

#[test]
fn consent_loss_falls_back_to_another_nominated_pair_then_disconnects_then_fails() {
    let mut h = Harness::new();
    let nominate = Check {
        use_candidate: true,
        ..Default::default()
    };
    h.send("198.51.100.7:6000", &nominate).unwrap();
    h.send("198.51.100.8:6000", &nominate).unwrap(); // selected
    h.now += Duration::from_secs(10);
    h.send("198.51.100.7:6000", &Check::default()).unwrap(); // keeps .7 fresh until 40 s
    let pair = |r: &str| CandidatePair {
        local: addr(SERVER),
        remote: addr(r),
    };

    h.now += Duration::from_secs(15);
    h.send("198.51.100.9:6000", &Check::default()).unwrap(); // fresh until 55 s, never nominated
    h.events();

    h.now += Duration::from_secs(5);
    assert_eq!(h.lite.poll_timeout(), Some(h.now));
    h.lite.handle_timeout(h.now);
    assert_eq!(
        h.events(),
        vec![
            IceEvent::ConsentLost(pair("198.51.100.8:6000")),
            IceEvent::SelectedPairChanged(pair("198.51.100.7:6000"))
        ]
    );
    assert_eq!(h.lite.state(), IceState::Connected);

    h.now += Duration::from_secs(10);
    h.lite.handle_timeout(h.now);
    assert_eq!(
        h.events(),
        vec![
            IceEvent::ConsentLost(pair("198.51.100.7:6000")),
            IceEvent::Disconnected
        ]
    );
    assert_eq!(h.lite.state(), IceState::Disconnected);

    h.now += Duration::from_secs(15);
    h.lite.handle_timeout(h.now);
    assert_eq!(h.events(), vec![IceEvent::Failed]);
    assert_eq!(
        h.send("198.51.100.7:6000", &nominate),
        Err(IceError::AgentFailed)
    );
    assert_eq!(h.lite.poll_timeout(), None);
}

#[test]
fn consent_timeout_is_configurable() {
    let config = IceLiteConfig {
        consent_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let mut lite = IceLite::new(config, local());
    let now = Instant::now();
    let check = Check {
        use_candidate: true,
        ..Default::default()
    }
    .bytes();
    lite.handle_stun(now, addr(SERVER), addr("198.51.100.7:6000"), &check)
        .unwrap();
    assert_eq!(lite.poll_timeout(), Some(now + Duration::from_secs(5)));
    lite.handle_timeout(now + Duration::from_millis(4_999));
    assert_eq!(lite.state(), IceState::Connected);
    lite.handle_timeout(now + Duration::from_secs(5));
    assert_eq!(lite.state(), IceState::Failed);
}

#[test]
fn pair_table_is_bounded_and_keeps_the_selected_pair() {
    let config = IceLiteConfig {
        max_pairs: 2,
        ..Default::default()
    };
    let mut lite = IceLite::new(config, local());
    let mut now = Instant::now();
    let nominate = Check {
        use_candidate: true,
        ..Default::default()
    }
    .bytes();
    let check = Check::default().bytes();
    lite.handle_stun(now, addr(SERVER), addr("198.51.100.1:1"), &nominate)
        .unwrap();
    for port in 2..10 {
        now += Duration::from_millis(10);
        lite.handle_stun(
            now,
            addr(SERVER),
            SocketAddr::from(([198, 51, 100, 1], port)),
            &check,
        )
        .unwrap();
    }
    assert_eq!(lite.stats().evicted_pairs, 7);
    assert_eq!(lite.selected_pair().unwrap().remote, addr("198.51.100.1:1"));
}

#[test]
fn reply_queue_is_bounded() {
    let config = IceLiteConfig {
        max_queued_transmits: 3,
        ..Default::default()
    };
    let mut lite = IceLite::new(config, local());
    let now = Instant::now();
    for _ in 0..5 {
        lite.handle_stun(
            now,
            addr(SERVER),
            addr("198.51.100.1:1"),
            &Check::default().bytes(),
        )
        .unwrap();
    }
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    assert_eq!(
        std::iter::from_fn(|| lite.poll_transmit(&mut buf)).count(),
        3
    );
    assert_eq!(lite.stats().dropped_transmits, 2);
}
