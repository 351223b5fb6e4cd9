//! The mixer as a sans-IO state machine: datagrams in ([`Mixer::handle_datagram`]), one
//! [`Mixer::tick`] per 20 ms that decodes a frame per participant, mixes, and hands every
//! encoded RTP packet to a send callback. [`crate::MixerThread`] drives it with a socket and
//! a clock; tests and benches drive it directly.
//!
//! **Shared encodes.** A participant that adds nothing audible to the mix this tick (muted,
//! prebuffering, silent, or sending exactly zero samples) hears the whole mix, like every
//! other such listener. Listeners whose encoder settings match (codec, bitrate, complexity,
//! FEC, expected loss; rate and channels are the room's) share one
//! encoder: the room encodes the whole mix once per key and tick, and every listener gets
//! the same payload behind its own RTP header. Only audible participants (and those within
//! [`OWN_ENCODER_HOLD`] ticks of being audible) are encoded on their own, minus their own
//! voice. An Opus encoder carries history from frame to frame, and a decoder expects the
//! encoder it has followed: a listener that starts talking has its own encoder take a copy of
//! the shared encoder's state first, so its stream continues seamlessly. Going back to the
//! shared encoder cannot copy (others use it), but after the hold both encoders have been fed
//! the same audio (its own voice was silent) for a second, so their states have converged;
//! the stream stays decodable either way, and the hold keeps switches to one per talk spurt
//! rather than one per pause between words.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use portunus_rtp::RtpPacket;
use portunus_srtp::SrtpContext;

use crate::codec::{Codec, CodecError, Decoder, Encoder, MAX_FRAME, OpusSettings};
use crate::counters::Counters;
use crate::dsp::{accumulate, contribution, mix_minus};
use crate::jitter::{JitterBuffer, MAX_PAYLOAD, Popped, Pushed};

/// Mix rates libopus (and AudioBridge) accept.
pub const SAMPLING_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
/// RTP header length of the packets the mixer writes (no CSRC, no extension).
const RTP_HEADER: usize = 12;
/// Room for the SRTP tag of a forwarder's packet.
const SRTP_ROOM: usize = 32;
/// Ticks a participant keeps its own encoder after its last audible frame (1 s): pauses
/// between words do not move it back and forth between its own and the shared encoder.
pub const OWN_ENCODER_HOLD: u32 = 50;

/// How one participant is mixed and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParticipantSettings {
    /// Not mixed into anyone's audio (still hears the others).
    pub muted: bool,
    /// Gain in percent.
    pub volume_percent: u32,
    /// The participant's codec, both ways.
    pub codec: Codec,
    /// Packets buffered before mixing starts (and again after the buffer runs dry).
    pub prebuffer: usize,
    /// Pan in a spatial mix, 0 (left) … 100 (right).
    pub spatial_position: u8,
    /// Opus encoder settings for what the participant hears.
    pub opus: OpusSettings,
}

impl Default for ParticipantSettings {
    fn default() -> Self {
        Self {
            muted: false,
            volume_percent: 100,
            codec: Codec::Opus,
            prebuffer: 6,
            spatial_position: 50,
            opus: OpusSettings::default(),
        }
    }
}

/// A participant entering a mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The mix.
    pub mix: u64,
    /// The participant's id (unique across mixes).
    pub participant: u64,
    /// The SSRC its packets arrive with (unique across mixes: the mixer's demultiplexing key).
    pub ssrc: u32,
    /// The payload type it sends; other payload types are dropped. `None` takes any.
    pub payload_type_in: Option<u8>,
    /// The payload type written into what it receives.
    pub payload_type_out: u8,
    /// Mixing and encoding settings.
    pub settings: ParticipantSettings,
}

/// A copy of the whole mix to a host:port (AudioBridge `rtp_forward`).
pub struct ForwarderSpec {
    /// The forwarder's id (unique across mixes).
    pub id: u32,
    /// The mix.
    pub mix: u64,
    /// Where the packets go.
    pub destination: SocketAddr,
    /// Their codec.
    pub codec: Codec,
    /// Their payload type.
    pub payload_type: u8,
    /// Their SSRC.
    pub ssrc: u32,
    /// SRTP protection, when keyed.
    pub srtp: Option<Box<SrtpContext>>,
}

/// Why a mixer request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixError {
    /// No mix has the id.
    NoSuchMix,
    /// No participant has the id.
    NoSuchParticipant,
    /// The sampling rate is not one of [`SAMPLING_RATES`].
    BadSamplingRate,
    /// Another participant already arrives with this SSRC.
    SsrcInUse,
    /// libopus refused to create a codec.
    Codec,
}

impl From<CodecError> for MixError {
    fn from(_: CodecError) -> Self {
        Self::Codec
    }
}

/// Sequence number, timestamp and SSRC of one outgoing stream.
struct RtpOut {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    started: bool,
}

impl RtpOut {
    fn new(ssrc: u32) -> Self {
        Self {
            ssrc,
            seq: rand::random(),
            timestamp: rand::random(),
            started: false,
        }
    }

    /// Writes the next header into `buf` and advances by one frame of `codec`.
    fn header(&mut self, payload_type: u8, codec: Codec, buf: &mut [u8]) {
        let marker = if self.started { 0 } else { 0x80 };
        self.started = true;
        if let Some(h) = buf.get_mut(..RTP_HEADER) {
            h[0] = 0x80;
            h[1] = marker | (payload_type & 0x7f);
            h[2..4].copy_from_slice(&self.seq.to_be_bytes());
            h[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
            h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        }
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(codec.timestamp_step());
    }
}

struct Participant {
    id: u64,
    ssrc: u32,
    payload_type_in: Option<u8>,
    payload_type_out: u8,
    settings: ParticipantSettings,
    jitter: JitterBuffer,
    decoder: Decoder,
    encoder: Encoder,
    /// This tick's decoded frame (mono, mix rate).
    decoded: Box<[i16]>,
    /// This tick's contribution to the mix (gain and pan applied).
    contribution: Box<[i32]>,
    /// Whether this tick's contribution is in the mix and not exactly silent.
    audible: bool,
    /// Ticks left on its own encoder (see [`OWN_ENCODER_HOLD`]).
    hold: u32,
    /// Whether it is encoded on its own this tick (else it listens through its group).
    own: bool,
    /// Its shared encoder in [`Room::shared`] while it only listens.
    group: usize,
    destination: Option<SocketAddr>,
    rtp: RtpOut,
}

/// What makes two listeners' encoded streams identical: codec and Opus settings (the rate
/// and channel count are the room's). G.711 ignores the Opus settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EncodeKey {
    codec: Codec,
    opus: OpusSettings,
}

impl EncodeKey {
    fn of(settings: &ParticipantSettings) -> Self {
        let opus = match settings.codec {
            Codec::Opus => settings.opus,
            Codec::Pcmu | Codec::Pcma => OpusSettings::default(),
        };
        Self {
            codec: settings.codec,
            opus,
        }
    }
}

/// One encoder of the whole mix shared by the listeners with the same [`EncodeKey`].
struct SharedEncode {
    key: EncodeKey,
    encoder: Encoder,
    /// RTP header room, then this tick's payload.
    packet: Box<[u8]>,
    /// This tick's payload length; `None` when nobody listens through it this tick (or the
    /// encode failed).
    payload: Option<usize>,
    /// Whether a listener needs it this tick.
    wanted: bool,
}

impl SharedEncode {
    fn new(key: EncodeKey, rate: u32, channels: usize) -> Result<Self, MixError> {
        Ok(Self {
            key,
            encoder: Encoder::new(key.codec, rate, channels, &key.opus)?,
            packet: vec![0; RTP_HEADER + MAX_PAYLOAD].into_boxed_slice(),
            payload: None,
            wanted: false,
        })
    }
}

struct Forwarder {
    id: u32,
    destination: SocketAddr,
    codec: Codec,
    payload_type: u8,
    encoder: Encoder,
    srtp: Option<Box<SrtpContext>>,
    rtp: RtpOut,
}

struct Room {
    rate: u32,
    spatial: bool,
    participants: Vec<Participant>,
    /// One encoder per distinct [`EncodeKey`] among the participants.
    shared: Vec<SharedEncode>,
    forwarders: Vec<Forwarder>,
    mix: Box<[i32]>,
    pcm: Box<[i16]>,
    packet: Box<[u8]>,
}

impl Room {
    fn channels(&self) -> usize {
        if self.spatial { 2 } else { 1 }
    }

    /// Samples per channel of one 20 ms frame.
    fn frame(&self) -> usize {
        (self.rate / 50) as usize
    }

    /// The index of the shared encoder for `key`, created when no participant had it.
    fn group_for(&mut self, key: EncodeKey) -> Result<usize, MixError> {
        if let Some(at) = self.shared.iter().position(|g| g.key == key) {
            return Ok(at);
        }
        let (rate, channels) = (self.rate, self.channels());
        self.shared.push(SharedEncode::new(key, rate, channels)?);
        Ok(self.shared.len() - 1)
    }

    /// Drops the shared encoders nobody's settings use any more and renumbers the groups.
    fn prune_groups(&mut self) {
        let Self {
            participants,
            shared,
            ..
        } = self;
        shared.retain(|g| {
            participants
                .iter()
                .any(|p| EncodeKey::of(&p.settings) == g.key)
        });
        for p in participants.iter_mut() {
            let key = EncodeKey::of(&p.settings);
            p.group = shared.iter().position(|g| g.key == key).unwrap_or(0);
        }
    }
}

/// Where a participant sits: its room's slot in [`Mixer::rooms`] and its index in that
/// room's `participants`.
#[derive(Debug, Clone, Copy)]
struct Seat {
    room: usize,
    at: usize,
}

/// Every mix, its participants and forwarders.
pub struct Mixer {
    /// Open mixes by slot; a closed mix leaves its slot empty for the next one.
    rooms: Vec<Option<Room>>,
    /// Mix id → slot in `rooms`.
    slots: HashMap<u64, usize>,
    /// Arrival SSRC → seat: the only map a datagram is looked up in.
    by_ssrc: HashMap<u32, Seat>,
    /// Participant → mix.
    home: HashMap<u64, u64>,
    counters: Arc<Counters>,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new(Arc::default())
    }
}

impl Mixer {
    /// An empty mixer counting into `counters`.
    pub fn new(counters: Arc<Counters>) -> Self {
        Self {
            rooms: Vec::new(),
            slots: HashMap::new(),
            by_ssrc: HashMap::new(),
            home: HashMap::new(),
            counters,
        }
    }

    /// The slot and state of mix `mix`.
    fn room_mut(&mut self, mix: u64) -> Option<(usize, &mut Room)> {
        let slot = *self.slots.get(&mix)?;
        let room = self.rooms.get_mut(slot)?.as_mut()?;
        Some((slot, room))
    }

    /// The counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Whether a tick would do nothing: no mix has a participant (a mix without any sends
    /// nothing, not even to its forwarders).
    pub fn is_idle(&self) -> bool {
        self.rooms
            .iter()
            .flatten()
            .all(|room| room.participants.is_empty())
    }

    /// Opens mix `mix`, or changes the rate and stereo of an open one (its participants'
    /// codecs are recreated and their buffers emptied).
    ///
    /// # Errors
    /// [`MixError::BadSamplingRate`], or [`MixError::Codec`] when libopus refuses.
    pub fn open_room(&mut self, mix: u64, rate: u32, spatial: bool) -> Result<(), MixError> {
        if !SAMPLING_RATES.contains(&rate) {
            return Err(MixError::BadSamplingRate);
        }
        let channels = if spatial { 2 } else { 1 };
        let samples = (rate / 50) as usize * channels;
        if let Some((_, room)) = self.room_mut(mix) {
            if room.rate == rate && room.spatial == spatial {
                return Ok(());
            }
            room.rate = rate;
            room.spatial = spatial;
            room.mix = vec![0; samples].into_boxed_slice();
            room.pcm = vec![0; samples].into_boxed_slice();
            for p in &mut room.participants {
                p.decoder = Decoder::new(p.settings.codec, rate)?;
                p.encoder = Encoder::new(p.settings.codec, rate, channels, &p.settings.opus)?;
                p.decoded = vec![0; samples / channels].into_boxed_slice();
                p.contribution = vec![0; samples].into_boxed_slice();
                p.jitter.clear();
            }
            for g in &mut room.shared {
                *g = SharedEncode::new(g.key, rate, channels)?;
            }
            for f in &mut room.forwarders {
                f.encoder = Encoder::new(f.codec, rate, channels, &OpusSettings::default())?;
            }
            return Ok(());
        }
        let room = Room {
            rate,
            spatial,
            participants: Vec::new(),
            shared: Vec::new(),
            forwarders: Vec::new(),
            mix: vec![0; samples].into_boxed_slice(),
            pcm: vec![0; samples].into_boxed_slice(),
            packet: vec![0; RTP_HEADER + MAX_PAYLOAD + SRTP_ROOM].into_boxed_slice(),
        };
        let slot = match self.rooms.iter_mut().enumerate().find(|(_, r)| r.is_none()) {
            Some((slot, free)) => {
                *free = Some(room);
                slot
            }
            None => {
                self.rooms.push(Some(room));
                self.rooms.len() - 1
            }
        };
        self.slots.insert(mix, slot);
        Ok(())
    }

    /// Closes a mix: its participants and forwarders go with it.
    pub fn close_room(&mut self, mix: u64) {
        let Some(slot) = self.slots.remove(&mix) else {
            return;
        };
        if let Some(room) = self.rooms.get_mut(slot).and_then(Option::take) {
            for p in room.participants {
                self.by_ssrc.remove(&p.ssrc);
                self.home.remove(&p.id);
            }
        }
    }

    /// Puts a participant into a mix (out of any other first; where its mix goes is kept).
    ///
    /// # Errors
    /// [`MixError::NoSuchMix`], [`MixError::SsrcInUse`], [`MixError::Codec`].
    pub fn join(&mut self, join: &Join) -> Result<(), MixError> {
        let destination = self.leave(join.participant).and_then(|p| p.destination);
        if self.by_ssrc.contains_key(&join.ssrc) {
            return Err(MixError::SsrcInUse);
        }
        let (slot, room) = self.room_mut(join.mix).ok_or(MixError::NoSuchMix)?;
        let (rate, channels, frame) = (room.rate, room.channels(), room.frame());
        let s = &join.settings;
        let decoder = Decoder::new(s.codec, rate)?;
        let encoder = Encoder::new(s.codec, rate, channels, &s.opus)?;
        let group = room.group_for(EncodeKey::of(s))?;
        let participant = Participant {
            id: join.participant,
            ssrc: join.ssrc,
            payload_type_in: join.payload_type_in,
            payload_type_out: join.payload_type_out,
            settings: *s,
            jitter: JitterBuffer::new(s.prebuffer),
            decoder,
            encoder,
            decoded: vec![0; frame].into_boxed_slice(),
            contribution: vec![0; frame * channels].into_boxed_slice(),
            audible: false,
            hold: 0,
            own: false,
            group,
            destination,
            rtp: RtpOut::new(rand::random()),
        };
        let seat = Seat {
            room: slot,
            at: room.participants.len(),
        };
        room.participants.push(participant);
        self.by_ssrc.insert(join.ssrc, seat);
        self.home.insert(join.participant, join.mix);
        Ok(())
    }

    fn participant_mut(
        &mut self,
        participant: u64,
    ) -> Result<(&mut Participant, u32, usize), MixError> {
        let mix = *self
            .home
            .get(&participant)
            .ok_or(MixError::NoSuchParticipant)?;
        let (_, room) = self.room_mut(mix).ok_or(MixError::NoSuchMix)?;
        let (rate, channels) = (room.rate, room.channels());
        room.participants
            .iter_mut()
            .find(|p| p.id == participant)
            .map(|p| (p, rate, channels))
            .ok_or(MixError::NoSuchParticipant)
    }

    /// Where the participant's mix is sent (learnt once its return path exists).
    ///
    /// # Errors
    /// [`MixError::NoSuchParticipant`].
    pub fn set_destination(&mut self, participant: u64, to: SocketAddr) -> Result<(), MixError> {
        self.participant_mut(participant)?.0.destination = Some(to);
        Ok(())
    }

    /// New settings for a participant; `reset_decoder` drops its decoder state and buffer.
    /// Muting empties its buffer (nothing it sends while muted is kept); unmuting starts
    /// its decoder afresh, so that it is heard from its next packets on.
    ///
    /// # Errors
    /// [`MixError::NoSuchParticipant`], [`MixError::Codec`].
    pub fn update(
        &mut self,
        participant: u64,
        settings: &ParticipantSettings,
        reset_decoder: bool,
    ) -> Result<(), MixError> {
        let mix = *self
            .home
            .get(&participant)
            .ok_or(MixError::NoSuchParticipant)?;
        let (_, room) = self.room_mut(mix).ok_or(MixError::NoSuchMix)?;
        let updated = update_participant(room, participant, settings, reset_decoder);
        // Also after a failure: a shared encoder made for the new settings may be unused.
        room.prune_groups();
        updated
    }

    /// Takes a participant out of its mix (returns where its mix was going).
    fn leave(&mut self, participant: u64) -> Option<Participant> {
        let mix = self.home.remove(&participant)?;
        let (_, room) = self.room_mut(mix)?;
        let at = room.participants.iter().position(|p| p.id == participant)?;
        let p = room.participants.swap_remove(at);
        room.prune_groups();
        // The last participant took the leaver's index.
        let moved = room.participants.get(at).map(|m| m.ssrc);
        self.by_ssrc.remove(&p.ssrc);
        if let Some(seat) = moved.and_then(|ssrc| self.by_ssrc.get_mut(&ssrc)) {
            seat.at = at;
        }
        Some(p)
    }

    /// Takes a participant out of its mix.
    pub fn remove_participant(&mut self, participant: u64) {
        self.leave(participant);
    }

    /// Starts a forwarder of the whole mix (replacing one with the same id).
    ///
    /// # Errors
    /// [`MixError::NoSuchMix`], [`MixError::Codec`].
    pub fn add_forwarder(&mut self, spec: ForwarderSpec) -> Result<(), MixError> {
        self.remove_forwarder(spec.id);
        let (_, room) = self.room_mut(spec.mix).ok_or(MixError::NoSuchMix)?;
        let encoder = Encoder::new(
            spec.codec,
            room.rate,
            room.channels(),
            &OpusSettings::default(),
        )?;
        room.forwarders.push(Forwarder {
            id: spec.id,
            destination: spec.destination,
            codec: spec.codec,
            payload_type: spec.payload_type,
            encoder,
            srtp: spec.srtp,
            rtp: RtpOut::new(spec.ssrc),
        });
        Ok(())
    }

    /// Stops a forwarder.
    pub fn remove_forwarder(&mut self, id: u32) {
        for room in self.rooms.iter_mut().flatten() {
            room.forwarders.retain(|f| f.id != id);
        }
    }

    /// One datagram from a participant's RTP output. Anything that is not a participant's
    /// RTP is counted and dropped.
    pub fn handle_datagram(&mut self, datagram: &[u8]) {
        let c = &*self.counters;
        Counters::add(&c.packets_in, 1);
        let Ok(rtp) = RtpPacket::parse(datagram) else {
            Counters::add(&c.malformed, 1);
            return;
        };
        let Some(p) = self.by_ssrc.get(&rtp.ssrc().0).and_then(|seat| {
            let room = self.rooms.get_mut(seat.room)?.as_mut()?;
            room.participants.get_mut(seat.at)
        }) else {
            Counters::add(&c.unknown_ssrc, 1);
            return;
        };
        if p.payload_type_in.is_some_and(|pt| pt != rtp.payload_type()) {
            Counters::add(&c.wrong_payload_type, 1);
            return;
        }
        if p.settings.muted {
            // Not mixed, so neither buffered nor decoded: unmuting starts on fresh audio.
            Counters::add(&c.muted, 1);
            return;
        }
        let outcome = p.jitter.push(rtp.sequence_number(), rtp.payload());
        Counters::add(&c.overflow, p.jitter.take_overflow());
        match outcome {
            Pushed::Queued => {}
            Pushed::Late => Counters::add(&c.late, 1),
            Pushed::Duplicate => Counters::add(&c.duplicate, 1),
            Pushed::TooBig => Counters::add(&c.too_big, 1),
        }
    }

    /// One 20 ms step of every mix: each participant's next frame is decoded (or concealed)
    /// and mixed; each participant with a destination gets the mix of the others, each
    /// forwarder the whole mix. `send` returns whether the datagram went out.
    pub fn tick(&mut self, send: &mut dyn FnMut(SocketAddr, &[u8]) -> bool) {
        Counters::add(&self.counters.ticks, 1);
        for room in self.rooms.iter_mut().flatten() {
            room_tick(room, &self.counters, send);
        }
    }
}

/// [`Mixer::update`] within the participant's room.
fn update_participant(
    room: &mut Room,
    participant: u64,
    settings: &ParticipantSettings,
    reset_decoder: bool,
) -> Result<(), MixError> {
    let (rate, channels) = (room.rate, room.channels());
    let group = room.group_for(EncodeKey::of(settings))?;
    let p = room
        .participants
        .iter_mut()
        .find(|p| p.id == participant)
        .ok_or(MixError::NoSuchParticipant)?;
    if settings.codec == p.settings.codec {
        p.encoder.configure(&settings.opus)?;
    } else {
        p.decoder = Decoder::new(settings.codec, rate)?;
        p.encoder = Encoder::new(settings.codec, rate, channels, &settings.opus)?;
        p.jitter.clear();
    }
    let unmuted = p.settings.muted && !settings.muted;
    if reset_decoder || unmuted {
        p.decoder.reset();
    }
    if reset_decoder || settings.muted {
        p.jitter.clear();
    }
    p.jitter.set_prebuffer(settings.prebuffer);
    p.settings = *settings;
    p.group = group;
    Ok(())
}

fn room_tick(room: &mut Room, c: &Counters, send: &mut dyn FnMut(SocketAddr, &[u8]) -> bool) {
    let channels = room.channels();
    let spatial = room.spatial;
    let samples = room.frame() * channels;
    room.mix.fill(0);
    for p in &mut room.participants {
        p.audible = false;
        if pull_frame(p, c) {
            let position = spatial.then_some(p.settings.spatial_position);
            contribution(
                &p.decoded,
                p.settings.volume_percent,
                position,
                &mut p.contribution,
            );
            // Exact silence leaves the mix unchanged: such a participant hears the whole
            // mix like any listener and may share a listener's encode.
            p.audible = p.contribution.iter().any(|s| *s != 0);
            if p.audible {
                accumulate(&mut room.mix, &p.contribution);
            }
        }
    }
    let Room {
        participants,
        shared,
        forwarders,
        mix,
        pcm,
        packet,
        ..
    } = room;
    let (Some(mix), Some(pcm)) = (mix.get(..samples), pcm.get_mut(..samples)) else {
        return;
    };
    for g in shared.iter_mut() {
        g.wanted = false;
        g.payload = None;
    }
    // Talkers (and those that just were): their own encoder, the mix minus their voice.
    for p in participants.iter_mut() {
        let was_own = p.own;
        p.own = p.audible || p.hold > 0;
        if p.own
            && !was_own
            && let Some(g) = shared.get(p.group)
        {
            // Its decoder has followed the shared encoder so far: go on from that state.
            p.encoder.continue_from(&g.encoder);
        }
        if p.audible {
            p.hold = OWN_ENCODER_HOLD;
        } else {
            p.hold = p.hold.saturating_sub(1);
        }
        if !p.own {
            if p.destination.is_some()
                && let Some(g) = shared.get_mut(p.group)
            {
                g.wanted = true;
            }
            continue;
        }
        let Some(to) = p.destination else { continue };
        let own = p.audible.then_some(&p.contribution[..]);
        mix_minus(mix, own, pcm);
        let (codec, pt) = (p.settings.codec, p.payload_type_out);
        Counters::add(&c.encodes, 1);
        if let Some(len) = encode_packet(
            &mut p.encoder,
            &mut p.rtp,
            codec,
            pt,
            pcm,
            channels,
            packet,
            c,
        ) {
            count_send(c, send(to, packet.get(..len).unwrap_or(&[])));
        }
    }
    // Listeners: the whole mix, encoded once per distinct encoder setting.
    let whole_in_pcm = shared.iter().any(|g| g.wanted);
    if whole_in_pcm {
        mix_minus(mix, None, pcm);
    }
    for g in shared.iter_mut().filter(|g| g.wanted) {
        let Some(payload) = g.packet.get_mut(RTP_HEADER..) else {
            continue;
        };
        Counters::add(&c.encodes, 1);
        match g.encoder.encode(pcm, channels, payload) {
            Ok(n) => g.payload = Some(RTP_HEADER + n),
            Err(_) => Counters::add(&c.encode_errors, 1),
        }
    }
    for p in participants.iter_mut().filter(|p| !p.own) {
        let Some(to) = p.destination else { continue };
        let Some(g) = shared.get_mut(p.group) else {
            continue;
        };
        let Some(len) = g.payload else { continue };
        p.rtp
            .header(p.payload_type_out, p.settings.codec, &mut g.packet);
        let sent = send(to, g.packet.get(..len).unwrap_or(&[]));
        count_send(c, sent);
        if sent {
            Counters::add(&c.shared_sends, 1);
        }
    }
    if participants.is_empty() || forwarders.is_empty() {
        return;
    }
    // The whole mix, once for all forwarders (encoding only reads it): still in `pcm` when
    // the listeners' encodes took it.
    if !whole_in_pcm {
        mix_minus(mix, None, pcm);
    }
    for f in forwarders.iter_mut() {
        Counters::add(&c.encodes, 1);
        let Some(len) = encode_packet(
            &mut f.encoder,
            &mut f.rtp,
            f.codec,
            f.payload_type,
            pcm,
            channels,
            packet,
            c,
        ) else {
            continue;
        };
        let len = match f.srtp.as_mut() {
            Some(srtp) => match srtp.protect_rtp(packet, len) {
                Ok(len) => len,
                Err(_) => {
                    Counters::add(&c.send_errors, 1);
                    continue;
                }
            },
            None => len,
        };
        count_send(c, send(f.destination, packet.get(..len).unwrap_or(&[])));
    }
}

fn count_send(c: &Counters, sent: bool) {
    if sent {
        Counters::add(&c.packets_out, 1);
    } else {
        Counters::add(&c.send_errors, 1);
    }
}

/// Decodes the participant's frame for this tick into `decoded`; whether it contributes.
fn pull_frame(p: &mut Participant, c: &Counters) -> bool {
    let muted = p.settings.muted;
    match p.jitter.pop() {
        Popped::Waiting => false,
        Popped::Underrun => {
            Counters::add(&c.underruns, 1);
            false
        }
        // Muted voices are not mixed, so they are not decoded either (their buffer is
        // emptied on mute and nothing is queued while muted; this only guards that).
        _ if muted => false,
        Popped::Packet(payload) => {
            if p.decoder.decode(payload, &mut p.decoded).is_ok() {
                true
            } else {
                Counters::add(&c.decode_errors, 1);
                false
            }
        }
        Popped::Lost { next } => {
            Counters::add(&c.concealed, 1);
            p.decoder.conceal(next, &mut p.decoded).is_ok()
        }
    }
}

/// Encodes `pcm` after a fresh RTP header in `packet`; the packet length.
#[allow(
    clippy::too_many_arguments,
    reason = "one stream's encoder, numbering and buffers"
)]
fn encode_packet(
    encoder: &mut Encoder,
    rtp: &mut RtpOut,
    codec: Codec,
    payload_type: u8,
    pcm: &[i16],
    channels: usize,
    packet: &mut [u8],
    c: &Counters,
) -> Option<usize> {
    let room = packet.len().saturating_sub(SRTP_ROOM);
    let payload = packet.get_mut(RTP_HEADER..room)?;
    let Ok(n) = encoder.encode(pcm, channels, payload) else {
        Counters::add(&c.encode_errors, 1);
        return None;
    };
    rtp.header(payload_type, codec, packet);
    Some(RTP_HEADER + n)
}

/// Samples per channel of a 20 ms frame at `rate` (capped at 48 kHz).
pub fn frame_samples(rate: u32) -> usize {
    ((rate / 50) as usize).min(MAX_FRAME)
}
