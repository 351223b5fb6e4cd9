//! Admin `custom_logline` logs its line at the Janus level the request names (its own test
//! binary: it installs the process-wide log subscriber to read what was logged).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Http, start, test_config};
use serde_json::json;

const SECRET: &str = "janusoverlord";

/// A log sink shared by every writer the subscriber makes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured line that carries `marker`, if any.
fn line_with(captured: &Captured, marker: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).into_owned();
    text.lines().find(|l| l.contains(marker)).map(str::to_owned)
}

#[test]
fn custom_logline_logs_at_the_requested_janus_level() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();
    let mut c = test_config();
    c.general.admin_secret = Some(SECRET.into());
    let (server, _) = start(c);
    let mut a = Http::connect(server.ports.admin.unwrap());
    // (Janus level, what it becomes); no level means 4 (info), out of range is info too.
    let cases = [
        (Some(1), "ERROR"),
        (Some(2), "ERROR"),
        (Some(3), "WARN"),
        (Some(4), "INFO"),
        (Some(5), "DEBUG"),
        (Some(7), "TRACE"),
        (Some(42), "INFO"),
        (None, "INFO"),
    ];
    for (i, (level, expected)) in cases.into_iter().enumerate() {
        let marker = format!("logline-marker-{i}");
        let mut req = json!({"janus":"custom_logline","transaction":"t","admin_secret":SECRET,
            "line":marker});
        if let Some(level) = level {
            req["level"] = level.into();
        }
        assert_eq!(a.call("/admin", req)["janus"], "success", "case {i}");
        let line = line_with(&captured, &marker)
            .unwrap_or_else(|| panic!("case {i}: nothing logged with {marker}"));
        assert!(
            line.contains(expected),
            "case {i}: level {level:?} logged as {line:?}, expected {expected}"
        );
    }
}
