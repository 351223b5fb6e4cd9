//! Fuzz bodies: arbitrary bytes as request bodies and data-channel messages for every plugin.
//! Nothing may panic, and a bad request on one handle must not change what another handle
//! sees.

use std::time::{Instant, SystemTime};

use portunus_ctrl::plugin::{Plugin, PluginInput, PluginOutput};
use portunus_ctrl::{HandleId, SessionId};
use serde_json::Value;

use crate::{PluginsConfig, WallClock, all};

/// Feeds `data` to every plugin as a `message` body (when it is a JSON object, else as
/// `{"request": <text>}`), as a data-channel text message and as an Admin API message, on
/// handle 1; handle 2 only attaches. Asserts handle 2 gets nothing.
pub fn plugin_inputs(data: &[u8]) {
    let now = Instant::now();
    let clock = WallClock::new(now, SystemTime::UNIX_EPOCH);
    let config = PluginsConfig {
        seed: Some(1),
        ..PluginsConfig::default()
    };
    for mut plugin in all(&config, clock) {
        for h in [1, 2] {
            plugin.handle(
                now,
                PluginInput::Attach {
                    handle: HandleId(h),
                    session: SessionId(h),
                    opaque_id: None,
                    token: None,
                },
            );
        }
        drain(plugin.as_mut());
        let body = match serde_json::from_slice::<Value>(data) {
            Ok(Value::Object(m)) => m,
            Ok(other) => [("request".to_owned(), other)].into_iter().collect(),
            Err(_) => [(
                "request".to_owned(),
                Value::String(String::from_utf8_lossy(data).into_owned()),
            )]
            .into_iter()
            .collect(),
        };
        let inputs = [
            PluginInput::Message {
                handle: HandleId(1),
                transaction: "fuzz".into(),
                body: body.clone(),
                jsep: None,
            },
            PluginInput::Data {
                handle: HandleId(1),
                label: None,
                binary: false,
                data: data.to_vec(),
            },
            PluginInput::AdminMessage {
                request: Value::Object(body),
            },
        ];
        for input in inputs {
            plugin.handle(now, input);
            for o in drain(plugin.as_mut()) {
                assert!(
                    !touches(&o, HandleId(2)),
                    "a bad input on handle 1 reached handle 2: {o:?}"
                );
            }
        }
    }
}

fn drain(p: &mut dyn Plugin) -> Vec<PluginOutput> {
    std::iter::from_fn(|| p.poll()).collect()
}

fn touches(o: &PluginOutput, h: HandleId) -> bool {
    use portunus_ctrl::plugin::MediaCommand as M;
    match o {
        PluginOutput::Reply { handle, .. }
        | PluginOutput::Event { handle, .. }
        | PluginOutput::ClosePeerConnection { handle }
        | PluginOutput::EndHandle { handle }
        | PluginOutput::HandleInfo { handle, .. } => *handle == h,
        PluginOutput::Media(
            M::SendData { handle, .. }
            | M::JoinMix { handle, .. }
            | M::UpdateMix { handle, .. }
            | M::LeaveMix { handle },
        ) => *handle == h,
        _ => false,
    }
}
