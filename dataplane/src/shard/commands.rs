//! What a shard does with each [`ShardCommand`].

use crossbeam_channel::TryRecvError;
use portunus_ice::IceLiteConfig;
use portunus_peer::{IceMode, Peer, PeerConfig};
use smallvec::SmallVec;

use super::{Inbound, MAX_INBOUND, Session, State};
use crate::forward::{Selector, Start, Sub};
use crate::msg::{
    CreatePeer, LayerPrefs, MediaKind, PeerId, RtcpConfig, ShardCommand, ShardError, ShardEvent,
    SimulcastInbound, StreamKey, Subscription,
};

impl State {
    /// Runs queued commands, at most the command budget; returns how many ran.
    pub(super) fn drain_commands(&mut self) -> usize {
        let mut n = 0;
        while n < self.settings.command_budget {
            match self.commands.try_recv() {
                Ok(cmd) => {
                    n += 1;
                    self.counters.commands += 1;
                    self.handle_command(cmd);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    // The control plane is gone: nobody can use this shard any more.
                    self.stopping = true;
                    break;
                }
            }
        }
        n
    }

    fn fail(&mut self, reply: Option<crate::ReplyTo>, peer: PeerId, error: ShardError) {
        let ev = ShardEvent::CommandFailed { reply, peer, error };
        self.events.emit(ev, &mut self.counters);
    }

    fn handle_command(&mut self, cmd: ShardCommand) {
        match cmd {
            ShardCommand::CreatePeer(c) => self.create_peer(*c),
            ShardCommand::SetRemoteCredentials { peer, credentials } => {
                match self.by_id.get(&peer).copied() {
                    Some(slot) => {
                        if let Some(s) = self.sessions.get_mut(slot) {
                            s.peer.set_remote_credentials(credentials);
                        }
                        self.mark_dirty(slot);
                    }
                    None => self.fail(None, peer, ShardError::NoSuchPeer),
                }
            }
            ShardCommand::ClosePeer { peer } => {
                if let Some(slot) = self.by_id.get(&peer).copied() {
                    if let Some(s) = self.sessions.get_mut(slot) {
                        s.peer.close();
                    }
                    // close_notify goes out with this iteration's sends when there is room.
                    self.drain_session(slot);
                    self.remove_session(slot);
                }
            }
            ShardCommand::AddForward(sub) => self.add_forward(&sub),
            ShardCommand::RemoveForward { subscriber, source } => {
                self.remove_data_forward(subscriber, source);
                let Some(slot) = self.by_id.get(&subscriber).copied() else {
                    return;
                };
                let idxs: SmallVec<[usize; 4]> = self.sessions[slot]
                    .subs
                    .iter()
                    .copied()
                    .filter(|i| self.fwd.subs.get(*i).is_some_and(|s| s.source == source))
                    .collect();
                for idx in idxs {
                    self.fwd.remove_local(idx);
                    self.sessions[slot].subs.retain(|i| *i != idx);
                }
            }
            ShardCommand::PauseForward {
                subscriber,
                source,
                paused,
            } => self.pause_forward(subscriber, source, paused),
            ShardCommand::SwitchForward {
                subscriber,
                ssrc,
                source,
                source_shard,
            } => {
                let Some(slot) = self.by_id.get(&subscriber).copied() else {
                    self.fail(None, subscriber, ShardError::NoSuchPeer);
                    return;
                };
                let idx = self.sessions[slot].subs.iter().copied().find(|i| {
                    self.fwd
                        .subs
                        .get(*i)
                        .is_some_and(|s| s.rewriter.ssrc() == ssrc)
                });
                match idx {
                    Some(idx) => self.fwd.switch(idx, source, source_shard),
                    None => self.fail(None, subscriber, ShardError::NoSuchForward),
                }
            }
            ShardCommand::AddRoute { source, to } => {
                if to != self.id {
                    self.fwd.add_remote(source, to);
                }
            }
            ShardCommand::RemoveRoute { source, to } => self.fwd.remove_remote(source, to),
            ShardCommand::SendData {
                peer,
                channel,
                kind,
                data,
            } => {
                let Some(slot) = self.by_id.get(&peer).copied() else {
                    self.fail(None, peer, ShardError::NoSuchPeer);
                    return;
                };
                let result = self.sessions[slot].peer.send_data(channel, kind, &data);
                self.mark_dirty(slot);
                if let Err(e) = result {
                    self.fail(None, peer, ShardError::Peer(e.to_string()));
                }
            }
            ShardCommand::RequestKeyframe { source } => {
                let layers: SmallVec<[u8; 3]> = self
                    .by_id
                    .get(&source.publisher)
                    .and_then(|slot| self.sessions.get(*slot))
                    .map(|s| {
                        s.inbound
                            .iter()
                            .filter(|i| i.key == source.ssrc)
                            .filter_map(|i| i.layer)
                            .collect()
                    })
                    .unwrap_or_default();
                if layers.is_empty() {
                    self.keyframe_at_publisher(source, 0, self.id);
                }
                for l in layers {
                    self.keyframe_at_publisher(source, l, self.id);
                }
            }
            ShardCommand::SetSimulcast { peer, stream } => self.set_simulcast(peer, *stream),
            ShardCommand::ConfigureRtcp { peer, config } => match self.by_id.get(&peer) {
                Some(&slot) => {
                    let s = &mut self.sessions[slot];
                    match (config.twcc_ext, s.twcc.is_some()) {
                        (Some(_), false) => s.twcc = Some(super::twcc::TwccRecorder::new()),
                        (None, true) => s.twcc = None,
                        _ => {}
                    }
                    s.rtcp = *config;
                }
                None => self.fail(None, peer, ShardError::NoSuchPeer),
            },
            ShardCommand::SetBitrateCap { peer, bitrate } => match self.by_id.get(&peer) {
                Some(&slot) => self.sessions[slot].rtcp.bitrate_cap = bitrate,
                None => self.fail(None, peer, ShardError::NoSuchPeer),
            },
            ShardCommand::GetPeerStats { peer, reply } => self.peer_stats(peer, reply),
            ShardCommand::SetLayers {
                subscriber,
                ssrc,
                substream,
                temporal,
                fallback,
            } => {
                let Some(slot) = self.by_id.get(&subscriber).copied() else {
                    self.fail(None, subscriber, ShardError::NoSuchPeer);
                    return;
                };
                let interval = self.settings.keyframe_min_interval;
                let sub = self.sessions[slot]
                    .subs
                    .iter()
                    .copied()
                    .find(|i| {
                        self.fwd
                            .subs
                            .get(*i)
                            .is_some_and(|s| s.rewriter.ssrc() == ssrc)
                    })
                    .and_then(|i| self.fwd.subs.get_mut(i));
                match sub {
                    Some(sub) => sub
                        .selector
                        .get_or_insert_with(|| {
                            Box::new(Selector::new(LayerPrefs::default(), interval))
                        })
                        .set(substream, temporal, fallback),
                    None => self.fail(None, subscriber, ShardError::NoSuchForward),
                }
            }
            ShardCommand::OpenRtpInput(c) => self.open_input(*c),
            ShardCommand::OpenDataInput(c) => self.open_data_input(*c),
            ShardCommand::AddDataForward(s) => self.add_data_forward(&s),
            ShardCommand::CloseRtpInput { source } => self.close_input(source),
            ShardCommand::AddRtpOutput(o) => self.add_output(*o),
            ShardCommand::RemoveRtpOutput { id } => self.remove_output(id),
            ShardCommand::GetStats => self.emit_stats(),
            ShardCommand::Stop => self.stopping = true,
        }
    }

    fn create_peer(&mut self, c: CreatePeer) {
        let ufrag: Box<[u8]> = c.local_credentials.ufrag().as_bytes().into();
        if self.by_id.contains_key(&c.peer) {
            self.fail(Some(c.reply), c.peer, ShardError::Duplicate);
            return;
        }
        let config = PeerConfig {
            ice: IceMode::Lite(IceLiteConfig {
                consent_timeout: self.settings.consent_timeout,
                ..IceLiteConfig::default()
            }),
            local_credentials: c.local_credentials,
            remote_credentials: c.remote_credentials,
            dtls_role: c.dtls_role,
            remote_fingerprint: c.remote_fingerprint,
            data_channels: c.data_channels,
            connect_timeout: self.settings.connect_timeout,
            seed: c.peer.0,
        };
        let peer = match Peer::new(self.now, &self.dtls, config) {
            Ok(p) => p,
            Err(e) => {
                self.fail(Some(c.reply), c.peer, ShardError::Peer(e.to_string()));
                return;
            }
        };
        let inbound = c
            .inbound
            .iter()
            .map(|s| {
                let mut i = Inbound::new(s.ssrc, Some(s.mid.clone()), s.kind);
                i.rtx_ssrc = s.rtx_ssrc;
                i
            })
            .collect();
        let entry = self.sessions.vacant_entry();
        let slot = entry.key();
        if !self.router.add_ufrag(&ufrag, slot) {
            self.fail(Some(c.reply), c.peer, ShardError::Duplicate);
            return;
        }
        entry.insert(Session {
            id: c.peer,
            peer,
            ufrag,
            remotes: SmallVec::new(),
            inbound,
            rid_streams: SmallVec::new(),
            subs: SmallVec::new(),
            deadline: None,
            dirty: false,
            // Any fixed value works for feedback; spread them for readable captures.
            rtcp_ssrc: (c.peer.0 as u32).wrapping_mul(0x9e37_79b9) | 1,
            rtcp: RtcpConfig::default(),
            estimate: None,
            nacked_in_interval: 0,
            twcc: None,
        });
        self.by_id.insert(c.peer, slot);
        self.mark_dirty(slot);
        self.answer_early_checks(slot);
        let ev = ShardEvent::PeerCreated {
            reply: c.reply,
            peer: c.peer,
            shard: self.id,
            local_addrs: self.addrs.clone(),
        };
        self.events.emit(ev, &mut self.counters);
    }

    fn add_forward(&mut self, s: &Subscription) {
        let Some(slot) = self.by_id.get(&s.subscriber).copied() else {
            self.fail(None, s.subscriber, ShardError::NoSuchPeer);
            return;
        };
        let interval = self.settings.keyframe_min_interval;
        let sub = Sub::new(s, slot, interval);
        let replay = sub.start == Start::AwaitKeyframe;
        let idx = self.fwd.add_local(sub);
        self.sessions[slot].subs.push(idx);
        if replay {
            // An RTP input takes no PLI: its shard replays the keyframe it kept.
            self.request_keyframe(s.source, s.source_shard, 0);
        }
    }

    /// [`ShardCommand::PauseForward`]: a flag on the subscription, so pausing costs one
    /// branch per packet and resuming keeps what a re-installed forward would lose (the
    /// subscriber's sequence numbers, layer wishes, statistics).
    fn pause_forward(&mut self, subscriber: PeerId, source: StreamKey, paused: bool) {
        self.pause_data_forward(subscriber, source, paused);
        let Some(slot) = self.by_id.get(&subscriber).copied() else {
            return;
        };
        let mut keyframe = None;
        for &idx in &self.sessions[slot].subs {
            if let Some(sub) = self.fwd.subs.get_mut(idx)
                && sub.source == source
                && sub.set_paused(paused)
            {
                keyframe = Some(sub.source_shard);
            }
        }
        if let Some(shard) = keyframe {
            self.request_keyframe(source, shard, 0);
        }
    }

    /// Declares a simulcast stream of `peer`: SSRC-named layers are tagged now, rid-named
    /// ones as their first packets arrive.
    fn set_simulcast(&mut self, peer: PeerId, stream: SimulcastInbound) {
        let Some(slot) = self.by_id.get(&peer).copied() else {
            self.fail(None, peer, ShardError::NoSuchPeer);
            return;
        };
        let s = &mut self.sessions[slot];
        for (layer, ssrc) in stream.ssrcs.iter().enumerate() {
            let Some(ssrc) = *ssrc else {
                continue;
            };
            let rtx_ssrc = stream.rtx_ssrcs.get(layer).copied().flatten();
            let pos = match s.inbound.iter().position(|i| i.ssrc == ssrc) {
                Some(p) => p,
                None if s.inbound.len() < MAX_INBOUND => {
                    s.inbound.push(Inbound::new(ssrc, None, MediaKind::Video));
                    s.inbound.len() - 1
                }
                None => continue,
            };
            let i = &mut s.inbound[pos];
            i.key = stream.key;
            i.layer = Some(layer as u8);
            i.rtx_ssrc = rtx_ssrc.or(i.rtx_ssrc);
            i.mid = Some(stream.mid.clone());
        }
        s.rid_streams.retain(|r| r.key != stream.key);
        if stream.rids.iter().any(Option::is_some) {
            s.rid_streams.push(stream);
        }
    }
}
