//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// What can go wrong while parsing host files, choosing shard cores or applying a plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuneError {
    /// A CPU list (`0-3,8`) did not parse.
    #[error("not a CPU list: {0:?}")]
    CpuList(String),
    /// A CPU mask (`00000000,0000000f`) did not parse.
    #[error("not a CPU mask: {0:?}")]
    CpuMask(String),
    /// The shard cores asked for are not all online, or none were given.
    #[error("shard cores {asked} are not a non-empty subset of the online CPUs {online}")]
    ShardCores {
        /// The cores asked for, as a CPU list.
        asked: String,
        /// The online CPUs, as a CPU list.
        online: String,
    },
    /// The shard count asked for is 0 or more than the online CPUs.
    #[error(
        "cannot run {shards} shards on the online CPUs {online}: the count must be at least 1 and at most one per online CPU"
    )]
    ShardCount {
        /// The number asked for.
        shards: usize,
        /// The online CPUs, as a CPU list.
        online: String,
    },
    /// `apply --yes` on the real root (`/`) without root privileges.
    #[error(
        "applying changes to the host needs root (effective uid 0), this process runs as uid {euid}; \
         rerun with sudo, or review the plan with `apply --dry-run`"
    )]
    NotRoot {
        /// The effective uid the process runs as.
        euid: u32,
    },
    /// A planned write failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file as written (under the probe root).
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}
