//! The network sysctls: socket buffer limits and defaults, `udp_mem`, the input backlog.
//!
//! Each evaluation yields the check result and the value `apply` should hold the sysctl at:
//! the recommendation where the host is below it, else the host's own value (never lowered).

use crate::checks::{CheckResult, Fix, MIB, Status, bytes};
use crate::{HostProbe, SOCKET_BUFFER_MAX};

/// One evaluated sysctl.
pub(crate) struct SysctlEval {
    /// What the check reports.
    pub(crate) result: CheckResult,
    /// The dotted key.
    pub(crate) key: &'static str,
    /// The value read from `/proc/sys`, whitespace-normalised; `None` when unreadable.
    pub(crate) current: Option<String>,
    /// The value `apply` holds it at; `None` when unreadable.
    pub(crate) target: Option<String>,
}

impl SysctlEval {
    /// The `/proc/sys` file of the key.
    pub(crate) fn proc_path(&self) -> String {
        proc_path(self.key)
    }
}

/// Evaluates every network sysctl Portunus manages, in the order `apply` persists them.
pub(crate) fn evaluate(probe: &HostProbe) -> Vec<SysctlEval> {
    let mut evals: Vec<SysctlEval> = SCALARS.iter().map(|spec| scalar(probe, spec)).collect();
    evals.insert(4, udp_mem(probe));
    evals
}

/// `net.core.rmem_max` → `/proc/sys/net/core/rmem_max`.
pub(crate) fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

struct ScalarSpec {
    key: &'static str,
    recommended: u64,
    /// Below this the check fails; between it and `recommended` it warns.
    floor: u64,
    why: &'static str,
    as_bytes: bool,
}

fn scalar(probe: &HostProbe, spec: &ScalarSpec) -> SysctlEval {
    let raw = probe.read(&proc_path(spec.key));
    let value = raw.as_deref().and_then(|v| v.parse::<u64>().ok());
    let show = |v: u64| {
        if spec.as_bytes {
            format!("{v} ({})", bytes(v))
        } else {
            v.to_string()
        }
    };
    let (status, target) = match value {
        None => (Status::Unknown, None),
        Some(v) if v >= spec.recommended => (Status::Ok, Some(v)),
        Some(v) if v < spec.floor => (Status::Fail, Some(spec.recommended)),
        Some(_) => (Status::Warn, Some(spec.recommended)),
    };
    let fix = match (value, target) {
        (Some(v), Some(t)) if v != t => Some(Fix::Sysctl {
            key: spec.key.to_owned(),
            value: t.to_string(),
        }),
        _ => None,
    };
    SysctlEval {
        result: CheckResult {
            name: spec.key.to_owned(),
            observed: match (value, raw) {
                (Some(v), _) => show(v),
                (None, Some(raw)) => format!("unparsable: {raw:?}"),
                (None, None) => "unreadable".to_owned(),
            },
            recommended: format!(">= {}", show(spec.recommended)),
            status,
            why: spec.why.to_owned(),
            fix,
        },
        key: spec.key,
        current: value.map(|v| v.to_string()),
        target: target.map(|t| t.to_string()),
    }
}

/// `net.ipv4.udp_mem`: min, pressure and max, in pages, for all UDP sockets together. The
/// shards' buffers must fit below the pressure threshold, where the kernel starts trimming
/// socket buffers; above max it drops.
fn udp_mem(probe: &HostProbe) -> SysctlEval {
    const KEY: &str = "net.ipv4.udp_mem";
    let shards = probe.shard_cores().len() as u64;
    let need_bytes = shards * UDP_MEM_PER_SHARD;
    let need = need_bytes.div_ceil(probe.page_size());
    let raw = probe.read(&proc_path(KEY));
    let triple = raw.as_deref().and_then(parse_triple);
    let (status, target) = match triple {
        None => (Status::Unknown, None),
        Some([min, pressure, max]) => {
            let status = if pressure >= need {
                Status::Ok
            } else if max >= need {
                Status::Warn
            } else {
                Status::Fail
            };
            let pressure = pressure.max(need);
            let target = [min.min(pressure), pressure, max.max(2 * need)];
            (status, Some(target))
        }
    };
    let current = triple.map(join);
    let target = target.map(join);
    let fix = match (&current, &target) {
        (Some(c), Some(t)) if c != t => Some(Fix::Sysctl {
            key: KEY.to_owned(),
            value: t.clone(),
        }),
        _ => None,
    };
    SysctlEval {
        result: CheckResult {
            name: KEY.to_owned(),
            observed: match (&current, raw) {
                (Some(c), _) => format!("{c} pages"),
                (None, Some(raw)) => format!("unparsable: {raw:?}"),
                (None, None) => "unreadable".to_owned(),
            },
            recommended: format!(
                "pressure >= {need} pages ({shards} shards x {})",
                bytes(UDP_MEM_PER_SHARD)
            ),
            status,
            why: "Pages all UDP sockets may hold together: above the pressure value the kernel \
                  trims socket buffers, above max it drops; every shard's buffers must fit."
                .to_owned(),
            fix,
        },
        key: KEY,
        current,
        target,
    }
}

fn parse_triple(text: &str) -> Option<[u64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let triple = [fields.next()??, fields.next()??, fields.next()??];
    fields.next().is_none().then_some(triple)
}

fn join(triple: [u64; 3]) -> String {
    format!("{} {} {}", triple[0], triple[1], triple[2])
}

/// What one shard's socket may hold: a full receive and a full send buffer.
const UDP_MEM_PER_SHARD: u64 = 2 * SOCKET_BUFFER_MAX;
/// The kernel's default for all four socket buffer sysctls.
const KERNEL_DEFAULT_BUFFER: u64 = 212_992;

const SCALARS: [ScalarSpec; 5] = [
    ScalarSpec {
        key: "net.core.rmem_max",
        recommended: SOCKET_BUFFER_MAX,
        floor: MIB,
        why: "Caps SO_RCVBUF: a shard's socket takes every publisher's packets, and the stock \
              208 KiB holds ~90 full-size datagrams, 0.25 ms at the ~350 k packets/s a core \
              forwards.",
        as_bytes: true,
    },
    ScalarSpec {
        key: "net.core.wmem_max",
        recommended: SOCKET_BUFFER_MAX,
        floor: MIB,
        why: "Caps SO_SNDBUF: one submit queues a frame for every subscriber (a 30-packet \
              keyframe to 500 viewers is 15,000 sends); a full buffer stalls the shard.",
        as_bytes: true,
    },
    ScalarSpec {
        key: "net.core.rmem_default",
        recommended: MIB,
        floor: KERNEL_DEFAULT_BUFFER,
        why: "Receive buffer of sockets the server does not size itself (connected \
              per-subscriber sockets, RTP forwarder and Streaming inputs).",
        as_bytes: true,
    },
    ScalarSpec {
        key: "net.core.wmem_default",
        recommended: MIB,
        floor: KERNEL_DEFAULT_BUFFER,
        why: "Send buffer of sockets the server does not size itself (connected \
              per-subscriber sockets, RTP forwarders).",
        as_bytes: true,
    },
    ScalarSpec {
        key: "net.core.netdev_max_backlog",
        recommended: 8192,
        floor: 1000,
        why: "Per-CPU queue of packets handed over by RPS or sent over loopback (every bench \
              packet); overflow is lost, counted in /proc/net/softnet_stat.",
        as_bytes: false,
    },
];
