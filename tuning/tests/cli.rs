//! The `portunus-tune` binary against fake roots: output, writes and exit codes.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use common::FakeHost;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portunus-tune"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn run_on(host: &FakeHost, args: &[&str]) -> Output {
    let root = host.root().to_str().expect("utf-8 temp dir").to_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--root", &root]);
    run(&all)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

/// The untuned fake host (4 CPUs, a 4-queue NIC) planned for shards on cores 0 and 1.
fn expected_dry_run(root: &str) -> String {
    let mut lines = vec![
        format!("# portunus-tune apply plan for shard cores 0-1 below {root}"),
        "# 16 writes; `portunus-tune apply --yes` makes exactly these".to_owned(),
    ];
    let mut write = |note: &str, value: &str, path: &str| {
        lines.push(format!("# {note}"));
        lines.push(format!("echo {value} > {root}{path}"));
    };
    write(
        "net.core.rmem_max: 212992 -> 16777216",
        "16777216",
        "/proc/sys/net/core/rmem_max",
    );
    write(
        "net.core.wmem_max: 212992 -> 16777216",
        "16777216",
        "/proc/sys/net/core/wmem_max",
    );
    write(
        "net.core.rmem_default: 212992 -> 1048576",
        "1048576",
        "/proc/sys/net/core/rmem_default",
    );
    write(
        "net.core.wmem_default: 212992 -> 1048576",
        "1048576",
        "/proc/sys/net/core/wmem_default",
    );
    write(
        "net.core.netdev_max_backlog: 1000 -> 8192",
        "8192",
        "/proc/sys/net/core/netdev_max_backlog",
    );
    for cpu in 0..2 {
        write(
            &format!("cpu{cpu} governor: powersave -> performance"),
            "performance",
            &format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"),
        );
    }
    for (queue, irq, core) in [(0, 41, 0), (1, 42, 1), (2, 43, 0), (3, 44, 1)] {
        write(
            &format!("eth0 eth0-TxRx-{queue} (irq {irq}): 0-3 -> {core}"),
            &core.to_string(),
            &format!("/proc/irq/{irq}/smp_affinity_list"),
        );
    }
    for queue in 0..4 {
        write(
            &format!("eth0 rx-{queue} rps_cpus: f -> 0"),
            "0",
            &format!("/sys/class/net/eth0/queues/rx-{queue}/rps_cpus"),
        );
    }
    lines.extend([
        "# persist the sysctls across reboots in /etc/sysctl.d/90-portunus.conf".to_owned(),
        format!("mkdir -p {root}/etc/sysctl.d"),
        format!("cat > {root}/etc/sysctl.d/90-portunus.conf <<'EOF'"),
        "# Written by portunus-tune apply: socket buffers and queues for the Portunus SFU."
            .to_owned(),
        "# Delete this file to stop setting them at boot.".to_owned(),
        "net.core.rmem_max = 16777216".to_owned(),
        "net.core.wmem_max = 16777216".to_owned(),
        "net.core.rmem_default = 1048576".to_owned(),
        "net.core.wmem_default = 1048576".to_owned(),
        "net.core.netdev_max_backlog = 8192".to_owned(),
        "EOF".to_owned(),
        "# not done by apply: limits.memlock (warn): `ulimit -l 32768` before starting the \
         server, or LimitMEMLOCK=33554432 in its systemd unit"
            .to_owned(),
        "# not done by apply: limits.nofile (FAIL): `ulimit -n 65536` before starting the \
         server, or LimitNOFILE=65536 in its systemd unit"
            .to_owned(),
        "# not done by apply: cpu.isolation (warn): add `isolcpus=0-1 nohz_full=0-1 \
         rcu_nocbs=0-1` to the kernel command line and reboot"
            .to_owned(),
    ]);
    lines.join("\n") + "\n"
}

/// The files a dry-run script writes, by host path (the root taken off), with their bytes.
fn script_writes(script: &str, root: &str) -> BTreeMap<String, String> {
    let mut writes = BTreeMap::new();
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("echo ") {
            let (value, path) = rest.split_once(" > ").expect("echo VALUE > PATH");
            let path = path.strip_prefix(root).expect("path below the root");
            writes.insert(path.to_owned(), format!("{value}\n"));
        } else if let Some(rest) = line.strip_prefix("cat > ") {
            let path = rest.strip_suffix(" <<'EOF'").expect("cat > PATH <<'EOF'");
            let path = path.strip_prefix(root).expect("path below the root");
            let body: String = lines
                .by_ref()
                .take_while(|l| *l != "EOF")
                .map(|l| format!("{l}\n"))
                .collect();
            writes.insert(path.to_owned(), body);
        }
    }
    writes
}

/// Files that differ between two snapshots, with their new contents.
fn changed(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    assert!(
        before.keys().all(|k| after.contains_key(k)),
        "a file was removed"
    );
    after
        .iter()
        .filter(|(path, content)| before.get(*path) != Some(*content))
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect()
}

#[test]
fn dry_run_prints_exactly_the_planned_writes_and_writes_nothing() {
    let host = FakeHost::untuned();
    let root = host.root().to_str().unwrap().to_owned();
    let before = host.snapshot();
    let out = run_on(&host, &["apply", "--dry-run", "--cores", "0,1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), expected_dry_run(&root));
    assert_eq!(host.snapshot(), before, "a dry run changes no file");
}

#[test]
fn shards_n_means_the_first_n_online_cores() {
    let host = FakeHost::untuned();
    let by_count = run_on(&host, &["apply", "--dry-run", "--shards", "2"]);
    let by_list = run_on(&host, &["apply", "--dry-run", "--cores", "0-1"]);
    assert_eq!(by_count.status.code(), Some(0));
    assert_eq!(stdout(&by_count), stdout(&by_list));
}

#[test]
fn apply_yes_writes_exactly_the_dry_runs_files() {
    let host = FakeHost::untuned();
    let root = host.root().to_str().unwrap().to_owned();
    let script = stdout(&run_on(&host, &["apply", "--dry-run", "--cores", "0,1"]));
    let planned = script_writes(&script, &root);
    assert_eq!(planned.len(), 16);

    let before = host.snapshot();
    let out = run_on(&host, &["apply", "--yes", "--cores", "0,1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("16 of 16 writes made\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(changed(&before, &host.snapshot()), planned);

    // A second run finds nothing left to write.
    let again = stdout(&run_on(&host, &["apply", "--dry-run", "--cores", "0,1"]));
    assert!(again.contains("# nothing to write"), "{again}");
    assert!(!again.contains("echo "), "{again}");
}

#[test]
fn apply_reports_a_failed_write_continues_and_exits_1() {
    let host = FakeHost::untuned();
    // /etc/sysctl.d is a file, so the persistent config cannot be written.
    std::fs::remove_dir(host.path("etc/sysctl.d")).unwrap();
    host.file("etc/sysctl.d", "not a directory\n");
    let out = run_on(&host, &["apply", "--yes", "--cores", "0,1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("90-portunus.conf"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).ends_with("15 of 16 writes made\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(host.read("proc/sys/net/core/rmem_max"), "16777216\n");
}

#[test]
fn check_exits_1_when_a_check_fails_and_0_once_tuned() {
    let host = FakeHost::untuned();
    let out = run_on(&host, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    assert!(table.contains("\nFAIL     net.core.rmem_max "), "{table}");
    assert!(
        table.contains("    fix: sysctl -w net.core.rmem_max=16777216\n"),
        "{table}"
    );
    assert!(
        table.ends_with("3 failed, 7 warnings, 6 ok, 1 unknown\n"),
        "{table}"
    );

    assert_eq!(run_on(&host, &["apply", "--yes"]).status.code(), Some(0));
    host.limits("unlimited", "unlimited", "1048576", "1048576");
    let out = run_on(&host, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // io_uring is not probed below a fake root.
    assert!(stdout(&out).ends_with("0 failed, 0 warnings, 16 ok, 1 unknown\n"));
}

#[test]
fn pid_checks_the_limits_of_that_process() {
    let host = FakeHost::untuned();
    host.file(
        "proc/77/limits",
        "Max open files            65536                65536                files     \n",
    );
    let out = run_on(&host, &["check", "--pid", "77"]);
    let table = stdout(&out);
    assert!(table.contains("\nok       limits.nofile "), "{table}");
    assert!(table.contains("unreadable (/proc/77/limits)"), "{table}");
}

#[test]
fn check_json_carries_every_result_and_the_same_exit_code() {
    let host = FakeHost::untuned();
    let out = run_on(&host, &["check", "--json", "--shards", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["shard_cores"], "0-1");
    let checks = report["checks"].as_array().expect("checks array");
    assert_eq!(checks.len(), 17);
    let rmem = checks
        .iter()
        .find(|c| c["name"] == "net.core.rmem_max")
        .expect("rmem_max");
    assert_eq!(rmem["status"], "fail");
    assert_eq!(rmem["observed"], "212992 (208 KiB)");
    assert_eq!(rmem["fix"]["kind"], "sysctl");
    assert_eq!(rmem["fix"]["value"], "16777216");
    let irq = checks
        .iter()
        .find(|c| c["name"] == "nic.eth0.irq_affinity")
        .expect("irq");
    assert_eq!(
        irq["fix"]["writes"][1]["path"],
        "/proc/irq/42/smp_affinity_list"
    );
    assert_eq!(irq["fix"]["writes"][1]["value"], "1");
}

#[test]
fn usage_errors_exit_2() {
    let host = FakeHost::untuned();
    for args in [
        &["apply"][..],
        &["apply", "--dry-run", "--yes"],
        &["check", "--shards", "0"],
        &["check", "--shards", "5"],
        &["check", "--cores", "3-7"],
        &["check", "--cores", "zero"],
        &["check", "--shards", "2", "--cores", "0-1"],
        &["frobnicate"],
    ] {
        let out = run_on(&host, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = run_on(&host, &["check", "--cores", "3-7"]);
    assert!(
        stderr(&out).contains("shard cores 3-7 are not"),
        "{}",
        stderr(&out)
    );
}
