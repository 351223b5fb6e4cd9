//! Synthetic media: VP8-shaped video (optionally three simulcast layers) and Opus-shaped audio,
//! paced in real time, each packet carrying a [`Stamp`] in its last bytes.
//!
//! Video leaves through a [`Pacer`] as a browser's does: a frame's packets are spread at a
//! pacing rate (by default 2.5 × the video bitrate, in 5 ms budget intervals, the shape of
//! Chrome's paced sender) instead of leaving as one burst. Audio is never held behind video.
//! `pacing_factor: 0.0` restores the burst (every packet of a frame at once).
//!
//! Nothing is encoded. The VP8 payload descriptor and frame header are real enough for a
//! server that inspects them (Janus's VideoRoom reads picture ids and keyframe start codes to
//! switch simulcast layers); the rest of the payload is zeros followed by the stamp.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Payload type the bench uses for Opus.
pub const OPUS_PT: u8 = 111;
/// Payload type the bench uses for VP8.
pub const VP8_PT: u8 = 96;
/// Largest RTP payload the packetizer writes (browsers cut VP8 at about this size).
const MAX_PAYLOAD: usize = 1100;
/// Opus at about 40 kbit/s: 100-byte payloads every 20 ms.
const OPUS_PAYLOAD: usize = 100;
const OPUS_INTERVAL: Duration = Duration::from_millis(20);
/// Video frame rate.
const FPS: u32 = 30;
/// Simulcast layers as a fraction of the top layer's bitrate, lowest first (browsers send
/// about 1/10 and 1/3 of the top layer).
const LAYER_SHARE: [f64; 3] = [0.1, 0.33, 1.0];
const LAYER_SIZE: [(u16, u16); 3] = [(320, 180), (640, 360), (1280, 720)];
/// A keyframe is three times an ordinary frame.
const KEYFRAME_FACTOR: usize = 3;
/// The pacing rate as a multiple of the video bitrate that browsers use (Chrome's
/// `kDefaultPaceMultiplier`).
pub const DEFAULT_PACING_FACTOR: f64 = 2.5;
/// How often the pacer's budget is refilled (Chrome's pacer processes every 5 ms).
pub const PACING_INTERVAL: Duration = Duration::from_millis(5);

/// A browser-like paced sender's budget: every [`PACING_INTERVAL`] it gets `rate × interval`
/// bytes; a packet may leave while the budget is positive and may drive it negative (a debt the
/// next refills pay first); an unused budget does not build up beyond one interval's worth.
/// Driven by explicit instants, so its release times are deterministic.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    bytes_per_interval: f64,
    budget: f64,
    /// The next refill not yet applied.
    next_tick: Instant,
}

impl Pacer {
    /// A pacer sending `rate_bps` bits per second, its first interval starting at `now`.
    pub fn new(now: Instant, rate_bps: f64) -> Self {
        let bytes_per_interval = rate_bps / 8.0 * PACING_INTERVAL.as_secs_f64();
        Self {
            bytes_per_interval,
            budget: bytes_per_interval,
            next_tick: now + PACING_INTERVAL,
        }
    }

    /// Applies the refills due up to `now`.
    fn refill(&mut self, now: Instant) {
        if now < self.next_tick {
            return;
        }
        let ticks = (now - self.next_tick).as_nanos() / PACING_INTERVAL.as_nanos() + 1;
        // A debt is paid off tick by tick; once it is paid, a tick sets the budget to one
        // interval's worth (unused budget is not kept), so the result is capped at that.
        self.budget = (self.budget.min(0.0) + self.bytes_per_interval * ticks as f64)
            .min(self.bytes_per_interval);
        self.next_tick += PACING_INTERVAL * ticks as u32;
    }

    /// Whether a packet may leave at `now`.
    pub fn can_send(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.budget > 0.0
    }

    /// Charges `bytes` sent at `now` to the budget (audio too: it is not held, but it counts).
    pub fn on_sent(&mut self, now: Instant, bytes: usize) {
        self.refill(now);
        self.budget -= bytes as f64;
    }

    /// The earliest instant a packet may leave (in the past when it may leave now).
    pub fn next_send(&self) -> Instant {
        if self.budget > 0.0 {
            return self.next_tick - PACING_INTERVAL;
        }
        // Refills needed for the budget to turn positive.
        let ticks = (-self.budget / self.bytes_per_interval).floor() as u32;
        self.next_tick + PACING_INTERVAL * ticks
    }
}

/// What the sender writes at the end of every payload: where it came from, its sequence in
/// that stream (independent of the RTP sequence numbers a server rewrites), and when it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Globally unique stream: source index × 4 + track (0 audio, 1-3 video layers).
    pub stream: u32,
    /// Sequence within the stream, from 0.
    pub seq: u64,
    /// [`stamp_clock_ns`] (`CLOCK_REALTIME`) nanoseconds at send: the clock of the kernel's
    /// receive timestamps, so latency is measured up to the socket, not to the reader.
    pub sent_ns: u64,
}

impl Stamp {
    /// Bytes a stamp takes at the end of a payload.
    pub const LEN: usize = 24;
    const MAGIC: u32 = 0x504f_5254;

    /// Writes the stamp into the last [`Self::LEN`] bytes of `payload`.
    pub fn write(&self, payload: &mut [u8]) {
        let Some(at) = payload.len().checked_sub(Self::LEN) else {
            return;
        };
        let out = &mut payload[at..];
        out[..4].copy_from_slice(&Self::MAGIC.to_be_bytes());
        out[4..8].copy_from_slice(&self.stream.to_be_bytes());
        out[8..16].copy_from_slice(&self.seq.to_be_bytes());
        out[16..24].copy_from_slice(&self.sent_ns.to_be_bytes());
    }

    /// Reads the stamp from the end of `payload`; `None` when there is none.
    pub fn read(payload: &[u8]) -> Option<Self> {
        let at = payload.len().checked_sub(Self::LEN)?;
        let s = payload.get(at..)?;
        // Big-endian fields at fixed offsets of a slice known to be 24 bytes long.
        let be =
            |r: std::ops::Range<usize>| s[r].iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        if be(0..4) != u64::from(Self::MAGIC) {
            return None;
        }
        Some(Self {
            stream: be(4..8) as u32,
            seq: be(8..16),
            sent_ns: be(16..24),
        })
    }
}

/// Settings of one [`MediaSource`].
#[derive(Debug, Clone, Copy)]
pub struct MediaConfig {
    /// Top video layer bitrate in bits per second; 0 sends no video.
    pub video_bitrate: u64,
    /// Send three simulcast layers instead of one.
    pub simulcast: bool,
    /// Send Opus-shaped audio.
    pub audio: bool,
    /// Interval between keyframes.
    pub keyframe_interval: Duration,
    /// Video pacing rate as a multiple of the video bitrate ([`DEFAULT_PACING_FACTOR`] as in
    /// browsers); 0 sends every packet of a frame at once (a burst).
    pub pacing_factor: f64,
}

/// One outgoing RTP stream.
#[derive(Debug, Clone, Copy)]
pub struct Track {
    /// SSRC written in the header.
    pub ssrc: u32,
    /// Stream id written in stamps.
    pub stream: u32,
    seq: u16,
    timestamp: u32,
    count: u64,
    picture_id: u16,
    frame_bytes: usize,
}

/// Paced generator of one participant's media. [`Self::poll_packet`] writes the packets that
/// are due; [`Self::poll_timeout`] says when the next one is.
#[derive(Debug)]
pub struct MediaSource {
    audio: Option<Track>,
    video: Vec<Track>,
    next_audio: Instant,
    next_frame: Instant,
    next_keyframe: Instant,
    keyframe_interval: Duration,
    keyframe_wanted: bool,
    frames: u64,
    start: Instant,
    /// Packets of the frames still to write: (layer, size, first, last, keyframe).
    queue: VecDeque<(usize, usize, bool, bool, bool)>,
    /// `None`: bursts.
    pacer: Option<Pacer>,
}

impl MediaSource {
    /// A source numbered `index` (stream ids are `index * 4 + track`), with SSRCs derived
    /// from `ssrc_base`.
    pub fn new(now: Instant, index: u32, ssrc_base: u32, config: &MediaConfig) -> Self {
        let track = |t: u32, frame_bytes: usize| Track {
            ssrc: ssrc_base.wrapping_add(t),
            stream: index * 4 + t,
            seq: (ssrc_base as u16).wrapping_mul(7),
            timestamp: ssrc_base.wrapping_mul(13),
            count: 0,
            picture_id: (ssrc_base as u16) & 0x7fff,
            frame_bytes,
        };
        let audio = config.audio.then(|| track(0, OPUS_PAYLOAD));
        let layers: &[f64] = if config.simulcast {
            &LAYER_SHARE
        } else {
            &LAYER_SHARE[2..]
        };
        let pacer = (config.pacing_factor > 0.0 && config.video_bitrate > 0).then(|| {
            let total: f64 = layers.iter().sum();
            Pacer::new(
                now,
                config.video_bitrate as f64 * total * config.pacing_factor,
            )
        });
        let video = if config.video_bitrate == 0 {
            Vec::new()
        } else {
            layers
                .iter()
                .enumerate()
                .map(|(i, share)| {
                    let bits = config.video_bitrate as f64 * share / f64::from(FPS);
                    track(i as u32 + 1, ((bits / 8.0) as usize).max(64))
                })
                .collect()
        };
        Self {
            audio,
            video,
            next_audio: now,
            next_frame: now,
            next_keyframe: now,
            keyframe_interval: config.keyframe_interval,
            keyframe_wanted: true,
            frames: 0,
            start: now,
            queue: VecDeque::with_capacity(64),
            pacer,
        }
    }

    /// The audio track, if any.
    pub fn audio(&self) -> Option<&Track> {
        self.audio.as_ref()
    }

    /// The video tracks (layers), lowest first.
    pub fn video(&self) -> &[Track] {
        &self.video
    }

    /// Asks for a keyframe on the next frame (the server sent a PLI or FIR).
    pub fn request_keyframe(&mut self) {
        self.keyframe_wanted = true;
    }

    /// When the next packet is due.
    pub fn poll_timeout(&self) -> Instant {
        let queued = (!self.queue.is_empty())
            .then(|| self.pacer.as_ref().map_or(self.start, Pacer::next_send));
        let video = if self.video.is_empty() {
            None
        } else {
            Some(self.next_frame)
        };
        let audio = self.audio.is_some().then_some(self.next_audio);
        [queued, video, audio]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_frame + Duration::from_secs(3600))
    }

    /// Writes the next packet due at `now` as plain RTP into `buf` and returns its length;
    /// `sent_ns` goes into the stamp. `buf` must hold 1500 bytes.
    pub fn poll_packet(&mut self, now: Instant, sent_ns: u64, buf: &mut [u8]) -> Option<usize> {
        // The encoder keeps its frame clock; frames the pacer has not sent yet wait in the queue.
        if !self.video.is_empty() && now >= self.next_frame {
            self.queue_frame(now);
        }
        // Audio first: browsers never hold it behind video.
        if let Some(track) = self.audio.as_mut()
            && now >= self.next_audio
        {
            self.next_audio += OPUS_INTERVAL;
            if now > self.next_audio + Duration::from_millis(200) {
                // Far behind (the thread was descheduled): skip rather than burst.
                self.next_audio = now + OPUS_INTERVAL;
            }
            let len = write_rtp(track, OPUS_PT, true, OPUS_PAYLOAD, sent_ns, buf);
            track.timestamp = track.timestamp.wrapping_add(960);
            if let Some(pacer) = self.pacer.as_mut() {
                pacer.on_sent(now, len);
            }
            return Some(len);
        }
        if !self.queue.is_empty()
            && let Some(pacer) = self.pacer.as_mut()
            && !pacer.can_send(now)
        {
            return None;
        }
        let (layer, size, first, last, key) = self.queue.pop_front()?;
        let track = &mut self.video[layer];
        let len = write_vp8(track, size, first, last, key, sent_ns, buf);
        if let Some(pacer) = self.pacer.as_mut() {
            pacer.on_sent(now, len);
        }
        Some(len)
    }

    fn queue_frame(&mut self, now: Instant) {
        let key = self.keyframe_wanted || now >= self.next_keyframe;
        if key {
            self.keyframe_wanted = false;
            self.next_keyframe = now + self.keyframe_interval;
        }
        for (layer, track) in self.video.iter().enumerate() {
            let bytes = track.frame_bytes * if key { KEYFRAME_FACTOR } else { 1 };
            let n = bytes.div_ceil(MAX_PAYLOAD);
            let size = bytes.div_ceil(n).max(VP8_MIN_PAYLOAD);
            for i in 0..n {
                self.queue.push_back((layer, size, i == 0, i + 1 == n, key));
            }
        }
        self.frames += 1;
        let period = Duration::from_secs(1) / FPS;
        self.next_frame += period;
        if now > self.next_frame + Duration::from_millis(200) {
            self.next_frame = now + period;
        }
        for track in &mut self.video {
            track.timestamp = track.timestamp.wrapping_add(90_000 / FPS);
            track.picture_id = (track.picture_id + 1) & 0x7fff;
        }
    }
}

/// The smallest VP8 payload: descriptor, keyframe header and the stamp.
const VP8_MIN_PAYLOAD: usize = 4 + 10 + Stamp::LEN;

fn write_vp8(
    track: &mut Track,
    size: usize,
    first: bool,
    last: bool,
    key: bool,
    sent_ns: u64,
    buf: &mut [u8],
) -> usize {
    let len = write_rtp(track, VP8_PT, last, size, sent_ns, buf);
    let p = &mut buf[RTP_HEADER..];
    // VP8 payload descriptor (RFC 7741 §4.2): X, S on the first packet, PID 0; then I with a
    // 15-bit picture id.
    p[0] = 0x80 | if first { 0x10 } else { 0 };
    p[1] = 0x80;
    p[2..4].copy_from_slice(&(0x8000 | track.picture_id).to_be_bytes());
    if first {
        // Frame tag (RFC 6386 §9.1): P = 0 for a keyframe, version 0, show_frame.
        p[4] = if key { 0x10 } else { 0x11 };
        p[5] = 0;
        p[6] = 0;
        if key {
            let (w, h) = LAYER_SIZE[track.stream as usize % 4 - 1];
            p[7..10].copy_from_slice(&[0x9d, 0x01, 0x2a]);
            p[10..12].copy_from_slice(&w.to_le_bytes());
            p[12..14].copy_from_slice(&h.to_le_bytes());
        }
    }
    len
}

const RTP_HEADER: usize = 12;

/// Writes a 12-byte RTP header and a zeroed payload of `payload` bytes ending in a stamp.
fn write_rtp(
    track: &mut Track,
    pt: u8,
    marker: bool,
    payload: usize,
    sent_ns: u64,
    buf: &mut [u8],
) -> usize {
    let len = RTP_HEADER + payload;
    buf[0] = 0x80;
    buf[1] = pt | if marker { 0x80 } else { 0 };
    buf[2..4].copy_from_slice(&track.seq.to_be_bytes());
    buf[4..8].copy_from_slice(&track.timestamp.to_be_bytes());
    buf[8..12].copy_from_slice(&track.ssrc.to_be_bytes());
    buf[RTP_HEADER..len].fill(0);
    Stamp {
        stream: track.stream,
        seq: track.count,
        sent_ns,
    }
    .write(&mut buf[RTP_HEADER..len]);
    track.seq = track.seq.wrapping_add(1);
    track.count += 1;
    len
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock every stamp uses, shared by all processes on
/// the machine (the feeder, the clients and the servers' view of time).
pub fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The clock of every [`Stamp`]: `CLOCK_REALTIME` in nanoseconds, the clock `SO_TIMESTAMPNS`
/// receive timestamps use (there is no monotonic choice for them). Runs last seconds; a step
/// of the wall clock during one would show as a latency outlier.
pub fn stamp_clock_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// CPU time of the calling thread in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes into it.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_at_the_end_of_a_payload() {
        let mut payload = [7u8; 60];
        let stamp = Stamp {
            stream: 9,
            seq: 123_456,
            sent_ns: 987_654_321,
        };
        stamp.write(&mut payload);
        assert_eq!(Stamp::read(&payload), Some(stamp));
        assert_eq!(payload[..36], [7u8; 36]);
        assert_eq!(Stamp::read(&payload[..20]), None);
        assert_eq!(Stamp::read(&[0u8; 40]), None);
    }

    #[test]
    fn source_paces_video_at_its_bitrate_with_keyframes_first() {
        let start = Instant::now();
        let config = MediaConfig {
            video_bitrate: 1_500_000,
            simulcast: false,
            audio: true,
            keyframe_interval: Duration::from_secs(2),
            pacing_factor: DEFAULT_PACING_FACTOR,
        };
        let mut source = MediaSource::new(start, 1, 1000, &config);
        let mut buf = [0u8; 1500];
        let (mut video_bytes, mut audio, mut first) = (0usize, 0, None);
        for ms in 0..1000u64 {
            let now = start + Duration::from_millis(ms);
            while let Some(len) = source.poll_packet(now, ms, &mut buf) {
                assert!(len <= RTP_HEADER + MAX_PAYLOAD + 38);
                let stamp = Stamp::read(&buf[..len]).expect("stamp");
                if buf[1] & 0x7f == VP8_PT {
                    video_bytes += len - RTP_HEADER;
                    first.get_or_insert(buf[RTP_HEADER + 4]);
                    assert_eq!(stamp.stream, 5);
                } else {
                    audio += 1;
                    assert_eq!(stamp.stream, 4);
                }
            }
        }
        assert_eq!(audio, 50);
        assert_eq!(first, Some(0x10), "the first frame is a keyframe");
        let kbit = video_bytes * 8 / 1000;
        assert!((1400..1700).contains(&kbit), "{kbit} kbit/s");
    }

    #[test]
    fn simulcast_sends_three_layers_with_their_own_ssrcs() {
        let start = Instant::now();
        let config = MediaConfig {
            video_bitrate: 1_000_000,
            simulcast: true,
            audio: false,
            keyframe_interval: Duration::from_secs(2),
            pacing_factor: 0.0,
        };
        let mut source = MediaSource::new(start, 0, 50, &config);
        let mut buf = [0u8; 1500];
        let mut ssrcs = std::collections::BTreeSet::new();
        while let Some(len) = source.poll_packet(start, 0, &mut buf) {
            ssrcs.insert(u32::from_be_bytes(buf[8..12].try_into().expect("4")));
            assert!(Stamp::read(&buf[..len]).is_some());
        }
        assert_eq!(ssrcs.into_iter().collect::<Vec<_>>(), vec![51, 52, 53]);
        assert!(source.poll_timeout() > start);
    }
}
