//! Builders for the reply and event objects (key order as Janus writes them).

use serde_json::{Map, Value};

use super::error::ApiError;

/// `janus_create_message`: `{"janus": kind, "session_id"?: s (if > 0), "transaction"?: t}`.
pub(crate) fn message(
    kind: &str,
    session_id: u64,
    transaction: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("janus".into(), Value::from(kind));
    if session_id > 0 {
        m.insert("session_id".into(), Value::from(session_id));
    }
    if let Some(t) = transaction {
        m.insert("transaction".into(), Value::from(t));
    }
    m
}

/// An error reply.
pub(crate) fn error(session_id: u64, transaction: Option<&str>, e: &ApiError) -> Value {
    let mut m = message("error", session_id, transaction);
    let mut err = Map::new();
    err.insert("code".into(), Value::from(e.code.code()));
    err.insert("reason".into(), Value::from(e.reason.as_str()));
    m.insert("error".into(), Value::Object(err));
    Value::Object(m)
}

/// A handle event skeleton: `janus`, `session_id`, `sender`, `opaque_id`?.
pub(crate) fn handle_event(
    kind: &str,
    session_id: u64,
    handle_id: u64,
    opaque_id: Option<&str>,
) -> Map<String, Value> {
    let mut m = message(kind, session_id, None);
    m.insert("sender".into(), Value::from(handle_id));
    if let Some(o) = opaque_id {
        m.insert("opaque_id".into(), Value::from(o));
    }
    m
}
