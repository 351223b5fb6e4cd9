//! Data inputs' messages to viewers' data channels (Streaming `data` streams).
//!
//! The input's shard (`super::plain`) receives a datagram and hands it to the viewers on its
//! own shard and, through the shard↔shard rings, to every other shard with viewers: one
//! refcounted buffer from the pool, as for RTP, with the route counts that
//! [`crate::ShardCommand::AddRoute`] keeps. Each viewer's shard writes the message on the
//! viewer's first open data channel (the one its peer opened, as Janus relays on the
//! viewer's negotiated channel).
//!
//! Copies: SCTP keeps every message it sends until acknowledged, so `send_data` copies it
//! into the association's own buffer (sctp-proto allocates that chunk). That copy per viewer
//! is inherent to SCTP; data inputs carry control-rate traffic (captions, telemetry: tens
//! of messages per second), not media, so it is accepted here. Everything on our side is
//! allocation-free per message: the pool buffer for other shards, the input's kept latest
//! message and a viewer's deferred one reuse their capacity.

use std::collections::HashMap;

use portunus_sctp::{ChannelId, MessageKind};
use smallvec::SmallVec;

use super::State;
use crate::counters::DropReason;
use crate::io::MAX_DATAGRAM;
use crate::msg::{DataSubscription, PeerId, ShardError, ShardEvent, ShardId, StreamKey};
use crate::xshard::XMsg;

/// One viewer of a data input, on the viewer's shard.
#[derive(Debug)]
struct DataSub {
    peer: PeerId,
    slot: usize,
    kind: MessageKind,
    /// The channel messages go to, once one is open.
    channel: Option<ChannelId>,
    /// Janus's `buffermsg`: keep what cannot be delivered yet for when the channel opens.
    replay_last: bool,
    /// The input's kept message was asked for and has not arrived (nor a newer one).
    awaiting_replay: bool,
    /// The latest message that found no open channel (with `replay_last`).
    pending: Option<Vec<u8>>,
    /// Paused ([`crate::ShardCommand::PauseForward`]): messages are not delivered.
    paused: bool,
}

/// The shard's data forwarding: viewers per data input, and each PeerConnection's first
/// open data channel.
#[derive(Debug, Default)]
pub(crate) struct DataRoutes {
    viewers: HashMap<StreamKey, SmallVec<[DataSub; 4]>>,
    channels: HashMap<PeerId, ChannelId>,
}

impl DataRoutes {
    /// Data forwards (viewer × data input) on this shard, for the stats snapshot.
    pub(super) fn forward_count(&self) -> usize {
        self.viewers.values().map(SmallVec::len).sum()
    }
}

impl State {
    /// [`crate::ShardCommand::AddDataForward`].
    pub(super) fn add_data_forward(&mut self, s: &DataSubscription) {
        let Some(slot) = self.by_id.get(&s.subscriber).copied() else {
            self.fail_data(s.subscriber);
            return;
        };
        let channel = self.data.channels.get(&s.subscriber).copied();
        let viewers = self.data.viewers.entry(s.source).or_default();
        viewers.retain(|v| v.peer != s.subscriber);
        viewers.push(DataSub {
            peer: s.subscriber,
            slot,
            kind: s.kind,
            channel,
            replay_last: s.replay_last,
            awaiting_replay: s.replay_last,
            pending: None,
            paused: false,
        });
        if !s.replay_last {
            return;
        }
        if s.source_shard == self.id {
            self.data_replay_request(s.source, self.id);
        } else if self
            .mesh
            .push(
                s.source_shard.index(),
                XMsg::DataReplay { source: s.source },
            )
            .is_err()
        {
            self.counters.drop(DropReason::QueueFull);
        }
    }

    fn fail_data(&mut self, peer: PeerId) {
        let ev = ShardEvent::CommandFailed {
            reply: None,
            peer,
            error: ShardError::NoSuchPeer,
        };
        self.events.emit(ev, &mut self.counters);
    }

    /// Part of [`crate::ShardCommand::RemoveForward`]: `subscriber` stops receiving data
    /// input `source` (nothing happens for a media forward).
    pub(super) fn remove_data_forward(&mut self, subscriber: PeerId, source: StreamKey) {
        if let Some(viewers) = self.data.viewers.get_mut(&source) {
            viewers.retain(|v| v.peer != subscriber);
            if viewers.is_empty() {
                self.data.viewers.remove(&source);
            }
        }
    }

    /// Part of [`crate::ShardCommand::PauseForward`] (nothing happens for a media forward).
    pub(super) fn pause_data_forward(
        &mut self,
        subscriber: PeerId,
        source: StreamKey,
        paused: bool,
    ) {
        if let Some(viewers) = self.data.viewers.get_mut(&source) {
            for v in viewers.iter_mut().filter(|v| v.peer == subscriber) {
                v.paused = paused;
            }
        }
    }

    /// A PeerConnection left the shard: its data forwards and channels go with it.
    pub(super) fn forget_data_peer(&mut self, peer: PeerId) {
        self.data.channels.remove(&peer);
        self.data.viewers.retain(|_, viewers| {
            viewers.retain(|v| v.peer != peer);
            !viewers.is_empty()
        });
    }

    /// On the input's shard: one message of data input `source` to the other shards with
    /// viewers and to the local viewers.
    pub(super) fn fan_out_data(&mut self, source: StreamKey, msg: &[u8]) {
        if let Some(route) = self.fwd.routes.get(&source)
            && !route.shards.is_empty()
        {
            match self.pool.share(msg) {
                Some(buf) => {
                    for &(shard, _) in &route.shards {
                        let m = XMsg::Data {
                            source,
                            buf: buf.clone(),
                            len: msg.len() as u16,
                            replay: false,
                        };
                        match self.mesh.push(shard.index(), m) {
                            Ok(()) => self.counters.xshard_out += 1,
                            Err(_) => self.counters.drop(DropReason::QueueFull),
                        }
                    }
                }
                None => self
                    .counters
                    .drop_n(DropReason::PoolExhausted, route.shards.len() as u64),
            }
        }
        self.deliver_data(source, msg, false);
    }

    /// On the input's shard: shard `to` has a viewer starting with `buffermsg`; send it the
    /// input's kept latest message, if there is one.
    pub(super) fn data_replay_request(&mut self, source: StreamKey, to: ShardId) {
        let Some((buf, len)) = self.share_data_last(source) else {
            return;
        };
        if to == self.id {
            let msg = buf.data.get(..usize::from(len)).unwrap_or(&[]);
            self.deliver_data(source, msg, true);
            return;
        }
        let m = XMsg::Data {
            source,
            buf,
            len,
            replay: true,
        };
        match self.mesh.push(to.index(), m) {
            Ok(()) => self.counters.xshard_out += 1,
            Err(_) => self.counters.drop(DropReason::QueueFull),
        }
    }

    /// Writes one message of `source` on the data channel of each local viewer (a `replay`
    /// only to the viewers waiting for one).
    pub(super) fn deliver_data(&mut self, source: StreamKey, msg: &[u8], replay: bool) {
        let Self {
            data,
            sessions,
            counters,
            dirty,
            ..
        } = self;
        let Some(viewers) = data.viewers.get_mut(&source) else {
            return;
        };
        for v in viewers.iter_mut() {
            if v.paused {
                counters.paused_skipped += 1;
                continue;
            }
            if replay && !v.awaiting_replay {
                continue;
            }
            // A live message is newer than any replay still on its way.
            v.awaiting_replay = false;
            let Some(s) = sessions.get_mut(v.slot).filter(|s| s.id == v.peer) else {
                continue;
            };
            match v.channel {
                Some(channel) => {
                    match s.peer.send_data(channel, v.kind, msg) {
                        Ok(()) => counters.data_out += 1,
                        Err(_) => counters.drop(DropReason::DataRejected),
                    }
                    if !s.dirty {
                        s.dirty = true;
                        dirty.push(v.slot);
                    }
                }
                None if v.replay_last => {
                    let p = v
                        .pending
                        .get_or_insert_with(|| Vec::with_capacity(MAX_DATAGRAM));
                    p.clear();
                    p.extend_from_slice(msg);
                }
                None => counters.drop(DropReason::ChannelNotOpen),
            }
        }
    }

    /// A data channel of the session in `slot` opened (by either side): the first one
    /// becomes its viewers' channel, and what waited for it is sent.
    pub(super) fn data_channel_opened(&mut self, slot: usize, id: ChannelId) {
        let Self {
            data,
            sessions,
            counters,
            dirty,
            ..
        } = self;
        let Some(s) = sessions.get_mut(slot) else {
            return;
        };
        let channel = *data.channels.entry(s.id).or_insert(id);
        let mut sent = false;
        for v in data.viewers.values_mut().flatten() {
            if v.peer != s.id || v.channel.is_some() {
                continue;
            }
            v.channel = Some(channel);
            if let Some(msg) = v.pending.take() {
                match s.peer.send_data(channel, v.kind, &msg) {
                    Ok(()) => counters.data_out += 1,
                    Err(_) => counters.drop(DropReason::DataRejected),
                }
                sent = true;
            }
        }
        if sent {
            // Called while the session's events are drained (its dirty flag still set):
            // queue it again so what was just written goes out in this iteration.
            s.dirty = true;
            dirty.push(slot);
        }
    }

    /// A data channel of the session in `slot` closed: when it was its viewers' channel,
    /// they wait for another one.
    pub(super) fn data_channel_closed(&mut self, slot: usize, id: ChannelId) {
        let Some(peer) = self.sessions.get(slot).map(|s| s.id) else {
            return;
        };
        if self.data.channels.get(&peer) != Some(&id) {
            return;
        }
        self.data.channels.remove(&peer);
        for v in self.data.viewers.values_mut().flatten() {
            if v.peer == peer {
                v.channel = None;
            }
        }
    }
}
