//! io_uring, the kernel release and the per-process resource limits.

use crate::checks::{CheckResult, Fix, MIB, Status, bytes};
use crate::probe::{IoUringSetup, LimitValue, Resource};
use crate::{HostProbe, MEMLOCK_PER_SHARD};

/// io_uring: the `io_uring_setup` probe and `kernel.io_uring_disabled` (Linux 6.6+).
pub(super) fn io_uring(probe: &HostProbe) -> CheckResult {
    let setup = probe.io_uring_setup();
    let disabled = probe.read("/proc/sys/kernel/io_uring_disabled");
    let disabled_value = disabled.as_deref().and_then(|v| v.parse::<u8>().ok());
    let observed = format!(
        "{}; kernel.io_uring_disabled = {}",
        setup.describe(),
        disabled.as_deref().unwrap_or("absent (kernel before 6.6)")
    );
    let policy_fix = || Fix::Manual {
        action: "sysctl -w kernel.io_uring_disabled=0 (a security policy: portunus-tune leaves \
                 it to you)"
            .to_owned(),
    };
    let (status, fix) = match (setup, disabled_value) {
        (_, Some(2)) => (Status::Fail, Some(policy_fix())),
        (IoUringSetup::Failed { errno }, _) => (Status::Fail, Some(setup_fix(errno))),
        (_, Some(1)) => {
            let group = probe
                .read("/proc/sys/kernel/io_uring_group")
                .unwrap_or_else(|| "?".to_owned());
            let action = format!(
                "run the server as root or in group {group} (kernel.io_uring_group), or {}",
                "sysctl -w kernel.io_uring_disabled=0"
            );
            (Status::Warn, Some(Fix::Manual { action }))
        }
        (IoUringSetup::Works, _) => (Status::Ok, None),
        (IoUringSetup::NotProbed, _) => (Status::Unknown, None),
    };
    CheckResult {
        name: "io_uring".to_owned(),
        observed,
        recommended: "io_uring_setup works; kernel.io_uring_disabled = 0".to_owned(),
        status,
        why: "Shards receive with io_uring multishot recvmsg into provided buffers (~510 ns a \
              datagram against ~580 for recv) and submit a whole fan-out batch in one syscall."
            .to_owned(),
        fix,
    }
}

/// The kernel release: the io_uring features the shard loop uses arrived up to 6.1.
pub(super) fn kernel_release(probe: &HostProbe) -> CheckResult {
    let release = probe.read("/proc/sys/kernel/osrelease");
    let version = release.as_deref().and_then(parse_release);
    let (status, fix) = match version {
        Some(v) if v >= MIN_KERNEL => (Status::Ok, None),
        Some(_) => (
            Status::Warn,
            Some(Fix::Manual {
                action: "upgrade to Linux 6.1 or later".to_owned(),
            }),
        ),
        None => (Status::Unknown, None),
    };
    CheckResult {
        name: "kernel.release".to_owned(),
        observed: release.unwrap_or_else(|| "unreadable".to_owned()),
        recommended: format!(">= {}.{}", MIN_KERNEL.0, MIN_KERNEL.1),
        status,
        why: "Provided-buffer rings need 5.19, multishot recvmsg and SendZc 6.0, \
              DEFER_TASKRUN 6.1; older kernels leave the shard loop on slower paths."
            .to_owned(),
        fix,
    }
}

/// `RLIMIT_MEMLOCK` against the memory the shards pin for io_uring.
pub(super) fn memlock(probe: &HostProbe) -> CheckResult {
    let shards = probe.shard_cores().len() as u64;
    let need = shards * MEMLOCK_PER_SHARD;
    let limit = probe.limit(Resource::Memlock);
    let status = match limit.map(|l| l.soft) {
        None => Status::Unknown,
        Some(LimitValue::Unlimited) => Status::Ok,
        Some(LimitValue::Finite(soft)) if soft >= need => Status::Ok,
        Some(LimitValue::Finite(soft)) if soft < MEMLOCK_FLOOR => Status::Fail,
        Some(LimitValue::Finite(_)) => Status::Warn,
    };
    let fix = matches!(status, Status::Warn | Status::Fail).then(|| Fix::Ulimit {
        // bash's `ulimit -l` counts KiB; systemd's LimitMEMLOCK= counts bytes.
        shell: format!("ulimit -l {}", need / 1024),
        systemd: format!("LimitMEMLOCK={need}"),
    });
    CheckResult {
        name: "limits.memlock".to_owned(),
        observed: limit.map_or_else(
            || format!("unreadable ({})", probe.limits_path()),
            |l| format!("{} (hard {})", limit_bytes(l.soft), limit_bytes(l.hard)),
        ),
        recommended: format!(
            ">= {} ({shards} shards x {}) or unlimited",
            bytes(need),
            bytes(MEMLOCK_PER_SHARD)
        ),
        status,
        why: "Memory io_uring pins (registered buffers; the rings too before 5.12) counts \
              against RLIMIT_MEMLOCK unless the server has CAP_IPC_LOCK; registration fails \
              with ENOMEM beyond it."
            .to_owned(),
        fix,
    }
}

/// `RLIMIT_NOFILE` against one descriptor per client connection and per connected socket.
pub(super) fn nofile(probe: &HostProbe) -> CheckResult {
    let limit = probe.limit(Resource::Nofile);
    let status = match limit.map(|l| l.soft) {
        None => Status::Unknown,
        Some(soft) if soft >= LimitValue::Finite(NOFILE_RECOMMENDED) => Status::Ok,
        Some(soft) if soft < LimitValue::Finite(NOFILE_FLOOR) => Status::Fail,
        Some(_) => Status::Warn,
    };
    let fix = matches!(status, Status::Warn | Status::Fail).then(|| Fix::Ulimit {
        shell: format!("ulimit -n {NOFILE_RECOMMENDED}"),
        systemd: format!("LimitNOFILE={NOFILE_RECOMMENDED}"),
    });
    CheckResult {
        name: "limits.nofile".to_owned(),
        observed: limit.map_or_else(
            || format!("unreadable ({})", probe.limits_path()),
            |l| format!("{} (hard {})", l.soft, l.hard),
        ),
        recommended: format!(">= {NOFILE_RECOMMENDED}"),
        status,
        why: "Each WebSocket or HTTP client and each connected per-subscriber UDP socket (12 % \
              less CPU per send) holds a descriptor; at the limit new peers fail."
            .to_owned(),
        fix,
    }
}

/// `6.18.44-fc-v445` → `(6, 18)`.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn setup_fix(errno: i32) -> Fix {
    let action = match errno {
        libc::ENOSYS => "use a kernel built with CONFIG_IO_URING (Linux 6.1 or later)",
        libc::EPERM => {
            "allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile \
             or container runtime (Docker's default profile blocks them)"
        }
        libc::ENOMEM => "raise RLIMIT_MEMLOCK (see limits.memlock)",
        _ => "see io_uring_setup(2) for this errno",
    };
    Fix::Manual {
        action: action.to_owned(),
    }
}

fn limit_bytes(value: LimitValue) -> String {
    match value {
        LimitValue::Finite(v) => bytes(v),
        LimitValue::Unlimited => "unlimited".to_owned(),
    }
}

/// The release the shard loop's io_uring features need (DEFER_TASKRUN).
const MIN_KERNEL: (u32, u32) = (6, 1);
/// Below this not even one shard's ring descriptors and a small send pool can be registered.
const MEMLOCK_FLOOR: u64 = MIB;
/// Descriptors the server wants: thousands of subscribers, each with a connection and a socket.
const NOFILE_RECOMMENDED: u64 = 65_536;
/// Below this a few hundred subscribers exhaust the table.
const NOFILE_FLOOR: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_releases() {
        assert_eq!(parse_release("6.18.44-fc-v445"), Some((6, 18)));
        assert_eq!(parse_release("5.15.0-91-generic"), Some((5, 15)));
        assert_eq!(parse_release("6.1"), Some((6, 1)));
        assert_eq!(parse_release("linux"), None);
    }
}
