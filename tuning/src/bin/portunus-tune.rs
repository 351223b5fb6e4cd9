//! `portunus-tune`: checks what on this host limits Portunus and applies the settings it can.
//!
//! Exit codes: 0 when all is well, 1 when a check failed (`check`) or a write failed or was
//! refused (`apply`), 2 for usage errors.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use portunus_tune::{
    CheckResult, CpuSet, HostProbe, Status, TuneError, authorize_apply, check, effective_uid, plan,
};

#[derive(Parser)]
#[command(
    name = "portunus-tune",
    version,
    about = "Check and tune a host for the Portunus SFU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report every setting that limits the server, with its recommended value.
    Check {
        #[command(flatten)]
        host: HostArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write the sysctl, governor, IRQ affinity and RPS settings (and persist the sysctls).
    Apply {
        #[command(flatten)]
        host: HostArgs,
        /// Print exactly what would be written, as a shell script, and write nothing.
        #[arg(long, required_unless_present = "yes", conflicts_with = "yes")]
        dry_run: bool,
        /// Make the writes (needs root on the real host).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args)]
struct HostArgs {
    /// Number of shards; they run on the first N online CPUs (default: one per online CPU).
    #[arg(long, value_name = "N", conflicts_with = "cores")]
    shards: Option<usize>,
    /// The CPUs the shards run on, as a kernel CPU list (`0-3,8`).
    #[arg(long, value_name = "LIST", value_parser = parse_cores)]
    cores: Option<CpuSet>,
    /// Check the resource limits of this running process (the server) instead of our own.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Read and write below DIR instead of / (for tests: a fake /proc and /sys tree).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { host, json } => match host.probe() {
            Ok(probe) => run_check(&probe, json),
            Err(err) => usage_error(&err),
        },
        Command::Apply { host, yes, .. } => match host.probe() {
            Ok(probe) => run_apply(&probe, yes),
            Err(err) => usage_error(&err),
        },
    }
}

impl HostArgs {
    fn probe(&self) -> Result<HostProbe, TuneError> {
        let mut probe = HostProbe::new(&self.root);
        if let Some(pid) = self.pid {
            probe = probe.with_limits_of(pid);
        }
        match (&self.cores, self.shards) {
            (Some(cores), _) => probe.with_shard_cores(cores.clone()),
            (None, Some(shards)) => probe.with_shards(shards),
            (None, None) => Ok(probe),
        }
    }
}

fn run_check(probe: &HostProbe, json: bool) -> ExitCode {
    let results = check(probe);
    if json {
        let report = serde_json::json!({
            "root": probe.root(),
            "shard_cores": probe.shard_cores().to_list(),
            "checks": results,
        });
        let text = serde_json::to_string_pretty(&report).expect("check results always serialize");
        emit(&format!("{text}\n"));
    } else {
        emit(&table(probe, &results));
    }
    if results.iter().any(|r| r.status == Status::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_apply(probe: &HostProbe, yes: bool) -> ExitCode {
    let plan = plan(probe);
    if !yes {
        emit(&plan.render());
        return ExitCode::SUCCESS;
    }
    if let Err(err) = authorize_apply(probe.root(), effective_uid()) {
        eprintln!("portunus-tune: {err}");
        return ExitCode::from(1);
    }
    let result = plan.apply();
    let failures = result.as_ref().err().map_or(&[][..], Vec::as_slice);
    let mut out = String::new();
    for write in &plan.writes {
        let path = plan.path_of(write);
        let failed = failures
            .iter()
            .any(|f| matches!(f, TuneError::Write { path: p, .. } if *p == path));
        if !failed {
            out.push_str(&format!("wrote {} ({})\n", path.display(), write.note));
        }
    }
    for line in &plan.left_alone {
        out.push_str(&format!("not done by apply: {line}\n"));
    }
    out.push_str(&format!(
        "{} of {} writes made\n",
        plan.writes.len() - failures.len(),
        plan.writes.len()
    ));
    emit(&out);
    for failure in failures {
        eprintln!("portunus-tune: {failure}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn table(probe: &HostProbe, results: &[CheckResult]) -> String {
    let mut out = format!(
        "portunus-tune check: shard cores {} below {}\n\n",
        probe.shard_cores(),
        probe.root().display()
    );
    let name_width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let observed_width = results
        .iter()
        .map(|r| r.observed.len())
        .max()
        .unwrap_or(0)
        .clamp(8, 48);
    out.push_str(&format!(
        "{:<7}  {:<name_width$}  {:<observed_width$}  RECOMMENDED\n",
        "STATUS", "CHECK", "OBSERVED"
    ));
    for r in results {
        out.push_str(&format!(
            "{:<7}  {:<name_width$}  {:<observed_width$}  {}\n",
            r.status.to_string(),
            r.name,
            r.observed,
            r.recommended
        ));
    }
    let attention: Vec<&CheckResult> = results
        .iter()
        .filter(|r| r.status >= Status::Warn)
        .collect();
    if !attention.is_empty() {
        out.push('\n');
    }
    for r in attention {
        out.push_str(&format!("{} {}: {}\n", r.status, r.name, r.why));
        if let Some(fix) = &r.fix {
            out.push_str(&format!("    fix: {fix}\n"));
        }
    }
    let count = |status| results.iter().filter(|r| r.status == status).count();
    out.push_str(&format!(
        "\n{} failed, {} warnings, {} ok, {} unknown\n",
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Ok),
        count(Status::Unknown)
    ));
    out
}

/// Writes to stdout, ignoring a closed pipe (`portunus-tune check | head`).
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn parse_cores(text: &str) -> Result<CpuSet, String> {
    CpuSet::parse_list(text).map_err(|err| err.to_string())
}

fn usage_error(err: &TuneError) -> ExitCode {
    eprintln!("portunus-tune: {err}");
    ExitCode::from(2)
}
