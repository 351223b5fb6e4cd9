//! Host checks and tuning for running Portunus on bare metal (`portunus-tune`).
//!
//! [`check`] reads the host through a [`HostProbe`] and reports, for each setting that limits
//! a shard-per-core io_uring UDP server, what the host has, what Portunus recommends, a
//! [`Status`] and a [`Fix`]: io_uring availability (`io_uring_setup`,
//! `kernel.io_uring_disabled`) and the kernel release, `RLIMIT_MEMLOCK` and `RLIMIT_NOFILE`,
//! `net.core.{r,w}mem_{max,default}`, `net.ipv4.udp_mem`, `net.core.netdev_max_backlog`, the
//! CPU frequency governor of the shard cores, irqbalance, per NIC the affinity of its queue
//! interrupts and its RPS masks against the shard cores, NUMA placement, `isolcpus` /
//! `nohz_full`, and transparent hugepages. [`startup_warnings`] turns the failed checks into
//! one log line each for the server. [`plan`] turns the writable fixes into a [`Plan`] of
//! exact file writes (sysctls, governors, IRQ affinity, RPS, a persistent
//! `/etc/sysctl.d/90-portunus.conf`) that the `portunus-tune` binary prints (`apply
//! --dry-run`) or makes (`apply --yes`).
//!
//! Every read goes below [`HostProbe::root`], so tests run the checks against a fake `/proc`
//! and `/sys` tree; only a probe rooted at `/` tries the `io_uring_setup` syscall.
//!
//! Out of scope: changing resource limits (they belong to the server's unit or shell), boot
//! parameters, `kernel.io_uring_disabled` (a security policy), NIC ring sizes, coalescing and
//! flow steering (ethtool), XPS. This crate implements no RFC.
//!
//! ```
//! use portunus_tune::{HostProbe, IoUringSetup, Status, check, plan, startup_warnings};
//!
//! // A fake host: two CPUs, stock socket buffers, nothing else known.
//! let root = std::env::temp_dir().join(format!("portunus-tune-doc-{}", std::process::id()));
//! let file = |path: &str, text: &str| {
//!     let path = root.join(path);
//!     std::fs::create_dir_all(path.parent().unwrap()).unwrap();
//!     std::fs::write(path, text).unwrap();
//! };
//! file("sys/devices/system/cpu/online", "0-1\n");
//! file("proc/sys/net/core/rmem_max", "212992\n");
//!
//! let probe = HostProbe::new(&root).with_io_uring_setup(IoUringSetup::Works);
//! let results = check(&probe);
//! let rmem = results.iter().find(|r| r.name == "net.core.rmem_max").unwrap();
//! assert_eq!(rmem.status, Status::Fail);
//! assert_eq!(rmem.fix.as_ref().unwrap().to_string(), "sysctl -w net.core.rmem_max=16777216");
//! assert!(startup_warnings(&probe)[0].starts_with("host check net.core.rmem_max FAIL"));
//!
//! let plan = plan(&probe);
//! assert_eq!(plan.writes[0].path, "/proc/sys/net/core/rmem_max");
//! assert_eq!(plan.writes[0].content, "16777216\n");
//! plan.apply().unwrap();
//! assert!(portunus_tune::plan(&probe).writes.is_empty(), "a second run has nothing to do");
//! # std::fs::remove_dir_all(&root).unwrap();
//! ```
#![deny(missing_docs)]

mod checks;
mod cpuset;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod plan;
mod probe;

pub use checks::{CheckResult, FileWrite, Fix, Status, check, startup_warnings};
pub use cpuset::{CpuSet, MAX_CPU};
pub use error::TuneError;
pub use plan::{Plan, PlannedWrite, SYSCTL_CONF, authorize_apply, effective_uid, plan};
pub use probe::{HostProbe, IoUringSetup, Limit, LimitValue, Resource};

/// Locked memory each shard may pin for io_uring: a registered send pool (8192 buffers of
/// 2 KiB) and the provided-buffer ring descriptors, with headroom. `limits.memlock`
/// recommends this times the number of shards; keep it in step with the dataplane.
pub const MEMLOCK_PER_SHARD: u64 = 16 * 1024 * 1024;

/// The recommended `net.core.rmem_max` and `wmem_max`: 16 MiB, about 7,000 full-size
/// datagrams at ~2.3 KiB of kernel accounting each, 20 ms of a core's ~350 k packets/s.
pub const SOCKET_BUFFER_MAX: u64 = 16 * 1024 * 1024;
