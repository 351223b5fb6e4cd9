//! One WebRTC PeerConnection, sans-IO: the core protocol state machines composed.
//!
//! A [`Peer`] takes every datagram of one PeerConnection, demultiplexes it by its first byte
//! (RFC 7983 §7) and hands it to the right machine:
//!
//! - STUN → ICE: [`portunus_ice::IceLite`] for the server (RFC 8445 §2.5) or
//!   [`portunus_ice::IceAgent`] in the controlling role for the load generator;
//! - DTLS → [`portunus_dtls::DtlsConnection`] (RFC 6347, DTLS-SRTP RFC 5764), started once
//!   ICE has selected a path;
//! - RTP and RTCP → SRTP/SRTCP unprotect in place with the keys DTLS exported
//!   ([`portunus_srtp::SrtpContext`]);
//! - decrypted DTLS application data → SCTP with DCEP ([`portunus_sctp::SctpTransport`],
//!   RFC 8831/8832) when data channels were negotiated.
//!
//! Out of scope: SDP (the caller builds a [`PeerConfig`] from the descriptions), media
//! forwarding, RTCP feedback and congestion control (the dataplane's), TURN, ICE restarts.
//!
//! # Driving a peer
//!
//! After any `handle_*` call or API call, drain [`Peer::poll_transmit`] (send each datagram
//! from `local` to `remote`) and [`Peer::poll_event`], then call [`Peer::handle_timeout`] at
//! [`Peer::poll_timeout`]. Media never goes through `poll_transmit`: the caller protects its
//! RTP with [`Peer::protect_rtp`] and sends it to [`Peer::path`].
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions, DtlsRole};
//! use portunus_ice::{IceAgentConfig, IceCredentials, IceLiteConfig};
//! use portunus_peer::{IceMode, Peer, PeerConfig, PeerEvent, Received};
//!
//! let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
//! let (server_cert, client_cert) = (DtlsCertificate::generate(wall)?, DtlsCertificate::generate(wall)?);
//! let server_dtls = DtlsConfig::new(&server_cert, DtlsOptions::default())?;
//! let client_dtls = DtlsConfig::new(&client_cert, DtlsOptions::default())?;
//! let (server_ice, client_ice) = (IceCredentials::generate(&[1; 32]), IceCredentials::generate(&[2; 32]));
//! let (server_addr, client_addr) = ("192.0.2.1:5000".parse()?, "192.0.2.2:6000".parse()?);
//!
//! let start = Instant::now(); // the caller's clock; core crates never read one
//! let mut server = Peer::new(start, &server_dtls, PeerConfig {
//!     ice: IceMode::Lite(IceLiteConfig::default()),
//!     local_credentials: server_ice.clone(),
//!     remote_credentials: Some(client_ice.clone()),
//!     dtls_role: DtlsRole::Server,
//!     remote_fingerprint: client_cert.fingerprint().clone(),
//!     ..PeerConfig::default_for_tests()
//! })?;
//! let mut client = Peer::new(start, &client_dtls, PeerConfig {
//!     ice: IceMode::Controlling(IceAgentConfig::default()),
//!     local_credentials: client_ice,
//!     remote_credentials: Some(server_ice),
//!     dtls_role: DtlsRole::Client,
//!     remote_fingerprint: server_cert.fingerprint().clone(),
//!     ..PeerConfig::default_for_tests()
//! })?;
//! client.add_local_candidate(client_addr)?;
//! client.add_remote_candidate(server_addr, 2_130_706_431)?;
//!
//! // A perfect in-memory network: whatever one side transmits, the other receives.
//! let mut now = start;
//! let mut buf = vec![0u8; 2048];
//! let mut connected = false;
//! for _ in 0..200 {
//!     client.handle_timeout(now);
//!     server.handle_timeout(now);
//!     while let Some(t) = client.poll_transmit(&mut buf) {
//!         server.handle_datagram(now, t.remote, t.local, &mut buf[..t.len]).ok();
//!     }
//!     while let Some(t) = server.poll_transmit(&mut buf) {
//!         client.handle_datagram(now, t.remote, t.local, &mut buf[..t.len]).ok();
//!     }
//!     while let Some(e) = server.poll_event() {
//!         connected |= matches!(e, PeerEvent::Connected { .. });
//!     }
//!     while client.poll_event().is_some() {}
//!     if connected { break; }
//!     now += Duration::from_millis(10);
//! }
//! assert!(connected);
//!
//! // Media: the client protects an RTP packet, the server unprotects it in place.
//! let rtp = [0x80, 111, 0, 1, 0, 0, 0, 10, 0xca, 0xfe, 0xba, 0xbe, 0xde, 0xad];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let len = client.protect_rtp(&mut buf, rtp.len())?;
//! let received = server.handle_datagram(now, server_addr, client_addr, &mut buf[..len])?;
//! assert_eq!(received, Received::Rtp(rtp.len()));
//! assert_eq!(&buf[..rtp.len()], &rtp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod event;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portunus_dtls::{DtlsConfig, DtlsConnection, DtlsEvent, DtlsRole, Fingerprint};
use portunus_ice::{
    CandidatePair, IceAgent, IceAgentConfig, IceCredentials, IceEvent, IceLite, IceLiteConfig,
};
use portunus_rtp::{PacketKind, classify};
use portunus_sctp::{
    ChannelId, MessageKind, Reliability, SctpConfig, SctpEvent, SctpRole, SctpTransport,
};
use portunus_srtp::{SrtpContext, SrtpProfile};

pub use error::PeerError;
pub use event::{DtlsFailure, HangupReason, PeerEvent};

/// Which ICE agent a [`Peer`] runs.
#[derive(Debug, Clone)]
pub enum IceMode {
    /// The server's ICE-lite controlled responder.
    Lite(IceLiteConfig),
    /// A full agent (controlling by default) that sends checks: load generator and tests.
    Controlling(IceAgentConfig),
}

/// Everything a [`Peer`] needs from the two session descriptions.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The ICE agent to run.
    pub ice: IceMode,
    /// Our `a=ice-ufrag` / `a=ice-pwd`.
    pub local_credentials: IceCredentials,
    /// The peer's credentials, when its description is known.
    pub remote_credentials: Option<IceCredentials>,
    /// Our DTLS role, from the `a=setup` negotiation (RFC 5763 §5).
    pub dtls_role: DtlsRole,
    /// The peer's `a=fingerprint`.
    pub remote_fingerprint: Fingerprint,
    /// SCTP settings when an `m=application` data-channel section was negotiated.
    pub data_channels: Option<SctpConfig>,
    /// The PeerConnection fails unless ICE and DTLS complete within this time.
    pub connect_timeout: Duration,
    /// Seed for the controlling agent's random choices (tie-breaker, consent jitter).
    pub seed: u64,
}

impl PeerConfig {
    /// A configuration with placeholder credentials and fingerprint, to be completed with
    /// struct-update syntax (doc examples and tests).
    pub fn default_for_tests() -> Self {
        Self {
            ice: IceMode::Lite(IceLiteConfig::default()),
            local_credentials: IceCredentials::generate(&[0; IceCredentials::RANDOM_BYTES]),
            remote_credentials: None,
            dtls_role: DtlsRole::Server,
            remote_fingerprint: Fingerprint::new(
                portunus_dtls::FingerprintAlgorithm::Sha256,
                &[0; 32],
            )
            .expect("32 bytes is a sha-256 digest"),
            data_channels: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            seed: 0,
        }
    }
}

/// What one DTLS record adds to an SCTP packet with the cipher suites we offer: a 13-byte
/// header plus, at worst (CBC with SHA-1), a 16-byte IV, a 20-byte MAC and 16 bytes of
/// padding; AES-GCM needs 37. Rounded up.
const DTLS_RECORD_OVERHEAD: usize = 80;

/// The default for [`PeerConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`Peer::handle_datagram`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// ICE, DTLS or SCTP traffic, consumed by the peer; drain its outputs.
    Consumed,
    /// An RTP packet, now decrypted in place: the first `n` bytes of the buffer.
    Rtp(usize),
    /// An RTCP compound packet, now decrypted in place: the first `n` bytes of the buffer.
    Rtcp(usize),
}

/// One datagram to send: `len` bytes of the buffer given to [`Peer::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The local address (socket) to send from.
    pub local: SocketAddr,
    /// The destination.
    pub remote: SocketAddr,
    /// Bytes written at the start of the buffer.
    pub len: usize,
}

/// Where a [`Peer`] is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// ICE and DTLS are still connecting.
    Connecting,
    /// DTLS completed: SRTP keys are installed and media may flow.
    Connected,
    /// Terminal: failed or closed; the peer takes no more input.
    Closed,
}

/// One PeerConnection. See the [crate docs](crate) for the drive contract.
#[derive(Debug)]
pub struct Peer {
    ice: Ice,
    dtls: DtlsConnection,
    dtls_started: bool,
    srtp: Option<Srtp>,
    sctp: Option<SctpTransport>,
    /// The pair ICE selected, where DTLS goes.
    selected: Option<CandidatePair>,
    /// Where the latest DTLS datagram came from: the path of last resort before ICE selects
    /// one (a DTLS client may race its ClientHello ahead of our view of the nomination).
    dtls_source: Option<CandidatePair>,
    state: PeerState,
    connect_deadline: Option<Instant>,
    now: Instant,
    events: VecDeque<PeerEvent>,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "the lite agent is inline on purpose: the server holds thousands and reads it per STUN check; the full agent is boxed, it only serves clients"
)]
enum Ice {
    Lite(IceLite),
    Agent(Box<IceAgent>),
}

#[derive(Debug)]
struct Srtp {
    tx: SrtpContext,
    rx: SrtpContext,
}

impl Peer {
    /// A peer created at `now` that will use `dtls` (the process-wide DTLS context).
    ///
    /// # Errors
    /// [`PeerError::Dtls`] if OpenSSL cannot create the connection.
    pub fn new(now: Instant, dtls: &DtlsConfig, config: PeerConfig) -> Result<Self, PeerError> {
        let ice = match config.ice {
            IceMode::Lite(c) => {
                let mut lite = IceLite::new(c, config.local_credentials);
                if let Some(remote) = config.remote_credentials {
                    lite.set_remote_credentials(remote);
                }
                Ice::Lite(lite)
            }
            IceMode::Controlling(c) => {
                let mut agent = IceAgent::new(now, c, config.local_credentials, config.seed);
                if let Some(remote) = config.remote_credentials {
                    agent.set_remote_credentials(remote);
                }
                Ice::Agent(Box::new(agent))
            }
        };
        let connection = DtlsConnection::new(dtls, config.dtls_role, config.remote_fingerprint)?;
        let sctp = config.data_channels.map(|mut c| {
            // Each SCTP packet travels as one DTLS record in one datagram: leave room for the
            // record's overhead so the datagram stays within the DTLS MTU.
            let room = usize::from(dtls.options().mtu).saturating_sub(DTLS_RECORD_OVERHEAD);
            c.max_packet_size = c.max_packet_size.min(room);
            let role = match config.dtls_role {
                DtlsRole::Client => SctpRole::Client,
                DtlsRole::Server => SctpRole::Server,
            };
            SctpTransport::new(role, c)
        });
        Ok(Self {
            ice,
            dtls: connection,
            dtls_started: false,
            srtp: None,
            sctp,
            selected: None,
            dtls_source: None,
            state: PeerState::Connecting,
            connect_deadline: Some(now + config.connect_timeout),
            now,
            events: VecDeque::with_capacity(8),
        })
    }

    /// Sets the peer's ICE credentials once its description arrives.
    pub fn set_remote_credentials(&mut self, remote: IceCredentials) {
        match &mut self.ice {
            Ice::Lite(lite) => lite.set_remote_credentials(remote),
            Ice::Agent(agent) => agent.set_remote_credentials(remote),
        }
    }

    /// Controlling agent only: adds a local host address that checks are sent from.
    ///
    /// # Errors
    /// [`PeerError::NotControlling`] for a lite peer; ICE limits as [`PeerError::Ice`].
    pub fn add_local_candidate(&mut self, addr: SocketAddr) -> Result<u32, PeerError> {
        match &mut self.ice {
            Ice::Agent(agent) => Ok(agent.add_local_candidate(addr)?),
            Ice::Lite(_) => Err(PeerError::NotControlling),
        }
    }

    /// Controlling agent only: adds a remote candidate (from the SDP or trickled).
    ///
    /// # Errors
    /// [`PeerError::NotControlling`] for a lite peer (a lite agent learns the peer's
    /// addresses from its checks); ICE limits as [`PeerError::Ice`].
    pub fn add_remote_candidate(
        &mut self,
        addr: SocketAddr,
        priority: u32,
    ) -> Result<(), PeerError> {
        match &mut self.ice {
            Ice::Agent(agent) => Ok(agent.add_remote_candidate(addr, priority)?),
            Ice::Lite(_) => Err(PeerError::NotControlling),
        }
    }

    /// Feeds one datagram that arrived at `now` on `local` from `remote`. RTP and RTCP are
    /// decrypted in place in `buf`.
    ///
    /// # Errors
    /// The datagram was dropped; the variant names why (for the dataplane's drop counters).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Received, PeerError> {
        if self.state == PeerState::Closed {
            return Err(PeerError::Closed);
        }
        self.now = self.now.max(now);
        match classify(buf) {
            PacketKind::Stun => {
                let result = match &mut self.ice {
                    Ice::Lite(lite) => lite.handle_stun(now, local, remote, buf),
                    Ice::Agent(agent) => agent.handle_stun(now, local, remote, buf),
                };
                // A rejected check may still have queued an error response: drain events
                // either way, then report the rejection.
                self.process_ice_events();
                result?;
                Ok(Received::Consumed)
            }
            PacketKind::Dtls => {
                self.dtls_source = Some(CandidatePair { local, remote });
                self.dtls_started = true;
                let result = self.dtls.handle_datagram(now, buf);
                self.process_dtls_events();
                result?;
                Ok(Received::Consumed)
            }
            PacketKind::Rtp => {
                let srtp = self.srtp.as_mut().ok_or(PeerError::NotConnected)?;
                Ok(Received::Rtp(srtp.rx.unprotect_rtp(buf)?))
            }
            PacketKind::Rtcp => {
                let srtp = self.srtp.as_mut().ok_or(PeerError::NotConnected)?;
                Ok(Received::Rtcp(srtp.rx.unprotect_rtcp(buf)?))
            }
            PacketKind::Unknown => Err(PeerError::UnknownPacket),
        }
    }

    /// Advances every timer to `now`: ICE checks and consent, DTLS retransmissions, SCTP
    /// retransmissions, and the connect deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == PeerState::Closed {
            return;
        }
        self.now = self.now.max(now);
        match &mut self.ice {
            Ice::Lite(lite) => lite.handle_timeout(now),
            Ice::Agent(agent) => agent.handle_timeout(now),
        }
        self.process_ice_events();
        if self.dtls_started && self.state != PeerState::Closed {
            self.dtls.handle_timeout(now);
            self.process_dtls_events();
        }
        if let Some(sctp) = &mut self.sctp {
            sctp.handle_timeout(now);
            self.pump_sctp();
        }
        if self.connect_deadline.is_some_and(|d| now >= d) {
            self.hang_up(HangupReason::ConnectTimeout);
        }
    }

    /// When [`Self::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == PeerState::Closed {
            return None;
        }
        let ice = match &self.ice {
            Ice::Lite(lite) => lite.poll_timeout(),
            Ice::Agent(agent) => agent.poll_timeout(),
        };
        let dtls = self
            .dtls_started
            .then(|| self.dtls.poll_timeout())
            .flatten();
        let sctp = self.sctp.as_ref().and_then(SctpTransport::poll_timeout);
        [ice, dtls, sctp, self.connect_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Writes the next datagram to send into `out` (at least 1500 bytes; DTLS flights are
    /// written in datagrams of at most the configured MTU). `None` when idle.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        let ice = match &mut self.ice {
            Ice::Lite(lite) => lite.poll_transmit(out),
            Ice::Agent(agent) => agent.poll_transmit(out),
        };
        if let Some(t) = ice {
            return Some(Transmit {
                local: t.local,
                remote: t.remote,
                len: t.len,
            });
        }
        let path = self.path()?;
        let len = self.dtls.poll_transmit(out)?;
        Some(Transmit {
            local: path.local,
            remote: path.remote,
            len,
        })
    }

    /// The next thing that happened, in order.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// Protects an outgoing RTP packet in place: `len` bytes of plaintext, with room after it
    /// for the SRTP tag. Returns the length to send to [`Self::path`].
    ///
    /// # Errors
    /// [`PeerError::NotConnected`] before DTLS completed; SRTP errors as [`PeerError::Srtp`].
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, PeerError> {
        let srtp = self.srtp.as_mut().ok_or(PeerError::NotConnected)?;
        Ok(srtp.tx.protect_rtp(buf, len)?)
    }

    /// Protects an outgoing RTCP compound packet in place, like [`Self::protect_rtp`].
    ///
    /// # Errors
    /// As [`Self::protect_rtp`].
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, PeerError> {
        let srtp = self.srtp.as_mut().ok_or(PeerError::NotConnected)?;
        Ok(srtp.tx.protect_rtcp(buf, len)?)
    }

    /// The outgoing SRTP context, for the dataplane's fan-out protect; `None` before DTLS
    /// completed.
    pub fn srtp_tx(&mut self) -> Option<&mut SrtpContext> {
        self.srtp.as_mut().map(|s| &mut s.tx)
    }

    /// The negotiated SRTP profile, once connected.
    pub fn srtp_profile(&self) -> Option<SrtpProfile> {
        self.srtp.as_ref().map(|s| s.tx.profile())
    }

    /// Opens a data channel (queued until SCTP is up).
    ///
    /// # Errors
    /// [`PeerError::NoDataChannels`] when none were negotiated; SCTP errors.
    pub fn open_channel(
        &mut self,
        label: &str,
        protocol: &str,
        ordered: bool,
        reliability: Reliability,
    ) -> Result<ChannelId, PeerError> {
        let sctp = self.sctp.as_mut().ok_or(PeerError::NoDataChannels)?;
        let id = sctp.open_channel(label, protocol, ordered, reliability)?;
        self.pump_sctp();
        Ok(id)
    }

    /// Sends one data-channel message.
    ///
    /// # Errors
    /// [`PeerError::NoDataChannels`]; SCTP errors such as a message over the peer's
    /// max-message-size or an unknown channel.
    pub fn send_data(
        &mut self,
        id: ChannelId,
        kind: MessageKind,
        data: &[u8],
    ) -> Result<(), PeerError> {
        let sctp = self.sctp.as_mut().ok_or(PeerError::NoDataChannels)?;
        sctp.send(id, kind, data)?;
        self.pump_sctp();
        Ok(())
    }

    /// Closes the PeerConnection: sends DTLS close_notify (drain `poll_transmit` once more)
    /// and stops. No [`PeerEvent::Hangup`] follows: the caller asked for it.
    pub fn close(&mut self) {
        if self.state == PeerState::Closed {
            return;
        }
        if self.dtls_started {
            self.dtls.close();
        }
        self.state = PeerState::Closed;
        self.connect_deadline = None;
    }

    /// Where media goes: the selected ICE pair (or, before ICE reported one, where DTLS
    /// came from).
    pub fn path(&self) -> Option<CandidatePair> {
        self.selected.or(self.dtls_source)
    }

    /// Current state.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// Turns ICE events into peer events; the first selected pair starts a DTLS client.
    fn process_ice_events(&mut self) {
        loop {
            let event = match &mut self.ice {
                Ice::Lite(lite) => lite.poll_event(),
                Ice::Agent(agent) => agent.poll_event(),
            };
            let Some(event) = event else { break };
            match event {
                IceEvent::SelectedPairChanged(pair) => {
                    self.selected = Some(pair);
                    self.events.push_back(PeerEvent::PathSelected(pair));
                    if !self.dtls_started && self.dtls.role() == DtlsRole::Client {
                        self.dtls_started = true;
                        // A DTLS client sends its ClientHello on its first timeout.
                        self.dtls.handle_timeout(self.now);
                        self.process_dtls_events();
                    }
                }
                IceEvent::Connected => self.events.push_back(PeerEvent::IceConnected),
                IceEvent::ConsentLost(pair) => {
                    if self.selected == Some(pair) {
                        self.selected = None;
                    }
                    self.events.push_back(PeerEvent::ConsentLost(pair));
                }
                IceEvent::Disconnected => {}
                IceEvent::Failed => self.hang_up(HangupReason::IceFailed),
            }
        }
    }

    fn process_dtls_events(&mut self) {
        while let Some(event) = self.dtls.poll_event() {
            match event {
                DtlsEvent::Connected { srtp } => self.on_dtls_connected(&srtp),
                DtlsEvent::ApplicationData(data) => {
                    if let Some(sctp) = &mut self.sctp {
                        // A bad SCTP packet is the peer's problem and is dropped; the
                        // association itself stays up.
                        let _ = sctp.handle_packet(self.now, &data);
                        self.pump_sctp();
                    }
                }
                DtlsEvent::Alert { fatal, description } => {
                    self.events
                        .push_back(PeerEvent::DtlsAlert { fatal, description });
                }
                DtlsEvent::Closed => self.hang_up(HangupReason::DtlsClosed),
                DtlsEvent::Failed(error) => self.hang_up(HangupReason::Dtls((&error).into())),
            }
        }
    }

    fn on_dtls_connected(&mut self, keys: &portunus_dtls::SrtpKeyingMaterial) {
        let contexts = SrtpProfile::from_iana_id(keys.profile_id).and_then(|profile| {
            let tx = SrtpContext::new(profile, &keys.local_key, &keys.local_salt).ok()?;
            let rx = SrtpContext::new(profile, &keys.remote_key, &keys.remote_salt).ok()?;
            Some((profile, Srtp { tx, rx }))
        });
        let Some((profile, srtp)) = contexts else {
            // DTLS negotiated a profile this SRTP stack cannot run: the DTLS config and the
            // SRTP crate disagree. Janus calls this "DTLS-SRTP stack error".
            self.hang_up(HangupReason::SrtpSetup);
            return;
        };
        self.srtp = Some(srtp);
        self.state = PeerState::Connected;
        self.connect_deadline = None;
        self.events.push_back(PeerEvent::Connected { profile });
        if let Some(sctp) = &mut self.sctp {
            // In WebRTC the DTLS client opens the SCTP association (RFC 8841 §4.1 leaves it
            // to either side; browsers answer an INIT from the DTLS client).
            if sctp.role() == SctpRole::Client {
                let _ = sctp.connect(self.now);
            }
            self.pump_sctp();
        }
    }

    /// Moves SCTP packets into DTLS and SCTP events into peer events.
    fn pump_sctp(&mut self) {
        let Some(sctp) = &mut self.sctp else { return };
        while let Some(packet) = sctp.poll_transmit_vec() {
            if self.dtls.is_connected() {
                // A failure here ends DTLS, which reports it as its own event.
                let _ = self.dtls.send_application_data(&packet);
            }
        }
        while let Some(event) = sctp.poll_event() {
            self.events.push_back(match event {
                SctpEvent::Connected => PeerEvent::DataChannelsReady,
                SctpEvent::ChannelOpen {
                    id,
                    label,
                    protocol,
                    ordered,
                    ..
                } => PeerEvent::ChannelOpen {
                    id,
                    label,
                    protocol,
                    ordered,
                },
                SctpEvent::ChannelOpened { id } => PeerEvent::ChannelOpened { id },
                SctpEvent::Message { id, kind, data } => {
                    PeerEvent::ChannelMessage { id, kind, data }
                }
                SctpEvent::ChannelClosed { id } => PeerEvent::ChannelClosed { id },
                SctpEvent::Closed => PeerEvent::DataChannelsClosed,
            });
        }
    }

    fn hang_up(&mut self, reason: HangupReason) {
        if self.state == PeerState::Closed {
            return;
        }
        self.state = PeerState::Closed;
        self.connect_deadline = None;
        self.events.push_back(PeerEvent::Hangup(reason));
    }
}

#[cfg(test)]
mod tests;

/// Fuzzing bodies, wired into cargo-fuzz by the `fuzz/` shims. Not API.
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant, SystemTime};

    use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions, DtlsRole};
    use portunus_sctp::SctpConfig;

    use crate::{IceMode, Peer, PeerConfig};

    /// Splits `data` into datagrams (a length byte before each) and feeds them, first byte
    /// demux included, to a fresh server-side peer with data channels.
    pub fn datagrams(data: &[u8]) {
        static DTLS: OnceLock<DtlsConfig> = OnceLock::new();
        let dtls = DTLS.get_or_init(|| {
            let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
            let cert = DtlsCertificate::generate(wall).expect("certificate generation");
            DtlsConfig::new(&cert, DtlsOptions::default()).expect("default DTLS options")
        });
        let start = fuzz_epoch();
        let config = PeerConfig {
            ice: IceMode::Lite(portunus_ice::IceLiteConfig::default()),
            dtls_role: DtlsRole::Server,
            data_channels: Some(SctpConfig::default()),
            ..PeerConfig::default_for_tests()
        };
        let Ok(mut peer) = Peer::new(start, dtls, config) else {
            return;
        };
        let (local, remote) = (
            "192.0.2.1:5000".parse().expect("literal"),
            "192.0.2.2:6000".parse().expect("literal"),
        );
        let mut rest = data;
        let mut now = start;
        let mut out = vec![0u8; 2048];
        while let Some((&len, tail)) = rest.split_first() {
            let take = usize::from(len).min(tail.len());
            let mut datagram = tail[..take].to_vec();
            rest = &tail[take..];
            let _ = peer.handle_datagram(now, local, remote, &mut datagram);
            now += Duration::from_millis(1);
            peer.handle_timeout(now);
            while peer.poll_transmit(&mut out).is_some() {}
            while peer.poll_event().is_some() {}
        }
    }

    /// One base instant per process: fuzzing needs a starting point, not the time.
    fn fuzz_epoch() -> Instant {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        #[allow(
            clippy::disallowed_methods,
            reason = "the fuzz harness supplies the base instant"
        )]
        *EPOCH.get_or_init(Instant::now)
    }
}
