//! The apply plan: what it writes, what it persists, what it never touches.

mod common;

use common::FakeHost;
use portunus_tune::{SYSCTL_CONF, TuneError, plan};

fn paths(plan: &portunus_tune::Plan) -> Vec<&str> {
    plan.writes.iter().map(|w| w.path.as_str()).collect()
}

#[test]
fn a_value_reset_after_apply_is_written_again_and_the_config_kept() {
    let host = FakeHost::untuned();
    plan(&host.probe()).apply().unwrap();
    let conf = host.read(SYSCTL_CONF);
    host.file("proc/sys/net/core/wmem_default", "212992\n");
    let again = plan(&host.probe());
    assert_eq!(paths(&again), ["/proc/sys/net/core/wmem_default"]);
    again.apply().unwrap();
    assert_eq!(host.read(SYSCTL_CONF), conf, "the persisted keys stay");
}

#[test]
fn values_above_the_recommendation_are_never_lowered_but_are_persisted_once_managed() {
    let host = FakeHost::untuned();
    host.file("proc/sys/net/core/rmem_max", "67108864\n");
    let first = plan(&host.probe());
    assert!(!paths(&first).contains(&"/proc/sys/net/core/rmem_max"));
    let conf = &first.writes.last().unwrap().content;
    assert!(
        !conf.contains("rmem_max"),
        "an untouched key is not persisted: {conf}"
    );

    // Once a previous run persisted the key, the file records the host's higher value.
    host.file(SYSCTL_CONF, "net.core.rmem_max = 16777216\n");
    let second = plan(&host.probe());
    let conf = &second.writes.last().unwrap().content;
    assert!(conf.contains("net.core.rmem_max = 67108864\n"), "{conf}");
    assert!(!paths(&second).contains(&"/proc/sys/net/core/rmem_max"));
}

#[test]
fn udp_mem_is_raised_and_persisted_as_a_triple() {
    let host = FakeHost::untuned();
    // Two shards need 2 x 32 MiB = 16384 pages below the pressure threshold.
    host.file("proc/sys/net/ipv4/udp_mem", "4000\t8000\t12000\n");
    let plan = plan(&host.probe_on("0-1"));
    let udp = plan
        .writes
        .iter()
        .find(|w| w.path == "/proc/sys/net/ipv4/udp_mem")
        .expect("udp_mem raised");
    assert_eq!(udp.content, "4000 16384 32768\n");
    assert_eq!(
        udp.note,
        "net.ipv4.udp_mem: 4000 8000 12000 -> 4000 16384 32768"
    );
    assert!(
        plan.writes
            .last()
            .unwrap()
            .content
            .contains("net.ipv4.udp_mem = 4000 16384 32768\n")
    );
}

#[test]
fn the_config_directory_is_created_but_kernel_files_never_are() {
    let host = FakeHost::untuned();
    std::fs::remove_dir(host.path("etc/sysctl.d")).unwrap();
    let plan = plan(&host.probe());
    host.remove("proc/irq/41/smp_affinity_list");
    let failures = plan.apply().expect_err("the vanished IRQ file fails");
    assert_eq!(failures.len(), 1);
    assert!(
        matches!(&failures[0], TuneError::Write { path, .. } if path.ends_with("proc/irq/41/smp_affinity_list"))
    );
    assert!(!host.path("proc/irq/41/smp_affinity_list").exists());
    assert!(
        host.read(SYSCTL_CONF)
            .contains("net.core.rmem_max = 16777216\n")
    );
}

#[test]
fn a_host_already_tuned_plans_nothing_but_lists_what_apply_leaves_alone() {
    let host = FakeHost::untuned();
    plan(&host.probe()).apply().unwrap();
    let plan = plan(&host.probe());
    assert_eq!(plan.writes, []);
    assert_eq!(
        plan.left_alone,
        [
            "limits.memlock (warn): `ulimit -l 65536` before starting the server, or \
             LimitMEMLOCK=67108864 in its systemd unit",
            "limits.nofile (FAIL): `ulimit -n 65536` before starting the server, or \
             LimitNOFILE=65536 in its systemd unit",
        ]
    );
    assert!(plan.render().contains("# nothing to write"));
}
