//! A two-peer, virtual-time network for the ICE agents: datagrams travel with a fixed
//! latency, and a link rule decides which (from, to) paths deliver.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portunus_ice::{
    IceAgent, IceAgentConfig, IceCredentials, IceError, IceEvent, IceLite, IceLiteConfig, IceState,
    IceTransmit, MAX_MESSAGE_LEN,
};

pub(crate) const HOST_PRIORITY: u32 = 2_130_706_431;

/// One side of the simulation.
pub(crate) enum Peer {
    Lite(Box<IceLite>),
    Agent(Box<IceAgent>),
}

impl Peer {
    pub(crate) fn handle_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        d: &[u8],
    ) -> Result<(), IceError> {
        match self {
            Self::Lite(p) => p.handle_stun(now, local, remote, d),
            Self::Agent(p) => p.handle_stun(now, local, remote, d),
        }
    }
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Self::Lite(p) => p.handle_timeout(now),
            Self::Agent(p) => p.handle_timeout(now),
        }
    }
    pub(crate) fn poll_transmit(&mut self, out: &mut [u8]) -> Option<IceTransmit> {
        match self {
            Self::Lite(p) => p.poll_transmit(out),
            Self::Agent(p) => p.poll_transmit(out),
        }
    }
    pub(crate) fn poll_event(&mut self) -> Option<IceEvent> {
        match self {
            Self::Lite(p) => p.poll_event(),
            Self::Agent(p) => p.poll_event(),
        }
    }
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::Lite(p) => p.poll_timeout(),
            Self::Agent(p) => p.poll_timeout(),
        }
    }
    pub(crate) fn state(&self) -> IceState {
        match self {
            Self::Lite(p) => p.state(),
            Self::Agent(p) => p.state(),
        }
    }
    pub(crate) fn lite(&mut self) -> &mut IceLite {
        match self {
            Self::Lite(p) => p,
            Self::Agent(_) => panic!("not a lite peer"),
        }
    }
    pub(crate) fn agent(&mut self) -> &mut IceAgent {
        match self {
            Self::Agent(p) => p,
            Self::Lite(_) => panic!("not a full agent"),
        }
    }
}

/// Everything one side saw and did.
pub(crate) struct Side {
    pub(crate) peer: Peer,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) events: Vec<(Duration, IceEvent)>,
    pub(crate) sent: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    pub(crate) errors: Vec<IceError>,
}

impl Side {
    pub(crate) fn new(peer: Peer, addrs: &[&str]) -> Self {
        Self {
            peer,
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            events: Vec::new(),
            sent: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn has_event(&self, e: &IceEvent) -> bool {
        self.events.iter().any(|(_, x)| x == e)
    }

    pub(crate) fn count(&self, pred: impl Fn(&IceEvent) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| pred(e)).count()
    }
}

struct InFlight {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
}

pub(crate) struct Sim {
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    pub(crate) a: Side,
    pub(crate) b: Side,
    pub(crate) latency: Duration,
    /// Which paths deliver: `link(from, to)`.
    pub(crate) link: Box<dyn Fn(SocketAddr, SocketAddr) -> bool>,
    in_flight: Vec<InFlight>,
}

pub(crate) fn creds(seed: u8) -> IceCredentials {
    IceCredentials::generate(&[seed; 32])
}

impl Sim {
    pub(crate) fn new(a: Side, b: Side) -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            a,
            b,
            latency: Duration::from_millis(10),
            link: Box::new(|_, _| true),
            in_flight: Vec::new(),
        }
    }

    /// A full agent (side `a`, seed 1, controlling by default) checking an ICE-lite server
    /// (side `b`), credentials exchanged and every lite address given as a remote candidate.
    pub(crate) fn agent_and_lite(
        agent_addrs: &[&str],
        lite_addrs: &[&str],
        config: IceAgentConfig,
    ) -> Self {
        let (ac, lc) = (creds(1), creds(2));
        let mut lite = IceLite::new(IceLiteConfig::default(), lc.clone());
        lite.set_remote_credentials(ac.clone());
        let b = Side::new(Peer::Lite(Box::new(lite)), lite_addrs);
        let start = Instant::now();
        let mut agent = IceAgent::new(start, config, ac, 1);
        agent.set_remote_credentials(lc);
        let a = Side::new(Peer::Agent(Box::new(agent)), agent_addrs);
        let mut sim = Self::new(a, b);
        sim.start = start;
        sim.now = start;
        let lite_addrs = sim.b.addrs.clone();
        let agent = sim.a.peer.agent();
        for addr in sim.a.addrs.clone() {
            agent.add_local_candidate(addr).unwrap();
        }
        for addr in lite_addrs {
            agent.add_remote_candidate(addr, HOST_PRIORITY).unwrap();
        }
        agent.end_of_remote_candidates();
        sim
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Runs the network for `d` of virtual time.
    pub(crate) fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..1_000_000 {
            self.flush(true);
            self.flush(false);
            let next = [
                self.a.peer.poll_timeout(),
                self.b.peer.poll_timeout(),
                self.in_flight.iter().map(|f| f.at).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let next = match next {
                Some(t) if t <= end => t.max(self.now),
                _ => {
                    self.now = end;
                    return;
                }
            };
            self.now = next;
            self.deliver_due();
            let now = self.now;
            self.a.peer.handle_timeout(now);
            self.b.peer.handle_timeout(now);
        }
        panic!("simulation did not settle");
    }

    fn deliver_due(&mut self) {
        let now = self.now;
        let (due, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|f| f.at <= now);
        self.in_flight = rest;
        for f in due {
            let side = if self.a.addrs.contains(&f.to) {
                &mut self.a
            } else if self.b.addrs.contains(&f.to) {
                &mut self.b
            } else {
                continue;
            };
            if let Err(e) = side.peer.handle_stun(now, f.to, f.from, &f.data) {
                side.errors.push(e);
            }
        }
    }

    /// Moves one side's transmits onto the wire and records its events.
    fn flush(&mut self, side_a: bool) {
        let now = self.now;
        let elapsed = self.elapsed();
        let side = if side_a { &mut self.a } else { &mut self.b };
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        while let Some(t) = side.peer.poll_transmit(&mut buf) {
            let data = buf[..t.len].to_vec();
            side.sent.push((t.local, t.remote, data.clone()));
            if (self.link)(t.local, t.remote) {
                self.in_flight.push(InFlight {
                    at: now + self.latency,
                    from: t.local,
                    to: t.remote,
                    data,
                });
            }
        }
        while let Some(e) = side.peer.poll_event() {
            side.events.push((elapsed, e));
        }
    }
}
