//! End to end: the load generator against a real Portunus started as a child process.
//! A webinar with one publisher and two subscribers runs for a few seconds; every client must
//! connect through ICE and DTLS, media must arrive authenticated and stamped, and the server's
//! CPU time must be readable from /proc.
//!
//! The server binary is `$PORTUNUS_BIN`, else `portunus` in this test's target directory,
//! built with `cargo build -p portunus` when it is missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portunus_bench::media::MediaConfig;
use portunus_bench::scenario::{self, RunConfig, Scenario};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn portunus_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PORTUNUS_BIN") {
        return bin.into();
    }
    // target/<profile>/deps/smoke-… → target/<profile>/portunus
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    let bin = dir.join("portunus");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "portunus", "--bin", "portunus"]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo build -p portunus");
        assert!(status.success(), "building the portunus binary failed");
    }
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn start_portunus() -> (Server, u16) {
    let ws = free_port();
    let child = Command::new(portunus_bin())
        .args(["--ws-port", &ws.to_string()])
        .args(["--http-port", &free_port().to_string()])
        .args(["--admin-port", &free_port().to_string()])
        .args(["--shards", "1", "--debug-level", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("portunus starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", ws)).is_err() {
        assert!(Instant::now() < deadline, "portunus did not listen on {ws}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, ws)
}

/// A short run's settings against the server on `ws` with PID `pid`.
fn config(scenario: Scenario, n: usize, ws: u16, pid: u32) -> RunConfig {
    RunConfig {
        scenario,
        n,
        url: format!("ws://127.0.0.1:{ws}/"),
        server_pid: Some(pid),
        server_label: "portunus".into(),
        threads: 1,
        media: MediaConfig {
            video_bitrate: 300_000,
            simulcast: false,
            audio: true,
            keyframe_interval: Duration::from_secs(1),
            pacing_factor: portunus_bench::media::DEFAULT_PACING_FACTOR,
        },
        warmup: Duration::from_millis(500),
        duration: Duration::from_secs(2),
        max_in_flight: 4,
        setup_timeout: Duration::from_secs(10),
        srtp: vec![portunus_dtls::SrtpProfile::AeadAes128Gcm],
        room: 77,
        rx_coalesce: Duration::from_millis(2),
        client_gro: true,
        progress: false,
    }
}

#[test]
fn webinar_of_two_subscribers_receives_authenticated_stamped_media_from_portunus() {
    let (server, ws) = start_portunus();
    let cfg = config(Scenario::Webinar, 2, ws, server.0.id());
    let r = scenario::run(&cfg).expect("the run completes");
    assert_eq!(
        (r.connected, r.failed),
        (2, 0),
        "first failure: {:?}",
        r.first_failure
    );
    assert_eq!(r.srtp_failures, 0);
    // Two subscribers of ~30 video + 50 audio packets/s for 2 s.
    assert!(r.received > 150, "received only {} packets", r.received);
    assert!(r.loss_pct < 5.0, "loss {} %", r.loss_pct);
    assert!(r.latency_p50_us > 0 && r.latency_p50_us < 500_000);
    assert_eq!(r.srtp_profile.as_deref(), Some("AEAD_AES_128_GCM"));
    assert!(r.baseline_p99_us >= r.baseline_p50_us && r.baseline_p50_us > 0);
    assert!(r.server_cpu_ns_per_packet.is_some());
    assert!(r.rss_kib.is_some_and(|kib| kib > 0));
}

#[test]
fn a_ramped_stream_measures_each_step_with_the_audience_grown() {
    let (server, ws) = start_portunus();
    let cfg = config(Scenario::Stream, 0, ws, server.0.id());
    let steps = scenario::ramp(&cfg, &[1, 3]).expect("the ramp completes");
    assert_eq!(
        steps
            .iter()
            .map(|r| (r.n, r.connected, r.failed))
            .collect::<Vec<_>>(),
        [(1, 1, 0), (3, 3, 0)],
        "first failures: {:?}",
        steps.iter().map(|r| &r.first_failure).collect::<Vec<_>>()
    );
    for r in &steps {
        assert_eq!(r.srtp_failures, 0);
        assert!(r.loss_pct < 5.0, "loss {} % at N={}", r.loss_pct, r.n);
        assert!(r.server_cpu_ns_per_packet.is_some());
    }
    // The same feed reaches three viewers instead of one: about three times the packets.
    let (one, three) = (steps[0].received as f64, steps[1].received as f64);
    assert!(
        one > 50.0 && three > 2.5 * one && three < 3.5 * one,
        "received {one} then {three}"
    );
    // Steps must grow.
    assert!(scenario::ramp(&cfg, &[3, 2]).is_err());
    let meeting = config(Scenario::Meeting, 0, ws, server.0.id());
    assert!(scenario::ramp(&meeting, &[2, 3]).is_err());
}
