//! Candidates and the check list of the full agent (RFC 8445 §6.1.2), as plain data.

use core::net::SocketAddr;
use core::time::Duration;
use std::time::Instant;

use portunus_stun::TransactionId;

use crate::priority::{CandidateType, candidate_priority, pair_priority};
use crate::{CandidatePair, IceError, IceRole};

/// Component id of the single BUNDLEd, rtcp-muxed component.
const COMPONENT: u8 = 1;

#[derive(Debug, Clone, Copy)]
pub(super) struct LocalCandidate {
    pub(super) addr: SocketAddr,
    pub(super) local_preference: u16,
    pub(super) priority: u32,
}

impl LocalCandidate {
    /// The PRIORITY a check from this candidate carries: its priority as if it were
    /// peer-reflexive (RFC 8445 §7.1.1).
    pub(super) const fn prflx_priority(&self) -> u32 {
        candidate_priority(
            CandidateType::PeerReflexive,
            self.local_preference,
            COMPONENT,
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct RemoteCandidate {
    pub(super) addr: SocketAddr,
    pub(super) priority: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PairState {
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}

/// One outstanding STUN transaction (RFC 8489 §6.2.1 retransmission state).
#[derive(Debug, Clone, Copy)]
pub(super) struct Transaction {
    pub(super) tid: TransactionId,
    pub(super) use_candidate: bool,
    /// The role the request claimed, to tell whether a 487 still calls for a switch.
    pub(super) controlling: bool,
    pub(super) next_at: Instant,
    pub(super) rto: Duration,
    pub(super) transmits: u32,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    pub(super) local: usize,
    pub(super) remote: usize,
    pub(super) priority: u64,
    pub(super) state: PairState,
    pub(super) tx: Option<Transaction>,
    /// The peer sent USE-CANDIDATE on this pair (matters in the controlled role).
    pub(super) peer_nominated: bool,
}

/// Candidates and pairs, bounded by the configured limits.
#[derive(Debug)]
pub(super) struct CheckList {
    pub(super) locals: Vec<LocalCandidate>,
    pub(super) remotes: Vec<RemoteCandidate>,
    pub(super) pairs: Vec<Pair>,
    max_candidates: usize,
    max_pairs: usize,
}

impl CheckList {
    pub(super) fn new(max_candidates: usize, max_pairs: usize) -> Self {
        Self {
            locals: Vec::with_capacity(max_candidates),
            remotes: Vec::with_capacity(max_candidates),
            pairs: Vec::with_capacity(max_pairs),
            max_candidates,
            max_pairs,
        }
    }

    /// Adds a host candidate. Local preference favours IPv6 over IPv4 (RFC 8421 §4), then
    /// the order of addition; returns the candidate's priority.
    pub(super) fn add_local(&mut self, addr: SocketAddr, role: IceRole) -> Result<u32, IceError> {
        if let Some(c) = self.locals.iter().find(|c| c.addr == addr) {
            return Ok(c.priority);
        }
        if self.locals.len() >= self.max_candidates {
            return Err(IceError::LimitReached);
        }
        let base: u16 = if addr.is_ipv6() { 65_535 } else { 32_767 };
        let local_preference = base.saturating_sub(self.locals.len() as u16);
        let priority = candidate_priority(CandidateType::Host, local_preference, COMPONENT);
        self.locals.push(LocalCandidate {
            addr,
            local_preference,
            priority,
        });
        let li = self.locals.len() - 1;
        for ri in 0..self.remotes.len() {
            self.add_pair(li, ri, role);
        }
        Ok(priority)
    }

    /// Adds (or finds) a remote candidate and pairs it with every local one of its family.
    pub(super) fn add_remote(
        &mut self,
        addr: SocketAddr,
        priority: u32,
        role: IceRole,
    ) -> Result<usize, IceError> {
        if let Some(i) = self.remote_index(addr) {
            return Ok(i);
        }
        if self.remotes.len() >= self.max_candidates {
            return Err(IceError::LimitReached);
        }
        self.remotes.push(RemoteCandidate { addr, priority });
        let ri = self.remotes.len() - 1;
        for li in 0..self.locals.len() {
            self.add_pair(li, ri, role);
        }
        Ok(ri)
    }

    pub(super) fn local_index(&self, addr: SocketAddr) -> Option<usize> {
        self.locals.iter().position(|c| c.addr == addr)
    }

    pub(super) fn remote_index(&self, addr: SocketAddr) -> Option<usize> {
        self.remotes.iter().position(|c| c.addr == addr)
    }

    pub(super) fn pair_index(&self, local: usize, remote: usize) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.local == local && p.remote == remote)
    }

    pub(super) fn find(&self, pair: CandidatePair) -> Option<usize> {
        let li = self.local_index(pair.local)?;
        let ri = self.remote_index(pair.remote)?;
        self.pair_index(li, ri)
    }

    pub(super) fn addresses(&self, idx: usize) -> CandidatePair {
        let p = &self.pairs[idx];
        CandidatePair {
            local: self.locals[p.local].addr,
            remote: self.remotes[p.remote].addr,
        }
    }

    /// Pairs local `li` with remote `ri` when the families match and there is room.
    pub(super) fn add_pair(&mut self, li: usize, ri: usize, role: IceRole) -> Option<usize> {
        let (l, r) = (&self.locals[li], &self.remotes[ri]);
        if l.addr.is_ipv4() != r.addr.is_ipv4() || self.pairs.len() >= self.max_pairs {
            return None;
        }
        if let Some(i) = self.pair_index(li, ri) {
            return Some(i);
        }
        self.pairs.push(Pair {
            local: li,
            remote: ri,
            priority: priority_for(role, l.priority, r.priority),
            state: PairState::Waiting,
            tx: None,
            peer_nominated: false,
        });
        Some(self.pairs.len() - 1)
    }

    /// After a role switch, pair priorities change (RFC 8445 §7.2.5.1).
    pub(super) fn recompute_priorities(&mut self, role: IceRole) {
        for p in &mut self.pairs {
            let (l, r) = (
                self.locals[p.local].priority,
                self.remotes[p.remote].priority,
            );
            p.priority = priority_for(role, l, r);
        }
    }

    /// The highest-priority pair waiting for its first check (RFC 8445 §6.1.4.2).
    pub(super) fn best_waiting(&self) -> Option<usize> {
        self.best_in(PairState::Waiting)
    }

    /// The highest-priority valid pair.
    pub(super) fn best_succeeded(&self) -> Option<usize> {
        self.best_in(PairState::Succeeded)
    }

    fn best_in(&self, state: PairState) -> Option<usize> {
        self.pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state == state && p.tx.is_none())
            .max_by_key(|(_, p)| p.priority)
            .map(|(i, _)| i)
    }

    /// The pair whose outstanding transaction is `tid`.
    pub(super) fn by_transaction(&self, tid: TransactionId) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.tx.is_some_and(|t| t.tid == tid))
    }

    /// True while some pair may still succeed.
    pub(super) fn any_pending(&self) -> bool {
        self.pairs.iter().any(|p| {
            matches!(p.state, PairState::Waiting | PairState::InProgress) || p.tx.is_some()
        })
    }
}

fn priority_for(role: IceRole, local: u32, remote: u32) -> u64 {
    match role {
        IceRole::Controlling => pair_priority(local, remote),
        IceRole::Controlled => pair_priority(remote, local),
    }
}
