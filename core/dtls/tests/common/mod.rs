//! A two-endpoint in-memory harness.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::time::{Duration, Instant, SystemTime};

use portunus_dtls::{
    DtlsCertificate, DtlsConfig, DtlsConnection, DtlsEvent, DtlsOptions, DtlsRole, Fingerprint,
    MAX_DATAGRAM_LEN, SrtpKeyingMaterial,
};

/// Wall-clock time for certificates; any fixed value will do.
pub(crate) fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

/// One base instant per test. Handshakes without loss never wait on OpenSSL's clock, so
/// passing the same instant everywhere is fine.
#[allow(clippy::disallowed_methods, reason = "tests need one base Instant")]
pub(crate) fn base_instant() -> Instant {
    Instant::now()
}

/// A certificate with its config.
pub(crate) struct Endpoint {
    pub(crate) cert: DtlsCertificate,
    pub(crate) config: DtlsConfig,
}

impl Endpoint {
    pub(crate) fn new(options: DtlsOptions) -> Self {
        let cert = DtlsCertificate::generate(wall()).unwrap();
        let config = DtlsConfig::new(&cert, options).unwrap();
        Self { cert, config }
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        self.cert.fingerprint().clone()
    }
}

/// One connection plus everything it produced.
pub(crate) struct Side {
    pub(crate) conn: DtlsConnection,
    pub(crate) events: Vec<DtlsEvent>,
    /// Every datagram this side sent, in order.
    pub(crate) sent: Vec<Vec<u8>>,
}

impl Side {
    pub(crate) fn new(endpoint: &Endpoint, role: DtlsRole, expect: Fingerprint) -> Self {
        let conn = DtlsConnection::new(&endpoint.config, role, expect).unwrap();
        Self {
            conn,
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Everything `poll_transmit` has, recorded in `sent`.
    pub(crate) fn take_transmits(&mut self) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; MAX_DATAGRAM_LEN];
        let mut out = Vec::new();
        while let Some(n) = self.conn.poll_transmit(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        self.sent.extend(out.iter().cloned());
        out
    }

    pub(crate) fn drain_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            self.events.push(ev);
        }
    }

    pub(crate) fn keys(&self) -> Option<&SrtpKeyingMaterial> {
        self.events.iter().find_map(|e| match e {
            DtlsEvent::Connected { srtp } => Some(srtp),
            _ => None,
        })
    }

    pub(crate) fn failure(&self) -> Option<&portunus_dtls::DtlsError> {
        self.events.iter().find_map(|e| match e {
            DtlsEvent::Failed(err) => Some(err),
            _ => None,
        })
    }

    pub(crate) fn application_data(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DtlsEvent::ApplicationData(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Two connected sides: `a` in `a_role`, `b` in the other role.
pub(crate) struct Pair {
    pub(crate) a: Side,
    pub(crate) b: Side,
}

impl Pair {
    /// Both sides expect each other's real fingerprint.
    pub(crate) fn new(a: &Endpoint, b: &Endpoint, a_role: DtlsRole) -> Self {
        Self::with_expected(a, b.fingerprint(), b, a.fingerprint(), a_role)
    }

    pub(crate) fn with_expected(
        a: &Endpoint,
        a_expects: Fingerprint,
        b: &Endpoint,
        b_expects: Fingerprint,
        a_role: DtlsRole,
    ) -> Self {
        let b_role = match a_role {
            DtlsRole::Client => DtlsRole::Server,
            DtlsRole::Server => DtlsRole::Client,
        };
        Self {
            a: Side::new(a, a_role, a_expects),
            b: Side::new(b, b_role, b_expects),
        }
    }

    /// Starts both sides (only the client acts) and pumps to quiescence.
    pub(crate) fn handshake(&mut self, now: Instant) {
        self.a.conn.handle_timeout(now);
        self.b.conn.handle_timeout(now);
        self.pump(now);
    }

    /// Delivers datagrams both ways, losslessly, until neither side has anything to send.
    pub(crate) fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let from_a = self.a.take_transmits();
            let from_b = self.b.take_transmits();
            if from_a.is_empty() && from_b.is_empty() {
                break;
            }
            for d in &from_a {
                let _ = self.b.conn.handle_datagram(now, d);
            }
            for d in &from_b {
                let _ = self.a.conn.handle_datagram(now, d);
            }
        }
        self.a.drain_events();
        self.b.drain_events();
    }
}

/// Asserts the two sides' keys mirror each other and returns them (a's view).
pub(crate) fn assert_mirrored(a: &SrtpKeyingMaterial, b: &SrtpKeyingMaterial) {
    assert_eq!(a.profile_id, b.profile_id);
    assert_eq!(a.local_key, b.remote_key);
    assert_eq!(a.local_salt, b.remote_salt);
    assert_eq!(a.remote_key, b.local_key);
    assert_eq!(a.remote_salt, b.local_salt);
    assert_ne!(a.local_key, a.remote_key, "each direction has its own key");
    assert_ne!(a.local_salt, a.remote_salt);
}
