//! [`HostProbe`]: every read of the host goes through it, rooted at a directory so that tests
//! can point it at a fake `/proc` and `/sys` tree.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{CpuSet, TuneError};

/// Reads the host's `/proc`, `/sys` and `/etc` below a root directory, and knows which cores
/// the shards run on.
///
/// With the root `/` it reads the running host and, at construction, tries one
/// `io_uring_setup`. With any other root it reads only files, so nothing it reports depends
/// on the machine the tests run on; [`HostProbe::with_io_uring_setup`] stands in for the
/// syscall there.
#[derive(Debug, Clone)]
pub struct HostProbe {
    root: PathBuf,
    io_uring: IoUringSetup,
    shard_cores: Option<CpuSet>,
    limits_of: Option<u32>,
    page_size: u64,
}

/// What happened when the probe tried `io_uring_setup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoUringSetup {
    /// A ring was created (and closed again).
    Works,
    /// The syscall failed with this errno (`EPERM` when disabled by policy, `ENOSYS` when the
    /// kernel has no io_uring, `ENOMEM` when the memlock limit is too low on old kernels).
    Failed {
        /// The OS error number.
        errno: i32,
    },
    /// Not tried: the probe reads a tree other than the running host's.
    NotProbed,
}

/// A per-process resource limit, as read from `/proc/self/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The soft limit: the one the kernel enforces.
    pub soft: LimitValue,
    /// The hard limit: the ceiling an unprivileged process may raise its soft limit to.
    pub hard: LimitValue,
}

/// One side of a resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LimitValue {
    /// A number (bytes for memlock, descriptors for nofile).
    Finite(u64),
    /// No limit (`unlimited`, `RLIM_INFINITY`).
    Unlimited,
}

/// The resource limits the checks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `RLIMIT_MEMLOCK`: bytes of locked memory, which io_uring's pinned memory counts against.
    Memlock,
    /// `RLIMIT_NOFILE`: open file descriptors.
    Nofile,
}

impl HostProbe {
    /// A probe reading the tree below `root`; `/` is the running host.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let live = root == Path::new("/");
        let (io_uring, page_size) = if live {
            (probe_io_uring(), live_page_size())
        } else {
            (IoUringSetup::NotProbed, DEFAULT_PAGE_SIZE)
        };
        Self {
            root,
            io_uring,
            shard_cores: None,
            limits_of: None,
            page_size,
        }
    }

    /// Replaces the outcome of the `io_uring_setup` probe (for fake roots in tests).
    pub fn with_io_uring_setup(mut self, outcome: IoUringSetup) -> Self {
        self.io_uring = outcome;
        self
    }

    /// Sets the cores the shards run on; the checks of IRQ and RPS affinity, governors, NUMA
    /// and isolation are measured against them, and memlock and `udp_mem` scale with their
    /// count. Without this call the shards run on every online CPU, the server's default.
    ///
    /// # Errors
    /// [`TuneError::ShardCores`] when `cores` is empty or not all online.
    pub fn with_shard_cores(mut self, cores: CpuSet) -> Result<Self, TuneError> {
        let online = self.online_cpus();
        if cores.is_empty() || !cores.is_subset(&online) {
            return Err(TuneError::ShardCores {
                asked: cores.to_list(),
                online: online.to_list(),
            });
        }
        self.shard_cores = Some(cores);
        Ok(self)
    }

    /// Sets the shards to the first `shards` online CPUs, as the server pins shard i to the
    /// i-th core.
    ///
    /// # Errors
    /// [`TuneError::ShardCount`] when `shards` is 0 or more than the online CPUs.
    pub fn with_shards(self, shards: usize) -> Result<Self, TuneError> {
        let online = self.online_cpus();
        if shards == 0 || shards > online.len() {
            return Err(TuneError::ShardCount {
                shards,
                online: online.to_list(),
            });
        }
        let cores = online.first(shards);
        self.with_shard_cores(cores)
    }

    /// Reads resource limits from `/proc/<pid>/limits` instead of `/proc/self/limits`, to
    /// check a running server's limits rather than those of the process doing the check.
    pub fn with_limits_of(mut self, pid: u32) -> Self {
        self.limits_of = Some(pid);
        self
    }

    /// The directory the probe reads below.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the probe reads the running host (root `/`).
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The outcome of the `io_uring_setup` probe.
    pub fn io_uring_setup(&self) -> IoUringSetup {
        self.io_uring
    }

    /// The page size `udp_mem` is counted in: the running kernel's for a live probe, 4096
    /// otherwise.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The cores the shards run on: those set with [`HostProbe::with_shard_cores`] or
    /// [`HostProbe::with_shards`], else every online CPU.
    pub fn shard_cores(&self) -> CpuSet {
        self.shard_cores
            .clone()
            .unwrap_or_else(|| self.online_cpus())
    }

    /// The online CPUs from `/sys/devices/system/cpu/online`, else the `cpuN` directories
    /// there, else CPU 0 alone.
    pub fn online_cpus(&self) -> CpuSet {
        if let Some(set) = self
            .read("/sys/devices/system/cpu/online")
            .and_then(|text| CpuSet::parse_list(&text).ok())
            .filter(|set| !set.is_empty())
        {
            return set;
        }
        let set: CpuSet = self.cpu_dirs().into_iter().collect();
        if set.is_empty() {
            [0].into_iter().collect()
        } else {
            set
        }
    }

    /// The numbers of the `/sys/devices/system/cpu/cpuN` directories, ascending.
    pub fn cpu_dirs(&self) -> Vec<u32> {
        let mut cpus: Vec<u32> = self
            .list("/sys/devices/system/cpu")
            .iter()
            .filter_map(|name| name.strip_prefix("cpu")?.parse().ok())
            .collect();
        cpus.sort_unstable();
        cpus
    }

    /// Where the host path `host_path` (absolute, as on the host) lies below the root.
    pub fn path(&self, host_path: &str) -> PathBuf {
        self.root.join(host_path.trim_start_matches('/'))
    }

    /// The contents of a host file with surrounding whitespace trimmed; `None` when it cannot
    /// be read.
    pub fn read(&self, host_path: &str) -> Option<String> {
        fs::read_to_string(self.path(host_path))
            .ok()
            .map(|text| text.trim().to_owned())
    }

    /// The contents of a host file as they are; `None` when it cannot be read.
    pub fn read_raw(&self, host_path: &str) -> Option<String> {
        fs::read_to_string(self.path(host_path)).ok()
    }

    /// The names in a host directory, sorted; empty when it cannot be read.
    pub fn list(&self, host_path: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.path(host_path)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// Whether a host path exists (following links).
    pub fn exists(&self, host_path: &str) -> bool {
        self.path(host_path).exists()
    }

    /// The last component of the target of a host symlink (`virtio2` for
    /// `/sys/class/net/eth0/device`).
    pub fn link_name(&self, host_path: &str) -> Option<String> {
        let target = fs::read_link(self.path(host_path)).ok()?;
        Some(target.file_name()?.to_str()?.to_owned())
    }

    /// A resource limit of this process from `/proc/self/limits`, or of the process set
    /// with [`HostProbe::with_limits_of`].
    pub fn limit(&self, resource: Resource) -> Option<Limit> {
        let label = match resource {
            Resource::Memlock => "Max locked memory",
            Resource::Nofile => "Max open files",
        };
        parse_limit(&self.read(&self.limits_path())?, label)
    }

    /// The `limits` file [`HostProbe::limit`] reads.
    pub fn limits_path(&self) -> String {
        match self.limits_of {
            Some(pid) => format!("/proc/{pid}/limits"),
            None => "/proc/self/limits".to_owned(),
        }
    }
}

impl Default for HostProbe {
    /// The running host, shards on every online CPU.
    fn default() -> Self {
        Self::new("/")
    }
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Finite(value) => write!(f, "{value}"),
            Self::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl IoUringSetup {
    /// The outcome in words: `works`, `EPERM`, `not probed`.
    pub fn describe(&self) -> String {
        match self {
            Self::Works => "io_uring_setup works".to_owned(),
            Self::Failed { errno } => format!("io_uring_setup fails with {}", errno_name(*errno)),
            Self::NotProbed => "io_uring_setup not probed (root is not /)".to_owned(),
        }
    }
}

/// Parses one line of `/proc/self/limits`: `Max locked memory   8388608   8388608   bytes`.
fn parse_limit(text: &str, label: &str) -> Option<Limit> {
    let line = text.lines().find(|line| line.starts_with(label))?;
    let mut fields = line[label.len()..].split_whitespace();
    let soft = parse_limit_value(fields.next()?)?;
    let hard = parse_limit_value(fields.next()?)?;
    Some(Limit { soft, hard })
}

fn parse_limit_value(text: &str) -> Option<LimitValue> {
    if text == "unlimited" {
        Some(LimitValue::Unlimited)
    } else {
        text.parse().ok().map(LimitValue::Finite)
    }
}

fn probe_io_uring() -> IoUringSetup {
    // Eight entries is the smallest useful ring; the probe only asks whether setup succeeds.
    match io_uring::IoUring::new(8) {
        Ok(_ring) => IoUringSetup::Works,
        Err(err) => IoUringSetup::Failed {
            errno: err.raw_os_error().unwrap_or(0),
        },
    }
}

fn live_page_size() -> u64 {
    // SAFETY: sysconf takes a constant selector and touches no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size)
        .ok()
        .filter(|size| *size > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".to_owned(),
        libc::ENOSYS => "ENOSYS".to_owned(),
        libc::ENOMEM => "ENOMEM".to_owned(),
        libc::EINVAL => "EINVAL".to_owned(),
        libc::EMFILE => "EMFILE".to_owned(),
        other => format!("errno {other}"),
    }
}

/// The page size assumed for fake roots: x86-64's and most arm64 kernels'.
const DEFAULT_PAGE_SIZE: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max open files            1024                 524288               files     
Max locked memory         unlimited            unlimited            bytes     
";

    #[test]
    fn parses_proc_self_limits() {
        assert_eq!(
            parse_limit(LIMITS, "Max open files"),
            Some(Limit {
                soft: LimitValue::Finite(1024),
                hard: LimitValue::Finite(524_288),
            })
        );
        assert_eq!(
            parse_limit(LIMITS, "Max locked memory"),
            Some(Limit {
                soft: LimitValue::Unlimited,
                hard: LimitValue::Unlimited,
            })
        );
        assert_eq!(parse_limit(LIMITS, "Max processes"), None);
    }

    #[test]
    fn unlimited_orders_above_every_number() {
        assert!(LimitValue::Unlimited > LimitValue::Finite(u64::MAX));
    }
}
