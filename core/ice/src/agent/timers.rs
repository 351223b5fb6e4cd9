//! Time-driven work of the full agent: pacing, retransmission, consent, failure.

use std::time::Instant;

use super::checklist::{PairState, Transaction};
use super::{IceAgent, Outgoing};
use crate::{IceEvent, IceRole, IceState};

impl IceAgent {
    /// Runs everything due by `now`: retransmissions and check timeouts, the next paced
    /// check, consent checks and consent expiry, and the failure rule.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == IceState::Failed {
            return;
        }
        self.now = self.now.max(now);
        self.retransmit_due();
        self.pace();
        self.consent_due();
        self.evaluate_failure();
    }

    /// When [`Self::handle_timeout`] must next run; `None` once failed or idle.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == IceState::Failed {
            return None;
        }
        let retransmit = self
            .list
            .pairs
            .iter()
            .filter_map(|p| p.tx.map(|t| t.next_at))
            .min();
        let pacing = self.has_check_to_start().then(|| match self.last_paced {
            Some(last) => (last + self.config.ta).max(self.now),
            None => self.now,
        });
        let consent = self.consent.map(|c| {
            c.next_check
                .min(c.last_response + self.config.consent_timeout)
        });
        [retransmit, pacing, consent].into_iter().flatten().min()
    }

    fn has_check_to_start(&self) -> bool {
        self.remote.is_some() && (!self.triggered.is_empty() || self.list.best_waiting().is_some())
    }

    /// Retransmits due checks with a doubling RTO; a check out of transmissions fails its
    /// pair (RFC 8489 §6.2.1, RFC 8445 §7.2.5.2).
    fn retransmit_due(&mut self) {
        let now = self.now;
        for pi in 0..self.list.pairs.len() {
            let Some(mut tx) = self.list.pairs[pi].tx else {
                continue;
            };
            if now < tx.next_at {
                continue;
            }
            if tx.transmits >= self.config.max_transmits {
                self.list.pairs[pi].tx = None;
                self.pair_failed(pi);
                continue;
            }
            tx.transmits += 1;
            tx.rto = (tx.rto * 2).min(self.config.max_rto);
            tx.next_at = now + tx.rto;
            self.list.pairs[pi].tx = Some(tx);
            self.out.push_back(Outgoing::Request {
                pair: pi,
                tid: tx.tid,
                use_candidate: tx.use_candidate,
                controlling: tx.controlling,
            });
        }
    }

    /// Starts at most one new check per `ta`: triggered checks first, then the
    /// highest-priority waiting pair (RFC 8445 §6.1.4.2).
    fn pace(&mut self) {
        if self.remote.is_none() {
            return;
        }
        if self
            .last_paced
            .is_some_and(|last| self.now < last + self.config.ta)
        {
            return;
        }
        let next = loop {
            match self.triggered.pop_front() {
                Some((pi, nominate)) if self.list.pairs[pi].tx.is_none() => {
                    break Some((pi, nominate));
                }
                Some(_) => continue,
                None => break self.list.best_waiting().map(|pi| (pi, false)),
            }
        };
        if let Some((pi, nominate)) = next {
            // Only the controlling agent may put USE-CANDIDATE on a check.
            self.start_check(pi, nominate && self.role == IceRole::Controlling);
            self.last_paced = Some(self.now);
        }
    }

    fn start_check(&mut self, pi: usize, use_candidate: bool) {
        let tid = self.rng.transaction_id();
        let controlling = self.role == IceRole::Controlling;
        let pair = &mut self.list.pairs[pi];
        if pair.state == PairState::Waiting {
            pair.state = PairState::InProgress;
        }
        pair.tx = Some(Transaction {
            tid,
            use_candidate,
            controlling,
            next_at: self.now + self.config.initial_rto,
            rto: self.config.initial_rto,
            transmits: 1,
        });
        if self.state == IceState::New {
            self.state = IceState::Checking;
        }
        self.out.push_back(Outgoing::Request {
            pair: pi,
            tid,
            use_candidate,
            controlling,
        });
    }

    /// RFC 7675 §5.1 on the selected pair: a check every 4-6 s, and consent lost after
    /// `consent_timeout` without an authenticated response.
    fn consent_due(&mut self) {
        let (Some(pi), Some(mut c)) = (self.selected, self.consent) else {
            return;
        };
        if self.now >= c.last_response + self.config.consent_timeout {
            let pair = self.list.addresses(pi);
            self.events.push_back(IceEvent::ConsentLost(pair));
            self.fail();
            return;
        }
        if self.now >= c.next_check {
            let tid = self.rng.transaction_id();
            c.recent[c.next_slot] = Some(tid);
            c.next_slot = (c.next_slot + 1) % c.recent.len();
            c.next_check = self.now + self.consent_delay();
            self.out.push_back(Outgoing::Request {
                pair: pi,
                tid,
                use_candidate: false,
                controlling: self.role == IceRole::Controlling,
            });
        }
        self.consent = Some(c);
    }

    /// Before anything is selected: fail once candidates are complete and no pair can
    /// still succeed (RFC 8445 §8.1.2 with a single check list).
    fn evaluate_failure(&mut self) {
        if self.selected.is_some() || !self.end_of_candidates || self.remote.is_none() {
            return;
        }
        let succeeded = self
            .list
            .pairs
            .iter()
            .any(|p| p.state == PairState::Succeeded);
        if !succeeded && !self.list.any_pending() && self.triggered.is_empty() {
            self.fail();
        }
    }

    fn fail(&mut self) {
        self.state = IceState::Failed;
        self.selected = None;
        self.consent = None;
        self.out.clear();
        self.events.push_back(IceEvent::Failed);
    }
}
