//! The mixer thread: one UDP socket on loopback that receives every participant's RTP and
//! sends every mixed packet, and a tick every 20 ms scheduled from the instant mixing
//! (re)started (tick `k` is due at `start + k × 20 ms`, so sleeping late never accumulates
//! drift). While no mix has a participant the thread does not tick at all: it sleeps until a
//! command wakes it (a server with AudioBridge's sample room and nobody in it costs nothing).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::counters::{Counters, MixStats};
use crate::mixer::{ForwarderSpec, Join, Mixer, ParticipantSettings};

/// The mixing period: one frame per participant per tick.
pub const TICK: Duration = Duration::from_millis(20);
/// Falling this many ticks behind (a stalled thread) skips ahead instead of bursting.
const MAX_BEHIND: u32 = 5;
/// Commands waiting for the thread (control rate: a few per join).
const COMMAND_QUEUE: usize = 1024;
/// The poller tokens of the socket and of the command waker.
const SOCKET: mio::Token = mio::Token(0);
const WAKER: mio::Token = mio::Token(1);

/// What the control plane asks of the mixer thread; applied at the next tick.
pub enum MixerCommand {
    /// [`Mixer::open_room`].
    OpenRoom {
        /// Mix id.
        mix: u64,
        /// Hz.
        sampling_rate: u32,
        /// Stereo with panning.
        spatial: bool,
    },
    /// [`Mixer::close_room`].
    CloseRoom {
        /// Mix id.
        mix: u64,
    },
    /// [`Mixer::join`].
    Join(Join),
    /// [`Mixer::set_destination`].
    SetDestination {
        /// Participant id.
        participant: u64,
        /// Where its mix goes.
        to: SocketAddr,
    },
    /// [`Mixer::update`].
    Update {
        /// Participant id.
        participant: u64,
        /// New settings.
        settings: ParticipantSettings,
        /// Drop the decoder state.
        reset_decoder: bool,
    },
    /// [`Mixer::remove_participant`].
    Leave {
        /// Participant id.
        participant: u64,
    },
    /// [`Mixer::add_forwarder`].
    AddForwarder(ForwarderSpec),
    /// [`Mixer::remove_forwarder`].
    RemoveForwarder {
        /// Forwarder id.
        id: u32,
    },
}

/// The running mixer thread.
pub struct MixerThread {
    commands: Option<Sender<MixerCommand>>,
    /// Wakes the thread for a command (it may be sleeping without a tick).
    waker: Arc<mio::Waker>,
    local_addr: SocketAddr,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MixerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixerThread")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl MixerThread {
    /// Binds the mixer's socket on `bind` (port chosen by the kernel) and starts the thread.
    ///
    /// # Errors
    /// When the socket cannot be bound or the thread cannot start.
    pub fn start(bind: IpAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(bind, 0))?;
        let local_addr = socket.local_addr()?;
        let counters = Arc::new(Counters::default());
        let (tx, rx) = crossbeam_channel::bounded(COMMAND_QUEUE);
        let mixer = Mixer::new(Arc::clone(&counters));
        let (poll, socket) = readiness(socket)?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let thread = std::thread::Builder::new()
            .name("portunus-mixer".into())
            .spawn(move || run(mixer, (poll, socket), &rx))?;
        Ok(Self {
            commands: Some(tx),
            waker,
            local_addr,
            counters,
            thread: Some(thread),
        })
    }

    /// The address participants' RTP must be sent to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Queues a command. Never blocks.
    ///
    /// # Errors
    /// Hands the command back when the queue is full or the thread has ended.
    pub fn send(&self, command: MixerCommand) -> Result<(), MixerCommand> {
        let Some(tx) = self.commands.as_ref() else {
            return Err(command);
        };
        tx.try_send(command).map_err(|e| e.into_inner())?;
        // A failed wake leaves the command for the next tick or wake-up.
        let _ = self.waker.wake();
        Ok(())
    }

    /// The counters now.
    pub fn stats(&self) -> MixStats {
        self.counters.snapshot()
    }
}

impl Drop for MixerThread {
    fn drop(&mut self) {
        // Disconnecting the queue ends the thread at its next tick or wake-up.
        self.commands = None;
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    mut mixer: Mixer,
    (mut poll, socket): (mio::Poll, mio::net::UdpSocket),
    commands: &Receiver<MixerCommand>,
) {
    let mut events = mio::Events::with_capacity(2);
    let mut start = Instant::now();
    let mut tick: u32 = 0;
    let mut buf = [0u8; 2048];
    loop {
        if mixer.is_idle() {
            // Nothing to mix: sleep until a command (or a stray datagram, counted) arrives,
            // then start the tick schedule afresh.
            if poll.poll(&mut events, None).is_ok() {
                drain(&socket, &mut mixer, &mut buf);
            }
            if !apply_commands(&mut mixer, commands) {
                return;
            }
            start = Instant::now();
            tick = 0;
            continue;
        }
        let due = start + TICK * (tick + 1);
        loop {
            let now = Instant::now();
            let Some(wait) = due.checked_duration_since(now).filter(|w| !w.is_zero()) else {
                break;
            };
            // One readiness wait per wake-up, then every queued datagram without blocking: no
            // system call per datagram beyond its own recv (re-arming a read timeout per
            // datagram cost a setsockopt each).
            if poll.poll(&mut events, Some(wait)).is_err() {
                continue;
            }
            drain(&socket, &mut mixer, &mut buf);
        }
        if !apply_commands(&mut mixer, commands) {
            return;
        }
        mixer.tick(&mut |to, packet| socket.send_to(packet, to).is_ok());
        tick = tick.wrapping_add(1);
        let elapsed = start.elapsed();
        let behind = elapsed.saturating_sub(TICK * tick);
        if behind > TICK * MAX_BEHIND {
            let target = (elapsed.as_millis() / TICK.as_millis()) as u32;
            Counters::add(
                &mixer.counters().ticks_skipped,
                u64::from(target.saturating_sub(tick)),
            );
            tick = target;
        }
    }
}

/// Every queued datagram, without blocking. Edge-triggered readiness: drain until the queue
/// is empty. A transient error (an ICMP report consumed in place of a datagram, a signal)
/// leaves datagrams behind it.
fn drain(socket: &mio::net::UdpSocket, mixer: &mut Mixer, buf: &mut [u8]) {
    loop {
        match socket.recv(buf) {
            Ok(n) => mixer.handle_datagram(buf.get(..n).unwrap_or(&[])),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionReset
                ) => {}
            Err(_) => break,
        }
    }
}

/// Applies the queued commands; `false` once the control side is gone (the thread ends).
fn apply_commands(mixer: &mut Mixer, commands: &Receiver<MixerCommand>) -> bool {
    loop {
        match commands.try_recv() {
            Ok(command) => {
                if apply(mixer, command).is_err() {
                    Counters::add(&mixer.counters().rejected_commands, 1);
                }
            }
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => return false,
        }
    }
}

/// The socket made non-blocking and registered for readability with its own poller.
fn readiness(socket: UdpSocket) -> io::Result<(mio::Poll, mio::net::UdpSocket)> {
    socket.set_nonblocking(true)?;
    let mut socket = mio::net::UdpSocket::from_std(socket);
    let poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut socket, SOCKET, mio::Interest::READABLE)?;
    Ok((poll, socket))
}

fn apply(mixer: &mut Mixer, command: MixerCommand) -> Result<(), crate::MixError> {
    match command {
        MixerCommand::OpenRoom {
            mix,
            sampling_rate,
            spatial,
        } => mixer.open_room(mix, sampling_rate, spatial),
        MixerCommand::CloseRoom { mix } => {
            mixer.close_room(mix);
            Ok(())
        }
        MixerCommand::Join(join) => mixer.join(&join),
        MixerCommand::SetDestination { participant, to } => mixer.set_destination(participant, to),
        MixerCommand::Update {
            participant,
            settings,
            reset_decoder,
        } => mixer.update(participant, &settings, reset_decoder),
        MixerCommand::Leave { participant } => {
            mixer.remove_participant(participant);
            Ok(())
        }
        MixerCommand::AddForwarder(spec) => mixer.add_forwarder(spec),
        MixerCommand::RemoveForwarder { id } => {
            mixer.remove_forwarder(id);
            Ok(())
        }
    }
}
