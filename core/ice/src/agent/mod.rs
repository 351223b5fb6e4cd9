//! The full controlling agent (RFC 8445 §6-§8) used by the load generator and tests.

mod checklist;
mod timers;

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;
use std::time::Instant;

use portunus_stun::{IntegrityKey, StunMessage, TransactionId, codes};

use self::checklist::{CheckList, PairState};
use crate::check::{self, CheckRequest, Expect, Inbound, Reply, ReplyKind, ValidRequest};
use crate::rng::SplitMix64;
use crate::{CandidatePair, IceCredentials, IceError, IceEvent, IceRole, IceState, IceTransmit};

/// Settings of an [`IceAgent`], fixed at construction.
#[derive(Debug, Clone)]
pub struct IceAgentConfig {
    /// Pacing: at most one new check transaction per `ta` (RFC 8445 §14.2; default 50 ms).
    pub ta: Duration,
    /// First retransmission timeout of a check (RFC 8489 §6.2.1; default 500 ms).
    pub initial_rto: Duration,
    /// The timeout doubles per retransmission up to this (default 1.6 s).
    pub max_rto: Duration,
    /// Transmissions of a check before its pair fails (RFC 8489 Rc; default 7). With the
    /// defaults a dead pair fails 9.5 s after its first check.
    pub max_transmits: u32,
    /// Mean interval of consent checks on the selected pair; each is drawn uniformly from
    /// 0.8-1.2 times this (RFC 7675 §5.1; default 5 s, so 4-6 s).
    pub consent_interval: Duration,
    /// Consent is lost after this long without a response (RFC 7675 §5.1; default 30 s).
    pub consent_timeout: Duration,
    /// Most local and most remote candidates (each; default 16).
    pub max_candidates: usize,
    /// Most candidate pairs (default 64).
    pub max_pairs: usize,
    /// Starting role (default controlling); role conflicts may switch it (RFC 8445 §7.3.1.1).
    pub role: IceRole,
    /// The 64-bit tie-breaker; `None` draws it from the seed.
    pub tie_breaker: Option<u64>,
}

impl Default for IceAgentConfig {
    fn default() -> Self {
        Self {
            ta: Duration::from_millis(50),
            initial_rto: Duration::from_millis(500),
            max_rto: Duration::from_millis(1600),
            max_transmits: 7,
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            max_candidates: 16,
            max_pairs: 64,
            role: IceRole::Controlling,
            tie_breaker: None,
        }
    }
}

/// A full ICE agent for one data stream with one component, normally controlling.
///
/// * The caller supplies host candidates ([`Self::add_local_candidate`]) and trickles the
///   peer's ([`Self::add_remote_candidate`], [`Self::end_of_remote_candidates`]).
/// * Checks start in pair-priority order, one new transaction per `ta`, and retransmit
///   with a doubling RTO. Checks received from the peer are answered (a full agent
///   responds too), trigger a check back on their pair, and teach peer-reflexive remote
///   candidates.
/// * Nomination is *regular nomination of the first valid pair* (RFC 8445 §8.1.1, without
///   waiting for better pairs): as soon as one check succeeds, a second check with
///   USE-CANDIDATE goes out on that pair; its success selects the pair. This suits ICE-lite
///   peers, which select what is nominated. USE-CANDIDATE is never put on ordinary checks
///   (aggressive nomination), so a lite peer's "latest nomination wins" rule cannot pick a
///   different pair than ours. [`Self::renominate`] moves the selection to another valid pair.
/// * In the controlled role (after a role conflict, or configured) the peer's USE-CANDIDATE
///   selects a pair once it is valid.
/// * Consent freshness (RFC 7675): once selected, the pair gets a Binding request every
///   4-6 s (randomized from the seed, not retransmitted); if no response arrives for
///   `consent_timeout`, `ConsentLost` then `Failed` are emitted.
/// * `Failed` is also emitted when, after [`Self::end_of_remote_candidates`], every pair
///   has failed.
///
/// All randomness (transaction ids, tie-breaker, consent jitter) comes from the `seed`.
#[derive(Debug)]
pub struct IceAgent {
    config: IceAgentConfig,
    local: IceCredentials,
    local_key: IntegrityKey,
    remote: Option<(IceCredentials, IntegrityKey)>,
    role: IceRole,
    tie_breaker: u64,
    rng: SplitMix64,
    now: Instant,
    state: IceState,
    list: CheckList,
    /// Pairs owed a triggered check; `true` puts USE-CANDIDATE on it.
    triggered: VecDeque<(usize, bool)>,
    last_paced: Option<Instant>,
    end_of_candidates: bool,
    selected: Option<usize>,
    nominating: Option<usize>,
    consent: Option<Consent>,
    out: VecDeque<Outgoing>,
    events: VecDeque<IceEvent>,
}

/// Consent-freshness state of the selected pair (RFC 7675 §5.1).
#[derive(Debug, Clone, Copy)]
struct Consent {
    last_response: Instant,
    next_check: Instant,
    /// Recent consent transactions; consent checks are not retransmitted, so a response
    /// to any of these refreshes consent.
    recent: [Option<TransactionId>; 4],
    next_slot: usize,
}

#[derive(Debug, Clone, Copy)]
enum Outgoing {
    Request {
        pair: usize,
        tid: TransactionId,
        use_candidate: bool,
        controlling: bool,
    },
    Reply(Reply),
}

impl IceAgent {
    /// A new agent with `local` credentials; `seed` feeds every random choice. `now` is the
    /// time of creation (the first checks are due at once).
    pub fn new(now: Instant, config: IceAgentConfig, local: IceCredentials, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let drawn = rng.next_u64();
        let tie_breaker = config.tie_breaker.unwrap_or(drawn);
        Self {
            local_key: IntegrityKey::new(local.pwd().as_bytes()),
            local,
            remote: None,
            role: config.role,
            tie_breaker,
            rng,
            now,
            state: IceState::New,
            list: CheckList::new(config.max_candidates, config.max_pairs),
            triggered: VecDeque::with_capacity(config.max_pairs),
            last_paced: None,
            end_of_candidates: false,
            selected: None,
            nominating: None,
            consent: None,
            out: VecDeque::with_capacity(config.max_pairs * 2),
            events: VecDeque::with_capacity(8),
            config,
        }
    }

    /// Our credentials, for the local description.
    pub const fn local_credentials(&self) -> &IceCredentials {
        &self.local
    }

    /// The peer's credentials; checks start once they are known.
    pub fn set_remote_credentials(&mut self, remote: IceCredentials) {
        let key = IntegrityKey::new(remote.pwd().as_bytes());
        self.remote = Some((remote, key));
    }

    /// Adds a local host address (the socket checks are sent from) and returns its
    /// candidate priority for the local description.
    ///
    /// # Errors
    /// [`IceError::LimitReached`] beyond `max_candidates`.
    pub fn add_local_candidate(&mut self, addr: SocketAddr) -> Result<u32, IceError> {
        self.list.add_local(addr, self.role)
    }

    /// The local candidates and their priorities, in order of addition.
    pub fn local_candidates(&self) -> impl Iterator<Item = (SocketAddr, u32)> + '_ {
        self.list.locals.iter().map(|c| (c.addr, c.priority))
    }

    /// Adds a remote candidate from the peer's description or a trickled `a=candidate`;
    /// duplicates are ignored.
    ///
    /// # Errors
    /// [`IceError::LimitReached`] beyond `max_candidates`; [`IceError::AgentFailed`].
    pub fn add_remote_candidate(
        &mut self,
        addr: SocketAddr,
        priority: u32,
    ) -> Result<(), IceError> {
        if self.state == IceState::Failed {
            return Err(IceError::AgentFailed);
        }
        self.list.add_remote(addr, priority, self.role).map(|_| ())
    }

    /// The peer signalled end-of-candidates: once every pair has failed, the agent fails.
    pub fn end_of_remote_candidates(&mut self) {
        self.end_of_candidates = true;
    }

    /// Current role (it changes on a role conflict).
    pub const fn role(&self) -> IceRole {
        self.role
    }

    /// Our tie-breaker (RFC 8445 §7.1.3).
    pub const fn tie_breaker(&self) -> u64 {
        self.tie_breaker
    }

    /// Current state.
    pub const fn state(&self) -> IceState {
        self.state
    }

    /// The selected pair, once connected.
    pub fn selected_pair(&self) -> Option<CandidatePair> {
        self.selected.map(|i| self.list.addresses(i))
    }

    /// Controlling role only: nominates another valid pair (a check with USE-CANDIDATE); on
    /// success it becomes the selected pair on both sides.
    ///
    /// # Errors
    /// [`IceError::UnknownPair`] unless `pair` has succeeded a check and we are controlling.
    pub fn renominate(&mut self, pair: CandidatePair) -> Result<(), IceError> {
        let idx = self.list.find(pair).ok_or(IceError::UnknownPair)?;
        if self.role != IceRole::Controlling || self.list.pairs[idx].state != PairState::Succeeded {
            return Err(IceError::UnknownPair);
        }
        self.triggered.push_front((idx, true));
        Ok(())
    }

    /// Feeds one datagram that arrived at `now` on `local` from `remote`.
    ///
    /// # Errors
    /// The datagram was dropped or rejected; see [`IceError`]. Requests may get an error
    /// response queued.
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
        self.now = self.now.max(now);
        let expect = Expect {
            local_ufrag: self.local.ufrag().as_bytes(),
            remote_ufrag: self.remote.as_ref().map(|(c, _)| c.ufrag().as_bytes()),
            key: &self.local_key,
        };
        match check::classify(datagram, &expect, local, remote) {
            Ok(Inbound::Request(req)) => self.handle_request(local, remote, &req),
            Ok(Inbound::Response(msg)) => self.handle_response(local, remote, &msg),
            Ok(Inbound::Indication) => Ok(()),
            Err(rejection) => {
                if let Some(reply) = rejection.reply {
                    self.out.push_back(Outgoing::Reply(reply));
                }
                Err(rejection.error)
            }
        }
    }

    /// Writes the next datagram into `out` (at least [`crate::MAX_MESSAGE_LEN`] bytes);
    /// `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<IceTransmit> {
        while let Some(o) = self.out.pop_front() {
            let (pair, written) = match o {
                Outgoing::Reply(r) => (
                    CandidatePair {
                        local: r.local,
                        remote: r.remote,
                    },
                    r.write(&self.local_key, out),
                ),
                Outgoing::Request {
                    pair,
                    tid,
                    use_candidate,
                    controlling,
                } => {
                    let Some((remote, key)) = &self.remote else {
                        continue;
                    };
                    let p = &self.list.pairs[pair];
                    let req = CheckRequest {
                        tid,
                        local_ufrag: self.local.ufrag().as_bytes(),
                        remote_ufrag: remote.ufrag().as_bytes(),
                        priority: self.list.locals[p.local].prflx_priority(),
                        controlling,
                        tie_breaker: self.tie_breaker,
                        use_candidate,
                    };
                    (self.list.addresses(pair), req.write(key, out))
                }
            };
            // Only a too-small `out` fails; the message is skipped, as a loss would be.
            if let Ok(len) = written {
                return Some(IceTransmit {
                    local: pair.local,
                    remote: pair.remote,
                    len,
                });
            }
        }
        None
    }

    /// The next state change, if any.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// Answers a valid check: role conflict (RFC 8445 §7.3.1.1), success response, learning
    /// a peer-reflexive remote candidate, triggered check, and the peer's nomination.
    fn handle_request(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        req: &ValidRequest<'_>,
    ) -> Result<(), IceError> {
        let reply = |kind| {
            Outgoing::Reply(Reply {
                local,
                remote,
                tid: req.tid,
                kind,
            })
        };
        let conflict = match self.role {
            IceRole::Controlling => req.controlling.map(|t| self.tie_breaker >= t),
            IceRole::Controlled => req.controlled.map(|t| self.tie_breaker < t),
        };
        match conflict {
            Some(true) => {
                let code = codes::ROLE_CONFLICT;
                self.out.push_back(reply(ReplyKind::Error {
                    code,
                    integrity: true,
                }));
                return Err(IceError::RoleConflict);
            }
            Some(false) => self.switch_role(),
            None => {}
        }
        self.out.push_back(reply(ReplyKind::Success));
        let Some(li) = self.list.local_index(local) else {
            // Answered, but it came in on an address we were not told about.
            return Ok(());
        };
        let prflx = req.priority.unwrap_or(0);
        let Ok(ri) = self.list.add_remote(remote, prflx, self.role) else {
            return Ok(());
        };
        let Some(pi) = self.list.add_pair(li, ri, self.role) else {
            return Ok(());
        };
        if self.role == IceRole::Controlled && req.use_candidate {
            self.list.pairs[pi].peer_nominated = true;
            if self.list.pairs[pi].state == PairState::Succeeded {
                self.select(pi);
            }
        }
        let p = &mut self.list.pairs[pi];
        if matches!(p.state, PairState::Waiting | PairState::Failed) && p.tx.is_none() {
            p.state = PairState::Waiting;
            if !self.triggered.iter().any(|&(i, _)| i == pi) {
                self.triggered.push_back((pi, false));
            }
        }
        Ok(())
    }

    /// Matches a response to our transaction, authenticates it with the remote password and
    /// applies RFC 8445 §7.2.5.
    fn handle_response(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &StunMessage<'_>,
    ) -> Result<(), IceError> {
        let tid = msg.transaction_id();
        let Some((_, key)) = &self.remote else {
            return Err(IceError::Unexpected);
        };
        let authentic = msg.verify_integrity_with(key);
        if self.is_consent_response(tid) {
            return self.handle_consent_response(local, remote, msg, authentic);
        }
        let Some(pi) = self.list.by_transaction(tid) else {
            return Err(IceError::Unexpected);
        };
        let error = msg.error_code().map(|e| e.code);
        if error.is_none() && !authentic {
            return Err(portunus_stun::StunError::BadIntegrity.into());
        }
        let Some(tx) = self.list.pairs[pi].tx.take() else {
            return Err(IceError::Unexpected);
        };
        let addrs = self.list.addresses(pi);
        match error {
            // RFC 8445 §7.2.5.2.1: a response from elsewhere than the check went to fails it.
            None if addrs != (CandidatePair { local, remote }) => self.pair_failed(pi),
            None => self.pair_succeeded(pi, tx.use_candidate),
            Some(codes::ROLE_CONFLICT) if authentic => {
                // RFC 8445 §7.2.5.1: switch role unless we already did, then retry.
                if tx.controlling == (self.role == IceRole::Controlling) {
                    self.switch_role();
                }
                self.list.pairs[pi].state = PairState::Waiting;
                self.triggered.push_back((pi, false));
            }
            Some(_) => self.pair_failed(pi),
        }
        Ok(())
    }

    fn is_consent_response(&self, tid: TransactionId) -> bool {
        self.consent.is_some_and(|c| c.recent.contains(&Some(tid)))
    }

    fn handle_consent_response(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &StunMessage<'_>,
        authentic: bool,
    ) -> Result<(), IceError> {
        if !authentic
            || msg.error_code().is_some()
            || self.selected_pair() != Some(CandidatePair { local, remote })
        {
            // RFC 7675 §5.1: only an authenticated success on the same pair grants consent.
            return Err(IceError::Unexpected);
        }
        if let Some(c) = &mut self.consent {
            c.last_response = self.now;
        }
        Ok(())
    }

    fn pair_succeeded(&mut self, pi: usize, nominating: bool) {
        self.list.pairs[pi].state = PairState::Succeeded;
        if Some(pi) == self.selected {
            // Any authenticated response on the selected pair also proves consent.
            if let Some(c) = &mut self.consent {
                c.last_response = self.now;
            }
        }
        match self.role {
            IceRole::Controlling if nominating => self.select(pi),
            IceRole::Controlling if self.selected.is_none() && self.nominating.is_none() => {
                self.nominating = Some(pi);
                self.triggered.push_front((pi, true));
            }
            IceRole::Controlled if self.list.pairs[pi].peer_nominated => self.select(pi),
            _ => {}
        }
    }

    fn pair_failed(&mut self, pi: usize) {
        if Some(pi) != self.selected {
            self.list.pairs[pi].state = PairState::Failed;
        }
        if self.nominating == Some(pi) {
            self.nominating = None;
        }
        if self.role == IceRole::Controlling
            && self.selected.is_none()
            && self.nominating.is_none()
            && let Some(next) = self.list.best_succeeded()
        {
            self.nominating = Some(next);
            self.triggered.push_front((next, true));
        }
    }

    fn select(&mut self, pi: usize) {
        self.nominating = None;
        if self.selected != Some(pi) {
            self.selected = Some(pi);
            self.events
                .push_back(IceEvent::SelectedPairChanged(self.list.addresses(pi)));
            let next_check = self.now + self.consent_delay();
            self.consent = Some(Consent {
                last_response: self.now,
                next_check,
                recent: [None; 4],
                next_slot: 0,
            });
        }
        if self.state != IceState::Connected {
            self.state = IceState::Connected;
            self.events.push_back(IceEvent::Connected);
        }
    }

    fn switch_role(&mut self) {
        self.role = match self.role {
            IceRole::Controlling => IceRole::Controlled,
            IceRole::Controlled => IceRole::Controlling,
        };
        self.nominating = None;
        self.list.recompute_priorities(self.role);
    }

    /// A consent interval drawn from 0.8-1.2 × `consent_interval` (RFC 7675 §5.1).
    fn consent_delay(&mut self) -> Duration {
        let mean = self.config.consent_interval.as_millis() as u64;
        Duration::from_millis(self.rng.between(mean * 4 / 5, mean * 6 / 5))
    }
}
