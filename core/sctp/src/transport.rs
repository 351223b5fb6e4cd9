//! [`SctpTransport`]: one SCTP association carried over DTLS, with DCEP data channels on top.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sctp_proto::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig,
    EndpointEvent, Event, Payload, PayloadProtocolIdentifier as Ppi, ReliabilityType, ServerConfig,
    StreamEvent, TransportConfig,
};

use crate::dcep::{DataChannelOpen, DcepMessage, Reliability};
use crate::error::SctpError;

/// Which end of the DTLS connection we are (RFC 8832 §6).
///
/// The DTLS client uses even stream ids and sends the SCTP INIT (via [`SctpTransport::connect`]);
/// the DTLS server uses odd stream ids and waits for the INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SctpRole {
    /// DTLS client (`a=setup:active`): even stream ids, initiates the association.
    Client,
    /// DTLS server (`a=setup:passive`): odd stream ids, accepts the association.
    Server,
}

/// Settings fixed when the transport is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpConfig {
    /// Our SCTP port, from our `a=sctp-port` (RFC 8841 §5); 5000 by convention.
    pub local_port: u16,
    /// The peer's SCTP port, from its `a=sctp-port`.
    pub remote_port: u16,
    /// The largest message the peer accepts, from its `a=max-message-size` (RFC 8841 §6):
    /// 65536 when the attribute is absent, 0 for "no limit". `send` rejects larger messages.
    pub max_message_size_remote: u32,
    /// The largest message we accept, the value of our own `a=max-message-size`; 0 for no
    /// limit. Larger incoming messages are refused by SCTP reassembly.
    pub max_message_size_local: u32,
    /// Largest SCTP packet we emit, so the DTLS record plus UDP/IP stays within the path MTU.
    pub max_packet_size: usize,
}

impl Default for SctpConfig {
    fn default() -> Self {
        Self {
            local_port: DEFAULT_SCTP_PORT,
            remote_port: DEFAULT_SCTP_PORT,
            max_message_size_remote: DEFAULT_MAX_MESSAGE_SIZE,
            max_message_size_local: DEFAULT_MAX_MESSAGE_SIZE,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
        }
    }
}

/// A data channel, named by its SCTP stream id (RFC 8831 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub u16);

/// Whether a message is text or binary (RFC 8831 §8: PPIDs 51/56 and 53/57).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (WebRTC String, PPID 51; empty: PPID 56). The bytes are passed through
    /// unvalidated.
    String,
    /// Binary (WebRTC Binary, PPID 53; empty: PPID 57).
    Binary,
}

/// What the transport reports; drain with [`SctpTransport::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SctpEvent {
    /// The SCTP association is established; channels can carry data.
    Connected,
    /// The peer opened a channel with DATA_CHANNEL_OPEN; the ACK has already been queued.
    ChannelOpen {
        /// The channel (the peer's stream id).
        id: ChannelId,
        /// The channel's label.
        label: String,
        /// The channel's sub-protocol; empty when unspecified.
        protocol: String,
        /// Whether messages are delivered in order.
        ordered: bool,
        /// Retransmission policy.
        reliability: Reliability,
        /// The priority the peer asked for (RFC 8832 §5.1).
        priority: u16,
    },
    /// A channel we opened was acknowledged (DATA_CHANNEL_ACK, or the first message from the
    /// peer on it, which RFC 8832 §6 lets stand in for the ACK).
    ChannelOpened {
        /// The channel.
        id: ChannelId,
    },
    /// A complete message arrived.
    Message {
        /// The channel.
        id: ChannelId,
        /// Text or binary.
        kind: MessageKind,
        /// The payload; empty for the empty-message PPIDs 56/57.
        data: Vec<u8>,
    },
    /// The channel's streams were reset in both directions (RFC 8831 §6.7), whoever started it.
    ChannelClosed {
        /// The channel.
        id: ChannelId,
    },
    /// The association ended (shutdown, abort, or handshake failure). Every channel is gone.
    Closed,
}

/// One SCTP association over DTLS carrying WebRTC data channels (RFC 8831, RFC 8261, RFC 8832).
///
/// Sans-IO: feed the plaintext that DTLS delivered to [`handle_packet`](Self::handle_packet),
/// hand what [`poll_transmit`](Self::poll_transmit) returns to DTLS as application data, call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout), and after
/// every call drain [`poll_transmit`](Self::poll_transmit) (or
/// [`poll_transmit_vec`](Self::poll_transmit_vec)) and
/// [`poll_event`](Self::poll_event).
pub struct SctpTransport {
    role: SctpRole,
    config: SctpConfig,
    endpoint: Endpoint,
    transport_config: Arc<TransportConfig>,
    assoc: Option<Assoc>,
    state: State,
    /// Latest instant we were given; sctp-proto needs one to build packets.
    now: Option<Instant>,
    channels: BTreeMap<u16, Channel>,
    /// Stream ids whose reset handshake is not finished; not reused until it is.
    resetting: BTreeSet<u16>,
    next_stream: u16,
    events: VecDeque<SctpEvent>,
    transmits: VecDeque<Bytes>,
}

impl std::fmt::Debug for SctpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SctpTransport")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("channels", &self.channels.len())
            .finish_non_exhaustive()
    }
}

impl SctpTransport {
    /// A transport that has not talked to anyone yet.
    pub fn new(role: SctpRole, config: SctpConfig) -> Self {
        let mut endpoint_config = EndpointConfig::new();
        let max_payload = config.max_packet_size.saturating_sub(SCTP_PACKET_OVERHEAD);
        endpoint_config.max_payload_size(u32::try_from(max_payload).unwrap_or(u32::MAX).max(64));
        let transport_config = Arc::new(transport_config(&config));
        // Both roles carry a server config: sctp-proto's Endpoint unwraps it whenever an INIT
        // arrives without a matching association, so a `None` would make an INIT a panic.
        let mut server_config = ServerConfig::new();
        server_config.transport = Arc::clone(&transport_config);
        let endpoint = Endpoint::new(Arc::new(endpoint_config), Some(Arc::new(server_config)));
        Self {
            role,
            config,
            endpoint,
            transport_config,
            assoc: None,
            state: State::Idle,
            now: None,
            channels: BTreeMap::new(),
            resetting: BTreeSet::new(),
            next_stream: match role {
                SctpRole::Client => 0,
                SctpRole::Server => 1,
            },
            events: VecDeque::new(),
            transmits: VecDeque::new(),
        }
    }

    /// Send the SCTP INIT. Only the DTLS client does this in WebRTC; call it once DTLS is up.
    ///
    /// Does nothing if an association already exists (for instance because the peer's INIT
    /// arrived first and was accepted).
    ///
    /// # Errors
    ///
    /// [`SctpError::ApiMisuse`] for the server role: sctp-proto cannot resolve an INIT collision,
    /// so exactly one side may initiate. [`SctpError::Closed`] after the association ended.
    pub fn connect(&mut self, now: Instant) -> Result<(), SctpError> {
        if self.role == SctpRole::Server {
            return Err(SctpError::ApiMisuse(
                "only the DTLS client sends the SCTP INIT",
            ));
        }
        if self.state == State::Closed {
            return Err(SctpError::Closed);
        }
        self.now = Some(now);
        if self.assoc.is_some() {
            return Ok(());
        }
        let mut client_config = ClientConfig::new();
        client_config.transport = Arc::clone(&self.transport_config);
        let (handle, inner) = self
            .endpoint
            .connect(client_config, PEER_ADDR)
            .map_err(|_| SctpError::ApiMisuse("sctp-proto refused to create the association"))?;
        self.assoc = Some(Assoc { handle, inner });
        self.state = State::Handshaking;
        self.drive();
        Ok(())
    }

    /// Feed one SCTP packet that DTLS decrypted at `now`.
    ///
    /// Packets that fail the checksum or belong to no association are dropped silently, as
    /// SCTP requires (RFC 9260 §8.5).
    ///
    /// # Errors
    ///
    /// [`SctpError::Truncated`] for input shorter than the common header;
    /// [`SctpError::Closed`] once the association has ended. Either way the packet is dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) -> Result<(), SctpError> {
        if packet.len() < SCTP_COMMON_HEADER_LEN {
            return Err(SctpError::Truncated);
        }
        if self.state == State::Closed {
            return Err(SctpError::Closed);
        }
        self.now = Some(now);
        // sctp-proto only takes owned `Bytes`: one copy per packet.
        let data = Bytes::copy_from_slice(packet);
        match self.endpoint.handle(now, PEER_ADDR, None, None, data) {
            None => {}
            Some((handle, DatagramEvent::NewAssociation(inner))) => {
                if self.assoc.is_none() {
                    self.assoc = Some(Assoc { handle, inner });
                    self.state = State::Handshaking;
                } else {
                    // WebRTC has one association per DTLS connection; a second INIT (a
                    // browser retrying, or both sides initiating) is ignored. Tell the
                    // endpoint so its routing tables do not keep the discarded one.
                    let _ = self.endpoint.handle_event(handle, EndpointEvent::drained());
                }
            }
            Some((handle, DatagramEvent::AssociationEvent(event))) => {
                if let Some(assoc) = self.assoc.as_mut().filter(|a| a.handle == handle) {
                    assoc.inner.handle_event(event);
                }
            }
        }
        self.drive();
        Ok(())
    }

    /// Run the retransmission, delayed-ACK and heartbeat timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        if let Some(assoc) = self.assoc.as_mut() {
            assoc.inner.handle_timeout(now);
        }
        self.drive();
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.as_ref().and_then(|a| a.inner.poll_timeout())
    }

    /// The next SCTP packet to hand to DTLS as application data, copied into `out`.
    ///
    /// Packets are at most [`SctpConfig::max_packet_size`] bytes, apart from rare control
    /// chunks; a buffer of that size plus a little slack suffices.
    ///
    /// # Errors
    ///
    /// [`SctpError::BufferTooSmall`] when `out` cannot hold the packet; it stays queued.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Result<Option<usize>, SctpError> {
        self.fill_transmits();
        let Some(packet) = self.transmits.front() else {
            return Ok(None);
        };
        let len = packet.len();
        let Some(dst) = out.get_mut(..len) else {
            return Err(SctpError::BufferTooSmall { needed: len });
        };
        dst.copy_from_slice(packet);
        self.transmits.pop_front();
        Ok(Some(len))
    }

    /// Like [`poll_transmit`](Self::poll_transmit), but returns the packet as an owned vector
    /// (no copy when sctp-proto holds the only reference).
    pub fn poll_transmit_vec(&mut self) -> Option<Vec<u8>> {
        self.fill_transmits();
        self.transmits.pop_front().map(Vec::from)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SctpEvent> {
        self.events.pop_front()
    }

    /// Whether the association is established.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Whether the association has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Our role, as given to [`new`](Self::new).
    pub fn role(&self) -> SctpRole {
        self.role
    }

    /// The peer's max-message-size currently enforced by [`send`](Self::send) (0: no limit).
    pub fn max_message_size_remote(&self) -> u32 {
        self.config.max_message_size_remote
    }

    /// Update the peer's max-message-size, e.g. when its SDP arrives after we were built.
    pub fn set_max_message_size_remote(&mut self, max: u32) {
        self.config.max_message_size_remote = max;
        let limit = remote_limit(max);
        if let Some(assoc) = self.assoc.as_mut() {
            assoc.inner.set_max_send_message_size(limit);
        }
    }

    /// Open a data channel with DATA_CHANNEL_OPEN (RFC 8832 §6) and return its id.
    ///
    /// Before the association is established the open is queued and sent on
    /// [`SctpEvent::Connected`]. Messages may be sent as soon as the open is on the wire; until
    /// the peer answers, they go out ordered even on an unordered channel (RFC 8832 §6).
    ///
    /// # Errors
    ///
    /// [`SctpError::NoStreamAvailable`] when every id of our parity is taken;
    /// [`SctpError::Dcep`] when the label or protocol exceeds 65535 bytes;
    /// [`SctpError::Closed`] after the association ended.
    pub fn open_channel(
        &mut self,
        label: &str,
        protocol: &str,
        ordered: bool,
        reliability: Reliability,
    ) -> Result<ChannelId, SctpError> {
        if self.state == State::Closed {
            return Err(SctpError::Closed);
        }
        if label.len() > usize::from(u16::MAX) || protocol.len() > usize::from(u16::MAX) {
            return Err(crate::DcepError::FieldTooLong.into());
        }
        let id = self.allocate_stream()?;
        let mut channel = Channel {
            state: ChannelState::PendingOpen {
                label: label.to_owned(),
                protocol: protocol.to_owned(),
            },
            ordered,
            reliability,
            priority: DEFAULT_PRIORITY,
            partial: Vec::new(),
        };
        if self.state == State::Established {
            self.start_open(id, &mut channel)?;
        }
        self.channels.insert(id, channel);
        Ok(ChannelId(id))
    }

    /// Send one message on an open channel. Empty messages use PPID 56/57 (RFC 8831 §6.6).
    ///
    /// # Errors
    ///
    /// [`SctpError::MessageTooLarge`] when `data` exceeds the peer's max-message-size (nothing
    /// is sent); [`SctpError::UnknownChannel`] / [`SctpError::ChannelNotOpen`] for a channel
    /// that does not exist or is not open; [`SctpError::NotEstablished`] before
    /// [`SctpEvent::Connected`]; [`SctpError::Closed`] after the association ended.
    pub fn send(&mut self, id: ChannelId, kind: MessageKind, data: &[u8]) -> Result<(), SctpError> {
        match self.state {
            State::Established => {}
            State::Closed => return Err(SctpError::Closed),
            State::Idle | State::Handshaking => return Err(SctpError::NotEstablished),
        }
        let channel = self
            .channels
            .get(&id.0)
            .ok_or(SctpError::UnknownChannel(id))?;
        if !matches!(channel.state, ChannelState::AwaitAck | ChannelState::Open) {
            return Err(SctpError::ChannelNotOpen(id));
        }
        let max = remote_limit(self.config.max_message_size_remote);
        if data.len() > max as usize {
            return Err(SctpError::MessageTooLarge {
                size: data.len(),
                max,
            });
        }
        let (ppi, payload) = match (kind, data.is_empty()) {
            (MessageKind::String, false) => (Ppi::String, data),
            (MessageKind::Binary, false) => (Ppi::Binary, data),
            // SCTP cannot carry an empty user message: send one zero byte (RFC 8831 §6.6).
            (MessageKind::String, true) => (Ppi::StringEmpty, &[0u8][..]),
            (MessageKind::Binary, true) => (Ppi::BinaryEmpty, &[0u8][..]),
        };
        let assoc = self.assoc.as_mut().ok_or(SctpError::NotEstablished)?;
        assoc.inner.stream(id.0)?.write_with_ppi(payload, ppi)?;
        Ok(())
    }

    /// Bytes queued on the channel and not yet acknowledged (the W3C `bufferedAmount`).
    ///
    /// # Errors
    ///
    /// [`SctpError::UnknownChannel`] when the channel has no live stream.
    pub fn buffered_amount(&mut self, id: ChannelId) -> Result<usize, SctpError> {
        let assoc = self.assoc.as_mut().ok_or(SctpError::UnknownChannel(id))?;
        let stream = assoc
            .inner
            .stream(id.0)
            .map_err(|_| SctpError::UnknownChannel(id))?;
        stream
            .buffered_amount()
            .map_err(|_| SctpError::UnknownChannel(id))
    }

    /// Close a channel by resetting its outgoing stream (RFC 8831 §6.7). The peer resets its
    /// side in turn; [`SctpEvent::ChannelClosed`] follows once both are reset. A channel whose
    /// open is still queued is dropped at once, with its `ChannelClosed` event.
    ///
    /// # Errors
    ///
    /// [`SctpError::UnknownChannel`] for an unknown id; [`SctpError::Sctp`] when the reset
    /// cannot be queued.
    pub fn close_channel(&mut self, id: ChannelId) -> Result<(), SctpError> {
        let channel = self
            .channels
            .get_mut(&id.0)
            .ok_or(SctpError::UnknownChannel(id))?;
        match channel.state {
            ChannelState::Closing => Ok(()),
            ChannelState::PendingOpen { .. } => {
                self.channels.remove(&id.0);
                self.events.push_back(SctpEvent::ChannelClosed { id });
                Ok(())
            }
            ChannelState::AwaitAck | ChannelState::Open => {
                let assoc = self.assoc.as_mut().ok_or(SctpError::NotEstablished)?;
                assoc.inner.stream(id.0)?.close()?;
                channel.state = ChannelState::Closing;
                Ok(())
            }
        }
    }

    /// Shut the association down gracefully (SHUTDOWN, RFC 9260 §9.2); [`SctpEvent::Closed`]
    /// follows. Before establishment the association is simply dropped.
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        if let Some(assoc) = self.assoc.as_mut() {
            if assoc.inner.shutdown().is_err() {
                let _ = assoc.inner.close();
            }
            self.drive();
        } else {
            self.on_closed();
        }
    }

    /// Move packets the association has ready into our queue.
    fn fill_transmits(&mut self) {
        if !self.transmits.is_empty() {
            return;
        }
        let (Some(assoc), Some(now)) = (self.assoc.as_mut(), self.now) else {
            return;
        };
        let Some(transmit) = assoc.inner.poll_transmit(now) else {
            return;
        };
        let Payload::RawEncode(packets) = transmit.payload else {
            return;
        };
        let mut shutdown_complete = false;
        for packet in packets {
            shutdown_complete |= packet.get(SCTP_COMMON_HEADER_LEN) == Some(&CT_SHUTDOWN_COMPLETE);
            self.transmits.push_back(packet);
        }
        if shutdown_complete {
            // Sending SHUTDOWN COMPLETE ends the association for the side that started the
            // shutdown (RFC 9260 §9.2), but sctp-proto only reports that through a flag that
            // `poll_transmit` discards: close it ourselves so `Closed` is emitted.
            let _ = assoc.inner.close();
            self.drive();
        }
    }

    /// Process everything the association produced after an input or API call. Writes made
    /// here (ACKs, queued opens) are picked up by the next `poll_transmit`.
    fn drive(&mut self) {
        loop {
            let Some(assoc) = self.assoc.as_mut() else {
                return;
            };
            // The endpoint only routes; its view of the one association we keep does not
            // matter, and forwarding `Drained` twice would panic inside sctp-proto's slab.
            while assoc.inner.poll_endpoint_event().is_some() {}
            // Streams the peer created are also announced as events; the queue just grows.
            while assoc.inner.accept_stream().is_some() {}
            let Some(event) = assoc.inner.poll() else {
                return;
            };
            match event {
                Event::Connected => self.on_connected(),
                Event::HandshakeFailed { .. } | Event::AssociationLost { .. } => self.on_closed(),
                Event::Stream(StreamEvent::Readable { id }) => self.read_stream(id),
                Event::Stream(StreamEvent::Finished { id }) => {
                    self.resetting.insert(id);
                    if self.channels.remove(&id).is_some() {
                        self.events
                            .push_back(SctpEvent::ChannelClosed { id: ChannelId(id) });
                    }
                }
                Event::Stream(StreamEvent::ResetComplete { id }) => {
                    self.resetting.remove(&id);
                }
                // A failed reset keeps its id quarantined; datagram, buffered-amount and
                // statistics events fire often and carry nothing we need.
                _ => {}
            }
        }
    }

    fn on_connected(&mut self) {
        if self.state != State::Handshaking {
            return;
        }
        self.state = State::Established;
        let limit = remote_limit(self.config.max_message_size_remote);
        if let Some(assoc) = self.assoc.as_mut() {
            assoc.inner.set_max_send_message_size(limit);
        }
        self.events.push_back(SctpEvent::Connected);
        let pending: Vec<u16> = self
            .channels
            .iter()
            .filter(|(_, c)| matches!(c.state, ChannelState::PendingOpen { .. }))
            .map(|(&id, _)| id)
            .collect();
        for id in pending {
            let Some(mut channel) = self.channels.remove(&id) else {
                continue;
            };
            if self.start_open(id, &mut channel).is_ok() {
                self.channels.insert(id, channel);
            } else {
                self.events
                    .push_back(SctpEvent::ChannelClosed { id: ChannelId(id) });
            }
        }
    }

    fn on_closed(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.channels.clear();
        self.resetting.clear();
        self.events.push_back(SctpEvent::Closed);
    }

    /// Create the stream and write DATA_CHANNEL_OPEN for a channel we open.
    fn start_open(&mut self, id: u16, channel: &mut Channel) -> Result<(), SctpError> {
        let ChannelState::PendingOpen { label, protocol } = &channel.state else {
            return Ok(());
        };
        let open = DcepMessage::Open(DataChannelOpen {
            ordered: channel.ordered,
            reliability: channel.reliability,
            priority: channel.priority,
            label,
            protocol,
        })
        .to_vec()?;
        let assoc = self.assoc.as_mut().ok_or(SctpError::NotEstablished)?;
        let mut stream = assoc.inner.open_stream(id, Ppi::Binary)?;
        // RFC 8832 §6: until the peer answers, even an unordered channel sends ordered.
        let (kind, value) = reliability_params(channel.reliability);
        stream.set_reliability_params(false, kind, value)?;
        stream.write_with_ppi(&open, Ppi::Dcep)?;
        channel.state = ChannelState::AwaitAck;
        Ok(())
    }

    /// Pick the next free stream id of our parity (RFC 8832 §6); 65535 is reserved
    /// (RFC 8831 §6.5).
    fn allocate_stream(&mut self) -> Result<u16, SctpError> {
        for _ in 0..=(MAX_STREAM_ID / 2) {
            let id = self.next_stream;
            self.next_stream = if id >= MAX_STREAM_ID - 1 {
                id % 2
            } else {
                id + 2
            };
            let taken = self.channels.contains_key(&id)
                || self.resetting.contains(&id)
                || self
                    .assoc
                    .as_mut()
                    .is_some_and(|a| a.inner.stream(id).is_ok());
            if !taken {
                return Ok(id);
            }
        }
        Err(SctpError::NoStreamAvailable)
    }

    /// Deliver every complete message queued on stream `id`.
    fn read_stream(&mut self, id: u16) {
        loop {
            let Some(assoc) = self.assoc.as_mut() else {
                return;
            };
            let Ok(mut stream) = assoc.inner.stream(id) else {
                return;
            };
            let Ok(Some(chunks)) = stream.read_sctp() else {
                return;
            };
            let mut data = vec![0; chunks.len()];
            if chunks.read(&mut data).is_err() {
                continue;
            }
            self.on_message(id, chunks.ppi, data);
        }
    }

    fn on_message(&mut self, id: u16, ppi: Ppi, data: Vec<u8>) {
        let kind = match ppi {
            Ppi::Dcep => return self.on_dcep(id, &data),
            Ppi::String | Ppi::StringEmpty => MessageKind::String,
            Ppi::Binary | Ppi::BinaryEmpty => MessageKind::Binary,
            Ppi::Unknown => return self.on_partial(id, &data),
        };
        let Some(channel) = self.channels.get_mut(&id) else {
            // RFC 8832 §6: user data before DATA_CHANNEL_OPEN has no channel to go to.
            return;
        };
        match channel.state {
            ChannelState::Open => {}
            ChannelState::AwaitAck => self.on_ack(id),
            ChannelState::PendingOpen { .. } | ChannelState::Closing => return,
        }
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        let data = if matches!(ppi, Ppi::StringEmpty | Ppi::BinaryEmpty) {
            // The one-byte body of an empty message is padding (RFC 8831 §6.6).
            std::mem::take(&mut channel.partial)
        } else if channel.partial.is_empty() {
            data
        } else {
            let mut whole = std::mem::take(&mut channel.partial);
            whole.extend_from_slice(&data);
            whole
        };
        self.events.push_back(SctpEvent::Message {
            id: ChannelId(id),
            kind,
            data,
        });
    }

    /// A message with a PPID sctp-proto does not know. In practice that is the deprecated
    /// partial PPIDs 52/54 (RFC 8831 §8): old senders split a large message into partial
    /// pieces followed by a final piece with PPID 51/53. sctp-proto folds every unknown PPID
    /// into one value, so any unknown PPID is treated as a partial piece.
    fn on_partial(&mut self, id: u16, data: &[u8]) {
        let limit = local_limit(self.config.max_message_size_local) as usize;
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        if !matches!(channel.state, ChannelState::Open | ChannelState::AwaitAck) {
            return;
        }
        if channel.partial.len().saturating_add(data.len()) > limit {
            // Over our own max-message-size: drop the whole reassembly.
            channel.partial = Vec::new();
        } else {
            channel.partial.extend_from_slice(data);
        }
    }

    fn on_dcep(&mut self, id: u16, data: &[u8]) {
        match DcepMessage::parse(data) {
            Ok(DcepMessage::Open(open)) => self.on_open(id, &open),
            Ok(DcepMessage::Ack) => {
                if self
                    .channels
                    .get(&id)
                    .is_some_and(|c| c.state == ChannelState::AwaitAck)
                {
                    self.on_ack(id);
                }
            }
            Err(_) => {
                // An OPEN we cannot parse leaves the peer's channel hanging; reset the stream
                // so it learns the channel is dead (RFC 8831 §6.7).
                if !self.channels.contains_key(&id)
                    && let Some(assoc) = self.assoc.as_mut()
                    && let Ok(mut stream) = assoc.inner.stream(id)
                {
                    let _ = stream.close();
                }
            }
        }
    }

    fn on_open(&mut self, id: u16, open: &DataChannelOpen<'_>) {
        if self.channels.contains_key(&id) {
            // A repeated or colliding OPEN; the first one stands.
            return;
        }
        let Some(assoc) = self.assoc.as_mut() else {
            return;
        };
        let Ok(mut stream) = assoc.inner.stream(id) else {
            return;
        };
        let (kind, value) = reliability_params(open.reliability);
        let ack = [DCEP_ACK];
        if stream
            .set_reliability_params(!open.ordered, kind, value)
            .is_err()
            || stream.write_with_ppi(&ack, Ppi::Dcep).is_err()
        {
            return;
        }
        self.channels.insert(
            id,
            Channel {
                state: ChannelState::Open,
                ordered: open.ordered,
                reliability: open.reliability,
                priority: open.priority,
                partial: Vec::new(),
            },
        );
        self.events.push_back(SctpEvent::ChannelOpen {
            id: ChannelId(id),
            label: open.label.to_owned(),
            protocol: open.protocol.to_owned(),
            ordered: open.ordered,
            reliability: open.reliability,
            priority: open.priority,
        });
    }

    /// Our OPEN was answered: the channel is open and may now send unordered.
    fn on_ack(&mut self, id: u16) {
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        channel.state = ChannelState::Open;
        if !channel.ordered {
            let (kind, value) = reliability_params(channel.reliability);
            if let Some(assoc) = self.assoc.as_mut()
                && let Ok(mut stream) = assoc.inner.stream(id)
            {
                let _ = stream.set_reliability_params(true, kind, value);
            }
        }
        self.events
            .push_back(SctpEvent::ChannelOpened { id: ChannelId(id) });
    }
}

struct Assoc {
    handle: AssociationHandle,
    inner: Association,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Handshaking,
    Established,
    Closed,
}

struct Channel {
    state: ChannelState,
    ordered: bool,
    reliability: Reliability,
    priority: u16,
    /// Pieces of a legacy partial message (PPID 52/54) waiting for the final piece.
    partial: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum ChannelState {
    /// Opened by us before the association was up; the OPEN goes out on `Connected`.
    PendingOpen {
        label: String,
        protocol: String,
    },
    /// We sent DATA_CHANNEL_OPEN and wait for the ACK.
    AwaitAck,
    Open,
    /// We reset our outgoing stream and wait for the peer's reset.
    Closing,
}

fn transport_config(config: &SctpConfig) -> TransportConfig {
    let receive_limit = local_limit(config.max_message_size_local);
    TransportConfig::default()
        .with_local_port(config.local_port)
        .with_remote_port(config.remote_port)
        .with_max_send_message_size(remote_limit(config.max_message_size_remote))
        .with_max_receive_message_size(receive_limit)
        // Reassembly holds whole messages, so the receive budget must fit at least one.
        .with_max_receive_buffer_size(receive_limit.max(DEFAULT_RECEIVE_BUFFER))
        // WebRTC leaves liveness to ICE consent and DTLS; SCTP should not give up on its own.
        .with_max_init_retransmits(None)
        .with_max_data_retransmits(None)
}

fn reliability_params(reliability: Reliability) -> (ReliabilityType, u32) {
    match reliability {
        Reliability::Reliable => (ReliabilityType::Reliable, 0),
        Reliability::MaxRetransmits(n) => (ReliabilityType::Rexmit, n),
        Reliability::MaxLifetimeMs(ms) => (ReliabilityType::Timed, ms),
    }
}

/// RFC 8841 §6: a max-message-size of 0 means the peer takes messages of any size.
fn remote_limit(max: u32) -> u32 {
    if max == 0 { u32::MAX } else { max }
}

fn local_limit(max: u32) -> u32 {
    if max == 0 { u32::MAX } else { max }
}

/// sctp-proto wants a peer address; over DTLS there is none, so any fixed one will do.
const PEER_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_SCTP_PORT);
/// RFC 8841 §5 / RFC 8831 §5: the conventional data channel port.
const DEFAULT_SCTP_PORT: u16 = 5000;
/// RFC 8841 §6: the limit assumed when `a=max-message-size` is absent.
const DEFAULT_MAX_MESSAGE_SIZE: u32 = 65536;
/// SCTP packet size that keeps DTLS + UDP + IPv6 under 1280 bytes.
const DEFAULT_MAX_PACKET_SIZE: usize = 1200;
/// sctp-proto's default receive buffer.
const DEFAULT_RECEIVE_BUFFER: u32 = 1024 * 1024;
/// Common header plus DATA chunk header: what a packet adds around one DATA payload.
const SCTP_PACKET_OVERHEAD: usize = 12 + 16;
const SCTP_COMMON_HEADER_LEN: usize = 12;
/// RFC 9260 §3.2 chunk type of SHUTDOWN COMPLETE.
const CT_SHUTDOWN_COMPLETE: u8 = 14;
/// Highest usable stream id; 65535 is reserved (RFC 8831 §6.5).
const MAX_STREAM_ID: u16 = 65534;
/// The W3C "normal" priority.
const DEFAULT_PRIORITY: u16 = 256;
const DCEP_ACK: u8 = 0x02;
