//! The `apply` plan: the exact file writes that bring the host to the recommendations that
//! can be written (sysctls, governors, IRQ affinity, RPS) and persist the sysctls.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::checks::sysctl;
use crate::checks::{Fix, Status};
use crate::{CpuSet, HostProbe, TuneError, check};

/// The file `apply` persists the sysctls in, read by systemd-sysctl at boot.
pub const SYSCTL_CONF: &str = "/etc/sysctl.d/90-portunus.conf";

/// Everything `apply --yes` would write, in order; `apply --dry-run` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The directory the host paths lie below (`/` on a real host).
    pub root: PathBuf,
    /// The cores the plan spreads interrupts over and sets governors on.
    pub shard_cores: CpuSet,
    /// The writes, in the order they are made.
    pub writes: Vec<PlannedWrite>,
    /// Failed or warned checks whose fix `apply` does not make (limits, boot parameters,
    /// policy), one line each.
    pub left_alone: Vec<String>,
}

/// One file write of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWrite {
    /// The file as a host path (`/proc/sys/net/core/rmem_max`).
    pub path: String,
    /// The exact bytes written (ending in a newline).
    pub content: String,
    /// What the write changes (`net.core.rmem_max: 212992 -> 16777216`).
    pub note: String,
    /// Whether the file (and its directory) may be created; kernel files never are.
    pub create: bool,
}

/// Plans the writes that bring the host `probe` reads to the recommendations: sysctls below
/// their recommendation (never lowered), `performance` on the shard cores, queue interrupts
/// spread over the shard cores, RPS masks, and [`SYSCTL_CONF`] holding every sysctl raised
/// now or persisted before. Values already right are not written, so a second run after
/// `apply --yes` plans nothing.
pub fn plan(probe: &HostProbe) -> Plan {
    let results = check(probe);
    let sysctls = sysctl::evaluate(probe);
    let mut writes = Vec::new();
    for eval in &sysctls {
        if let (Some(current), Some(target)) = (&eval.current, &eval.target)
            && current != target
        {
            writes.push(PlannedWrite {
                path: eval.proc_path(),
                content: format!("{target}\n"),
                note: format!("{}: {current} -> {target}", eval.key),
                create: false,
            });
        }
    }
    let mut left_alone = Vec::new();
    for result in &results {
        match &result.fix {
            Some(Fix::WriteFiles { writes: files }) => {
                writes.extend(files.iter().map(|w| PlannedWrite {
                    path: w.path.clone(),
                    content: format!("{}\n", w.value),
                    note: w.note.clone(),
                    create: false,
                }));
            }
            Some(Fix::Sysctl { .. }) | None => {}
            Some(other) if result.status >= Status::Warn => {
                left_alone.push(format!("{} ({}): {other}", result.name, result.status));
            }
            Some(_) => {}
        }
    }
    if let Some(conf) = persisted_sysctls(probe, &sysctls) {
        writes.push(conf);
    }
    Plan {
        root: probe.root().to_owned(),
        shard_cores: probe.shard_cores(),
        writes,
        left_alone,
    }
}

/// Refuses to apply a plan to the real host (`root` is `/`) unless `euid` is 0. A plan for
/// any other root (a test tree) needs no privileges.
///
/// # Errors
/// [`TuneError::NotRoot`] in that one case.
pub fn authorize_apply(root: &Path, euid: u32) -> Result<(), TuneError> {
    if root == Path::new("/") && euid != 0 {
        return Err(TuneError::NotRoot { euid });
    }
    Ok(())
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

impl Plan {
    /// The plan as a POSIX shell script that makes exactly these writes, with a comment
    /// before each saying what it changes. This is what `apply --dry-run` prints.
    pub fn render(&self) -> String {
        let mut out = format!(
            "# portunus-tune apply plan for shard cores {} below {}\n",
            self.shard_cores,
            self.root.display()
        );
        if self.writes.is_empty() {
            out.push_str("# nothing to write: every setting apply manages is already right\n");
        } else {
            out.push_str(&format!(
                "# {} writes; `portunus-tune apply --yes` makes exactly these\n",
                self.writes.len()
            ));
        }
        for write in &self.writes {
            let path = shell_quote(&self.path_of(write).to_string_lossy());
            out.push_str(&format!("# {}\n", write.note));
            let single_line = write.content.lines().count() == 1 && write.content.ends_with('\n');
            if single_line {
                out.push_str(&format!(
                    "echo {} > {path}\n",
                    shell_quote(write.content.trim_end_matches('\n'))
                ));
            } else {
                out.push_str(&format!(
                    "mkdir -p {}\ncat > {path} <<'EOF'\n{}EOF\n",
                    shell_quote(&self.dir_of(write).to_string_lossy()),
                    write.content
                ));
            }
        }
        for line in &self.left_alone {
            out.push_str(&format!("# not done by apply: {line}\n"));
        }
        out
    }

    /// Makes every write of the plan, in order, continuing past failures. Kernel files are
    /// opened for writing without creating them; [`SYSCTL_CONF`] and its directory are
    /// created if missing.
    ///
    /// # Errors
    /// One [`TuneError::Write`] per failed write.
    pub fn apply(&self) -> Result<(), Vec<TuneError>> {
        let failures: Vec<TuneError> = self
            .writes
            .iter()
            .filter_map(|write| self.write_one(write).err())
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }

    /// Where `write` lands below the plan's root.
    pub fn path_of(&self, write: &PlannedWrite) -> PathBuf {
        self.root.join(write.path.trim_start_matches('/'))
    }

    fn dir_of(&self, write: &PlannedWrite) -> PathBuf {
        let path = self.path_of(write);
        path.parent()
            .map_or_else(|| self.root.clone(), Path::to_path_buf)
    }

    fn write_one(&self, write: &PlannedWrite) -> Result<(), TuneError> {
        let path = self.path_of(write);
        let fail = |source| TuneError::Write {
            path: path.clone(),
            source,
        };
        if write.create {
            fs::create_dir_all(self.dir_of(write)).map_err(fail)?;
        }
        // Kernel files take one write(2) of the whole value; a short write is an error.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .create(write.create)
            .open(&path)
            .map_err(fail)?;
        file.write_all(write.content.as_bytes()).map_err(fail)
    }
}

/// The [`SYSCTL_CONF`] write, or `None` when the file already says the same.
fn persisted_sysctls(probe: &HostProbe, sysctls: &[sysctl::SysctlEval]) -> Option<PlannedWrite> {
    let existing = probe.read_raw(SYSCTL_CONF);
    let persisted: Vec<String> = existing
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with(';'))
        .filter_map(|line| Some(line.split_once('=')?.0.trim().to_owned()))
        .collect();
    let mut lines = Vec::new();
    for eval in sysctls {
        let (Some(current), Some(target)) = (&eval.current, &eval.target) else {
            continue;
        };
        if current != target || persisted.iter().any(|key| key == eval.key) {
            lines.push(format!("{} = {target}\n", eval.key));
        }
    }
    if lines.is_empty() {
        return None;
    }
    let content = format!("{CONF_HEADER}{}", lines.concat());
    if existing.as_deref() == Some(content.as_str()) {
        return None;
    }
    Some(PlannedWrite {
        path: SYSCTL_CONF.to_owned(),
        content,
        note: format!("persist the sysctls across reboots in {SYSCTL_CONF}"),
        create: true,
    })
}

/// Quotes `text` for a POSIX shell unless it is made only of characters that need none.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:,=+-@%".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

const CONF_HEADER: &str = "# Written by portunus-tune apply: socket buffers and queues for the \
Portunus SFU.\n# Delete this file to stop setting them at boot.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_the_shell_would_split() {
        assert_eq!(
            shell_quote("/proc/sys/net/core/rmem_max"),
            "/proc/sys/net/core/rmem_max"
        );
        assert_eq!(shell_quote("1 2 3"), "'1 2 3'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn refuses_the_real_root_without_uid_0() {
        assert!(matches!(
            authorize_apply(Path::new("/"), 1000),
            Err(TuneError::NotRoot { euid: 1000 })
        ));
        assert!(authorize_apply(Path::new("/"), 0).is_ok());
        assert!(authorize_apply(Path::new("/tmp/fake-host"), 1000).is_ok());
    }
}
