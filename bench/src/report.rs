//! Reports: a markdown table, comparison ratios and a hand-written SVG plot of CPU per packet
//! and p99 latency against N, one line per server.

use std::fmt::Write as _;

use crate::scenario::RunResult;

/// A markdown table with one row per run.
pub fn markdown(results: &[RunResult]) -> String {
    let mut s = String::from(
        "| scenario | server | SRTP | pacing | N | connected | egress pkt/s | loss % | p50 µs | p99 µs | p99.9 µs | baseline p99 µs | added p99 µs | server CPU-ns/pkt | server cores | RSS KiB/sub | setups/s | CPU-ms/setup | client CPU-ns/pkt | load avg |\n\
         |---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let opt =
            |v: Option<f64>, d: usize| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.d$}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {}/{} | {:.0} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.0} | {} |",
            serde_json::to_value(r.scenario)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            r.server,
            match r.srtp_profile.as_deref() {
                Some("AEAD_AES_128_GCM") => "GCM",
                Some("AES_CM_128_HMAC_SHA1_80") => "CM-80",
                Some(other) => other,
                None => "–",
            },
            if r.pacing_factor > 0.0 {
                format!("{}×", r.pacing_factor)
            } else {
                "burst".to_owned()
            },
            r.n,
            r.connected,
            r.connected + r.failed,
            r.egress_pps,
            r.loss_pct,
            r.latency_p50_us,
            r.latency_p99_us,
            r.latency_p999_us,
            r.baseline_p99_us,
            r.added_p99_us,
            opt(r.server_cpu_ns_per_packet, 0),
            opt(r.server_cores, 2),
            opt(r.rss_kib_per_subscriber, 0),
            r.setups_per_s,
            opt(r.server_cpu_ms_per_setup, 2),
            r.client_cpu_ns_per_packet,
            opt(r.load_avg, 1),
        );
    }
    s
}

/// For each N, the CPU-per-packet ratio of every other server to `baseline` (how many times
/// more CPU per egress packet the other server needs).
pub fn ratios(results: &[RunResult], baseline: &str) -> String {
    let mut s = String::new();
    let mut ns: Vec<usize> = results.iter().map(|r| r.n).collect();
    ns.sort_unstable();
    ns.dedup();
    for n in ns {
        let cpu = |server: &str| {
            let v: Vec<f64> = results
                .iter()
                .filter(|r| r.n == n && r.server == server)
                .filter_map(|r| r.server_cpu_ns_per_packet)
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let Some(base) = cpu(baseline) else { continue };
        let mut servers: Vec<&str> = results.iter().map(|r| r.server.as_str()).collect();
        servers.sort_unstable();
        servers.dedup();
        for other in servers.into_iter().filter(|o| *o != baseline) {
            if let Some(o) = cpu(other) {
                let _ = writeln!(
                    s,
                    "N={n}: {other} uses {:.2}× the CPU per egress packet of {baseline} ({o:.0} vs {base:.0} ns)",
                    o / base
                );
            }
        }
    }
    s
}

/// An SVG with two panels: server CPU-ns per packet against N, and p99 latency against N.
pub fn svg(results: &[RunResult], title: &str) -> String {
    const W: f64 = 900.0;
    const H: f64 = 380.0;
    const PANEL_W: f64 = 380.0;
    const PANEL_H: f64 = 260.0;
    const TOP: f64 = 60.0;
    let colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"];
    let mut servers: Vec<&str> = results.iter().map(|r| r.server.as_str()).collect();
    servers.dedup();
    let mut seen = Vec::new();
    servers.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s);
        new
    });
    let max_n = results.iter().map(|r| r.n).max().unwrap_or(1).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        W / 2.0,
        escape(title)
    );
    let panels: [(&str, Metric); 2] = [
        ("server CPU-ns per egress packet", |r| {
            r.server_cpu_ns_per_packet
        }),
        ("p99 one-way latency (µs)", |r| {
            Some(r.latency_p99_us as f64)
        }),
    ];
    for (p, (label, value)) in panels.iter().enumerate() {
        let x0 = 70.0 + p as f64 * (PANEL_W + 70.0);
        let y0 = TOP + PANEL_H;
        let max_v = results.iter().filter_map(value).fold(1.0_f64, f64::max) * 1.1;
        let _ = write!(
            s,
            "<rect x=\"{x0}\" y=\"{TOP}\" width=\"{PANEL_W}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#888\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">N (subscribers)</text>\n",
            x0 + PANEL_W / 2.0,
            TOP - 8.0,
            escape(label),
            x0 + PANEL_W / 2.0,
            y0 + 32.0
        );
        for t in 0..=4 {
            let v = max_v * f64::from(t) / 4.0;
            let y = y0 - PANEL_H * f64::from(t) / 4.0;
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.0}</text>",
                x0 - 4.0,
                y + 4.0
            );
            let n = max_n * f64::from(t) / 4.0;
            let x = x0 + PANEL_W * f64::from(t) / 4.0;
            let _ = writeln!(
                s,
                "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{n:.0}</text>",
                y0 + 16.0
            );
        }
        for (i, server) in servers.iter().enumerate() {
            let color = colors[i % colors.len()];
            let mut pts: Vec<(f64, f64)> = results
                .iter()
                .filter(|r| r.server == *server)
                .filter_map(|r| value(r).map(|v| (r.n as f64, v)))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let xy: Vec<String> = pts
                .iter()
                .map(|(n, v)| {
                    format!(
                        "{:.1},{:.1}",
                        x0 + PANEL_W * n / max_n,
                        y0 - PANEL_H * v / max_v
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                xy.join(" ")
            );
            for p in &xy {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    s,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/>"
                );
            }
        }
    }
    for (i, server) in servers.iter().enumerate() {
        let x = 70.0 + i as f64 * 150.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            H - 22.0,
            colors[i % colors.len()],
            x + 16.0,
            H - 12.0,
            escape(server)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Reads one plotted figure of a run.
type Metric = fn(&RunResult) -> Option<f64>;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
