//! The server under test: its CPU time and memory read from `/proc/<pid>`, and, for
//! `--compare`, starting and stopping Portunus and Janus as child processes pinned to a core.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::BenchError;

/// Reads a running server's resource use from `/proc/<pid>`.
#[derive(Debug, Clone, Copy)]
pub struct ServerProbe {
    pid: u32,
}

impl ServerProbe {
    /// A probe of process `pid`.
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// User plus system CPU time of the whole process (all threads, including exited ones),
    /// from fields 14 and 15 of `/proc/<pid>/stat`, in nanoseconds.
    ///
    /// # Errors
    /// [`BenchError::Server`] when the process is gone or the file unreadable.
    pub fn cpu_ns(&self) -> Result<u64, BenchError> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|e| BenchError::Server(format!("/proc/{}/stat: {e}", self.pid)))?;
        parse_stat_cpu_ticks(&stat)
            .map(|ticks| ticks * 1_000_000_000 / clock_ticks_per_second())
            .ok_or_else(|| {
                BenchError::Server(format!("/proc/{}/stat: unexpected format", self.pid))
            })
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
    ///
    /// # Errors
    /// [`BenchError::Server`] when the process is gone or the file unreadable.
    pub fn rss_kib(&self) -> Result<u64, BenchError> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|e| BenchError::Server(format!("/proc/{}/status: {e}", self.pid)))?;
        parse_status_kib(&status, "VmRSS:")
            .ok_or_else(|| BenchError::Server(format!("/proc/{}/status: no VmRSS", self.pid)))
    }

    /// Whether the process still exists.
    pub fn alive(&self) -> bool {
        // A process that exited but is not reaped yet keeps its /proc entry, state Z.
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|stat| parse_stat_state(&stat))
            .is_some_and(|state| !matches!(state, 'Z' | 'X' | 'x'))
    }
}

/// utime + stime (clock ticks) from the text of `/proc/<pid>/stat`. The command name (field
/// 2) may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: field 3 (state) is the first; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The state letter (field 3) from the text of `/proc/<pid>/stat`.
fn parse_stat_state(stat: &str) -> Option<char> {
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// A `kB` value of `/proc/<pid>/status`.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// Which server a comparison run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ServerKind {
    /// Portunus (this project).
    Portunus,
    /// Portunus with UDP GSO off (`PORTUNUS_NO_GSO=1`): one send per datagram.
    PortunusNoGso,
    /// Janus 1.1 as packaged (one thread per handle).
    Janus,
    /// Janus with `event_loops = 1`.
    JanusEventLoop,
}

impl ServerKind {
    /// The label used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Portunus => "portunus",
            Self::PortunusNoGso => "portunus-nogso",
            Self::Janus => "janus",
            Self::JanusEventLoop => "janus-el1",
        }
    }

    /// Parses a label.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "portunus" => Some(Self::Portunus),
            "portunus-nogso" => Some(Self::PortunusNoGso),
            "janus" => Some(Self::Janus),
            "janus-el1" => Some(Self::JanusEventLoop),
            _ => None,
        }
    }
}

/// How to start the servers of a comparison.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The `portunus` binary.
    pub portunus_bin: PathBuf,
    /// `bench/scripts/janus.sh`.
    pub janus_script: PathBuf,
    /// Core the server is pinned to.
    pub server_core: usize,
    /// WebSocket port the server listens on.
    pub ws_port: u16,
    /// Portunus shard threads.
    pub shards: usize,
}

/// A server this process started; stopped (by PID) on drop.
#[derive(Debug)]
pub struct RunningServer {
    /// Which server.
    pub kind: ServerKind,
    /// Its process id.
    pub pid: u32,
    child: Option<std::process::Child>,
    /// Working directory to remove afterwards (Janus's generated configuration).
    workdir: Option<PathBuf>,
}

impl Launcher {
    /// Starts `kind` pinned to the server core and waits until its WebSocket port accepts.
    ///
    /// # Errors
    /// [`BenchError::Server`] when it cannot be started or does not listen within 20 s.
    pub fn start(&self, kind: ServerKind) -> Result<RunningServer, BenchError> {
        // A server left running on the port would answer in place of the one started here
        // (which then fails to bind and exits), and its figures would be reported as ours.
        if std::net::TcpStream::connect(("127.0.0.1", self.ws_port)).is_ok() {
            return Err(BenchError::Server(format!(
                "port {} is already taken by another server: stop it or pick --ws-port",
                self.ws_port
            )));
        }
        let server = match kind {
            ServerKind::Portunus | ServerKind::PortunusNoGso => {
                let mut command = Command::new("taskset");
                if kind == ServerKind::PortunusNoGso {
                    command.env("PORTUNUS_NO_GSO", "1");
                }
                let child = command
                    .arg("-c")
                    .arg(self.server_core.to_string())
                    .arg(&self.portunus_bin)
                    .args(["--ws-port", &self.ws_port.to_string()])
                    .args(["--http-port", &(self.ws_port + 1).to_string()])
                    .args(["--admin-port", &(self.ws_port + 2).to_string()])
                    .args(["--shards", &self.shards.to_string()])
                    .args(["--debug-level", "3"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| {
                        BenchError::Server(format!("{}: {e}", self.portunus_bin.display()))
                    })?;
                RunningServer {
                    kind,
                    pid: child.id(),
                    child: Some(child),
                    workdir: None,
                }
            }
            ServerKind::Janus | ServerKind::JanusEventLoop => {
                let workdir = std::env::temp_dir()
                    .join(format!("portunus-bench-janus-{}", std::process::id()));
                let out = Command::new("bash")
                    .arg(&self.janus_script)
                    .arg("start")
                    .arg(&workdir)
                    .args(["--ws-port", &self.ws_port.to_string()])
                    .args(["--cpu", &self.server_core.to_string()])
                    .args([
                        "--event-loops",
                        if kind == ServerKind::JanusEventLoop {
                            "1"
                        } else {
                            "0"
                        },
                    ])
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|e| {
                        BenchError::Server(format!("{}: {e}", self.janus_script.display()))
                    })?;
                let text = String::from_utf8_lossy(&out.stdout);
                let pid = text
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse().ok())
                    .filter(|_| out.status.success())
                    .ok_or_else(|| BenchError::Server(format!("janus.sh start failed: {text}")))?;
                RunningServer {
                    kind,
                    pid,
                    child: None,
                    workdir: Some(workdir),
                }
            }
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.ws_port)).is_err() {
            if Instant::now() > deadline || !ServerProbe::new(server.pid).alive() {
                return Err(BenchError::Server(format!(
                    "{} did not start listening",
                    kind.label()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Let start-up work (certificate generation, plugin init) settle before measuring.
        std::thread::sleep(Duration::from_millis(500));
        if !server.probe().alive() {
            return Err(BenchError::Server(format!(
                "{} exited after it started listening",
                kind.label()
            )));
        }
        Ok(server)
    }
}

impl RunningServer {
    /// A probe of this server.
    pub fn probe(&self) -> ServerProbe {
        ServerProbe::new(self.pid)
    }

    /// Stops the server by its PID: SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        let pid = self.pid as libc::pid_t;
        // SAFETY: kill(2) on the PID of a process this bench started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let gone = match &mut self.child {
                Some(child) => child.try_wait().map(|s| s.is_some()).unwrap_or(true),
                None => !ServerProbe::new(self.pid).alive() || is_zombie(self.pid),
            };
            if gone {
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                if let Some(child) = &mut self.child {
                    let _ = child.wait();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(dir) = self.workdir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if ServerProbe::new(self.pid).alive() && !is_zombie(self.pid) {
            self.stop();
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_fields_are_found_after_a_name_with_spaces() {
        let stat =
            "1234 (janus (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(287));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_values_are_read_in_kib() {
        let status = "Name:\tjanus\nVmPeak:\t  9000 kB\nVmRSS:\t   4321 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(4321));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn an_exited_unreaped_process_is_not_alive() {
        assert_eq!(parse_stat_state("77 (portunus) Z 1 77"), Some('Z'));
        assert_eq!(parse_stat_state("77 (a) b) S 1 77"), Some('S'));
        let mut child = Command::new("true").spawn().expect("spawn true");
        let probe = ServerProbe::new(child.id());
        // Not waited for: it stays a zombie with a /proc entry until reaped.
        let deadline = Instant::now() + Duration::from_secs(5);
        while probe.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!probe.alive(), "a zombie is not a running server");
        let _ = child.wait();
    }

    #[test]
    fn own_process_is_probed() {
        let probe = ServerProbe::new(std::process::id());
        assert!(probe.rss_kib().expect("rss") > 0);
        assert!(probe.cpu_ns().is_ok());
        assert!(probe.alive());
    }
}
