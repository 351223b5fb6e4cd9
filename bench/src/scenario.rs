//! Scenarios: who joins, in which order, and what is measured. Every phase is bounded in
//! count and time.

use std::io::IsTerminal;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::BenchError;
use crate::control::Control;
use crate::media::{MediaConfig, MediaSource, stamp_clock_ns};
use crate::server::ServerProbe;
use crate::worker::{self, Command, PeerSpec, Progress, Role, WorkerConfig, WorkerReport};

/// The load shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// RTP fed into a Streaming mountpoint, N viewers.
    Stream,
    /// One VideoRoom publisher, N subscribers.
    Webinar,
    /// N publishers, each subscribed to all others.
    Meeting,
    /// Subscribers set up as fast as possible until a failure or the limit.
    JoinStorm,
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The load shape.
    pub scenario: Scenario,
    /// Subscribers, viewers or meeting participants; the limit for `join-storm`.
    pub n: usize,
    /// Janus API WebSocket URL.
    pub url: String,
    /// The server's PID, for CPU and memory.
    pub server_pid: Option<u32>,
    /// Label of the server in reports.
    pub server_label: String,
    /// Client threads.
    pub threads: usize,
    /// What publishers and the feeder send.
    pub media: MediaConfig,
    /// Discarded time after everyone connected.
    pub warmup: Duration,
    /// Measurement window.
    pub duration: Duration,
    /// Most setups in flight per thread.
    pub max_in_flight: usize,
    /// A client not connected after this long fails.
    pub setup_timeout: Duration,
    /// SRTP profiles offered.
    pub srtp: Vec<portunus_dtls::SrtpProfile>,
    /// Least time between two wakeups of a client thread once everyone connected (see
    /// [`WorkerConfig::rx_coalesce`]).
    pub rx_coalesce: Duration,
    /// Client sockets take GSO sends whole (`UDP_GRO`), as behind a NIC with segmentation
    /// offload; off, loopback re-segments them on the server's CPU.
    pub client_gro: bool,
    /// Room or mountpoint id to create and use.
    pub room: u64,
    /// Print a progress line (on a terminal only).
    pub progress: bool,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The load shape.
    pub scenario: Scenario,
    /// Server label.
    pub server: String,
    /// Subscribers (or viewers, participants) asked for.
    pub n: usize,
    /// Clients that connected.
    pub connected: usize,
    /// Clients that failed, with the first reason.
    pub failed: usize,
    /// The first failure, if any.
    pub first_failure: Option<String>,
    /// Measurement window in seconds.
    pub window_s: f64,
    /// Media packets received by all clients per second (the server's egress).
    pub egress_pps: f64,
    /// Packets received in the window.
    pub received: u64,
    /// Packets missing from the stamp sequences.
    pub lost: u64,
    /// Lost / (received + lost), percent.
    pub loss_pct: f64,
    /// SRTP unprotect failures.
    pub srtp_failures: u64,
    /// One-way latency percentiles in microseconds.
    pub latency_p50_us: u64,
    /// 99th percentile.
    pub latency_p99_us: u64,
    /// 99.9th percentile.
    pub latency_p999_us: u64,
    /// The same latency measured without a server, just before the window: stamped packets
    /// from one loopback socket to another, received like media. 50th percentile, µs.
    pub baseline_p50_us: u64,
    /// 99th percentile of the baseline.
    pub baseline_p99_us: u64,
    /// `latency_p99_us − baseline_p99_us`: what the server adds at the 99th percentile.
    pub added_p99_us: u64,
    /// The SRTP profile the clients negotiated (the most common one, if they differ).
    pub srtp_profile: Option<String>,
    /// Whether client sockets took GSO sends whole (`UDP_GRO`).
    pub client_gro: bool,
    /// Video pacing rate of the publishers and the feeder as a multiple of the video bitrate
    /// (2.5 as browsers); 0: each frame left as one burst.
    pub pacing_factor: f64,
    /// Server CPU nanoseconds per received packet in the window.
    pub server_cpu_ns_per_packet: Option<f64>,
    /// Server CPU use in the window, in cores.
    pub server_cores: Option<f64>,
    /// (RSS with everyone connected − RSS before anyone) / N, in KiB.
    pub rss_kib_per_subscriber: Option<f64>,
    /// RSS with everyone connected, KiB.
    pub rss_kib: Option<u64>,
    /// Setups completed per second during the join phase.
    pub setups_per_s: f64,
    /// Server CPU milliseconds per setup during the join phase.
    pub server_cpu_ms_per_setup: Option<f64>,
    /// Setup (first request to DTLS up) percentiles, milliseconds.
    pub setup_p50_ms: f64,
    /// 99th percentile.
    pub setup_p99_ms: f64,
    /// First request to first media, 50th percentile, milliseconds.
    pub first_media_p50_ms: f64,
    /// Load generator CPU per received packet (all client threads), nanoseconds.
    pub client_cpu_ns_per_packet: f64,
    /// The machine's 1-minute load average at the end of the window (`/proc/loadavg`): above
    /// the core count, other work shared the cores and wall-clock figures suffer first.
    pub load_avg: Option<f64>,
}

/// Runs one scenario once against an already running server.
///
/// # Errors
/// Setup failures (room creation, no client thread could connect); client failures are
/// counted in the result instead.
pub fn run(cfg: &RunConfig) -> Result<RunResult, BenchError> {
    ramp(cfg, &[cfg.n])?
        .pop()
        .ok_or_else(|| BenchError::Setup("the run measured nothing".into()))
}

/// Runs one scenario against an already running server, growing the audience step by step:
/// after the publishers (or the feeder), subscribers join up to `steps[0]`, the window is
/// measured, more join up to `steps[1]`, and so on. One result per step; each step's join
/// figures are those of the subscribers it added. `meeting` adds publishers with every
/// participant, so it takes a single step.
///
/// # Errors
/// Setup failures, and steps that are not increasing (or a ramped `meeting`); client
/// failures are counted in the results instead.
pub fn ramp(cfg: &RunConfig, steps: &[usize]) -> Result<Vec<RunResult>, BenchError> {
    if steps.is_empty() || steps.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BenchError::Setup(format!(
            "ramp steps must increase: {steps:?}"
        )));
    }
    if cfg.scenario == Scenario::Meeting && steps.len() > 1 {
        return Err(BenchError::Setup(
            "meeting cannot be ramped: each participant also publishes".into(),
        ));
    }
    let top = steps[steps.len() - 1];
    let probe = cfg.server_pid.map(ServerProbe::new);
    let rss_before = probe.and_then(|p| p.rss_kib().ok());
    let mut admin = Control::connect(&cfg.url)?;
    let session = admin.request(json!({"janus": "create"}), API_TIMEOUT)?["data"]["id"]
        .as_u64()
        .ok_or_else(|| BenchError::Api("create: no session id".into()))?;
    let mut feeder = None;
    let stop_feeder = Arc::new(AtomicBool::new(false));
    match cfg.scenario {
        Scenario::Stream => {
            let ports = create_mountpoint(&mut admin, session, cfg.room)?;
            feeder = Some(spawn_feeder(ports, cfg.media, Arc::clone(&stop_feeder)));
        }
        _ => create_room(&mut admin, session, cfg.room, top + 2)?,
    }
    let mut run = Running::start(cfg)?;
    let publishers = match join_publishers(&mut run, cfg, top) {
        Ok(p) => p,
        Err(e) => {
            run.stop();
            return Err(e);
        }
    };
    let mut results = Vec::with_capacity(steps.len());
    let mut joined = 0;
    let mut outcome = Ok(());
    for &n in steps {
        let step = Step {
            cfg,
            probe,
            rss_before,
            publishers: &publishers,
            from: joined,
            to: n,
        };
        match step.run(&mut run) {
            Ok(r) => results.push(r),
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
        joined = n;
    }
    run.stop();
    stop_feeder.store(true, Ordering::Relaxed);
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let _ = admin.request(
        json!({"janus": "destroy", "session_id": session}),
        API_TIMEOUT,
    );
    outcome.map(|()| results)
}

/// The publishers of a run, once they connected.
#[derive(Debug, Default)]
struct Publishers {
    /// Feed ids of those that joined.
    feeds: Vec<u64>,
    /// How many connected and failed (subtracted from the subscribers' counts).
    connected: usize,
    failed: usize,
}

/// How long subscribers wait for the server's `webrtcup` of the connected publishers.
const PUBLISHERS_UP_BUDGET: Duration = Duration::from_secs(5);

/// Subscribers' spec ids start here, above any publisher's (publishers take 0, 1, …).
const FIRST_SUBSCRIBER_ID: usize = 1 << 24;

/// Phase 1: the publishers (none for `stream`, one for `webinar` and `join-storm`, `n` for
/// `meeting`).
fn join_publishers(run: &mut Running, cfg: &RunConfig, n: usize) -> Result<Publishers, BenchError> {
    let publishers = match cfg.scenario {
        Scenario::Stream => 0,
        Scenario::Webinar | Scenario::JoinStorm => 1,
        Scenario::Meeting => n,
    };
    if publishers == 0 {
        return Ok(Publishers::default());
    }
    let pubs: Vec<PeerSpec> = (0..publishers)
        .map(|i| PeerSpec {
            id: i,
            role: Role::Publisher {
                room: cfg.room,
                source: i as u32,
                media: cfg.media,
            },
        })
        .collect();
    run.add(pubs.clone());
    let outcome = run.wait_setups(
        publishers,
        cfg.setup_timeout + Duration::from_secs(5),
        "publishers",
    )?;
    if outcome.connected == 0 {
        return Err(BenchError::Setup(format!(
            "no publisher connected: {}",
            outcome.first_failure.unwrap_or_default()
        )));
    }
    // Subscribers join once the server has every connected publisher up, as an application
    // joins on the room's `publishers` event; a server that never says so costs the budget.
    run.wait_publishers_up(outcome.connected, PUBLISHERS_UP_BUDGET);
    Ok(Publishers {
        feeds: pubs
            .iter()
            .filter_map(|p| run.publisher_ids.get(&p.id).copied())
            .collect(),
        connected: outcome.connected,
        failed: outcome.failed,
    })
}

/// One step of a run: subscribers `from..to` join, then warm-up and the measured window.
struct Step<'a> {
    cfg: &'a RunConfig,
    probe: Option<ServerProbe>,
    rss_before: Option<u64>,
    publishers: &'a Publishers,
    from: usize,
    to: usize,
}

impl Step<'_> {
    fn run(&self, run: &mut Running) -> Result<RunResult, BenchError> {
        let (cfg, probe) = (self.cfg, self.probe);
        // Phase 2: subscribers.
        let mut specs: Vec<PeerSpec> = (self.from..self.to)
            .map(|i| PeerSpec {
                id: FIRST_SUBSCRIBER_ID + i,
                role: self.subscriber_role(i),
            })
            .collect();
        if cfg.scenario == Scenario::Meeting && self.to < 2 {
            specs.clear();
        }
        let cpu_before_join = probe.and_then(|p| p.cpu_ns().ok());
        let join_started = Instant::now();
        let subscribers = specs.len();
        run.add(specs);
        let budget = cfg.setup_timeout + Duration::from_millis(60 * subscribers as u64);
        let outcome = run.wait_setups(subscribers, budget, "subscribers")?;
        let join_time = join_started.elapsed().as_secs_f64();
        let cpu_after_join = probe.and_then(|p| p.cpu_ns().ok());
        // Phase 3: warm-up (with the no-server latency baseline), then the window.
        let baseline_started = Instant::now();
        let baseline = crate::baseline::measure()?;
        run.sleep(
            cfg.warmup.saturating_sub(baseline_started.elapsed()),
            "warm-up",
        );
        let rss_at_n = probe.and_then(|p| p.rss_kib().ok());
        let cpu0 = probe.and_then(|p| p.cpu_ns().ok());
        let t0 = Instant::now();
        run.broadcast(|| Command::Measure(true));
        run.sleep(cfg.duration, "measuring");
        run.broadcast(|| Command::Measure(false));
        let window = t0.elapsed().as_secs_f64();
        let cpu1 = probe.and_then(|p| p.cpu_ns().ok());
        let load_avg = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_ascii_whitespace().next()?.parse().ok());
        let report = run.collect()?;
        let srtp_profile = run
            .profiles
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(p, _)| (*p).to_owned());

        let n = self.to;
        let server_cpu = cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a) as f64);
        let received = report.received;
        let pct = |q: f64| report.latency_us.value_at_quantile(q);
        let setups = outcome.setup_ms.len();
        Ok(RunResult {
            scenario: cfg.scenario,
            server: cfg.server_label.clone(),
            n,
            // Over the whole audience so far, not just this step's joiners.
            connected: run.connected.saturating_sub(self.publishers.connected),
            failed: run.failed.saturating_sub(self.publishers.failed),
            first_failure: outcome.first_failure,
            window_s: window,
            egress_pps: received as f64 / window,
            received,
            lost: report.lost,
            loss_pct: if received + report.lost == 0 {
                0.0
            } else {
                100.0 * report.lost as f64 / (received + report.lost) as f64
            },
            srtp_failures: report.srtp_failures,
            latency_p50_us: pct(0.5),
            latency_p99_us: pct(0.99),
            latency_p999_us: pct(0.999),
            baseline_p50_us: baseline.p50_us,
            baseline_p99_us: baseline.p99_us,
            added_p99_us: pct(0.99).saturating_sub(baseline.p99_us),
            srtp_profile,
            client_gro: cfg.client_gro,
            pacing_factor: cfg.media.pacing_factor,
            server_cpu_ns_per_packet: server_cpu
                .filter(|_| received > 0)
                .map(|c| c / received as f64),
            server_cores: server_cpu.map(|c| c / (window * 1e9)),
            rss_kib_per_subscriber: self
                .rss_before
                .zip(rss_at_n)
                .filter(|_| n > 0)
                .map(|(a, b)| (b as f64 - a as f64) / n as f64),
            rss_kib: rss_at_n,
            setups_per_s: if join_time > 0.0 {
                setups as f64 / join_time
            } else {
                0.0
            },
            server_cpu_ms_per_setup: cpu_before_join
                .zip(cpu_after_join)
                .filter(|_| setups > 0)
                .map(|(a, b)| b.saturating_sub(a) as f64 / 1e6 / setups as f64),
            setup_p50_ms: percentile(&outcome.setup_ms, 0.5),
            setup_p99_ms: percentile(&outcome.setup_ms, 0.99),
            first_media_p50_ms: percentile(&outcome.first_media_ms, 0.5),
            client_cpu_ns_per_packet: if received > 0 {
                report.cpu_ns as f64 / received as f64
            } else {
                0.0
            },
            load_avg,
        })
    }

    /// What subscriber `i` (counted from 0 over the whole run) receives.
    fn subscriber_role(&self, i: usize) -> Role {
        let room = self.cfg.room;
        match self.cfg.scenario {
            Scenario::Stream => Role::Viewer { mountpoint: room },
            Scenario::Webinar | Scenario::JoinStorm => Role::Subscriber {
                room,
                feeds: self.publishers.feeds.clone(),
            },
            Scenario::Meeting => Role::Subscriber {
                room,
                feeds: self
                    .publishers
                    .feeds
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, f)| *f)
                    .collect(),
            },
        }
    }
}

/// Worker threads of one run and what they reported.
struct Running {
    commands: Vec<Sender<Command>>,
    handles: Vec<std::thread::JoinHandle<Result<(), BenchError>>>,
    progress: Receiver<Progress>,
    publisher_ids: std::collections::HashMap<usize, u64>,
    next_worker: usize,
    show: bool,
    connected: usize,
    failed: usize,
    /// Publishers (spec ids) the server reported up; a repeated `webrtcup` counts once.
    up: std::collections::HashSet<usize>,
    profiles: std::collections::BTreeMap<&'static str, usize>,
}

#[derive(Debug, Default)]
struct SetupOutcome {
    connected: usize,
    failed: usize,
    first_failure: Option<String>,
    setup_ms: Vec<f64>,
    first_media_ms: Vec<f64>,
}

impl Running {
    fn start(cfg: &RunConfig) -> Result<Self, BenchError> {
        let (progress_tx, progress) = mpsc::channel();
        let mut commands = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..cfg.threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let config = WorkerConfig {
                url: cfg.url.clone(),
                srtp: cfg.srtp.clone(),
                max_in_flight: cfg.max_in_flight,
                setup_timeout: cfg.setup_timeout,
                rx_coalesce: cfg.rx_coalesce,
                client_gro: cfg.client_gro,
            };
            handles.push(worker::spawn(config, rx, progress_tx.clone()));
            commands.push(tx);
        }
        Ok(Self {
            commands,
            handles,
            progress,
            publisher_ids: std::collections::HashMap::new(),
            next_worker: 0,
            show: cfg.progress && std::io::stderr().is_terminal(),
            connected: 0,
            failed: 0,
            up: std::collections::HashSet::new(),
            profiles: std::collections::BTreeMap::new(),
        })
    }

    /// Spreads clients over the threads round-robin.
    fn add(&mut self, specs: Vec<PeerSpec>) {
        let n = self.commands.len();
        let mut per: Vec<Vec<PeerSpec>> = vec![Vec::new(); n];
        for s in specs {
            per[self.next_worker % n].push(s);
            self.next_worker += 1;
        }
        for (tx, batch) in self.commands.iter().zip(per) {
            if !batch.is_empty() {
                let _ = tx.send(Command::Add(batch));
            }
        }
    }

    /// Waits until `count` more clients connected or failed, or `budget` passed.
    fn wait_setups(
        &mut self,
        count: usize,
        budget: Duration,
        what: &str,
    ) -> Result<SetupOutcome, BenchError> {
        let deadline = Instant::now() + budget;
        let mut out = SetupOutcome::default();
        let mut last_print = Instant::now();
        while out.connected + out.failed < count {
            let now = Instant::now();
            if now > deadline {
                out.failed = count - out.connected;
                out.first_failure
                    .get_or_insert_with(|| format!("setup phase over its {budget:?} budget"));
                break;
            }
            if self.handles.iter().all(|h| h.is_finished()) {
                return Err(BenchError::Setup("every client thread ended".into()));
            }
            match self.progress.recv_timeout(Duration::from_millis(100)) {
                Ok(p) => self.note(p, &mut out),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(BenchError::Setup("client threads ended".into()));
                }
            }
            if self.show && last_print.elapsed() > Duration::from_millis(250) {
                last_print = Instant::now();
                eprint!(
                    "\r{what}: {}/{count} connected, {} failed      ",
                    out.connected, out.failed
                );
            }
        }
        // Late first-media notes of this phase.
        while let Ok(p) = self.progress.try_recv() {
            self.note(p, &mut out);
        }
        if self.show {
            eprintln!(
                "\r{what}: {}/{count} connected, {} failed      ",
                out.connected, out.failed
            );
        }
        Ok(out)
    }

    /// Waits until `count` publishers are up on the server ([`Progress::Up`]), or `budget`.
    fn wait_publishers_up(&mut self, count: usize, budget: Duration) {
        let deadline = Instant::now() + budget;
        let mut scratch = SetupOutcome::default();
        while self.up.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Ok(p) = self
                .progress
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                self.note(p, &mut scratch);
            }
        }
    }

    fn note(&mut self, p: Progress, out: &mut SetupOutcome) {
        match p {
            Progress::Up { id } => {
                self.up.insert(id);
            }
            Progress::Joined { id, publisher } => {
                self.publisher_ids.insert(id, publisher);
            }
            Progress::Connected { setup, profile, .. } => {
                *self.profiles.entry(profile.unwrap_or("none")).or_default() += 1;
                out.connected += 1;
                self.connected += 1;
                out.setup_ms.push(setup.as_secs_f64() * 1e3);
            }
            Progress::FirstMedia { after, .. } => {
                out.first_media_ms.push(after.as_secs_f64() * 1e3)
            }
            Progress::Failed { reason, .. } => {
                out.failed += 1;
                self.failed += 1;
                out.first_failure.get_or_insert(reason);
            }
        }
    }

    fn sleep(&mut self, d: Duration, what: &str) {
        let end = Instant::now() + d;
        let mut scratch = SetupOutcome::default();
        while Instant::now() < end {
            if let Ok(p) = self
                .progress
                .recv_timeout(Duration::from_millis(100).min(end - Instant::now().min(end)))
            {
                self.note(p, &mut scratch);
            }
            if self.show {
                eprint!(
                    "\r{what}: {:.1} s left, {} connected, {} failed      ",
                    end.saturating_duration_since(Instant::now()).as_secs_f64(),
                    self.connected,
                    self.failed
                );
            }
        }
        if self.show {
            eprintln!();
        }
    }

    fn broadcast(&self, command: impl Fn() -> Command) {
        for tx in &self.commands {
            let _ = tx.send(command());
        }
    }

    /// Merges every thread's report.
    fn collect(&self) -> Result<WorkerReport, BenchError> {
        let mut total: Option<WorkerReport> = None;
        for tx in &self.commands {
            let (rtx, rrx) = mpsc::channel();
            let _ = tx.send(Command::Report(rtx));
            let r = rrx
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| BenchError::Setup("a client thread did not report".into()))?;
            match &mut total {
                None => total = Some(r),
                Some(t) => {
                    t.received += r.received;
                    t.lost += r.lost;
                    t.srtp_failures += r.srtp_failures;
                    t.sent += r.sent;
                    t.cpu_ns += r.cpu_ns;
                    t.latency_us
                        .add(&r.latency_us)
                        .map_err(|e| BenchError::Setup(format!("histogram: {e}")))?;
                }
            }
        }
        total.ok_or_else(|| BenchError::Setup("no client threads".into()))
    }

    fn stop(self) {
        self.broadcast(|| Command::Stop);
        for h in self.handles {
            let _ = h.join();
        }
    }
}

fn create_room(
    admin: &mut Control,
    session: u64,
    room: u64,
    publishers: usize,
) -> Result<(), BenchError> {
    let handle = attach(admin, session, "janus.plugin.videoroom")?;
    let body = json!({
        "request": "create", "room": room, "publishers": publishers.max(3),
        "audiocodec": "opus", "videocodec": "vp8", "bitrate": 0, "fir_freq": 10,
        "description": "portunus-bench",
    });
    match admin.request(message(session, handle, body), API_TIMEOUT) {
        Ok(_) => Ok(()),
        Err(BenchError::Api(e)) if e.contains("427") => Ok(()), // the room exists
        Err(e) => Err(e),
    }
}

/// Creates an RTP mountpoint with Opus (mid `a`) and VP8 (mid `v`) on free ports; returns
/// the ports (audio, video).
fn create_mountpoint(admin: &mut Control, session: u64, id: u64) -> Result<(u16, u16), BenchError> {
    let handle = attach(admin, session, "janus.plugin.streaming")?;
    let _ = admin.request(
        message(session, handle, json!({"request": "destroy", "id": id})),
        API_TIMEOUT,
    );
    let body = json!({
        "request": "create", "type": "rtp", "id": id, "name": "portunus-bench",
        "description": "portunus-bench",
        "media": [
            {"type": "audio", "mid": "a", "port": 0, "pt": crate::media::OPUS_PT, "codec": "opus"},
            {"type": "video", "mid": "v", "port": 0, "pt": crate::media::VP8_PT, "codec": "vp8"},
        ],
    });
    let answer = admin.request(message(session, handle, body), API_TIMEOUT)?;
    let ports = &answer["plugindata"]["data"]["stream"]["ports"];
    let port = |mid: &str| {
        ports
            .as_array()
            .and_then(|a| a.iter().find(|p| p["mid"] == mid))
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
    };
    match (port("a"), port("v")) {
        (Some(a), Some(v)) => Ok((a, v)),
        _ => Err(BenchError::Api(format!(
            "create mountpoint: no ports in {answer}"
        ))),
    }
}

fn attach(admin: &mut Control, session: u64, plugin: &str) -> Result<u64, BenchError> {
    admin.request(
        json!({"janus": "attach", "session_id": session, "plugin": plugin}),
        API_TIMEOUT,
    )?["data"]["id"]
        .as_u64()
        .ok_or_else(|| BenchError::Api("attach: no handle id".into()))
}

fn message(session: u64, handle: u64, body: serde_json::Value) -> serde_json::Value {
    json!({"janus": "message", "session_id": session, "handle_id": handle, "body": body})
}

/// The feeder: a plain-RTP paced sender into a mountpoint's ports, on its own thread.
fn spawn_feeder(
    (audio_port, video_port): (u16, u16),
    media: MediaConfig,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
            return;
        };
        let media = MediaConfig {
            simulcast: false,
            ..media
        };
        let mut source = MediaSource::new(Instant::now(), 1000, 0x2000_0000, &media);
        let mut buf = [0u8; 1500];
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            while let Some(len) = source.poll_packet(now, stamp_clock_ns(), &mut buf) {
                let port = if buf[1] & 0x7f == crate::media::OPUS_PT {
                    audio_port
                } else {
                    video_port
                };
                let _ = socket.send_to(&buf[..len], ("127.0.0.1", port));
            }
            let wait = source
                .poll_timeout()
                .saturating_duration_since(Instant::now());
            std::thread::sleep(wait.min(Duration::from_millis(5)));
        }
    })
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

const API_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_nearest_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
