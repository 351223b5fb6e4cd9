//! The ICE-lite controlled agent the server runs per peer (RFC 8445 §2.5, §7.3; RFC 7675).

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;
use std::time::Instant;

use portunus_stun::{IntegrityKey, codes};

use crate::check::{self, Expect, Inbound, Reply, ReplyKind};
use crate::{CandidatePair, IceCredentials, IceError, IceEvent, IceState, IceTransmit};

/// Settings of an [`IceLite`] agent, fixed at construction.
#[derive(Debug, Clone)]
pub struct IceLiteConfig {
    /// A pair with no valid check for this long loses consent (RFC 7675 §5.1: 30 s).
    pub consent_timeout: Duration,
    /// Most candidate pairs tracked; a new pair evicts the least recently checked
    /// unselected one. At least 1.
    pub max_pairs: usize,
    /// Most responses queued for `poll_transmit`; beyond it replies are dropped and counted
    /// (the peer retransmits).
    pub max_queued_transmits: usize,
}

impl Default for IceLiteConfig {
    fn default() -> Self {
        Self {
            consent_timeout: Duration::from_secs(30),
            max_pairs: 16,
            max_queued_transmits: 32,
        }
    }
}

/// Counters for what an [`IceLite`] agent did; cheap to read at any time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceLiteStats {
    /// Valid checks answered with a success response.
    pub checks_answered: u64,
    /// Of those, checks that arrived before [`IceLite::set_remote_credentials`].
    pub early_checks: u64,
    /// Error responses queued (400, 401, 420, 487).
    pub error_responses: u64,
    /// Responses dropped because the queue was full or `out` too small.
    pub dropped_transmits: u64,
    /// Pairs evicted to stay within `max_pairs`.
    pub evicted_pairs: u64,
}

/// ICE-lite responder for one peer: always controlled, never sends checks, answers the
/// peer's checks and follows its nominations. Owns no socket and never reads a clock.
///
/// * Checks are authenticated with the local password (RFC 8445 §7.3: the request's
///   MESSAGE-INTEGRITY uses the receiver's password), so they are answered even before the
///   remote description arrives. Until then the sender's ufrag (the part of USERNAME after
///   ':') is not checked; pairs learnt meanwhile remember a hash of it, and
///   [`Self::set_remote_credentials`] drops those whose ufrag does not match.
/// * USE-CANDIDATE nominates the pair; the latest nomination wins (browsers re-nominate).
/// * Consent (RFC 7675): every valid check refreshes its pair. A pair silent for
///   [`IceLiteConfig::consent_timeout`] is dropped; if it was selected, `ConsentLost` is
///   emitted and the most recently nominated remaining pair is selected, or `Disconnected`
///   when none is nominated. When no pair remains, the agent emits `Failed` and stops.
/// * A request carrying ICE-CONTROLLED gets 487 (RFC 8445 §7.3.1.1): a lite agent cannot
///   take the controlling role, so it behaves as if its tie-breaker always won.
///
/// Answering a check does not allocate: queues are sized at construction.
#[derive(Debug)]
pub struct IceLite {
    config: IceLiteConfig,
    local: IceCredentials,
    key: IntegrityKey,
    remote: Option<IceCredentials>,
    pairs: Vec<LitePair>,
    selected: Option<CandidatePair>,
    nominations: u64,
    state: IceState,
    replies: VecDeque<Reply>,
    events: VecDeque<IceEvent>,
    stats: IceLiteStats,
}

#[derive(Debug, Clone, Copy)]
struct LitePair {
    pair: CandidatePair,
    last_valid: Instant,
    /// Sequence number of the latest nomination of this pair; higher is newer.
    nominated: Option<u64>,
    /// FNV-1a of the sender's ufrag, to drop stale pairs once the remote ufrag is known.
    remote_ufrag_hash: u64,
}

impl IceLite {
    /// An agent answering checks for `local` credentials.
    pub fn new(config: IceLiteConfig, local: IceCredentials) -> Self {
        let key = IntegrityKey::new(local.pwd().as_bytes());
        let config = IceLiteConfig {
            max_pairs: config.max_pairs.max(1),
            max_queued_transmits: config.max_queued_transmits.max(1),
            ..config
        };
        Self {
            pairs: Vec::with_capacity(config.max_pairs),
            replies: VecDeque::with_capacity(config.max_queued_transmits),
            events: VecDeque::with_capacity(8),
            config,
            local,
            key,
            remote: None,
            selected: None,
            nominations: 0,
            state: IceState::New,
            stats: IceLiteStats::default(),
        }
    }

    /// Our credentials, for the local description.
    pub const fn local_credentials(&self) -> &IceCredentials {
        &self.local
    }

    /// Sets the peer's credentials from its description. Only the ufrag is used (a lite
    /// agent sends no requests, so it never needs the remote password). Pairs learnt from
    /// checks carrying another ufrag are dropped.
    pub fn set_remote_credentials(&mut self, remote: IceCredentials) {
        let hash = fnv1a(remote.ufrag().as_bytes());
        self.remote = Some(remote);
        let before = self.selected;
        self.pairs.retain(|p| p.remote_ufrag_hash == hash);
        if before.is_some() && !self.pairs.iter().any(|p| Some(p.pair) == before) {
            self.reselect();
        }
    }

    /// Current state.
    pub const fn state(&self) -> IceState {
        self.state
    }

    /// The pair media flows on: the latest nominated pair that still has consent.
    pub const fn selected_pair(&self) -> Option<CandidatePair> {
        self.selected
    }

    /// Counters.
    pub const fn stats(&self) -> &IceLiteStats {
        &self.stats
    }

    /// Feeds one datagram that arrived at `now` on `local` from `remote`.
    ///
    /// # Errors
    /// The datagram was dropped or rejected; see [`IceError`]. An error response may have
    /// been queued (400/401/420 for bad requests, 487 for a role conflict).
    pub fn handle_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), IceError> {
        if self.state == IceState::Failed {
            return Err(IceError::AgentFailed);
        }
        let expect = Expect {
            local_ufrag: self.local.ufrag().as_bytes(),
            remote_ufrag: self.remote.as_ref().map(|r| r.ufrag().as_bytes()),
            key: &self.key,
        };
        let req = match check::classify(datagram, &expect, local, remote) {
            Ok(Inbound::Request(req)) => req,
            Ok(Inbound::Indication) => return Ok(()),
            // We never send requests, so no response can be ours.
            Ok(Inbound::Response(_)) => return Err(IceError::Unexpected),
            Err(rejection) => {
                if let Some(reply) = rejection.reply {
                    self.queue_reply(reply);
                }
                return Err(rejection.error);
            }
        };
        let reply = |kind| Reply {
            local,
            remote,
            tid: req.tid,
            kind,
        };
        if req.controlled.is_some() {
            self.queue_reply(reply(ReplyKind::Error {
                code: codes::ROLE_CONFLICT,
                integrity: true,
            }));
            return Err(IceError::RoleConflict);
        }
        self.queue_reply(reply(ReplyKind::Success));
        self.stats.checks_answered += 1;
        if self.remote.is_none() {
            self.stats.early_checks += 1;
        }
        let pair = CandidatePair { local, remote };
        let idx = self.touch_pair(now, pair, fnv1a(req.remote_ufrag));
        if req.use_candidate {
            self.nominate(idx);
        }
        Ok(())
    }

    /// Expires pairs whose consent ran out by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == IceState::Failed || self.pairs.is_empty() {
            return;
        }
        let timeout = self.config.consent_timeout;
        let selected = self.selected;
        let mut lost_selected = false;
        self.pairs.retain(|p| {
            let fresh = now < p.last_valid + timeout;
            if !fresh && Some(p.pair) == selected {
                lost_selected = true;
            }
            fresh
        });
        if lost_selected {
            if let Some(pair) = selected {
                self.events.push_back(IceEvent::ConsentLost(pair));
            }
            self.selected = None;
        }
        if self.pairs.is_empty() {
            self.state = IceState::Failed;
            self.selected = None;
            self.events.push_back(IceEvent::Failed);
        } else if lost_selected {
            self.reselect();
        }
    }

    /// Writes the next queued response into `out` (at least [`crate::MAX_MESSAGE_LEN`]
    /// bytes); `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<IceTransmit> {
        while let Some(reply) = self.replies.pop_front() {
            match reply.write(&self.key, out) {
                Ok(len) => {
                    return Some(IceTransmit {
                        local: reply.local,
                        remote: reply.remote,
                        len,
                    });
                }
                Err(_) => self.stats.dropped_transmits += 1,
            }
        }
        None
    }

    /// The next state change, if any.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must next run: the earliest consent expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == IceState::Failed {
            return None;
        }
        let timeout = self.config.consent_timeout;
        self.pairs.iter().map(|p| p.last_valid + timeout).min()
    }

    fn queue_reply(&mut self, reply: Reply) {
        if !matches!(reply.kind, ReplyKind::Success) {
            self.stats.error_responses += 1;
        }
        if self.replies.len() >= self.config.max_queued_transmits {
            self.stats.dropped_transmits += 1;
            return;
        }
        self.replies.push_back(reply);
    }

    /// Refreshes (or creates) the pair's consent and returns its index.
    fn touch_pair(&mut self, now: Instant, pair: CandidatePair, remote_ufrag_hash: u64) -> usize {
        if self.state == IceState::New {
            self.state = IceState::Checking;
        }
        if let Some(i) = self.pairs.iter().position(|p| p.pair == pair) {
            self.pairs[i].last_valid = now;
            self.pairs[i].remote_ufrag_hash = remote_ufrag_hash;
            return i;
        }
        if self.pairs.len() >= self.config.max_pairs {
            self.evict_one();
        }
        self.pairs.push(LitePair {
            pair,
            last_valid: now,
            nominated: None,
            remote_ufrag_hash,
        });
        self.pairs.len() - 1
    }

    /// Drops the least recently checked unselected pair.
    fn evict_one(&mut self) {
        let victim = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| Some(p.pair) != self.selected)
            .min_by_key(|(_, p)| p.last_valid)
            .map(|(i, _)| i);
        if let Some(i) = victim {
            self.pairs.swap_remove(i);
            self.stats.evicted_pairs += 1;
        }
    }

    fn nominate(&mut self, idx: usize) {
        self.nominations += 1;
        self.pairs[idx].nominated = Some(self.nominations);
        self.select(self.pairs[idx].pair);
    }

    /// Selects the most recently nominated pair left, or goes `Disconnected`.
    fn reselect(&mut self) {
        let best = self
            .pairs
            .iter()
            .filter_map(|p| Some((p.nominated?, p.pair)))
            .max_by_key(|(seq, _)| *seq);
        match best {
            Some((_, pair)) => self.select(pair),
            None => {
                self.selected = None;
                if self.state == IceState::Connected {
                    self.state = IceState::Disconnected;
                    self.events.push_back(IceEvent::Disconnected);
                }
            }
        }
    }

    fn select(&mut self, pair: CandidatePair) {
        if self.selected != Some(pair) {
            self.selected = Some(pair);
            self.events.push_back(IceEvent::SelectedPairChanged(pair));
        }
        if self.state != IceState::Connected {
            self.state = IceState::Connected;
            self.events.push_back(IceEvent::Connected);
        }
    }
}

/// FNV-1a, 64-bit: enough to tell ufrags apart without storing them per pair.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
