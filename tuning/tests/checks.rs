//! Every check's Ok, Warn, Fail and Unknown paths against fake host trees.

mod common;

use common::FakeHost;
use portunus_tune::{CheckResult, Fix, HostProbe, IoUringSetup, Status, check, startup_warnings};

fn result(probe: &HostProbe, name: &str) -> CheckResult {
    check(probe)
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no check named {name}"))
}

fn status(probe: &HostProbe, name: &str) -> Status {
    result(probe, name).status
}

fn written_files(fix: Option<Fix>) -> Vec<(String, String)> {
    match fix {
        Some(Fix::WriteFiles { writes }) => writes.into_iter().map(|w| (w.path, w.value)).collect(),
        other => panic!("expected file writes, got {other:?}"),
    }
}

// --- io_uring and the kernel ------------------------------------------------------------

#[test]
fn io_uring_is_ok_when_setup_works_and_nothing_disables_it() {
    let host = FakeHost::untuned();
    let r = result(&host.probe(), "io_uring");
    assert_eq!(r.status, Status::Ok);
    assert_eq!(
        r.observed,
        "io_uring_setup works; kernel.io_uring_disabled = 0"
    );
    assert_eq!(r.fix, None);
}

#[test]
fn io_uring_disabled_for_all_fails_even_if_setup_worked() {
    let host = FakeHost::untuned();
    host.file("proc/sys/kernel/io_uring_disabled", "2\n");
    let r = result(&host.probe(), "io_uring");
    assert_eq!(r.status, Status::Fail);
    assert!(
        r.fix
            .unwrap()
            .to_string()
            .contains("kernel.io_uring_disabled=0")
    );
}

#[test]
fn io_uring_restricted_to_a_group_warns_and_names_the_group() {
    let host = FakeHost::untuned();
    host.file("proc/sys/kernel/io_uring_disabled", "1\n");
    host.file("proc/sys/kernel/io_uring_group", "1234\n");
    let r = result(&host.probe(), "io_uring");
    assert_eq!(r.status, Status::Warn);
    assert!(r.fix.unwrap().to_string().contains("group 1234"));
}

#[test]
fn io_uring_setup_refused_by_seccomp_fails_with_a_seccomp_fix() {
    let host = FakeHost::untuned();
    host.remove("proc/sys/kernel/io_uring_disabled");
    let probe = host
        .probe()
        .with_io_uring_setup(IoUringSetup::Failed { errno: libc::EPERM });
    let r = result(&probe, "io_uring");
    assert_eq!(r.status, Status::Fail);
    assert!(
        r.observed.contains("EPERM") && r.observed.contains("absent"),
        "{}",
        r.observed
    );
    assert!(r.fix.unwrap().to_string().contains("seccomp"));
}

#[test]
fn io_uring_is_unknown_on_a_fake_root_without_an_injected_outcome() {
    let host = FakeHost::untuned();
    let probe = HostProbe::new(host.root());
    assert_eq!(probe.io_uring_setup(), IoUringSetup::NotProbed);
    assert_eq!(status(&probe, "io_uring"), Status::Unknown);
}

#[test]
fn kernel_release_before_6_1_warns() {
    let host = FakeHost::untuned();
    assert_eq!(status(&host.probe(), "kernel.release"), Status::Ok);
    host.file("proc/sys/kernel/osrelease", "5.15.0-91-generic\n");
    assert_eq!(status(&host.probe(), "kernel.release"), Status::Warn);
    host.remove("proc/sys/kernel/osrelease");
    assert_eq!(status(&host.probe(), "kernel.release"), Status::Unknown);
}

// --- resource limits --------------------------------------------------------------------

#[test]
fn memlock_scales_with_the_shard_count() {
    let host = FakeHost::untuned();
    host.limits("33554432", "33554432", "65536", "65536");
    // 32 MiB covers two shards at 16 MiB each, not four.
    assert_eq!(status(&host.probe_on("0-1"), "limits.memlock"), Status::Ok);
    let r = result(&host.probe(), "limits.memlock");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(r.recommended, ">= 64 MiB (4 shards x 16 MiB) or unlimited");
    assert_eq!(
        r.fix,
        Some(Fix::Ulimit {
            shell: "ulimit -l 65536".to_owned(),
            systemd: "LimitMEMLOCK=67108864".to_owned(),
        })
    );
}

#[test]
fn memlock_unlimited_is_ok_and_64_kib_fails() {
    let host = FakeHost::untuned();
    host.limits("unlimited", "unlimited", "65536", "65536");
    assert_eq!(status(&host.probe(), "limits.memlock"), Status::Ok);
    host.limits("65536", "65536", "65536", "65536");
    assert_eq!(status(&host.probe(), "limits.memlock"), Status::Fail);
    host.remove("proc/self/limits");
    assert_eq!(status(&host.probe(), "limits.memlock"), Status::Unknown);
}

#[test]
fn nofile_fails_at_1024_warns_below_65536_and_passes_above() {
    let host = FakeHost::untuned();
    let r = result(&host.probe(), "limits.nofile");
    assert_eq!(
        (r.status, r.observed.as_str()),
        (Status::Fail, "1024 (hard 524288)")
    );
    host.limits("unlimited", "unlimited", "20000", "20000");
    assert_eq!(status(&host.probe(), "limits.nofile"), Status::Warn);
    host.limits("unlimited", "unlimited", "1048576", "1048576");
    assert_eq!(status(&host.probe(), "limits.nofile"), Status::Ok);
}

#[test]
fn limits_can_be_read_from_the_running_server_instead_of_the_checker() {
    let host = FakeHost::untuned();
    host.file(
        "proc/4242/limits",
        "Max open files            1048576              1048576              files     \n\
         Max locked memory         unlimited            unlimited            bytes     \n",
    );
    let probe = host.probe().with_limits_of(4242);
    assert_eq!(status(&probe, "limits.nofile"), Status::Ok);
    assert_eq!(status(&probe, "limits.memlock"), Status::Ok);
    let gone = host.probe().with_limits_of(4343);
    assert_eq!(
        result(&gone, "limits.nofile").observed,
        "unreadable (/proc/4343/limits)"
    );
}

// --- network sysctls --------------------------------------------------------------------

#[test]
fn socket_buffer_maxima_fail_at_the_kernel_default() {
    let host = FakeHost::untuned();
    for key in ["net.core.rmem_max", "net.core.wmem_max"] {
        let r = result(&host.probe(), key);
        assert_eq!(r.status, Status::Fail, "{key}");
        assert_eq!(r.observed, "212992 (208 KiB)");
        assert_eq!(
            r.fix,
            Some(Fix::Sysctl {
                key: key.to_owned(),
                value: "16777216".to_owned(),
            })
        );
    }
    host.file("proc/sys/net/core/rmem_max", "4194304\n");
    assert_eq!(status(&host.probe(), "net.core.rmem_max"), Status::Warn);
    host.file("proc/sys/net/core/rmem_max", "33554432\n");
    let r = result(&host.probe(), "net.core.rmem_max");
    assert_eq!(
        (r.status, r.fix),
        (Status::Ok, None),
        "a higher value is never lowered"
    );
}

#[test]
fn socket_buffer_defaults_warn_at_the_kernel_default_and_fail_below() {
    let host = FakeHost::untuned();
    assert_eq!(status(&host.probe(), "net.core.rmem_default"), Status::Warn);
    assert_eq!(status(&host.probe(), "net.core.wmem_default"), Status::Warn);
    host.file("proc/sys/net/core/wmem_default", "4096\n");
    assert_eq!(status(&host.probe(), "net.core.wmem_default"), Status::Fail);
    host.file("proc/sys/net/core/rmem_default", "1048576\n");
    assert_eq!(status(&host.probe(), "net.core.rmem_default"), Status::Ok);
}

#[test]
fn netdev_backlog_warns_at_the_default_and_fails_below_it() {
    let host = FakeHost::untuned();
    assert_eq!(
        status(&host.probe(), "net.core.netdev_max_backlog"),
        Status::Warn
    );
    host.file("proc/sys/net/core/netdev_max_backlog", "500\n");
    assert_eq!(
        status(&host.probe(), "net.core.netdev_max_backlog"),
        Status::Fail
    );
    host.file("proc/sys/net/core/netdev_max_backlog", "16384\n");
    assert_eq!(
        status(&host.probe(), "net.core.netdev_max_backlog"),
        Status::Ok
    );
}

#[test]
fn unreadable_or_garbled_sysctls_are_unknown() {
    let host = FakeHost::untuned();
    host.remove("proc/sys/net/core/rmem_max");
    host.file("proc/sys/net/core/wmem_max", "lots\n");
    let rmem = result(&host.probe(), "net.core.rmem_max");
    assert_eq!(
        (rmem.status, rmem.observed.as_str()),
        (Status::Unknown, "unreadable")
    );
    let wmem = result(&host.probe(), "net.core.wmem_max");
    assert_eq!(wmem.status, Status::Unknown);
    assert_eq!(wmem.fix, None);
}

#[test]
fn udp_mem_pressure_must_cover_every_shard_buffer() {
    let host = FakeHost::untuned();
    // 4 shards x 32 MiB = 128 MiB = 32768 pages of 4 KiB.
    assert_eq!(status(&host.probe(), "net.ipv4.udp_mem"), Status::Ok);
    host.file("proc/sys/net/ipv4/udp_mem", "10000 20000 40000\n");
    let r = result(&host.probe(), "net.ipv4.udp_mem");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(
        r.fix,
        Some(Fix::Sysctl {
            key: "net.ipv4.udp_mem".to_owned(),
            value: "10000 32768 65536".to_owned(),
        })
    );
    host.file("proc/sys/net/ipv4/udp_mem", "1000 2000 4000\n");
    assert_eq!(status(&host.probe(), "net.ipv4.udp_mem"), Status::Fail);
    host.file("proc/sys/net/ipv4/udp_mem", "1000 2000\n");
    assert_eq!(status(&host.probe(), "net.ipv4.udp_mem"), Status::Unknown);
}

// --- CPU --------------------------------------------------------------------------------

#[test]
fn governor_warns_and_fixes_only_the_shard_cores() {
    let host = FakeHost::untuned();
    let r = result(&host.probe_on("1-2"), "cpu.governor");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(r.observed, "powersave on 1-2");
    assert_eq!(
        written_files(r.fix),
        [
            (
                "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor".to_owned(),
                "performance".to_owned()
            ),
            (
                "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor".to_owned(),
                "performance".to_owned()
            ),
        ]
    );
}

#[test]
fn governor_is_ok_on_performance_and_unknown_without_cpufreq() {
    let host = FakeHost::untuned();
    for cpu in 0..2 {
        host.file(
            &format!("sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"),
            "performance\n",
        );
    }
    assert_eq!(status(&host.probe_on("0-1"), "cpu.governor"), Status::Ok);
    let vm = FakeHost::empty();
    vm.file("sys/devices/system/cpu/online", "0-1\n");
    let r = result(&vm.probe(), "cpu.governor");
    assert_eq!(
        (r.status, r.observed.as_str()),
        (Status::Unknown, "no cpufreq on 0-1")
    );
}

#[test]
fn governor_without_performance_available_is_not_written() {
    let host = FakeHost::untuned();
    let dir = "sys/devices/system/cpu/cpu0/cpufreq";
    host.file(
        &format!("{dir}/scaling_available_governors"),
        "schedutil powersave\n",
    );
    host.file(&format!("{dir}/scaling_governor"), "schedutil\n");
    let r = result(&host.probe_on("0"), "cpu.governor");
    assert_eq!((r.status, r.fix), (Status::Warn, None));
}

#[test]
fn numa_is_ok_on_one_node_and_warns_when_shards_span_nodes_or_miss_the_nic() {
    let host = FakeHost::untuned();
    assert_eq!(result(&host.probe(), "numa").observed, "1 node");
    host.file("sys/devices/system/node/node0/cpulist", "0-1\n");
    host.file("sys/devices/system/node/node1/cpulist", "2-3\n");
    host.file("sys/devices/pci0000:00/0000:3b:00.0/numa_node", "1\n");
    let spanning = result(&host.probe(), "numa");
    assert_eq!(spanning.status, Status::Warn);
    assert_eq!(
        spanning.observed,
        "2 nodes (node0 0-1, node1 2-3); shard cores on node0, node1; eth0 on node1"
    );
    assert_eq!(
        spanning.fix.unwrap().to_string(),
        "run the shards on node1: --cores 2-3"
    );
    assert_eq!(status(&host.probe_on("0-1"), "numa"), Status::Warn);
    assert_eq!(status(&host.probe_on("2-3"), "numa"), Status::Ok);
}

#[test]
fn isolation_wants_isolcpus_and_nohz_full_over_the_shard_cores() {
    let host = FakeHost::untuned();
    // Every core runs a shard: nothing is left to isolate from.
    assert_eq!(status(&host.probe(), "cpu.isolation"), Status::Ok);
    let r = result(&host.probe_on("2-3"), "cpu.isolation");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(r.observed, "isolcpus=none nohz_full=none");
    assert_eq!(
        r.fix,
        Some(Fix::KernelCmdline {
            params: "isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3".to_owned(),
        })
    );
    host.file(
        "proc/cmdline",
        "ro isolcpus=managed_irq,domain,2-3 nohz_full=2-3 quiet\n",
    );
    assert_eq!(status(&host.probe_on("2-3"), "cpu.isolation"), Status::Ok);
    host.file("proc/cmdline", "ro isolcpus=2-3 quiet\n");
    assert_eq!(status(&host.probe_on("2-3"), "cpu.isolation"), Status::Warn);
}

#[test]
fn transparent_hugepages_never_warns() {
    let host = FakeHost::untuned();
    assert_eq!(
        status(&host.probe(), "memory.transparent_hugepages"),
        Status::Ok
    );
    host.file(
        "sys/kernel/mm/transparent_hugepage/enabled",
        "always madvise [never]\n",
    );
    assert_eq!(
        status(&host.probe(), "memory.transparent_hugepages"),
        Status::Warn
    );
    host.remove("sys/kernel/mm/transparent_hugepage/enabled");
    assert_eq!(
        status(&host.probe(), "memory.transparent_hugepages"),
        Status::Unknown
    );
}

// --- NIC ----------------------------------------------------------------------------------

#[test]
fn queue_irqs_on_every_cpu_warn_and_are_spread_round_robin_over_the_shards() {
    let host = FakeHost::untuned();
    let r = result(&host.probe_on("0-1"), "nic.eth0.irq_affinity");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(
        r.observed,
        "eth0-TxRx-0 (irq 41) on 0-3, eth0-TxRx-1 (irq 42) on 0-3, \
         eth0-TxRx-2 (irq 43) on 0-3, eth0-TxRx-3 (irq 44) on 0-3"
    );
    let expected = [(41, "0"), (42, "1"), (43, "0"), (44, "1")].map(|(irq, core)| {
        (
            format!("/proc/irq/{irq}/smp_affinity_list"),
            core.to_owned(),
        )
    });
    assert_eq!(
        written_files(r.fix),
        expected,
        "the link IRQ 40 and nvme's 50 are left alone"
    );
}

#[test]
fn queue_irqs_already_spread_are_ok() {
    let host = FakeHost::untuned();
    for (irq, core) in [(41, "0"), (42, "1"), (43, "0"), (44, "1")] {
        host.file(
            &format!("proc/irq/{irq}/smp_affinity_list"),
            &format!("{core}\n"),
        );
    }
    let r = result(&host.probe_on("0-1"), "nic.eth0.irq_affinity");
    assert_eq!((r.status, r.fix), (Status::Ok, None));
}

#[test]
fn virtio_input_and_output_irqs_of_one_queue_share_a_core() {
    let host = FakeHost::empty();
    host.file("sys/devices/system/cpu/online", "0-1\n");
    host.nic("eth0", "virtio2", 2, "0");
    host.file(
        "proc/interrupts",
        "      CPU0 CPU1\n\
         37: 0 0 PCI-MSIX-0000:00:03.0 0-edge virtio2-config\n\
         38: 1 0 PCI-MSIX-0000:00:03.0 1-edge virtio2-input.0\n\
         39: 1 0 PCI-MSIX-0000:00:03.0 2-edge virtio2-output.0\n\
         40: 1 0 PCI-MSIX-0000:00:03.0 3-edge virtio2-input.1\n\
         41: 1 0 PCI-MSIX-0000:00:03.0 4-edge virtio2-output.1\n\
         42: 1 0 PCI-MSIX-0000:00:04.0 1-edge virtio3-input.0\n",
    );
    for irq in 37..=42 {
        host.file(&format!("proc/irq/{irq}/smp_affinity_list"), "0-1\n");
    }
    let r = result(&host.probe(), "nic.eth0.irq_affinity");
    let expected = [(38, "0"), (39, "0"), (40, "1"), (41, "1")].map(|(irq, core)| {
        (
            format!("/proc/irq/{irq}/smp_affinity_list"),
            core.to_owned(),
        )
    });
    assert_eq!(written_files(r.fix), expected);
}

#[test]
fn without_a_nic_the_affinity_checks_are_unknown() {
    let host = FakeHost::untuned();
    host.remove("sys/class/net/eth0/device");
    let results = check(&host.probe());
    assert!(!results.iter().any(|r| r.name.starts_with("nic.eth0")));
    let nic = results
        .iter()
        .find(|r| r.name == "nic")
        .expect("a nic result");
    assert_eq!(nic.status, Status::Unknown);
}

#[test]
fn rps_is_turned_off_when_queues_cover_the_shards() {
    let host = FakeHost::untuned();
    let r = result(&host.probe_on("0-1"), "nic.eth0.rps");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(r.recommended, "0 (off): 4 rx queues for 2 shards");
    let expected: Vec<(String, String)> = (0..4)
        .map(|q| {
            (
                format!("/sys/class/net/eth0/queues/rx-{q}/rps_cpus"),
                "0".to_owned(),
            )
        })
        .collect();
    assert_eq!(written_files(r.fix), expected);
}

#[test]
fn rps_spreads_a_single_queue_over_the_shard_cores() {
    let host = FakeHost::empty();
    host.file("sys/devices/system/cpu/online", "0-3\n");
    host.nic("eth0", "virtio2", 1, "00");
    let r = result(&host.probe_on("1-3"), "nic.eth0.rps");
    assert_eq!(r.status, Status::Warn);
    assert_eq!(
        written_files(r.fix),
        [(
            "/sys/class/net/eth0/queues/rx-0/rps_cpus".to_owned(),
            "e".to_owned()
        )]
    );
    host.file("sys/class/net/eth0/queues/rx-0/rps_cpus", "0e\n");
    assert_eq!(status(&host.probe_on("1-3"), "nic.eth0.rps"), Status::Ok);
}

#[test]
fn irqbalance_running_warns() {
    let host = FakeHost::untuned();
    assert_eq!(status(&host.probe(), "irq.irqbalance"), Status::Ok);
    host.file("proc/812/comm", "irqbalance\n");
    let r = result(&host.probe(), "irq.irqbalance");
    assert_eq!(
        (r.status, r.observed.as_str()),
        (Status::Warn, "running (pid 812)")
    );
}

// --- the whole report -----------------------------------------------------------------------

#[test]
fn reports_every_check_in_a_fixed_order() {
    let host = FakeHost::untuned();
    let names: Vec<String> = check(&host.probe()).into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "io_uring",
            "kernel.release",
            "limits.memlock",
            "limits.nofile",
            "net.core.rmem_max",
            "net.core.wmem_max",
            "net.core.rmem_default",
            "net.core.wmem_default",
            "net.ipv4.udp_mem",
            "net.core.netdev_max_backlog",
            "cpu.governor",
            "irq.irqbalance",
            "nic.eth0.irq_affinity",
            "nic.eth0.rps",
            "numa",
            "cpu.isolation",
            "memory.transparent_hugepages",
        ]
    );
}

#[test]
fn startup_warnings_are_one_line_per_failed_check() {
    let host = FakeHost::untuned();
    let warnings = startup_warnings(&host.probe());
    let failed: Vec<String> = check(&host.probe())
        .into_iter()
        .filter(|r| r.status == Status::Fail)
        .map(|r| r.name)
        .collect();
    assert_eq!(
        failed,
        ["limits.nofile", "net.core.rmem_max", "net.core.wmem_max"]
    );
    assert_eq!(warnings.len(), failed.len());
    for (line, name) in warnings.iter().zip(&failed) {
        assert!(
            line.starts_with(&format!("host check {name} FAIL: observed ")),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
    assert!(warnings[1].contains("Fix: sysctl -w net.core.rmem_max=16777216."));
}

#[test]
fn a_tuned_host_has_no_startup_warnings() {
    let host = FakeHost::untuned();
    portunus_tune::plan(&host.probe())
        .apply()
        .expect("fake tree is writable");
    host.limits("unlimited", "unlimited", "1048576", "1048576");
    assert_eq!(startup_warnings(&host.probe()), Vec::<String>::new());
    let not_ok: Vec<CheckResult> = check(&host.probe())
        .into_iter()
        .filter(|r| r.status != Status::Ok)
        .collect();
    assert_eq!(not_ok, []);
}
