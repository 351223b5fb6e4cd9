//! `portunus-bench`: run a scenario against a running server, or `--compare` Portunus and
//! Janus 1.1 side by side (each started here, pinned to one core, runs alternating).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use portunus_bench::media::MediaConfig;
use portunus_bench::report;
use portunus_bench::scenario::{self, RunConfig, RunResult, Scenario};
use portunus_bench::server::{Launcher, ServerKind};
use portunus_dtls::SrtpProfile;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScenarioArg {
    /// RTP fed into a Streaming mountpoint, N viewers.
    Stream,
    /// One VideoRoom publisher, N subscribers.
    Webinar,
    /// N publishers, each subscribed to all others.
    Meeting,
    /// Subscribers set up as fast as the server takes them, up to N.
    JoinStorm,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SrtpArg {
    /// AES_CM_128_HMAC_SHA1_80 only (what Janus and browsers always support).
    Cm80,
    /// AEAD_AES_128_GCM only.
    Gcm,
    /// GCM first, then AES-CM.
    Any,
}

/// Load generator for Janus-API WebRTC servers (Portunus, Janus 1.1).
#[derive(Debug, Parser)]
#[command(name = "portunus-bench", version)]
struct Cli {
    /// The load shape.
    #[arg(value_enum)]
    scenario: ScenarioArg,
    /// Subscribers (viewers, participants); a list such as 50,200,500 runs each in turn.
    #[arg(long, value_delimiter = ',', default_value = "10")]
    n: Vec<usize>,
    /// Janus API WebSocket URL of a running server (not with --compare).
    #[arg(long, default_value = "ws://127.0.0.1:8188/")]
    url: String,
    /// PID of the running server, for CPU and memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Server name in reports.
    #[arg(long, default_value = "server")]
    label: String,
    /// Client threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Top video layer bitrate, kbit/s (0: no video).
    #[arg(long, default_value_t = 1500)]
    bitrate_kbps: u64,
    /// Publishers send three simulcast layers.
    #[arg(long)]
    simulcast: bool,
    /// No Opus audio.
    #[arg(long)]
    no_audio: bool,
    /// Publishers pace video at this multiple of its bitrate, in 5 ms budget intervals, as
    /// browsers do (Chrome: 2.5); 0 sends each frame as one burst.
    #[arg(long, default_value_t = portunus_bench::media::DEFAULT_PACING_FACTOR)]
    pacing_factor: f64,
    /// Each video frame leaves as one burst (the same as `--pacing-factor 0`).
    #[arg(long)]
    burst: bool,
    /// Seconds discarded after everyone connected.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds a client may take to connect.
    #[arg(long, default_value_t = 20.0)]
    setup_timeout: f64,
    /// Setups in flight per client thread.
    #[arg(long, default_value_t = 16)]
    max_in_flight: usize,
    /// SRTP profiles the clients offer (`any`: GCM first, so both servers use it when they
    /// support it; the negotiated profile is in every result).
    #[arg(long, value_enum, default_value = "any")]
    srtp: SrtpArg,
    /// Once everyone connected, a client thread wakes at most once per this many µs, so each
    /// wakeup reads many packets (latency comes from kernel receive timestamps either way;
    /// 0 wakes for every packet).
    #[arg(long, default_value_t = 2000)]
    rx_coalesce_us: u64,
    /// Client sockets do not set UDP_GRO: the server's GSO sends are then segmented again
    /// on loopback, on the server's CPU (no real network charges a sender for that).
    #[arg(long)]
    no_client_gro: bool,
    /// Room or mountpoint id to create and use.
    #[arg(long, default_value_t = 4242)]
    room: u64,
    /// Write every result as JSON here ("-" for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write the SVG plot here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Start each server in turn and run the scenario against each (alternating order).
    #[arg(long)]
    compare: bool,
    /// Grow one run through the `--n` list (ascending) instead of a fresh run per N: the
    /// same publishers (or feeder) stay, more subscribers join, and each step is measured
    /// (with `--compare`, one server start per server and ramp). Not for `meeting`.
    #[arg(long)]
    ramp: bool,
    /// Servers for --compare: portunus, portunus-nogso (UDP GSO off), janus, janus-el1
    /// (event_loops = 1).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "janus,portunus,janus-el1"
    )]
    servers: Vec<String>,
    /// The portunus binary for --compare.
    #[arg(long, default_value = "target/release/portunus")]
    portunus_bin: PathBuf,
    /// Portunus shard threads for --compare.
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// The Janus start script for --compare.
    #[arg(long, default_value = "bench/scripts/janus.sh")]
    janus_script: PathBuf,
    /// Core the server is pinned to (--compare).
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    /// Core the load generator pins itself to (--compare; -1 leaves it alone).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    client_core: i64,
    /// WebSocket port of started servers (HTTP and Admin use the next two).
    #[arg(long, default_value_t = 18188)]
    ws_port: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portunus-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = match cli.scenario {
        ScenarioArg::Stream => Scenario::Stream,
        ScenarioArg::Webinar => Scenario::Webinar,
        ScenarioArg::Meeting => Scenario::Meeting,
        ScenarioArg::JoinStorm => Scenario::JoinStorm,
    };
    let base = RunConfig {
        scenario,
        n: 0,
        url: cli.url.clone(),
        server_pid: cli.server_pid,
        server_label: cli.label.clone(),
        threads: cli.threads,
        media: MediaConfig {
            video_bitrate: cli.bitrate_kbps * 1000,
            simulcast: cli.simulcast,
            audio: !cli.no_audio,
            keyframe_interval: Duration::from_secs(2),
            pacing_factor: if cli.burst { 0.0 } else { cli.pacing_factor },
        },
        warmup: Duration::from_secs_f64(cli.warmup),
        duration: Duration::from_secs_f64(cli.duration),
        max_in_flight: cli.max_in_flight,
        setup_timeout: Duration::from_secs_f64(cli.setup_timeout),
        srtp: match cli.srtp {
            SrtpArg::Cm80 => vec![SrtpProfile::Aes128CmSha1_80],
            SrtpArg::Gcm => vec![SrtpProfile::AeadAes128Gcm],
            SrtpArg::Any => vec![SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmSha1_80],
        },
        room: cli.room,
        rx_coalesce: Duration::from_micros(cli.rx_coalesce_us),
        client_gro: !cli.no_client_gro,
        progress: true,
    };
    let mut results: Vec<RunResult> = Vec::new();
    if cli.compare {
        let kinds = cli
            .servers
            .iter()
            .map(|s| ServerKind::parse(s).ok_or_else(|| format!("unknown server {s}")))
            .collect::<Result<Vec<_>, _>>()?;
        if cli.client_core >= 0 {
            pin_self(cli.client_core as usize)?;
        }
        let launcher = Launcher {
            portunus_bin: cli.portunus_bin.clone(),
            janus_script: cli.janus_script.clone(),
            server_core: cli.server_core,
            ws_port: cli.ws_port,
            shards: cli.shards,
        };
        if cli.ramp {
            for kind in &kinds {
                eprintln!(
                    "== {} ramp {:?}: starting {}",
                    cli.scenario_name(),
                    cli.n,
                    kind.label()
                );
                let mut server = launcher.start(*kind)?;
                let cfg = RunConfig {
                    url: format!("ws://127.0.0.1:{}/", cli.ws_port),
                    server_pid: Some(server.pid),
                    server_label: kind.label().to_owned(),
                    ..base.clone()
                };
                let outcome = scenario::ramp(&cfg, &cli.n);
                server.stop();
                match outcome {
                    Ok(steps) => {
                        steps.iter().for_each(print_one);
                        results.extend(steps);
                    }
                    Err(e) => eprintln!("{} ramp: {e}", kind.label()),
                }
            }
        }
        for (step, &n) in cli.n.iter().enumerate().filter(|_| !cli.ramp) {
            // Alternate the order from one N to the next (A B C, C B A, …).
            let mut order = kinds.clone();
            if step % 2 == 1 {
                order.reverse();
            }
            for kind in order {
                eprintln!(
                    "== {} N={n}: starting {}",
                    cli.scenario_name(),
                    kind.label()
                );
                let mut server = launcher.start(kind)?;
                let cfg = RunConfig {
                    n,
                    url: format!("ws://127.0.0.1:{}/", cli.ws_port),
                    server_pid: Some(server.pid),
                    server_label: kind.label().to_owned(),
                    ..base.clone()
                };
                let result = scenario::run(&cfg);
                server.stop();
                match result {
                    Ok(r) => {
                        print_one(&r);
                        results.push(r);
                    }
                    Err(e) => eprintln!("{} N={n}: {e}", kind.label()),
                }
            }
        }
    } else if cli.ramp {
        for r in scenario::ramp(&base, &cli.n)? {
            print_one(&r);
            results.push(r);
        }
    } else {
        for &n in &cli.n {
            let r = scenario::run(&RunConfig { n, ..base.clone() })?;
            print_one(&r);
            results.push(r);
        }
    }
    let table = report::markdown(&results);
    println!("\n{table}");
    if cli.compare {
        println!("{}", report::ratios(&results, "portunus"));
    }
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&results)?;
        if path.as_os_str() == "-" {
            println!("{text}");
        } else {
            std::fs::write(path, text + "\n")?;
        }
    }
    if let Some(path) = &cli.markdown {
        std::fs::write(path, table)?;
    }
    if let Some(path) = &cli.svg {
        let title = format!(
            "{}: server CPU per egress packet and p99 latency against N",
            cli.scenario_name()
        );
        std::fs::write(path, report::svg(&results, &title))?;
    }
    Ok(())
}

impl Cli {
    fn scenario_name(&self) -> &'static str {
        match self.scenario {
            ScenarioArg::Stream => "stream",
            ScenarioArg::Webinar => "webinar",
            ScenarioArg::Meeting => "meeting",
            ScenarioArg::JoinStorm => "join-storm",
        }
    }
}

fn print_one(r: &RunResult) {
    let opt = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"));
    eprintln!(
        "{} N={}: {}/{} connected, {}, {:.0} pkt/s, loss {:.3} %, p50/p99/p99.9 {}/{}/{} µs (baseline p99 {} µs, added {} µs), server {} CPU-ns/pkt, {} KiB/sub, {:.1} setups/s, client {:.0} CPU-ns/pkt{}",
        r.server,
        r.n,
        r.connected,
        r.connected + r.failed,
        r.srtp_profile.as_deref().unwrap_or("no SRTP"),
        r.egress_pps,
        r.loss_pct,
        r.latency_p50_us,
        r.latency_p99_us,
        r.latency_p999_us,
        r.baseline_p99_us,
        r.added_p99_us,
        opt(r.server_cpu_ns_per_packet),
        opt(r.rss_kib_per_subscriber),
        r.setups_per_s,
        r.client_cpu_ns_per_packet,
        r.first_failure
            .as_ref()
            .map(|f| format!(" (first failure: {f})"))
            .unwrap_or_default(),
    );
}

/// Pins this process (and the threads it starts afterwards) to one core.
fn pin_self(core: usize) -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes within it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("cannot pin the load generator to core {core}"))
    }
}
