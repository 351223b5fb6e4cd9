//! Several mixer threads sharing the rooms. A room lives on one thread, which owns its
//! codecs and receives its participants' feeds on its own socket ([`MixerPool::room_addr`]);
//! a room opens on the thread carrying the fewest participants (then the fewest rooms), and
//! threads start only when a room first needs them. Commands name a mix, a participant or a
//! forwarder, and the pool routes each to the thread holding it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::counters::MixStats;
use crate::thread::{MixerCommand, MixerThread};

/// One mixer thread of the pool (not started until a room is placed on it).
#[derive(Debug, Default)]
struct Worker {
    thread: Option<MixerThread>,
    rooms: usize,
    participants: usize,
}

/// Mixer threads with rooms placed on them; the control plane's handle on the mixer.
#[derive(Debug)]
pub struct MixerPool {
    bind: IpAddr,
    workers: Vec<Worker>,
    /// Mix → worker.
    rooms: HashMap<u64, usize>,
    /// Participant → mix.
    participants: HashMap<u64, u64>,
    /// Forwarder → mix.
    forwarders: HashMap<u32, u64>,
}

impl MixerPool {
    /// A pool of at most `threads` mixer threads (at least one) whose sockets bind on
    /// `bind`; none runs until a room opens.
    pub fn new(bind: IpAddr, threads: usize) -> Self {
        Self {
            bind,
            workers: (0..threads.max(1)).map(|_| Worker::default()).collect(),
            rooms: HashMap::new(),
            participants: HashMap::new(),
            forwarders: HashMap::new(),
        }
    }

    /// Where the participants of `mix` must send their RTP (the socket of its thread).
    pub fn room_addr(&self, mix: u64) -> Option<SocketAddr> {
        let worker = self.workers.get(*self.rooms.get(&mix)?)?;
        worker.thread.as_ref().map(MixerThread::local_addr)
    }

    /// Mixer threads started so far.
    pub fn threads_running(&self) -> usize {
        self.workers.iter().filter(|w| w.thread.is_some()).count()
    }

    /// The counters of every thread, summed.
    pub fn stats(&self) -> MixStats {
        let mut total = MixStats::default();
        for thread in self.workers.iter().filter_map(|w| w.thread.as_ref()) {
            total += thread.stats();
        }
        total
    }

    /// Queues a command on the thread it concerns (opening a room places it, starting a
    /// thread when needed). Never blocks. Commands about a participant or forwarder the
    /// pool does not know are dropped (nothing holds them), except joins.
    ///
    /// # Errors
    /// Hands the command back when its mix is not open, a thread cannot start, or its
    /// thread's queue is full.
    pub fn send(&mut self, command: MixerCommand) -> Result<(), MixerCommand> {
        match command {
            MixerCommand::OpenRoom { mix, .. } => {
                let at = match self.rooms.get(&mix) {
                    Some(at) => *at,
                    None => self.place(),
                };
                self.send_to(at, command)?;
                if self.rooms.insert(mix, at).is_none()
                    && let Some(w) = self.workers.get_mut(at)
                {
                    w.rooms += 1;
                }
                Ok(())
            }
            MixerCommand::CloseRoom { mix } => {
                let Some(&at) = self.rooms.get(&mix) else {
                    return Ok(());
                };
                self.send_to(at, command)?;
                self.rooms.remove(&mix);
                let before = self.participants.len();
                self.participants.retain(|_, m| *m != mix);
                self.forwarders.retain(|_, m| *m != mix);
                if let Some(w) = self.workers.get_mut(at) {
                    w.rooms = w.rooms.saturating_sub(1);
                    w.participants = w
                        .participants
                        .saturating_sub(before - self.participants.len());
                }
                Ok(())
            }
            MixerCommand::Join(ref join) => {
                let (mix, participant) = (join.mix, join.participant);
                let Some(&at) = self.rooms.get(&mix) else {
                    return Err(command);
                };
                let previous = self.worker_of_participant(participant);
                if let Some(old) = previous.filter(|old| *old != at) {
                    // Moving to a room on another thread: the old one lets go first.
                    if self
                        .send_to(old, MixerCommand::Leave { participant })
                        .is_err()
                    {
                        return Err(command);
                    }
                }
                self.send_to(at, command)?;
                if previous != Some(at) {
                    self.count_participant(previous, -1);
                    self.count_participant(Some(at), 1);
                }
                self.participants.insert(participant, mix);
                Ok(())
            }
            MixerCommand::SetDestination { participant, .. }
            | MixerCommand::Update { participant, .. } => {
                match self.worker_of_participant(participant) {
                    Some(at) => self.send_to(at, command),
                    None => Ok(()),
                }
            }
            MixerCommand::Leave { participant } => {
                let Some(at) = self.worker_of_participant(participant) else {
                    return Ok(());
                };
                self.send_to(at, command)?;
                self.participants.remove(&participant);
                self.count_participant(Some(at), -1);
                Ok(())
            }
            MixerCommand::AddForwarder(ref spec) => {
                let (mix, id) = (spec.mix, spec.id);
                let Some(&at) = self.rooms.get(&mix) else {
                    return Err(command);
                };
                if let Some(old) = self.worker_of_forwarder(id).filter(|old| *old != at) {
                    let _ = self.send_to(old, MixerCommand::RemoveForwarder { id });
                }
                self.send_to(at, command)?;
                self.forwarders.insert(id, mix);
                Ok(())
            }
            MixerCommand::RemoveForwarder { id } => {
                let Some(at) = self.worker_of_forwarder(id) else {
                    return Ok(());
                };
                self.send_to(at, command)?;
                self.forwarders.remove(&id);
                Ok(())
            }
        }
    }

    /// The worker for a new room: fewest participants, then fewest rooms, then started.
    fn place(&self) -> usize {
        self.workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| (w.participants, w.rooms, w.thread.is_none()))
            .map_or(0, |(at, _)| at)
    }

    fn worker_of_participant(&self, participant: u64) -> Option<usize> {
        self.rooms
            .get(self.participants.get(&participant)?)
            .copied()
    }

    fn worker_of_forwarder(&self, id: u32) -> Option<usize> {
        self.rooms.get(self.forwarders.get(&id)?).copied()
    }

    fn count_participant(&mut self, at: Option<usize>, delta: isize) {
        if let Some(w) = at.and_then(|at| self.workers.get_mut(at)) {
            w.participants = w.participants.saturating_add_signed(delta);
        }
    }

    /// Sends to worker `at`, starting its thread first if needed.
    fn send_to(&mut self, at: usize, command: MixerCommand) -> Result<(), MixerCommand> {
        let bind = self.bind;
        let Some(worker) = self.workers.get_mut(at) else {
            return Err(command);
        };
        if worker.thread.is_none() {
            match MixerThread::start(bind) {
                Ok(thread) => worker.thread = Some(thread),
                Err(_) => return Err(command),
            }
        }
        match worker.thread.as_ref() {
            Some(thread) => thread.send(command),
            None => Err(command),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::mixer::{Join, ParticipantSettings};

    fn open(pool: &mut MixerPool, mix: u64) {
        let open = MixerCommand::OpenRoom {
            mix,
            sampling_rate: 16_000,
            spatial: false,
        };
        assert!(pool.send(open).is_ok());
    }

    fn join(pool: &mut MixerPool, mix: u64, participant: u64) {
        let join = Join {
            mix,
            participant,
            ssrc: participant as u32,
            payload_type_in: None,
            payload_type_out: 111,
            settings: ParticipantSettings::default(),
        };
        assert!(pool.send(MixerCommand::Join(join)).is_ok());
    }

    fn load(pool: &MixerPool) -> Vec<(usize, usize)> {
        pool.workers
            .iter()
            .map(|w| (w.rooms, w.participants))
            .collect()
    }

    #[test]
    fn rooms_go_to_the_least_loaded_thread_and_participants_follow_their_room() {
        let mut pool = MixerPool::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2);
        open(&mut pool, 1);
        for p in 0..3 {
            join(&mut pool, 1, p);
        }
        open(&mut pool, 2);
        open(&mut pool, 3);
        assert_eq!(
            load(&pool),
            vec![(1, 3), (2, 0)],
            "both new rooms avoid the busy thread"
        );
        assert_ne!(pool.room_addr(1), pool.room_addr(2));
        assert_eq!(pool.room_addr(2), pool.room_addr(3));
        // Moving to a room on the other thread: the old thread is told to let go.
        join(&mut pool, 2, 0);
        assert_eq!(load(&pool), vec![(1, 2), (2, 1)]);
        assert_eq!(pool.worker_of_participant(0), pool.rooms.get(&2).copied());
        assert!(pool.send(MixerCommand::Leave { participant: 1 }).is_ok());
        assert_eq!(load(&pool), vec![(1, 1), (2, 1)]);
        assert!(pool.send(MixerCommand::CloseRoom { mix: 2 }).is_ok());
        assert_eq!(
            load(&pool),
            vec![(1, 1), (1, 0)],
            "its participants went with it"
        );
        assert_eq!(pool.worker_of_participant(0), None);
        assert_eq!(pool.room_addr(2), None);
        assert!(
            pool.send(MixerCommand::Leave { participant: 0 }).is_ok(),
            "an unknown participant is nothing to do"
        );
        assert_eq!(pool.threads_running(), 2);
    }
}
