//! CPU-side checks: frequency governor, NUMA placement, core isolation, transparent hugepages.

use std::collections::BTreeMap;

use crate::checks::{CheckResult, FileWrite, Fix, Nic, Status};
use crate::{CpuSet, HostProbe};

/// The frequency governor of every shard core.
pub(super) fn governor(probe: &HostProbe) -> CheckResult {
    let shards = probe.shard_cores();
    let mut by_governor: BTreeMap<String, CpuSet> = BTreeMap::new();
    let mut without = CpuSet::new();
    let mut writes = Vec::new();
    for cpu in shards.iter() {
        let dir = format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq");
        let Some(governor) = probe.read(&format!("{dir}/scaling_governor")) else {
            without.insert(cpu);
            continue;
        };
        by_governor.entry(governor.clone()).or_default().insert(cpu);
        if governor == PERFORMANCE {
            continue;
        }
        // Only offer a governor the driver has; an unreadable list is tried anyway.
        let available = probe
            .read(&format!("{dir}/scaling_available_governors"))
            .is_none_or(|list| list.split_whitespace().any(|g| g == PERFORMANCE));
        if available {
            writes.push(FileWrite {
                path: format!("{dir}/scaling_governor"),
                value: PERFORMANCE.to_owned(),
                note: format!("cpu{cpu} governor: {governor} -> {PERFORMANCE}"),
            });
        }
    }
    let mut observed: Vec<String> = by_governor
        .iter()
        .map(|(governor, cpus)| format!("{governor} on {cpus}"))
        .collect();
    if !without.is_empty() {
        observed.push(format!("no cpufreq on {without}"));
    }
    let status = if by_governor.is_empty() {
        Status::Unknown
    } else if by_governor.keys().all(|g| g == PERFORMANCE) {
        Status::Ok
    } else {
        Status::Warn
    };
    CheckResult {
        name: "cpu.governor".to_owned(),
        observed: observed.join("; "),
        recommended: format!("{PERFORMANCE} on shard cores {shards}"),
        status,
        why: "Frequency scaling slows the first packets of every burst (a shard idles between \
              frames) and makes CPU-per-packet figures unreproducible."
            .to_owned(),
        fix: (!writes.is_empty()).then_some(Fix::WriteFiles { writes }),
    }
}

/// NUMA: the shard cores should sit on one node, the NICs' node where it is known.
pub(super) fn numa(probe: &HostProbe, nics: &[Nic]) -> CheckResult {
    let shards = probe.shard_cores();
    let nodes: Vec<(u32, CpuSet)> = probe
        .list("/sys/devices/system/node")
        .iter()
        .filter_map(|name| {
            let node: u32 = name.strip_prefix("node")?.parse().ok()?;
            let cpus = probe.read(&format!("/sys/devices/system/node/{name}/cpulist"))?;
            Some((node, CpuSet::parse_list(&cpus).ok()?))
        })
        .collect();
    let mut result = CheckResult {
        name: "numa".to_owned(),
        observed: String::new(),
        recommended: "shard cores on one node, the NIC's".to_owned(),
        status: Status::Ok,
        why: "Shards hand packet descriptors to each other and the NIC DMAs into one node's \
              memory; across nodes every copy pays remote-memory latency."
            .to_owned(),
        fix: None,
    };
    if nodes.len() <= 1 {
        result.observed = "1 node".to_owned();
        return result;
    }
    let shard_nodes: Vec<u32> = nodes
        .iter()
        .filter(|(_, cpus)| shards.iter().any(|cpu| cpus.contains(cpu)))
        .map(|(node, _)| *node)
        .collect();
    let nic_nodes: Vec<(String, u32)> = nics
        .iter()
        .filter_map(|nic| Some((nic.name.clone(), nic.numa_node?)))
        .collect();
    let mut observed = vec![format!(
        "{} nodes ({})",
        nodes.len(),
        nodes
            .iter()
            .map(|(node, cpus)| format!("node{node} {cpus}"))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    observed.push(format!("shard cores on {}", node_names(&shard_nodes)));
    for (nic, node) in &nic_nodes {
        observed.push(format!("{nic} on node{node}"));
    }
    result.observed = observed.join("; ");
    let wanted = nic_nodes.first().map(|(_, node)| *node);
    let good = match (shard_nodes.as_slice(), wanted) {
        ([node], Some(nic_node)) => *node == nic_node,
        ([_], None) => true,
        _ => false,
    };
    if !good {
        result.status = Status::Warn;
        let target = wanted.or(shard_nodes.first().copied());
        if let Some((node, cpus)) = nodes.iter().find(|(node, _)| Some(*node) == target) {
            result.fix = Some(Fix::Manual {
                action: format!("run the shards on node{node}: --cores {}", cpus.to_list()),
            });
        }
    }
    result
}

/// `isolcpus` and `nohz_full` on the kernel command line against the shard cores.
pub(super) fn isolation(probe: &HostProbe) -> CheckResult {
    let shards = probe.shard_cores();
    let online = probe.online_cpus();
    let cmdline = probe.read("/proc/cmdline").unwrap_or_default();
    let params = KernelParams::parse(&cmdline);
    let mut result = CheckResult {
        name: "cpu.isolation".to_owned(),
        observed: format!(
            "isolcpus={} nohz_full={}",
            params
                .isolcpus
                .as_ref()
                .map_or("none".to_owned(), CpuSet::to_string),
            params
                .nohz_full
                .as_ref()
                .map_or("none".to_owned(), CpuSet::to_string)
        ),
        recommended: format!("shard cores {shards} in isolcpus and nohz_full"),
        status: Status::Ok,
        why: "isolcpus and nohz_full keep other tasks and the timer tick off the shard cores, \
              which removes latency spikes from the forwarding path."
            .to_owned(),
        fix: None,
    };
    if shards.is_subset(&online) && online.is_subset(&shards) {
        // Isolating every core leaves nothing for the ctrl thread and the kernel's own work.
        result.recommended =
            "nothing: every core runs a shard, none is left to isolate from".to_owned();
        return result;
    }
    let isolated = |set: &Option<CpuSet>| set.as_ref().is_some_and(|s| shards.is_subset(s));
    if !(isolated(&params.isolcpus) && isolated(&params.nohz_full)) {
        result.status = Status::Warn;
        let list = shards.to_list();
        result.fix = Some(Fix::KernelCmdline {
            params: format!("isolcpus={list} nohz_full={list} rcu_nocbs={list}"),
        });
    }
    result
}

/// Transparent hugepages: `madvise` (or `always`) lets the buffer pools use huge pages.
pub(super) fn transparent_hugepages(probe: &HostProbe) -> CheckResult {
    const PATH: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
    let raw = probe.read(PATH);
    let selected = raw.as_deref().and_then(|text| {
        let start = text.find('[')? + 1;
        let end = start + text[start..].find(']')?;
        Some(text[start..end].to_owned())
    });
    let (status, fix) = match selected.as_deref() {
        None => (Status::Unknown, None),
        Some("madvise" | "always") => (Status::Ok, None),
        Some(_) => (
            Status::Warn,
            Some(Fix::Manual {
                action: format!("echo madvise > {PATH} (optional; apply leaves it alone)"),
            }),
        ),
    };
    CheckResult {
        name: "memory.transparent_hugepages".to_owned(),
        observed: selected.unwrap_or_else(|| "unreadable".to_owned()),
        recommended: "madvise (or always)".to_owned(),
        status,
        why: "Huge pages cut TLB misses on the shards' buffer pools; with madvise the server \
              asks for them without khugepaged compacting everything else."
            .to_owned(),
        fix,
    }
}

/// The CPU isolation parameters of a kernel command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct KernelParams {
    pub(crate) isolcpus: Option<CpuSet>,
    pub(crate) nohz_full: Option<CpuSet>,
}

impl KernelParams {
    /// Parses the kernel's part of `/proc/cmdline` (everything before a lone `--`, which
    /// starts init's arguments). `isolcpus` may lead with flags (`managed_irq,domain,2-7`).
    pub(crate) fn parse(cmdline: &str) -> Self {
        let mut params = Self::default();
        for token in cmdline.split_whitespace().take_while(|t| *t != "--") {
            if let Some(value) = token.strip_prefix("isolcpus=") {
                let cpus: Vec<&str> = value
                    .split(',')
                    .skip_while(|part| ISOLCPUS_FLAGS.contains(part))
                    .collect();
                params.isolcpus = CpuSet::parse_list(&cpus.join(",")).ok();
            } else if let Some(value) = token.strip_prefix("nohz_full=") {
                params.nohz_full = CpuSet::parse_list(value).ok();
            }
        }
        params
    }
}

fn node_names(nodes: &[u32]) -> String {
    nodes
        .iter()
        .map(|node| format!("node{node}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const PERFORMANCE: &str = "performance";
const ISOLCPUS_FLAGS: [&str; 3] = ["nohz", "domain", "managed_irq"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_isolation_parameters_before_init_arguments() {
        let params = KernelParams::parse(
            "ro quiet isolcpus=managed_irq,domain,2-3,6 nohz_full=2-3 -- isolcpus=0",
        );
        assert_eq!(params.isolcpus.unwrap().to_list(), "2-3,6");
        assert_eq!(params.nohz_full.unwrap().to_list(), "2-3");
    }

    #[test]
    fn absent_parameters_are_none() {
        assert_eq!(
            KernelParams::parse("console=ttyS0 quiet"),
            KernelParams::default()
        );
    }
}
