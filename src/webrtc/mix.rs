//! Audio mixes (AudioBridge rooms) wired onto the dataplane and the mixer thread.
//!
//! Plugins never see packets and shards own the PeerConnections, so a participant joins a
//! mix through two plain-RTP hops on loopback, both existing dataplane machinery:
//!
//! - **in**: an RTP output ([`ShardCommand::AddRtpOutput`], as VideoRoom `rtp_forward`) on
//!   the participant's shard copies its decrypted audio to the mixer's socket under an SSRC
//!   chosen here, which the mixer demultiplexes on;
//! - **out**: an RTP input ([`ShardCommand::OpenRtpInput`], as a Streaming mountpoint) bound
//!   on 127.0.0.1 port 0 on the same shard; the shard reports the port
//!   ([`ShardEvent::RtpInputOpened`]), the mixer sends the participant's N-1 mix there, and a
//!   [`Subscription`] forwards it to just that participant's m-line with the SSRC we announced.
//!
//! A `JoinMix` that arrives before the PeerConnection exists or before our description is
//! known waits here and is applied when both are ([`Shared::apply_pending_mix`]).

use std::collections::HashSet;

use portunus_ctrl::plugin::{MixCodec, MixParticipant, MixRoom};
use portunus_mixer::{
    Codec, ForwarderSpec, Join, MixStats, MixerCommand, MixerPool, OpusSettings,
    ParticipantSettings, SAMPLING_RATES,
};

use super::forwarding::forwarding_key;
use super::plain::srtp_key;
use super::*;

/// Marks the synthetic RTP-input publishers of mix return paths, beside
/// [`PeerId::INPUT_BIT`] (Streaming mountpoint ids are 53-bit like all Janus ids, so they
/// never set it), and the RTP output ids of mix feeds (VideoRoom's are 32-bit).
const MIX_BIT: u64 = 1 << 62;

/// Most mixer threads: rooms are spread over them, each room on one thread.
const MAX_MIXER_THREADS: usize = 4;

/// What the engine keeps about mixes.
#[derive(Default)]
pub(super) struct MixState {
    /// Created with the first mix; its threads start as rooms are placed on them.
    pool: Option<MixerPool>,
    /// The open mixes (the mixer keeps their settings).
    rooms: HashSet<u64>,
    members: HashMap<HandleId, Member>,
    /// Mix forwarders by id: their mix.
    forwarders: HashMap<u32, u64>,
    /// The next SSRC a participant's feed to the mixer is tagged with.
    next_feed_ssrc: u32,
}

struct Member {
    mix: u64,
    mid: String,
    settings: MixParticipant,
    /// The dataplane pieces, once installed.
    wired: Option<Wired>,
}

#[derive(Clone, Copy)]
struct Wired {
    shard: ShardId,
    /// The return path's stream (an RTP input on `shard`).
    input: StreamKey,
    /// The SSRC the participant's feed reaches the mixer with.
    feed_ssrc: u32,
    /// The mixer thread's socket the feed goes to (its room's thread).
    mixer: SocketAddr,
}

impl Shared {
    fn mixer(&mut self) -> &mut MixerPool {
        self.mix.pool.get_or_insert_with(|| {
            let threads = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_MIXER_THREADS);
            MixerPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), threads)
        })
    }

    fn tell_mixer(&mut self, command: MixerCommand) -> Result<(), &'static str> {
        self.mixer()
            .send(command)
            .map_err(|_| "the mixer refused the command (queue full or thread not started)")
    }

    /// The mixer's counters (all its threads), once a mix has been opened.
    pub(crate) fn mix_stats(&self) -> Option<MixStats> {
        self.mix.pool.as_ref().map(MixerPool::stats)
    }

    /// `OpenMix`.
    pub(super) fn open_mix(&mut self, room: MixRoom) -> Result<(), &'static str> {
        if !SAMPLING_RATES.contains(&room.sampling_rate) {
            return Err("unsupported mix sampling rate");
        }
        self.tell_mixer(MixerCommand::OpenRoom {
            mix: room.mix,
            sampling_rate: room.sampling_rate,
            spatial: room.spatial,
        })?;
        self.mix.rooms.insert(room.mix);
        Ok(())
    }

    /// `CloseMix`: everyone leaves, forwarders stop.
    pub(super) fn close_mix(&mut self, mix: u64) {
        let members: Vec<HandleId> = self
            .mix
            .members
            .iter()
            .filter(|(_, m)| m.mix == mix)
            .map(|(h, _)| *h)
            .collect();
        for handle in members {
            self.leave_mix(handle);
        }
        self.mix.forwarders.retain(|_, m| *m != mix);
        if self.mix.rooms.remove(&mix) {
            let _ = self.tell_mixer(MixerCommand::CloseRoom { mix });
        }
    }

    /// `JoinMix`: recorded, and applied now if the PeerConnection is ready.
    pub(super) fn join_mix(
        &mut self,
        mix: u64,
        handle: HandleId,
        mid: String,
        settings: MixParticipant,
    ) -> Result<(), &'static str> {
        if !self.mix.rooms.contains(&mix) {
            return Err("no such mix");
        }
        let mixer = self.mix.pool.as_ref().and_then(|pool| pool.room_addr(mix));
        // A new m-line, or a room on another mixer thread: the feed and return path move.
        let rewire = self.mix.members.get(&handle).is_some_and(|m| {
            m.wired
                .is_some_and(|w| m.mid != mid || Some(w.mixer) != mixer)
        });
        if rewire {
            self.leave_mix(handle);
        }
        let previous = self.mix.members.get(&handle);
        let wired = previous.and_then(|m| m.wired);
        let was_muted = previous.is_some_and(|m| m.settings.muted);
        let muted = settings.muted;
        self.mix.members.insert(
            handle,
            Member {
                mix,
                mid,
                settings,
                wired,
            },
        );
        match wired {
            // Same m-line, same feed: only the mixer moves it (or takes new settings).
            Some(_) => {
                self.join_mixer(handle)?;
                if muted != was_muted {
                    self.set_feed(handle, !muted)?;
                }
                Ok(())
            }
            None => self.apply_pending_mix(handle),
        }
    }

    /// Installs a waiting member's dataplane pieces once the handle's PeerConnection exists
    /// and both descriptions are known; does nothing otherwise.
    pub(super) fn apply_pending_mix(&mut self, handle: HandleId) -> Result<(), &'static str> {
        let Some(member) = self.mix.members.get(&handle) else {
            return Ok(());
        };
        if member.wired.is_some() {
            return Ok(());
        }
        let Some(media) = self.handles.get(&handle) else {
            return Ok(());
        };
        if !media.created || media.local.is_none() || media.remote.is_none() {
            return Ok(());
        }
        let mid = member.mid.clone();
        let muted = member.settings.muted;
        let (target, announced) = media.sending_mline(&mid)?;
        let clock_rate = target.codecs.first().map_or(48_000, |c| c.clock_rate);
        let shard = media.shard;
        let mixer_addr = self
            .mix
            .pool
            .as_ref()
            .and_then(|pool| pool.room_addr(member.mix))
            .ok_or("the mix has no mixer thread")?;
        let feed_ssrc = self.next_feed_ssrc();
        let input = StreamKey {
            publisher: PeerId::input(MIX_BIT | handle.0),
            ssrc: announced,
        };
        let open = RtpInput {
            reply: ReplyTo(handle.0),
            source: input,
            mid: mid.clone(),
            kind: DpKind::Audio,
            codec: None,
            clock_rate,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: vec![0],
            buffer_keyframe: false,
            srtp: None,
        };
        let sub = Subscription {
            subscriber: peer_id(handle),
            source: input,
            source_shard: shard,
            ssrc: announced,
            rtx: None,
            // The mixer writes the participant's own payload type already.
            payload_types: Vec::new(),
            extensions: ExtIdMap::new(),
            clock_rate,
            kind: DpKind::Audio,
            codec: None,
            simulcast: None,
        };
        if let Some(m) = self.mix.members.get_mut(&handle) {
            m.wired = Some(Wired {
                shard,
                input,
                feed_ssrc,
                mixer: mixer_addr,
            });
        }
        self.join_mixer(handle)?;
        if !muted {
            self.set_feed(handle, true)?;
        }
        self.dataplane
            .send(shard, ShardCommand::OpenRtpInput(Box::new(open)))
            .map_err(|_| "the dataplane refused the mix return path")?;
        self.unforward(handle, &mid);
        self.dataplane
            .add_forward(shard, sub)
            .map_err(|_| "the dataplane refused the mix forward")?;
        self.forwards.insert((handle, mid), (input, shard));
        Ok(())
    }

    /// Starts (`on`) or stops the copy of a wired member's audio to the mixer. A muted
    /// member's audio is never mixed, so its feed stops while it is muted: in a webinar room
    /// of hundreds of muted listeners that spares the shards a loopback send, and the mixer a
    /// receive, per listener every 20 ms. (The mixer also drops what a muted member sends, for
    /// packets already on their way.)
    fn set_feed(&self, handle: HandleId, on: bool) -> Result<(), &'static str> {
        let member = self.mix.members.get(&handle).ok_or("not a mix member")?;
        let wired = member.wired.ok_or("no mix feed")?;
        let id = RtpOutputId(MIX_BIT | handle.0);
        if !on {
            let _ = self
                .dataplane
                .send(wired.shard, ShardCommand::RemoveRtpOutput { id });
            return Ok(());
        }
        let media = self.handles.get(&handle).ok_or("no media state")?;
        let source = StreamKey {
            publisher: peer_id(handle),
            ssrc: forwarding_key(media.remote_mline(&member.mid)?)?,
        };
        let (target, _) = media.sending_mline(&member.mid)?;
        let output = RtpOutput {
            id,
            source,
            substream: 0,
            destination: wired.mixer,
            ssrc: wired.feed_ssrc,
            payload_type: None,
            clock_rate: target.codecs.first().map_or(48_000, |c| c.clock_rate),
            srtp: None,
        };
        self.dataplane
            .send(wired.shard, ShardCommand::AddRtpOutput(Box::new(output)))
            .map_err(|_| "the dataplane refused the mix feed")
    }

    fn next_feed_ssrc(&mut self) -> u32 {
        self.mix.next_feed_ssrc = self.mix.next_feed_ssrc.wrapping_add(1).max(1);
        self.mix.next_feed_ssrc
    }

    /// Tells the mixer about a wired member (join, or move to another mix).
    fn join_mixer(&mut self, handle: HandleId) -> Result<(), &'static str> {
        let member = self.mix.members.get(&handle).ok_or("not a mix member")?;
        let feed_ssrc = member.wired.ok_or("no mix feed")?.feed_ssrc;
        let media = self.handles.get(&handle).ok_or("no media state")?;
        let (target, _) = media.sending_mline(&member.mid)?;
        let codec = mixer_codec(member.settings.codec);
        let payload_type = target
            .codecs
            .iter()
            .find(|c| codec_matches(codec, &c.name))
            .or_else(|| target.codecs.first())
            .map(|c| c.payload_type);
        let join = Join {
            mix: member.mix,
            participant: handle.0,
            ssrc: feed_ssrc,
            payload_type_in: payload_type,
            payload_type_out: payload_type.unwrap_or(111),
            settings: participant_settings(&member.settings),
        };
        self.tell_mixer(MixerCommand::Join(join))
    }

    /// `UpdateMix`.
    pub(super) fn update_mix(
        &mut self,
        handle: HandleId,
        settings: MixParticipant,
    ) -> Result<(), &'static str> {
        let member = self
            .mix
            .members
            .get_mut(&handle)
            .ok_or("not a mix member")?;
        let reset_decoder = settings.reset_decoder;
        let was_muted = member.settings.muted;
        member.settings = MixParticipant {
            reset_decoder: false,
            ..settings
        };
        if member.wired.is_none() {
            return Ok(());
        }
        let muted = member.settings.muted;
        let settings = participant_settings(&member.settings);
        self.tell_mixer(MixerCommand::Update {
            participant: handle.0,
            settings,
            reset_decoder,
        })?;
        if muted != was_muted {
            self.set_feed(handle, !muted)?;
        }
        Ok(())
    }

    /// `LeaveMix`, and the end of a handle's media: the mixer forgets the participant and
    /// the feed, the return path and its forward are removed.
    pub(super) fn leave_mix(&mut self, handle: HandleId) {
        let Some(member) = self.mix.members.remove(&handle) else {
            return;
        };
        let Some(wired) = member.wired else {
            return;
        };
        let _ = self.tell_mixer(MixerCommand::Leave {
            participant: handle.0,
        });
        self.unforward(handle, &member.mid);
        let stop = ShardCommand::RemoveRtpOutput {
            id: RtpOutputId(MIX_BIT | handle.0),
        };
        let _ = self.dataplane.send(wired.shard, stop);
        let close = ShardCommand::CloseRtpInput {
            source: wired.input,
        };
        let _ = self.dataplane.send(wired.shard, close);
    }

    /// `MixRtpForward`: the whole mix, encoded once more, to `host:port`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the fields of one rtp_forward request"
    )]
    pub(super) fn mix_rtp_forward(
        &mut self,
        id: u32,
        mix: u64,
        (host, port): (&str, u16),
        codec: MixCodec,
        payload_type: u8,
        ssrc: Option<u32>,
        srtp: Option<&(u8, String)>,
    ) -> Result<(), &'static str> {
        if !self.mix.rooms.contains(&mix) {
            return Err("no such mix");
        }
        let ip: IpAddr = host
            .parse()
            .map_err(|_| "rtp_forward host is not an IP address")?;
        let srtp = match srtp {
            Some((suite, key)) => {
                let key = srtp_key(*suite, key)?;
                let split = key.profile.master_key_len();
                let (k, salt) = key
                    .key_and_salt
                    .split_at_checked(split)
                    .ok_or("SRTP key too short")?;
                let context = portunus_srtp::SrtpContext::new(key.profile, k, salt)
                    .map_err(|_| "SRTP key of the wrong length")?;
                Some(Box::new(context))
            }
            None => None,
        };
        let spec = ForwarderSpec {
            id,
            mix,
            destination: SocketAddr::new(ip, port),
            codec: mixer_codec(codec),
            payload_type,
            // Janus's default SSRC is the stream id.
            ssrc: ssrc.unwrap_or(id),
            srtp,
        };
        self.tell_mixer(MixerCommand::AddForwarder(spec))?;
        self.mix.forwarders.insert(id, mix);
        Ok(())
    }

    /// `StopMixRtpForward`.
    pub(super) fn stop_mix_rtp_forward(&mut self, id: u32) {
        if self.mix.forwarders.remove(&id).is_some() {
            let _ = self.tell_mixer(MixerCommand::RemoveForwarder { id });
        }
    }

    /// A return path's port is known: the mixer may send there.
    pub(super) fn mix_input_opened(&mut self, source: StreamKey, local: Option<SocketAddr>) {
        let handle = HandleId(source.publisher.0 & !(PeerId::INPUT_BIT | MIX_BIT));
        let current = self
            .mix
            .members
            .get(&handle)
            .and_then(|m| m.wired)
            .is_some_and(|w| w.input == source);
        if let (true, Some(to)) = (current, local) {
            let _ = self.tell_mixer(MixerCommand::SetDestination {
                participant: handle.0,
                to,
            });
        }
    }
}

/// Whether a stream is a mix participant's return path.
pub(super) fn is_mix_input(source: StreamKey) -> bool {
    let bits = PeerId::INPUT_BIT | MIX_BIT;
    source.publisher.0 & bits == bits
}

fn mixer_codec(codec: MixCodec) -> Codec {
    match codec {
        MixCodec::Opus => Codec::Opus,
        MixCodec::Pcmu => Codec::Pcmu,
        MixCodec::Pcma => Codec::Pcma,
    }
}

fn codec_matches(codec: Codec, name: &str) -> bool {
    let wanted = match codec {
        Codec::Opus => "opus",
        Codec::Pcmu => "PCMU",
        Codec::Pcma => "PCMA",
    };
    name.eq_ignore_ascii_case(wanted)
}

fn participant_settings(s: &MixParticipant) -> ParticipantSettings {
    ParticipantSettings {
        muted: s.muted,
        volume_percent: s.volume_percent,
        codec: mixer_codec(s.codec),
        prebuffer: usize::try_from(s.prebuffer_packets).unwrap_or(usize::MAX),
        spatial_position: s.spatial_position,
        opus: OpusSettings {
            bitrate: s.opus_bitrate,
            complexity: s.opus_complexity,
            expected_loss: s.expected_loss,
            fec: s.fec,
        },
    }
}
