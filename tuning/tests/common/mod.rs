//! Fake hosts: `/proc`, `/sys` and `/etc` trees in a temporary directory.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixture"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use portunus_tune::{HostProbe, IoUringSetup};
use tempfile::TempDir;

/// A fake host tree; removed when dropped.
pub(crate) struct FakeHost {
    dir: TempDir,
}

impl FakeHost {
    /// An empty tree.
    pub(crate) fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A 4-CPU, one-node host as installed: stock sysctls, `powersave` governors, a NIC `eth0`
    /// with 4 queues (`eth0-TxRx-0..3`, IRQs 41-44) whose interrupts may run on any CPU, RPS
    /// set to every CPU by a generic tuning script, 8 MiB memlock, 1024 open files.
    pub(crate) fn untuned() -> Self {
        let host = Self::empty();
        host.file("sys/devices/system/cpu/online", "0-3\n");
        for cpu in 0..4 {
            let dir = format!("sys/devices/system/cpu/cpu{cpu}/cpufreq");
            host.file(&format!("{dir}/scaling_governor"), "powersave\n");
            host.file(
                &format!("{dir}/scaling_available_governors"),
                "performance powersave\n",
            );
        }
        host.file("sys/devices/system/node/node0/cpulist", "0-3\n");
        host.file("proc/sys/kernel/io_uring_disabled", "0\n");
        host.file("proc/sys/kernel/osrelease", "6.8.0-45-generic\n");
        host.limits("8388608", "8388608", "1024", "524288");
        host.file("proc/sys/net/core/rmem_max", "212992\n");
        host.file("proc/sys/net/core/wmem_max", "212992\n");
        host.file("proc/sys/net/core/rmem_default", "212992\n");
        host.file("proc/sys/net/core/wmem_default", "212992\n");
        host.file("proc/sys/net/ipv4/udp_mem", "187407\t249877\t374814\n");
        host.file("proc/sys/net/core/netdev_max_backlog", "1000\n");
        host.file(
            "proc/cmdline",
            "BOOT_IMAGE=/vmlinuz-6.8.0-45-generic root=/dev/sda1 ro quiet\n",
        );
        host.file(
            "sys/kernel/mm/transparent_hugepage/enabled",
            "always [madvise] never\n",
        );
        host.file("proc/1/comm", "systemd\n");
        host.dir("etc/sysctl.d");
        host.dir("sys/class/net/lo/queues/rx-0");
        host.nic("eth0", "0000:3b:00.0", 4, "f");
        host.file(
            "proc/interrupts",
            "           CPU0       CPU1       CPU2       CPU3\n\
             \x20 0:         44          0          0          0   IO-APIC   2-edge      timer\n\
             \x2040:          1          0          0          0  IR-PCI-MSIX-0000:3b:00.0    0-edge      eth0\n\
             \x2041:       5120          0          0          0  IR-PCI-MSIX-0000:3b:00.0    1-edge      eth0-TxRx-0\n\
             \x2042:          0       4810          0          0  IR-PCI-MSIX-0000:3b:00.0    2-edge      eth0-TxRx-1\n\
             \x2043:          0          0       4022          0  IR-PCI-MSIX-0000:3b:00.0    3-edge      eth0-TxRx-2\n\
             \x2044:          0          0          0       3921  IR-PCI-MSIX-0000:3b:00.0    4-edge      eth0-TxRx-3\n\
             \x2050:        901          0          0          0  IR-PCI-MSIX-0000:00:17.0    0-edge      nvme0q0\n\
             NMI:          0          0          0          0   Non-maskable interrupts\n",
        );
        for irq in 40..=44 {
            host.file(&format!("proc/irq/{irq}/smp_affinity_list"), "0-3\n");
        }
        host.file("proc/irq/50/smp_affinity_list", "0\n");
        host
    }

    /// Adds an interface `name` whose `device` links to `device`, with `queues` rx and tx
    /// queues whose `rps_cpus` read `rps`.
    pub(crate) fn nic(&self, name: &str, device: &str, queues: u32, rps: &str) {
        let base = format!("sys/class/net/{name}");
        self.dir(&format!("sys/devices/pci0000:00/{device}"));
        self.file(&format!("sys/devices/pci0000:00/{device}/numa_node"), "0\n");
        self.dir(&base);
        std::os::unix::fs::symlink(
            format!("../../../devices/pci0000:00/{device}"),
            self.path(&format!("{base}/device")),
        )
        .expect("device link");
        for q in 0..queues {
            self.file(
                &format!("{base}/queues/rx-{q}/rps_cpus"),
                &format!("{rps}\n"),
            );
            self.dir(&format!("{base}/queues/tx-{q}"));
        }
    }

    /// Writes `/proc/self/limits` with these memlock and nofile limits.
    pub(crate) fn limits(
        &self,
        memlock_soft: &str,
        memlock_hard: &str,
        nofile_soft: &str,
        nofile_hard: &str,
    ) {
        self.file(
            "proc/self/limits",
            &format!(
                "Limit                     Soft Limit           Hard Limit           Units     \n\
                 Max cpu time              unlimited            unlimited            seconds   \n\
                 Max open files            {nofile_soft:<20} {nofile_hard:<20} files     \n\
                 Max locked memory         {memlock_soft:<20} {memlock_hard:<20} bytes     \n"
            ),
        );
    }

    /// Writes a file (creating its directories); `path` is relative to the root.
    pub(crate) fn file(&self, path: &str, content: &str) -> &Self {
        let path = self.path(path);
        fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        fs::write(path, content).expect("write");
        self
    }

    /// Creates a directory (and its parents).
    pub(crate) fn dir(&self, path: &str) -> &Self {
        fs::create_dir_all(self.path(path)).expect("mkdir");
        self
    }

    /// Removes a file.
    pub(crate) fn remove(&self, path: &str) -> &Self {
        fs::remove_file(self.path(path)).expect("remove");
        self
    }

    /// Reads a file of the tree.
    pub(crate) fn read(&self, path: &str) -> String {
        fs::read_to_string(self.path(path)).expect("read")
    }

    /// The root of the tree.
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `path` (relative, or absolute as on the host) below the root.
    pub(crate) fn path(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }

    /// A probe of this tree on which io_uring works.
    pub(crate) fn probe(&self) -> HostProbe {
        HostProbe::new(self.root()).with_io_uring_setup(IoUringSetup::Works)
    }

    /// A probe of this tree with the shards on `cores`.
    pub(crate) fn probe_on(&self, cores: &str) -> HostProbe {
        self.probe()
            .with_shard_cores(portunus_tune::CpuSet::parse_list(cores).expect("cpu list"))
            .expect("shard cores online")
    }

    /// Every regular file of the tree with its contents, by host path.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        walk(self.root(), self.root(), &mut files);
        files
    }
}

fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let kind = entry.file_type().expect("file type");
        let path = entry.path();
        if kind.is_dir() {
            walk(root, &path, files);
        } else if kind.is_file() {
            let rel = path.strip_prefix(root).expect("below root");
            files.insert(
                format!("/{}", rel.display()),
                fs::read_to_string(&path).expect("read"),
            );
        }
    }
}
