//! NIC checks: which interrupts serve each NIC's queues and on which cores they run, RPS,
//! and irqbalance.

use crate::checks::{CheckResult, FileWrite, Fix, Status};
use crate::{CpuSet, HostProbe};

/// A network interface backed by a device (not `lo`, bridges, veths or tunnels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nic {
    /// The interface name (`eth0`).
    pub(crate) name: String,
    /// The device's name in sysfs (`virtio2`, `0000:3b:00.0`), which many drivers put in their
    /// interrupt names instead of the interface's.
    pub(crate) device: Option<String>,
    /// The numbers N of its `queues/rx-N`, ascending.
    pub(crate) rx_queues: Vec<u32>,
    /// The NUMA node of the device, when the kernel knows it.
    pub(crate) numa_node: Option<u32>,
    /// The interrupts of its queues, by queue then IRQ number.
    pub(crate) irqs: Vec<QueueIrq>,
}

/// One interrupt of a NIC queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueIrq {
    pub(crate) irq: u32,
    /// The queue number parsed from the interrupt's name (`eth0-TxRx-3` → 3).
    pub(crate) queue: u32,
    pub(crate) name: String,
}

impl Nic {
    /// Every interface in `/sys/class/net` with a `device` link, with its queue interrupts
    /// from `/proc/interrupts`.
    pub(crate) fn discover(probe: &HostProbe) -> Vec<Self> {
        let interrupts = parse_interrupts(&probe.read("/proc/interrupts").unwrap_or_default());
        probe
            .list("/sys/class/net")
            .into_iter()
            .filter(|name| name != "lo" && probe.exists(&format!("/sys/class/net/{name}/device")))
            .map(|name| {
                let base = format!("/sys/class/net/{name}");
                let device = probe.link_name(&format!("{base}/device"));
                let mut rx_queues: Vec<u32> = probe
                    .list(&format!("{base}/queues"))
                    .iter()
                    .filter_map(|q| q.strip_prefix("rx-")?.parse().ok())
                    .collect();
                rx_queues.sort_unstable();
                let numa_node = probe
                    .read(&format!("{base}/device/numa_node"))
                    .and_then(|n| n.parse().ok());
                let mut irqs: Vec<QueueIrq> = interrupts
                    .iter()
                    .filter_map(|(irq, action)| {
                        let queue = queue_of(action, &name, device.as_deref())?;
                        Some(QueueIrq {
                            irq: *irq,
                            queue,
                            name: action.clone(),
                        })
                    })
                    .collect();
                irqs.sort_by_key(|q| (q.queue, q.irq));
                Self {
                    name,
                    device,
                    rx_queues,
                    numa_node,
                    irqs,
                }
            })
            .collect()
    }
}

/// Parses `/proc/interrupts` into (IRQ number, action name) pairs; the name is the last
/// field of the line. Lines of per-CPU interrupts (`NMI:`, `LOC:`) are skipped.
pub(crate) fn parse_interrupts(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|line| {
            let (irq, rest) = line.trim_start().split_once(':')?;
            let irq = irq.parse().ok()?;
            let name = rest.split_whitespace().last()?.trim_end_matches(',');
            (!name.is_empty()).then(|| (irq, name.to_owned()))
        })
        .collect()
}

/// The result when no interface has a device.
pub(super) fn no_nic() -> CheckResult {
    CheckResult {
        name: "nic".to_owned(),
        observed: "no interface with a device in /sys/class/net".to_owned(),
        recommended: "queue interrupts spread over the shard cores".to_owned(),
        status: Status::Unknown,
        why: IRQ_WHY.to_owned(),
        fix: None,
    }
}

/// Queue interrupts of `nic`: the i-th queue's on the (i mod n)-th shard core.
pub(super) fn irq_affinity(probe: &HostProbe, nic: &Nic) -> CheckResult {
    let shards: Vec<u32> = probe.shard_cores().iter().collect();
    let mut result = CheckResult {
        name: format!("nic.{}.irq_affinity", nic.name),
        observed: String::new(),
        recommended: format!(
            "queue i on shard core i mod {} (cores {})",
            shards.len(),
            probe.shard_cores()
        ),
        status: Status::Ok,
        why: IRQ_WHY.to_owned(),
        fix: None,
    };
    let mut queues: Vec<u32> = nic.irqs.iter().map(|q| q.queue).collect();
    queues.dedup();
    let mut observed = Vec::new();
    let mut writes = Vec::new();
    let mut readable = 0;
    for q in &nic.irqs {
        let path = format!("/proc/irq/{}/smp_affinity_list", q.irq);
        let Some(current) = probe.read(&path) else {
            observed.push(format!("{} (irq {}) unreadable", q.name, q.irq));
            continue;
        };
        readable += 1;
        observed.push(format!("{} (irq {}) on {current}", q.name, q.irq));
        let rank = queues
            .iter()
            .position(|queue| *queue == q.queue)
            .unwrap_or(0);
        let Some(&core) = shards.get(rank % shards.len().max(1)) else {
            continue;
        };
        let wanted: CpuSet = [core].into_iter().collect();
        if CpuSet::parse_list(&current).ok().as_ref() != Some(&wanted) {
            writes.push(FileWrite {
                path,
                value: core.to_string(),
                note: format!(
                    "{} {} (irq {}): {current} -> {core}",
                    nic.name, q.name, q.irq
                ),
            });
        }
    }
    result.observed = if nic.irqs.is_empty() {
        "no queue interrupts found in /proc/interrupts".to_owned()
    } else {
        observed.join(", ")
    };
    result.status = if readable == 0 {
        Status::Unknown
    } else if writes.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    result.fix = (!writes.is_empty()).then_some(Fix::WriteFiles { writes });
    result
}

/// RPS of `nic`: off when its receive queues are at least as many as the shards (RSS and the
/// IRQ spread already share the work out), else every shard core on every queue.
pub(super) fn rps(probe: &HostProbe, nic: &Nic) -> CheckResult {
    let shards = probe.shard_cores();
    let wanted = if nic.rx_queues.len() >= shards.len() {
        CpuSet::new()
    } else {
        shards.clone()
    };
    let mut observed = Vec::new();
    let mut writes = Vec::new();
    for rx in &nic.rx_queues {
        let path = format!("/sys/class/net/{}/queues/rx-{rx}/rps_cpus", nic.name);
        let Some(current) = probe.read(&path) else {
            continue;
        };
        observed.push(format!("rx-{rx} {current}"));
        if CpuSet::parse_mask(&current).ok().as_ref() != Some(&wanted) {
            writes.push(FileWrite {
                path,
                value: wanted.to_mask(),
                note: format!(
                    "{} rx-{rx} rps_cpus: {current} -> {}",
                    nic.name,
                    wanted.to_mask()
                ),
            });
        }
    }
    let status = if observed.is_empty() {
        Status::Unknown
    } else if writes.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    CheckResult {
        name: format!("nic.{}.rps", nic.name),
        observed: if observed.is_empty() {
            "no rps_cpus (kernel without RPS, or no rx queues)".to_owned()
        } else {
            observed.join(", ")
        },
        recommended: if wanted.is_empty() {
            format!(
                "0 (off): {} rx queues for {} shards",
                nic.rx_queues.len(),
                shards.len()
            )
        } else {
            format!(
                "{} (shard cores {shards}): {} rx queues for {} shards",
                wanted.to_mask(),
                nic.rx_queues.len(),
                shards.len()
            )
        },
        status,
        why: "With fewer receive queues than shards RPS spreads protocol work over the shard \
              cores; with enough queues it only adds an inter-processor interrupt per packet."
            .to_owned(),
        fix: (!writes.is_empty()).then_some(Fix::WriteFiles { writes }),
    }
}

/// Whether irqbalance runs (it would undo the IRQ spread).
pub(super) fn irqbalance(probe: &HostProbe) -> CheckResult {
    let entries = probe.list("/proc");
    let pids: Vec<&String> = entries
        .iter()
        .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| probe.read(&format!("/proc/{pid}/comm")).as_deref() == Some("irqbalance"))
        .collect();
    let (observed, status, fix) = if entries.is_empty() {
        ("/proc unreadable".to_owned(), Status::Unknown, None)
    } else if let Some(pid) = pids.first() {
        (
            format!("running (pid {pid})"),
            Status::Warn,
            Some(Fix::Manual {
                action: "systemctl disable --now irqbalance, or keep it off the shard cores with \
                         IRQBALANCE_BANNED_CPULIST"
                    .to_owned(),
            }),
        )
    } else {
        ("not running".to_owned(), Status::Ok, None)
    };
    CheckResult {
        name: "irq.irqbalance".to_owned(),
        observed,
        recommended: "not running".to_owned(),
        status,
        why: "irqbalance rewrites interrupt affinity every 10 s, undoing the spread of NIC \
              queues over the shard cores."
            .to_owned(),
        fix,
    }
}

/// The queue number of an interrupt named `action` if it serves a queue of the NIC named
/// `ifname` with sysfs device `device`, else `None`.
///
/// Drivers name queue interrupts after the interface (`eth0-TxRx-3`, `ens5-Tx-Rx-0`,
/// `i40e-eth0-TxRx-1`) or after the device (`virtio2-input.0`, `mlx5_comp3@pci:0000:3b:00.0`);
/// the queue number is the trailing number of what is left once the name (or the `@`
/// suffix) is taken out. Control interrupts (`virtio2-config`, `mlx5_async0`, a bare `eth0`)
/// have no such number or are named as such.
fn queue_of(action: &str, ifname: &str, device: Option<&str>) -> Option<u32> {
    let head = action.split('@').next().unwrap_or(action);
    let matched = [Some(ifname), device]
        .into_iter()
        .flatten()
        .find(|token| contains_word(action, token))?;
    let lower = head.to_ascii_lowercase();
    if CONTROL_WORDS.iter().any(|w| lower.contains(w)) {
        return None;
    }
    let rest = match head.find(matched) {
        Some(at) => format!("{}{}", &head[..at], &head[at + matched.len()..]),
        None => head.to_owned(),
    };
    let digits: String = rest
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// Whether `token` occurs in `text` with no letter or digit on either side.
fn contains_word(text: &str, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    text.match_indices(token).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + token.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

const IRQ_WHY: &str = "A queue's interrupt and its receive softirq run where its affinity \
                       says; spread over the shard cores, receive work follows the shards and \
                       no single core takes all of it.";
/// Parts of interrupt names that mark a control or admin vector rather than a queue.
const CONTROL_WORDS: [&str; 6] = ["config", "async", "cmd", "ctrl", "mgmnt", "misc"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_queue_numbers_in_common_driver_names() {
        assert_eq!(queue_of("eth0-TxRx-3", "eth0", None), Some(3));
        assert_eq!(queue_of("ens5-Tx-Rx-12", "ens5", None), Some(12));
        assert_eq!(queue_of("i40e-eth0-TxRx-1", "eth0", None), Some(1));
        assert_eq!(
            queue_of("virtio2-input.0", "eth0", Some("virtio2")),
            Some(0)
        );
        assert_eq!(
            queue_of("virtio2-output.1", "eth0", Some("virtio2")),
            Some(1)
        );
        assert_eq!(
            queue_of(
                "mlx5_comp3@pci:0000:3b:00.0",
                "ens1f0",
                Some("0000:3b:00.0")
            ),
            Some(3)
        );
    }

    #[test]
    fn ignores_control_vectors_and_other_interfaces() {
        assert_eq!(queue_of("virtio2-config", "eth0", Some("virtio2")), None);
        assert_eq!(
            queue_of("mlx5_async0@pci:0000:3b:00.0", "x", Some("0000:3b:00.0")),
            None
        );
        assert_eq!(queue_of("eth0", "eth0", None), None);
        assert_eq!(queue_of("eth10-TxRx-0", "eth1", None), None);
        assert_eq!(queue_of("virtio20-input.0", "eth0", Some("virtio2")), None);
    }

    #[test]
    fn parses_proc_interrupts_lines() {
        let text = "           CPU0       CPU1\n \
                    38:          0      12979 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0\n \
                    NMI:          0          0   Non-maskable interrupts\n";
        assert_eq!(parse_interrupts(text), [(38, "virtio2-input.0".to_owned())]);
    }
}
