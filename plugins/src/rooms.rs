//! Room-management pieces that TextRoom, VideoRoom and Streaming share: Janus's validation
//! and secret checks with each plugin's error codes, the `allowed` ACL, random room ids and
//! the refusal of `permanent` changes (there is no configuration file to write).

use portunus_ctrl::constant_time_eq;
use serde_json::{Map, Value};

use crate::util::{Ids, Invalid, Param, get_str, validate};

/// A plugin-level error: Janus error code and text.
pub(crate) type Failure = (u16, String);

/// The error codes a plugin uses for the checks of this module.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Codes {
    /// `MISSING_ELEMENT`.
    pub(crate) missing: u16,
    /// `INVALID_ELEMENT`.
    pub(crate) invalid: u16,
    /// `UNAUTHORIZED`.
    pub(crate) unauthorized: u16,
    /// `UNKNOWN_ERROR`.
    pub(crate) unknown: u16,
}

/// What an `allowed` request does to a room's ACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllowedAction {
    Enable,
    Disable,
    Add,
    Remove,
}

impl Codes {
    /// `JANUS_VALIDATE_JSON_OBJECT` with this plugin's codes.
    pub(crate) fn check(&self, body: &Map<String, Value>, params: &[Param]) -> Result<(), Failure> {
        validate(body, params).map_err(|e| (self.invalid_code(&e), e.reason().to_owned()))
    }

    /// The code for a validation failure.
    pub(crate) fn invalid_code(&self, e: &Invalid) -> u16 {
        match e {
            Invalid::Missing(_) => self.missing,
            Invalid::Type(_) => self.invalid,
        }
    }

    /// `Unauthorized (<what>)`.
    pub(crate) fn unauthorized(&self, what: &str) -> Failure {
        (self.unauthorized, format!("Unauthorized ({what})"))
    }

    /// `JANUS_CHECK_SECRET`: nothing to check without a configured value.
    pub(crate) fn check_secret(
        &self,
        expected: Option<&str>,
        body: &Map<String, Value>,
        name: &str,
    ) -> Result<(), Failure> {
        let Some(expected) = expected else {
            return Ok(());
        };
        match body.get(name) {
            None => Err((self.missing, format!("Missing mandatory element ({name})"))),
            Some(Value::String(s)) if constant_time_eq(s.as_bytes(), expected.as_bytes()) => Ok(()),
            Some(Value::String(_)) => Err(self.unauthorized(&format!("wrong {name}"))),
            Some(_) => Err((
                self.invalid,
                format!("Invalid element type ({name} should be a string)"),
            )),
        }
    }

    /// The `allowed` array of a request, when present.
    pub(crate) fn allowed_list(
        &self,
        body: &Map<String, Value>,
    ) -> Result<Option<Vec<String>>, Failure> {
        let Some(Value::Array(items)) = body.get("allowed") else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or((
                    self.invalid,
                    "Invalid element in the allowed array (not a string)".to_owned(),
                ))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The `action` and tokens of an `allowed` request (`add`/`remove` need the array).
    pub(crate) fn allowed_action(
        &self,
        body: &Map<String, Value>,
    ) -> Result<(AllowedAction, Vec<String>), Failure> {
        let text = get_str(body, "action").unwrap_or_default();
        let action = match text {
            "enable" => AllowedAction::Enable,
            "disable" => AllowedAction::Disable,
            "add" => AllowedAction::Add,
            "remove" => AllowedAction::Remove,
            _ => {
                return Err((
                    self.invalid,
                    format!("Unsupported action '{text}' (allowed)"),
                ));
            }
        };
        let tokens = self.allowed_list(body)?;
        if matches!(action, AllowedAction::Add | AllowedAction::Remove) && tokens.is_none() {
            return Err((self.missing, "Missing mandatory element (allowed)".into()));
        }
        Ok((action, tokens.unwrap_or_default()))
    }

    /// Refuses `permanent: true` (`what` is e.g. `create permanent room`).
    pub(crate) fn refuse_permanent(
        &self,
        body: &Map<String, Value>,
        what: &str,
    ) -> Result<(), Failure> {
        if body.get("permanent").and_then(Value::as_bool) == Some(true) {
            return Err((self.unknown, format!("No configuration file, can't {what}")));
        }
        Ok(())
    }
}

/// Applies an `allowed` action to a room's ACL (`None`: no ACL).
pub(crate) fn apply_allowed(
    acl: &mut Option<Vec<String>>,
    action: AllowedAction,
    tokens: Vec<String>,
) {
    match action {
        AllowedAction::Disable => *acl = None,
        AllowedAction::Remove => {
            if let Some(list) = acl {
                list.retain(|t| !tokens.contains(t));
            }
        }
        AllowedAction::Enable | AllowedAction::Add => {
            let list = acl.get_or_insert_with(Vec::new);
            for t in tokens {
                if !list.contains(&t) {
                    list.push(t);
                }
            }
        }
    }
}

/// Whether a join `token` passes the room's ACL.
pub(crate) fn token_allowed(acl: Option<&[String]>, body: &Map<String, Value>) -> bool {
    acl.is_none_or(|list| {
        let token = get_str(body, "token").unwrap_or_default();
        list.iter().any(|t| t == token)
    })
}

/// The id a `create` asked for (when non-zero), else a fresh random one not `taken`.
pub(crate) fn pick_id(requested: Option<u64>, ids: &mut Ids, taken: impl Fn(u64) -> bool) -> u64 {
    match requested.filter(|&r| r > 0) {
        Some(id) => id,
        None => draw_free(|| ids.next(), |&id| taken(id)),
    }
}

/// A fresh random UUID-shaped id not `taken`, for plugins with `string_ids`.
pub(crate) fn pick_string_id(ids: &mut Ids, taken: impl Fn(&str) -> bool) -> String {
    draw_free(|| ids.uuid(), |id| taken(id))
}

/// A fresh random id for an RTP forwarder, not `taken`: Janus forwarder ids (`stream_id`)
/// are random non-zero 32-bit unsigned numbers.
pub(crate) fn pick_forwarder_id(ids: &mut Ids, taken: impl Fn(u32) -> bool) -> u32 {
    forwarder_id_from(|| ids.next(), taken)
}

/// [`pick_forwarder_id`] over any source of draws: the low half of the first draw that is
/// neither zero (a non-zero 53-bit draw can have a zero low half) nor `taken`.
fn forwarder_id_from(mut draw: impl FnMut() -> u64, taken: impl Fn(u32) -> bool) -> u32 {
    draw_free(|| draw() as u32, |&id| id == 0 || taken(id))
}

/// The first `draw` that is not `taken`.
fn draw_free<T>(mut draw: impl FnMut() -> T, taken: impl Fn(&T) -> bool) -> T {
    loop {
        let id = draw();
        if !taken(&id) {
            return id;
        }
    }
}

/// Whether the request carries the configured `admin_key` (private entries are then listed).
pub(crate) fn is_admin(admin_key: Option<&str>, body: &Map<String, Value>) -> bool {
    admin_key.is_some_and(|k| {
        get_str(body, "admin_key")
            .is_some_and(|given| constant_time_eq(given.as_bytes(), k.as_bytes()))
    })
}

/// Talk detection over `audio_active_packets` packets (VideoRoom and AudioBridge).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TalkWindow {
    packets: u64,
    level_sum: u64,
    pub(crate) talking: bool,
}

impl TalkWindow {
    /// Feeds an audio-level report of `packets` packets whose dBov levels sum to `level_sum`;
    /// returns `(talking, average)` for every window it ends whose decision changed.
    ///
    /// Reports sum many packets (the media side sends one every ~250 ms); one that crosses
    /// the end of a window is split at it, its packets taken at the report's average level,
    /// so every decision covers exactly `window` packets as in Janus. `window` must not be 0.
    pub(crate) fn feed(
        &mut self,
        packets: u32,
        level_sum: u32,
        window: u64,
        threshold: u64,
    ) -> Vec<(bool, f64)> {
        let (mut packets, mut level_sum) = (u64::from(packets), u64::from(level_sum));
        let mut changes = Vec::new();
        while packets > 0 {
            let take = packets.min(window.saturating_sub(self.packets).max(1));
            // The share of the sum for `take` packets; the last share takes the rest.
            let share = if take == packets {
                level_sum
            } else {
                level_sum * take / packets
            };
            self.packets += take;
            self.level_sum += share;
            packets -= take;
            level_sum -= share;
            if self.packets < window {
                break;
            }
            let avg = self.level_sum as f64 / self.packets as f64;
            let talking = avg < threshold as f64;
            let was = self.talking;
            *self = Self {
                talking,
                ..Self::default()
            };
            if talking != was {
                changes.push((talking, avg));
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CODES: Codes = Codes {
        missing: 1,
        invalid: 2,
        unauthorized: 3,
        unknown: 4,
    };

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn secret_checks_use_the_plugin_codes() {
        let b = body(json!({"secret": "x", "pin": 1}));
        assert_eq!(CODES.check_secret(None, &b, "nothing"), Ok(()));
        assert_eq!(CODES.check_secret(Some("x"), &b, "secret"), Ok(()));
        assert_eq!(
            CODES.check_secret(Some("y"), &b, "secret"),
            Err((3, "Unauthorized (wrong secret)".into()))
        );
        assert_eq!(
            CODES
                .check_secret(Some("y"), &b, "admin_key")
                .unwrap_err()
                .0,
            1
        );
        assert_eq!(CODES.check_secret(Some("y"), &b, "pin").unwrap_err().0, 2);
    }

    #[test]
    fn allowed_actions_edit_the_acl() {
        let mut acl = None;
        let (a, t) = CODES
            .allowed_action(&body(json!({"action": "add", "allowed": ["a", "b", "a"]})))
            .unwrap();
        apply_allowed(&mut acl, a, t);
        assert_eq!(acl, Some(vec!["a".to_owned(), "b".to_owned()]));
        let (a, t) = CODES
            .allowed_action(&body(json!({"action": "remove", "allowed": ["a"]})))
            .unwrap();
        apply_allowed(&mut acl, a, t);
        assert_eq!(acl, Some(vec!["b".to_owned()]));
        assert_eq!(
            CODES.allowed_action(&body(json!({"action": "remove"}))),
            Err((1, "Missing mandatory element (allowed)".into()))
        );
        assert_eq!(
            CODES
                .allowed_action(&body(json!({"action": "x"})))
                .unwrap_err(),
            (2, "Unsupported action 'x' (allowed)".into())
        );
        let (a, t) = CODES
            .allowed_action(&body(json!({"action": "disable"})))
            .unwrap();
        apply_allowed(&mut acl, a, t);
        assert_eq!(acl, None);
    }

    #[test]
    fn pick_id_keeps_a_requested_id_and_draws_free_ones() {
        let mut ids = Ids::new(Some(1));
        assert_eq!(pick_id(Some(7), &mut ids, |_| true), 7);
        let first = Ids::new(Some(1)).next();
        let id = pick_id(Some(0), &mut ids, |i| i == first);
        assert_ne!(id, first);
        assert_ne!(id, 0);
    }

    #[test]
    fn pick_forwarder_id_draws_free_non_zero_32_bit_ids() {
        let draws: Vec<u32> = {
            let mut ids = Ids::new(Some(3));
            (0..4).map(|_| ids.next() as u32).collect()
        };
        let mut ids = Ids::new(Some(3));
        assert_eq!(pick_forwarder_id(&mut ids, |_| false), draws[0]);
        // Taken ids are skipped, in draw order.
        let mut ids = Ids::new(Some(3));
        let id = pick_forwarder_id(&mut ids, |i| i == draws[0] || i == draws[1]);
        assert_eq!(id, draws[2]);
        // Zero is never an id, though the draw it comes from is not zero; ids past 32 bits
        // keep their low half.
        let mut draws = [1 << 32, (7 << 32) | 5, u64::from(u32::MAX) + 10].into_iter();
        let id = forwarder_id_from(|| draws.next().expect("a draw"), |_| false);
        assert_eq!(id, 5);
        let id = forwarder_id_from(|| draws.next().expect("a draw"), |_| false);
        assert_eq!(id, 9);
    }

    #[test]
    fn pick_string_id_draws_free_uuid_shaped_ids() {
        let first = Ids::new(Some(1)).uuid();
        assert_eq!(first.len(), 36, "{first}");
        assert_eq!(first.as_bytes()[14], b'4', "{first}");
        let dashes: Vec<usize> = first.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!(dashes, [8, 13, 18, 23], "{first}");
        let id = pick_string_id(&mut Ids::new(Some(1)), |i| i == first);
        assert_ne!(id, first);
        assert_eq!(id.len(), 36, "{id}");
    }
}
