//! Logging with `tracing`, with the level changeable at run time (Admin `set_log_level`).
//!
//! Janus levels map to tracing levels: 0 off, 1–2 error, 3 warn, 4 info, 5–6 debug, 7 trace.
//! `RUST_LOG`, when set, gives the initial filter.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

/// Changes the global log level after [`init`].
#[derive(Clone, Debug)]
pub struct LogHandle {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl LogHandle {
    /// Set the Janus log level (0–7).
    pub fn set_level(&self, level: u8) {
        let _ = self
            .handle
            .modify(|f| *f = EnvFilter::default().add_directive(janus_level(level).into()));
        tracing::info!(level, "log level changed");
    }
}

/// The tracing filter for a Janus log level.
pub fn janus_level(level: u8) -> LevelFilter {
    match level {
        0 => LevelFilter::OFF,
        1 | 2 => LevelFilter::ERROR,
        3 => LevelFilter::WARN,
        4 => LevelFilter::INFO,
        5 | 6 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Install the global subscriber (stderr, reloadable filter). `None` if one was already set.
pub fn init(level: u8) -> Option<LogHandle> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::default().add_directive(janus_level(level).into()),
    };
    let (layer, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    tracing_subscriber::registry()
        .with(layer)
        .with(fmt)
        .try_init()
        .ok()?;
    Some(LogHandle { handle })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn janus_levels_map_to_tracing() {
        assert_eq!(janus_level(0), LevelFilter::OFF);
        assert_eq!(janus_level(4), LevelFilter::INFO);
        assert_eq!(janus_level(7), LevelFilter::TRACE);
    }
}
