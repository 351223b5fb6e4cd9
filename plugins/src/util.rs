//! Pieces every plugin uses: Janus's JSON validator with its texts, an output queue, an id
//! source, wall-clock formatting and codec names from SDP.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portunus_ctrl::HandleId;
use portunus_ctrl::plugin::{Jsep, MediaCommand, MessageResult, PluginOutput};
use portunus_sdp::{CodecName, Media};
use serde_json::{Map, Value};

/// The JSON type a request member must have (`janus_json_parameter` in Janus's `utils.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `JSON_TRUE`: any boolean.
    Bool,
    /// `JSON_STRING`.
    Str,
    /// `JSON_INTEGER`.
    Int,
    /// `JSON_INTEGER` with `JANUS_JSON_PARAM_POSITIVE` (0 is accepted).
    PosInt,
    /// `JSON_ARRAY`.
    Array,
}

/// One member to check: name, type, required.
pub(crate) type Param = (&'static str, Kind, bool);

/// Why a body failed validation; the plugin maps each to its own error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// `Missing mandatory element (<name>)`.
    Missing(String),
    /// `Invalid element type (<name> should be …)`.
    Type(String),
}

impl Invalid {
    /// The Janus error text.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Self::Missing(s) | Self::Type(s) => s,
        }
    }
}

/// `JANUS_VALIDATE_JSON_OBJECT`: members checked in order; the first failure wins.
pub(crate) fn validate(body: &Map<String, Value>, params: &[Param]) -> Result<(), Invalid> {
    for &(name, kind, required) in params {
        let Some(v) = body.get(name) else {
            if required {
                return Err(Invalid::Missing(format!(
                    "Missing mandatory element ({name})"
                )));
            }
            continue;
        };
        let ok = match kind {
            Kind::Bool => v.is_boolean(),
            Kind::Str => v.is_string(),
            Kind::Int => v.is_i64() || v.is_u64(),
            Kind::PosInt => v.is_u64(),
            Kind::Array => v.is_array(),
        };
        if !ok {
            let what = match kind {
                Kind::Bool => "a boolean",
                Kind::Str => "a string",
                Kind::Int => "an integer",
                Kind::PosInt => "a positive integer",
                Kind::Array => "an array",
            };
            return Err(Invalid::Type(format!(
                "Invalid element type ({name} should be {what})"
            )));
        }
    }
    Ok(())
}

/// Reads a boolean member.
pub(crate) fn get_bool(body: &Map<String, Value>, name: &str) -> Option<bool> {
    body.get(name).and_then(Value::as_bool)
}

/// Reads a string member.
pub(crate) fn get_str<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

/// Reads a non-negative integer member.
pub(crate) fn get_u64(body: &Map<String, Value>, name: &str) -> Option<u64> {
    body.get(name).and_then(Value::as_u64)
}

/// The queue a plugin's `poll` drains.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: VecDeque<PluginOutput>,
}

impl Outbox {
    pub(crate) fn pop(&mut self) -> Option<PluginOutput> {
        self.queue.pop_front()
    }

    pub(crate) fn push(&mut self, o: PluginOutput) {
        self.queue.push_back(o);
    }

    /// Synchronous answer (`success` with `plugindata`).
    pub(crate) fn success(&mut self, handle: HandleId, data: Value) {
        self.push(PluginOutput::Reply {
            handle,
            result: MessageResult::Success(data),
        });
    }

    /// Asynchronous answer (`ack`).
    pub(crate) fn ack(&mut self, handle: HandleId, hint: Option<&str>) {
        self.push(PluginOutput::Reply {
            handle,
            result: MessageResult::Ack {
                hint: hint.map(str::to_owned),
            },
        });
    }

    /// Hard failure (Janus 462).
    pub(crate) fn hard_error(&mut self, handle: HandleId, text: &str) {
        self.push(PluginOutput::Reply {
            handle,
            result: MessageResult::Error(text.to_owned()),
        });
    }

    /// A plugin event.
    pub(crate) fn event(
        &mut self,
        handle: HandleId,
        transaction: Option<&str>,
        data: Value,
        jsep: Option<Jsep>,
    ) {
        self.push(PluginOutput::Event {
            handle,
            transaction: transaction.map(str::to_owned),
            data,
            jsep,
        });
    }

    /// The same plugin event to every handle of `targets` but `except`.
    pub(crate) fn event_to_all(
        &mut self,
        targets: impl IntoIterator<Item = HandleId>,
        except: Option<HandleId>,
        data: &Value,
    ) {
        for h in targets {
            if Some(h) != except {
                self.event(h, None, data.clone(), None);
            }
        }
    }

    /// A media intent.
    pub(crate) fn media(&mut self, command: MediaCommand) {
        self.push(PluginOutput::Media(command));
    }

    /// A text data-channel message.
    pub(crate) fn send_text(&mut self, handle: HandleId, label: Option<String>, text: String) {
        self.media(MediaCommand::SendData {
            handle,
            label,
            binary: false,
            data: text.into_bytes(),
        });
    }
}

/// Random ids: SplitMix64 over a seed, so tests are reproducible; production seeds it from
/// the OS ([`Ids::from_os`]).
#[derive(Clone, Debug)]
pub(crate) struct Ids {
    state: u64,
}

/// Janus ids are 53-bit so that JavaScript clients keep them exact.
const ID_MASK: u64 = (1 << 53) - 1;

impl Ids {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self {
            state: seed.unwrap_or_else(rand::random),
        }
    }

    /// A non-zero 53-bit id.
    pub(crate) fn next(&mut self) -> u64 {
        loop {
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let id = z & ID_MASK;
            if id != 0 {
                return id;
            }
        }
    }

    /// A random id shaped like a version-4 UUID (Janus's `janus_random_uuid`), from two draws.
    pub(crate) fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 21,
            (a >> 5) & 0xffff,
            b >> 41,
            0x8000 | ((b >> 25) & 0x3fff),
            (b & 0x1ff_ffff) << 23 | (a & 0x1f)
        )
    }
}

/// The wall clock, read once by whoever builds the plugins and advanced with `Instant`s.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    instant: Instant,
    unix: Duration,
}

impl WallClock {
    /// Anchors the clock: `system` is the wall time at `instant`.
    pub fn new(instant: Instant, system: SystemTime) -> Self {
        Self {
            instant,
            unix: system.duration_since(UNIX_EPOCH).unwrap_or_default(),
        }
    }

    /// Time since the Unix epoch at `now`.
    pub fn unix(&self, now: Instant) -> Duration {
        self.unix + now.saturating_duration_since(self.instant)
    }

    /// `strftime("%FT%T%z")` in UTC (`2023-01-17T10:20:30+0000`): Janus uses local time; a
    /// server without a time-zone database reports UTC, which clients parse the same way.
    pub fn date(&self, now: Instant) -> String {
        let secs = self.unix(now).as_secs();
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The Janus codec of an answered/offered m-line: its first payload type's `rtpmap`.
pub(crate) fn mline_codec(media: &Media) -> Option<CodecName> {
    let pt: u8 = media.mline.formats.first()?.parse().ok()?;
    let map = media.rtpmaps().into_iter().find(|r| r.payload_type == pt)?;
    codec_from_rtpmap(&map.encoding, map.clock_rate)
}

/// Janus's codec name for an `rtpmap` encoding.
pub(crate) fn codec_from_rtpmap(encoding: &str, clock_rate: u32) -> Option<CodecName> {
    let e = encoding.to_ascii_lowercase();
    Some(match e.as_str() {
        "opus" => CodecName::Opus,
        "multiopus" => CodecName::Multiopus,
        "pcmu" => CodecName::Pcmu,
        "pcma" => CodecName::Pcma,
        "g722" => CodecName::G722,
        "isac" if clock_rate == 32_000 => CodecName::Isac32,
        "isac" => CodecName::Isac16,
        "l16" if clock_rate == 48_000 => CodecName::L16At48k,
        "l16" => CodecName::L16,
        "vp8" => CodecName::Vp8,
        "vp9" => CodecName::Vp9,
        "h264" => CodecName::H264,
        "av1" => CodecName::Av1,
        "h265" => CodecName::H265,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validator_uses_janus_texts_in_order() {
        let params: &[Param] = &[
            ("a", Kind::Bool, false),
            ("b", Kind::PosInt, true),
            ("c", Kind::Str, false),
        ];
        let body = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            validate(&body(json!({"a": 1})), params).unwrap_err(),
            Invalid::Type("Invalid element type (a should be a boolean)".into())
        );
        assert_eq!(
            validate(&body(json!({"a": true})), params).unwrap_err(),
            Invalid::Missing("Missing mandatory element (b)".into())
        );
        assert_eq!(
            validate(&body(json!({"b": -1})), params)
                .unwrap_err()
                .reason(),
            "Invalid element type (b should be a positive integer)"
        );
        assert!(validate(&body(json!({"b": 0, "c": "x"})), params).is_ok());
    }

    #[test]
    fn ids_are_reproducible_nonzero_53_bit() {
        let mut a = Ids::new(Some(7));
        let mut b = Ids::new(Some(7));
        for _ in 0..100 {
            let x = a.next();
            assert_eq!(x, b.next());
            assert!(x != 0 && x <= ID_MASK);
        }
    }

    #[test]
    fn date_has_janus_format() {
        let now = Instant::now();
        let clock = WallClock::new(now, UNIX_EPOCH + Duration::from_secs(1_673_950_830));
        assert_eq!(clock.date(now), "2023-01-17T10:20:30+0000");
        assert_eq!(
            clock.date(now + Duration::from_secs(86_400 * 366)),
            "2024-01-18T10:20:30+0000"
        );
    }
}
