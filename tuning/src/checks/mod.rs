//! The host checks: each reads the host through a [`HostProbe`] and says what it saw, what
//! Portunus wants, how bad the difference is and how to fix it.

mod cpu;
mod limits;
mod nic;
pub(crate) mod sysctl;

use std::fmt;

use serde::Serialize;

use crate::HostProbe;

pub(crate) use cpu::KernelParams;
pub(crate) use nic::{Nic, parse_interrupts};

/// Runs every check against the host `probe` reads, in a fixed order: io_uring and the
/// kernel, resource limits, network sysctls, CPU governor, IRQ balancing, per NIC the queue
/// IRQ affinity and RPS, NUMA, core isolation, transparent hugepages.
pub fn check(probe: &HostProbe) -> Vec<CheckResult> {
    let mut results = vec![
        limits::io_uring(probe),
        limits::kernel_release(probe),
        limits::memlock(probe),
        limits::nofile(probe),
    ];
    results.extend(sysctl::evaluate(probe).into_iter().map(|e| e.result));
    results.push(cpu::governor(probe));
    results.push(nic::irqbalance(probe));
    let nics = Nic::discover(probe);
    if nics.is_empty() {
        results.push(nic::no_nic());
    }
    for nic in &nics {
        results.push(nic::irq_affinity(probe, nic));
        results.push(nic::rps(probe, nic));
    }
    results.push(cpu::numa(probe, &nics));
    results.push(cpu::isolation(probe));
    results.push(cpu::transparent_hugepages(probe));
    results
}

/// One line per failed check, for the server to log as a warning when it starts. Checks
/// that only warn are left to `portunus-tune check`.
pub fn startup_warnings(probe: &HostProbe) -> Vec<String> {
    check(probe)
        .into_iter()
        .filter(|result| result.status == Status::Fail)
        .map(|result| result.warning_line())
        .collect()
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// A stable identifier: the sysctl key (`net.core.rmem_max`) or a dotted name
    /// (`limits.memlock`, `nic.eth0.irq_affinity`).
    pub name: String,
    /// What the host has, in words.
    pub observed: String,
    /// What Portunus wants, in words.
    pub recommended: String,
    /// How far the host is from the recommendation.
    pub status: Status,
    /// One line on why the setting matters for this server.
    pub why: String,
    /// How to get to the recommendation, where there is a way.
    pub fix: Option<Fix>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As recommended.
    Ok,
    /// Could not be determined (file missing, not probed, no NIC).
    Unknown,
    /// Works, but costs performance or predictability.
    Warn,
    /// Limits the server: it will drop packets, fail to start its io_uring path or run out of
    /// a resource under load. The server logs one warning per failed check at start.
    Fail,
}

/// A way to bring a setting to its recommended value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fix {
    /// Set a sysctl. `apply` writes it to `/proc/sys` and persists it in
    /// `/etc/sysctl.d/90-portunus.conf`.
    Sysctl {
        /// The dotted key (`net.core.rmem_max`).
        key: String,
        /// The value to set.
        value: String,
    },
    /// Write these kernel files (`/sys`, `/proc/irq`). `apply` writes them.
    WriteFiles {
        /// The writes, in order.
        writes: Vec<FileWrite>,
    },
    /// Raise a resource limit of the server process; `apply` cannot, it is per process.
    Ulimit {
        /// The shell command for the server's shell.
        shell: String,
        /// The setting for the server's systemd unit.
        systemd: String,
    },
    /// Boot with these kernel command-line parameters; `apply` does not edit the boot loader.
    KernelCmdline {
        /// The parameters to add.
        params: String,
    },
    /// Something an operator has to decide or do; `apply` leaves it alone.
    Manual {
        /// What to do.
        action: String,
    },
}

/// One write of a kernel file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileWrite {
    /// The file, as an absolute path on the host (`/proc/irq/40/smp_affinity_list`).
    pub path: String,
    /// The value written (a newline is appended).
    pub value: String,
    /// What the write changes, for the dry-run listing (`cpu0 governor: powersave -> performance`).
    pub note: String,
}

impl CheckResult {
    /// The line [`startup_warnings`] logs for this result.
    pub fn warning_line(&self) -> String {
        let mut line = format!(
            "host check {} {}: observed {}, recommended {}. {}",
            self.name, self.status, self.observed, self.recommended, self.why
        );
        if let Some(fix) = &self.fix {
            line.push_str(&format!(" Fix: {fix}."));
        }
        line.push_str(" (see `portunus-tune check`)");
        line
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ok => "ok",
            Self::Unknown => "unknown",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        })
    }
}

impl fmt::Display for Fix {
    /// The fix as a one-line command or instruction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sysctl { key, value } if value.contains(' ') => {
                write!(f, "sysctl -w {key}='{value}'")
            }
            Self::Sysctl { key, value } => write!(f, "sysctl -w {key}={value}"),
            Self::WriteFiles { writes } => {
                for (i, write) in writes.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "echo {} > {}", write.value, write.path)?;
                }
                Ok(())
            }
            Self::Ulimit { shell, systemd } => {
                write!(
                    f,
                    "`{shell}` before starting the server, or {systemd} in its systemd unit"
                )
            }
            Self::KernelCmdline { params } => {
                write!(f, "add `{params}` to the kernel command line and reboot")
            }
            Self::Manual { action } => f.write_str(action),
        }
    }
}

/// Formats a byte count as MiB when it is a whole number of them, else as bytes.
pub(crate) fn bytes(value: u64) -> String {
    if value >= MIB && value.is_multiple_of(MIB) {
        format!("{} MiB", value / MIB)
    } else if value >= KIB && value.is_multiple_of(KIB) {
        format!("{} KiB", value / KIB)
    } else {
        format!("{value} B")
    }
}

pub(crate) const KIB: u64 = 1024;
pub(crate) const MIB: u64 = 1024 * 1024;
