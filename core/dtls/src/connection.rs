//! One DTLS association, sans-IO.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use openssl::ssl::{ErrorCode, Ssl, SslRef, SslStream, SslVerifyMode};
use openssl::x509::X509VerifyResult;

use crate::callbacks::{self, CallbackState, SeenAlert};
use crate::pipe::Pipe;
use crate::record::check_datagram;
use crate::{AlertDescription, DtlsConfig, DtlsError, Fingerprint, SrtpProfile};

/// Which side of the DTLS handshake this end plays (RFC 5763 §5: `a=setup:active` is the
/// client, `a=setup:passive` the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Sends the ClientHello (`a=setup:active`).
    Client,
    /// Waits for the ClientHello (`a=setup:passive`).
    Server,
}

/// Something that happened on a [`DtlsConnection`], in order.
#[derive(Debug, Clone)]
pub enum DtlsEvent {
    /// The handshake finished and the peer's certificate matched its fingerprint.
    Connected {
        /// SRTP master keys for this end (RFC 5764 §4.2).
        srtp: SrtpKeyingMaterial,
    },
    /// One decrypted application data record (for WebRTC: one SCTP packet).
    ApplicationData(Vec<u8>),
    /// The peer sent an alert other than `close_notify`. A fatal one is followed by
    /// [`DtlsEvent::Failed`].
    Alert {
        /// Alert level "fatal".
        fatal: bool,
        /// What the alert says.
        description: AlertDescription,
    },
    /// The peer sent `close_notify`; the connection is over. Terminal.
    Closed,
    /// The connection failed; any alert OpenSSL sent is still queued for
    /// [`DtlsConnection::poll_transmit`]. Terminal.
    Failed(DtlsError),
}

/// SRTP master keys and salts exported from the handshake (RFC 5764 §4.2), already split by
/// DTLS role: the client protects with the client write key, the server with the server one.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyingMaterial {
    /// IANA DTLS-SRTP profile id: 0x0001 AES128_CM_SHA1_80, 0x0002 AES128_CM_SHA1_32,
    /// 0x0007 AEAD_AES_128_GCM.
    pub profile_id: u16,
    /// Master key this end protects outgoing SRTP/SRTCP with.
    pub local_key: Vec<u8>,
    /// Master salt this end protects outgoing SRTP/SRTCP with.
    pub local_salt: Vec<u8>,
    /// Master key the peer protects with; unprotect incoming packets with it.
    pub remote_key: Vec<u8>,
    /// Master salt the peer protects with.
    pub remote_salt: Vec<u8>,
}

impl SrtpKeyingMaterial {
    /// The profile as an enum.
    pub fn profile(&self) -> Option<SrtpProfile> {
        SrtpProfile::from_iana_id(self.profile_id)
    }
}

impl fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys never go into logs.
        f.debug_struct("SrtpKeyingMaterial")
            .field("profile_id", &format_args!("{:#06x}", self.profile_id))
            .finish_non_exhaustive()
    }
}

/// One DTLS 1.2 association with DTLS-SRTP, driven sans-IO over OpenSSL.
///
/// Feed datagrams with [`handle_datagram`](Self::handle_datagram) and timer expiries with
/// [`handle_timeout`](Self::handle_timeout); after each, drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event) and re-read
/// [`poll_timeout`](Self::poll_timeout). Nothing happens until the first `handle_*` call: a
/// client sends its ClientHello from its first `handle_timeout`.
///
/// Time: the `now` passed in drives the handshake deadline and anchors
/// [`poll_timeout`](Self::poll_timeout), but OpenSSL keeps its retransmission timer on its
/// own wall clock (`gettimeofday`), which Rust code cannot inject. `poll_timeout` therefore
/// reports `now + time OpenSSL says is left`, and a `handle_timeout` with a `now` OpenSSL
/// does not yet consider due retransmits nothing. Tests that need retransmissions must let
/// real time pass.
pub struct DtlsConnection {
    stream: SslStream<Pipe>,
    role: DtlsRole,
    phase: Phase,
    events: VecDeque<DtlsEvent>,
    /// The `now` of the latest input; `poll_timeout` is relative to it.
    last_now: Option<Instant>,
    handshake_deadline: Option<Instant>,
    handshake_timeout: Duration,
    max_retransmissions: u32,
    remote_fingerprint: Fingerprint,
    /// Scratch for `SSL_read`, allocated when the handshake completes.
    read_buf: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Created; nothing sent or received.
    New,
    Handshaking,
    Connected,
    /// Closed cleanly, by either side.
    Closed,
    Failed,
}

impl DtlsConnection {
    /// A new connection in `role` that will accept only a peer certificate hashing to
    /// `remote_fingerprint` (from the peer's `a=fingerprint`).
    ///
    /// # Errors
    /// [`DtlsError::Ssl`] if OpenSSL cannot allocate the connection.
    pub fn new(
        config: &DtlsConfig,
        role: DtlsRole,
        remote_fingerprint: Fingerprint,
    ) -> Result<Self, DtlsError> {
        let options = config.options();
        let mut ssl = Ssl::new(config.context())?;
        match role {
            DtlsRole::Client => ssl.set_connect_state(),
            DtlsRole::Server => ssl.set_accept_state(),
        }
        ssl.set_mtu(u32::from(options.mtu))?;
        let expected = remote_fingerprint.clone();
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_chain_ok, ctx| {
                // Self-signed certificates never verify against a CA; the SDP fingerprint is
                // the trust anchor (RFC 8827 §6.5). Only the leaf (depth 0) is checked.
                if ctx.error_depth() != 0 {
                    return true;
                }
                if ctx
                    .current_cert()
                    .is_some_and(|cert| expected.matches(cert))
                {
                    return true;
                }
                // CERT_REJECTED makes OpenSSL send bad_certificate and lets the failure be
                // told apart from other handshake errors through SSL_get_verify_result.
                ctx.set_error(cert_rejected());
                false
            },
        );
        ssl.set_ex_data(
            config.callback_index(),
            CallbackState::new(
                options.initial_retransmit_timeout,
                options.max_retransmit_timeout,
            ),
        );
        callbacks::install(&mut ssl);
        let stream = SslStream::new(ssl, Pipe::default())?;
        Ok(Self {
            stream,
            role,
            phase: Phase::New,
            events: VecDeque::new(),
            last_now: None,
            handshake_deadline: None,
            handshake_timeout: options.handshake_timeout,
            max_retransmissions: options.max_retransmissions,
            remote_fingerprint,
            read_buf: Vec::new(),
        })
    }

    /// Feeds one datagram that arrived at `now` (the caller demultiplexes: RFC 7983 first
    /// bytes 20..=63).
    ///
    /// # Errors
    /// Only for a datagram that was dropped unprocessed: [`DtlsError::MalformedDatagram`] or
    /// [`DtlsError::ConnectionEnded`] (both of kind `Dropped`: count them). Failures of the
    /// connection itself come once, as [`DtlsEvent::Failed`].
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtlsError> {
        self.last_now = Some(now);
        if matches!(self.phase, Phase::Closed | Phase::Failed) {
            return Err(DtlsError::ConnectionEnded);
        }
        check_datagram(datagram)?;
        if self.phase == Phase::New {
            self.start(now);
        }
        self.stream.get_mut().push_incoming(datagram);
        self.drive(now);
        self.stream.get_mut().clear_incoming();
        Ok(())
    }

    /// Advances timers to `now`: starts a fresh client's handshake, retransmits a flight
    /// whose OpenSSL timer has expired, and gives up a handshake past its retransmission or
    /// time budget ([`DtlsEvent::Failed`] with [`DtlsError::HandshakeTimeout`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        match self.phase {
            Phase::New if self.role == DtlsRole::Client => {
                self.start(now);
                self.drive(now);
            }
            Phase::Handshaking => {
                if self.handshake_deadline.is_some_and(|d| now >= d) {
                    self.fail_timeout();
                    return;
                }
                self.retransmit_if_due(true);
            }
            // The side that sent the last flight answers retransmissions of the peer's flight
            // from `handle_datagram`; a timer left running is served here.
            Phase::Connected => self.retransmit_if_due(false),
            Phase::New | Phase::Closed | Phase::Failed => {}
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next run; `None` before the
    /// first input and once no timer runs (connected, closed, failed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let now = self.last_now?;
        let retransmit = match self.phase {
            Phase::Handshaking | Phase::Connected => {
                callbacks::get_timeout(self.ssl()).and_then(|left| now.checked_add(left))
            }
            Phase::New | Phase::Closed | Phase::Failed => None,
        };
        let deadline = match self.phase {
            Phase::Handshaking => self.handshake_deadline,
            _ => None,
        };
        match (retransmit, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Copies the next datagram to send into `out` and returns its length; `None` when
    /// there is nothing to send, or when `out` is too small (the datagram then stays queued;
    /// see [`next_transmit_len`](Self::next_transmit_len)). Handshake datagrams never exceed
    /// the configured MTU; an application data datagram is its record: payload plus at most
    /// [`crate::MAX_RECORD_OVERHEAD`] bytes.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        self.stream.get_mut().pop_outgoing(out)
    }

    /// Length of the datagram [`poll_transmit`](Self::poll_transmit) would return next.
    pub fn next_transmit_len(&self) -> Option<usize> {
        self.stream.get_ref().next_outgoing_len()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// Encrypts `data` as one application data record, queued for
    /// [`poll_transmit`](Self::poll_transmit). An empty `data` sends nothing.
    ///
    /// DTLS does not fragment application data: the datagram is `data.len()` plus record
    /// overhead, whatever the MTU, so SCTP must size its packets to the path MTU itself.
    ///
    /// # Errors
    /// [`DtlsError::NotConnected`] before [`DtlsEvent::Connected`] or after the end,
    /// [`DtlsError::MessageTooLarge`] above [`crate::MAX_APPLICATION_DATA_LEN`], and
    /// [`DtlsError::Ssl`] if OpenSSL refuses.
    pub fn send_application_data(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if self.phase != Phase::Connected {
            return Err(DtlsError::NotConnected);
        }
        if data.len() > crate::MAX_APPLICATION_DATA_LEN {
            return Err(DtlsError::MessageTooLarge {
                len: data.len(),
                max: crate::MAX_APPLICATION_DATA_LEN,
            });
        }
        if data.is_empty() {
            return Ok(());
        }
        match self.stream.ssl_write(data) {
            Ok(_) => Ok(()),
            Err(e) => Err(DtlsError::Ssl(error_stack(&e))),
        }
    }

    /// Ends the connection: sends `close_notify` if the handshake had finished (queued for
    /// [`poll_transmit`](Self::poll_transmit)); mid-handshake it drops any queued flight and
    /// stops. Emits no event; later datagrams are refused with [`DtlsError::ConnectionEnded`].
    /// Idempotent.
    pub fn close(&mut self) {
        match self.phase {
            Phase::Connected => {
                // Sends close_notify; not waiting for the peer's answer is allowed
                // (RFC 5246 §7.2.1) and usual for DTLS.
                let _ = self.stream.shutdown();
                self.take_alerts();
                self.phase = Phase::Closed;
            }
            Phase::New | Phase::Handshaking => {
                // OpenSSL cannot send close_notify mid-handshake; drop the half-sent flight.
                self.stream.get_mut().discard_outgoing();
                self.phase = Phase::Closed;
            }
            Phase::Closed | Phase::Failed => {}
        }
    }

    /// The DTLS role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Whether the handshake finished and the connection has not ended.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the connection ended (closed or failed).
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Failed)
    }

    /// The fingerprint the peer's certificate must match.
    pub fn remote_fingerprint(&self) -> &Fingerprint {
        &self.remote_fingerprint
    }

    // --- internals -------------------------------------------------------------------------

    fn ssl(&self) -> &SslRef {
        self.stream.ssl()
    }

    fn start(&mut self, now: Instant) {
        self.phase = Phase::Handshaking;
        self.handshake_deadline = now.checked_add(self.handshake_timeout);
    }

    /// Runs OpenSSL on whatever input is pending and turns the outcome into events.
    fn drive(&mut self, now: Instant) {
        if self.phase == Phase::Handshaking {
            match self.stream.do_handshake() {
                Ok(()) => self.complete_handshake(),
                Err(e) if e.code() == ErrorCode::WANT_READ => {
                    self.take_alerts();
                    if self.handshake_deadline.is_some_and(|d| now >= d) {
                        self.fail_timeout();
                    }
                    return;
                }
                Err(e) => {
                    self.fail_handshake(&e);
                    return;
                }
            }
        }
        if self.phase == Phase::Connected {
            self.read_application_data();
        }
    }

    fn retransmit_if_due(&mut self, handshaking: bool) {
        let Some(left) = callbacks::get_timeout(self.ssl()) else {
            return;
        };
        if !left.is_zero() {
            return;
        }
        if handshaking && self.retransmissions() >= self.max_retransmissions {
            self.fail_timeout();
            return;
        }
        if callbacks::handle_timeout(self.ssl()) < 0 {
            // OpenSSL gave up on its own (12 expiries of one flight) or failed to write.
            let stack = openssl::error::ErrorStack::get();
            let (_, sent_alert) = self.take_alerts();
            let error = if has_reason(&stack, SSL_R_READ_TIMEOUT_EXPIRED) {
                // The last expiry was counted but not retransmitted.
                let retransmissions = self.retransmissions().saturating_sub(1);
                DtlsError::HandshakeTimeout { retransmissions }
            } else {
                DtlsError::HandshakeFailed {
                    reason: stack.to_string(),
                    sent_alert,
                }
            };
            self.fail(error);
        }
    }

    /// Timer expiries so far; each one but a fatal last one retransmitted a flight.
    fn retransmissions(&self) -> u32 {
        callbacks::with_state(self.ssl(), |s| s.timeouts).unwrap_or(0)
    }

    fn complete_handshake(&mut self) {
        self.take_alerts();
        // The verify callback already checked the leaf; checking again here costs one hash
        // and guards against a callback that was somehow skipped.
        match self.ssl().peer_certificate() {
            None => return self.fail_after_handshake(DtlsError::NoPeerCertificate),
            Some(cert) if !self.remote_fingerprint.matches(&cert) => {
                return self.fail_after_handshake(DtlsError::FingerprintMismatch);
            }
            Some(_) => {}
        }
        let srtp = match export_srtp(self.ssl(), self.role) {
            Ok(Some(srtp)) => srtp,
            Ok(None) => return self.fail_after_handshake(DtlsError::NoSrtpProfile),
            Err(e) => return self.fail_after_handshake(e),
        };
        self.phase = Phase::Connected;
        self.read_buf.resize(READ_BUF_LEN, 0);
        self.events.push_back(DtlsEvent::Connected { srtp });
    }

    fn read_application_data(&mut self) {
        loop {
            match self.stream.ssl_read(&mut self.read_buf) {
                Ok(n) => {
                    let data = self.read_buf.get(..n).unwrap_or_default().to_vec();
                    self.events.push_back(DtlsEvent::ApplicationData(data));
                }
                Err(e) => {
                    let (fatal, sent) = self.take_alerts();
                    match e.code() {
                        ErrorCode::WANT_READ => {}
                        ErrorCode::ZERO_RETURN => self.closed_by_peer(),
                        _ => {
                            let retransmissions = self.retransmissions();
                            let verify = X509VerifyResult::OK;
                            self.fail(classify(&e, fatal, sent, verify, retransmissions));
                        }
                    }
                    return;
                }
            }
        }
    }

    fn fail_handshake(&mut self, e: &openssl::ssl::Error) {
        let (fatal, sent) = self.take_alerts();
        if e.code() == ErrorCode::ZERO_RETURN {
            self.closed_by_peer();
        } else {
            let verify = self.ssl().verify_result();
            self.fail(classify(e, fatal, sent, verify, self.retransmissions()));
        }
    }

    /// Fails a connection whose handshake succeeded at the OpenSSL level; the peer believes
    /// it is connected, so tell it with `close_notify`.
    fn fail_after_handshake(&mut self, error: DtlsError) {
        let _ = self.stream.shutdown();
        self.take_alerts();
        self.fail(error);
    }

    fn fail_timeout(&mut self) {
        let retransmissions = self.retransmissions();
        // Nothing the peer could use is left to send.
        self.stream.get_mut().discard_outgoing();
        self.fail(DtlsError::HandshakeTimeout { retransmissions });
    }

    fn fail(&mut self, error: DtlsError) {
        self.phase = Phase::Failed;
        self.events.push_back(DtlsEvent::Failed(error));
    }

    fn closed_by_peer(&mut self) {
        self.phase = Phase::Closed;
        self.events.push_back(DtlsEvent::Closed);
    }

    /// Moves alerts the info callback saw into events. Returns the last fatal alert received
    /// and the last alert sent.
    fn take_alerts(&mut self) -> (Option<AlertDescription>, Option<AlertDescription>) {
        let (received, sent) = callbacks::with_state(self.ssl(), |s| {
            (
                std::mem::take(&mut s.received),
                s.sent.take().map(|a| a.description),
            )
        })
        .unwrap_or_default();
        let mut fatal = None;
        for SeenAlert {
            fatal: is_fatal,
            description,
        } in received
        {
            if is_fatal {
                fatal = Some(description);
            }
            if description != AlertDescription::CLOSE_NOTIFY {
                self.events.push_back(DtlsEvent::Alert {
                    fatal: is_fatal,
                    description,
                });
            }
        }
        (fatal, sent)
    }
}

impl fmt::Debug for DtlsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsConnection")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("remote_fingerprint", &self.remote_fingerprint)
            .finish_non_exhaustive()
    }
}

/// Turns an OpenSSL failure into the most specific error.
fn classify(
    e: &openssl::ssl::Error,
    fatal_received: Option<AlertDescription>,
    sent_alert: Option<AlertDescription>,
    verify: X509VerifyResult,
    retransmissions: u32,
) -> DtlsError {
    if let Some(description) = fatal_received {
        return DtlsError::PeerAlert(description);
    }
    if verify == cert_rejected() {
        return DtlsError::FingerprintMismatch;
    }
    let stack = error_stack(e);
    if has_reason(&stack, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        return DtlsError::NoPeerCertificate;
    }
    // OpenSSL also retransmits by itself inside SSL_do_handshake when its timer has expired,
    // and fails a flight after 12 expiries.
    if has_reason(&stack, SSL_R_READ_TIMEOUT_EXPIRED) {
        // The last expiry was counted but not retransmitted.
        let retransmissions = retransmissions.saturating_sub(1);
        return DtlsError::HandshakeTimeout { retransmissions };
    }
    let reason = match stack.errors().first() {
        Some(err) => err.reason().map_or_else(|| err.to_string(), str::to_owned),
        None => e.to_string(),
    };
    DtlsError::HandshakeFailed { reason, sent_alert }
}

fn has_reason(stack: &openssl::error::ErrorStack, reason: libc::c_int) -> bool {
    stack.errors().iter().any(|err| err.reason_code() == reason)
}

fn error_stack(e: &openssl::ssl::Error) -> openssl::error::ErrorStack {
    e.ssl_error()
        .cloned()
        .unwrap_or_else(openssl::error::ErrorStack::get)
}

/// Exports the SRTP keys (RFC 5764 §4.2). `Ok(None)` when no profile was negotiated.
fn export_srtp(ssl: &SslRef, role: DtlsRole) -> Result<Option<SrtpKeyingMaterial>, DtlsError> {
    let Some(selected) = ssl.selected_srtp_profile() else {
        return Ok(None);
    };
    let Some(profile) = u16::try_from(selected.id().as_raw())
        .ok()
        .and_then(SrtpProfile::from_iana_id)
    else {
        return Ok(None);
    };
    let (k, s) = (profile.master_key_len(), profile.master_salt_len());
    let mut material = [0u8; 2 * (16 + 14)];
    let material = &mut material[..2 * (k + s)];
    // The context must be absent, not empty: `Some(&[])` sets use_context and yields
    // different keys (deps.md pitfall 3).
    ssl.export_keying_material(material, "EXTRACTOR-dtls_srtp", None)?;
    // client_write_key | server_write_key | client_write_salt | server_write_salt
    let (client_key, rest) = material.split_at(k);
    let (server_key, rest) = rest.split_at(k);
    let (client_salt, server_salt) = rest.split_at(s);
    let (local_key, local_salt, remote_key, remote_salt) = match role {
        DtlsRole::Client => (client_key, client_salt, server_key, server_salt),
        DtlsRole::Server => (server_key, server_salt, client_key, client_salt),
    };
    Ok(Some(SrtpKeyingMaterial {
        profile_id: profile.iana_id(),
        local_key: local_key.to_vec(),
        local_salt: local_salt.to_vec(),
        remote_key: remote_key.to_vec(),
        remote_salt: remote_salt.to_vec(),
    }))
}

/// `X509_V_ERR_CERT_REJECTED`, set by the verify callback on a fingerprint mismatch.
fn cert_rejected() -> X509VerifyResult {
    // SAFETY: X509_V_ERR_CERT_REJECTED is a valid verification result code.
    unsafe { X509VerifyResult::from_raw(openssl_sys::X509_V_ERR_CERT_REJECTED) }
}
/// `SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE` from `<openssl/sslerr.h>`.
const SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: libc::c_int = 199;
/// `SSL_R_READ_TIMEOUT_EXPIRED` from `<openssl/sslerr.h>`.
const SSL_R_READ_TIMEOUT_EXPIRED: libc::c_int = 312;
/// `SSL_read` scratch: the largest plaintext record (RFC 6347 §4.1, 2^14) plus slack.
const READ_BUF_LEN: usize = (1 << 14) + 256;
