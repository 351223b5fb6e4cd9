//! Decoding of Janus API requests: the body or frame parser of each transport and the
//! envelope checks every request passes first.

use serde_json::{Map, Value};

use super::error::{ApiError, JanusCode};
use super::validate::{JType, Texts, id_value, validate};

/// Which API a request was sent to; they differ in small validation details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKind {
    /// The Janus API (`/janus`, `janus-protocol`).
    Janus,
    /// The Admin API (`/admin`, `janus-admin-protocol`).
    Admin,
}

/// The members every request has, after Janus's envelope checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The verb as sent (error texts quote it verbatim).
    pub verb: String,
    /// The verb in lower case (Janus compares case-insensitively).
    pub verb_lower: String,
    /// The client's transaction.
    pub transaction: String,
    /// `session_id`, 0 when absent, null or not an integer (negative values wrap as in C).
    pub session_id: u64,
    /// `handle_id`, with the same rules.
    pub handle_id: u64,
    /// Whether a non-null `handle_id` member was present (Janus's `h && handle_id < 1` check).
    pub handle_present: bool,
}

/// A request that failed the envelope checks: the error and the session id to echo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeError {
    /// `session_id` of the request (echoed when > 0).
    pub session_id: u64,
    /// The error; its reply carries no transaction.
    pub error: ApiError,
}

/// Janus check 2–3: `transaction` and `janus` strings, `id` (Janus API only), ids read.
///
/// # Errors
/// 456 or 467 with Janus's validator texts; the reply must carry no `transaction`.
pub fn decode_envelope(obj: &Map<String, Value>, kind: ApiKind) -> Result<Envelope, EnvelopeError> {
    // The Janus API treats an explicit null id as absent; the Admin API only looks at integers,
    // which comes to the same except for the `handle_present` flag.
    let present = |name: &str| match obj.get(name) {
        None => false,
        Some(Value::Null) => kind == ApiKind::Admin,
        Some(_) => true,
    };
    let session_id = id_value(obj.get("session_id"));
    let handle_id = id_value(obj.get("handle_id"));
    let handle_present = present("handle_id");
    let params: &[(&str, JType, bool)] = match kind {
        ApiKind::Janus => &[
            ("transaction", JType::Str, true),
            ("janus", JType::Str, true),
            ("id", JType::PosInt, false),
        ],
        ApiKind::Admin => &[
            ("transaction", JType::Str, true),
            ("janus", JType::Str, true),
        ],
    };
    validate(obj, params, Texts::Plain).map_err(|error| EnvelopeError { session_id, error })?;
    let verb = obj
        .get("janus")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let transaction = obj
        .get("transaction")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Envelope {
        verb_lower: verb.to_ascii_lowercase(),
        verb,
        transaction,
        session_id,
        handle_id,
        handle_present,
    })
}

/// Parse an HTTP POST body: one JSON object.
///
/// # Errors
/// 454 `JSON error: on line <n>: <text>` for bad syntax (including a bare scalar, which
/// Janus's parser refuses), 455 `JSON error: not an object` for an array.
pub fn parse_http_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Array(_)) => Err(ApiError::new(
            JanusCode::InvalidJsonObject,
            "JSON error: not an object",
        )),
        Ok(_) => Err(ApiError::new(
            JanusCode::InvalidJson,
            "JSON error: on line 1: '[' or '{' expected near end of file",
        )),
        Err(e) => Err(ApiError::new(
            JanusCode::InvalidJson,
            format!("JSON error: on line {}: {}", e.line(), error_text(&e)),
        )),
    }
}

/// Split one WebSocket message into JSON values as Janus's WebSocket transport does: several
/// concatenated values are processed in order, but only if the **whole** frame parses.
/// Whitespace between and after values is accepted (the 1.1.4 behaviour).
///
/// Values that are arrays are returned too: the core then answers them with 456 (no
/// `transaction`), as Janus does.
///
/// # Errors
/// 454 `Invalid Janus API request - <string>(<line>,<col>): <text>` for any syntax error, an
/// empty frame or a top-level scalar.
pub fn parse_ws_frame(data: &[u8]) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<Value>();
    for item in &mut stream {
        match item {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => out.push(v),
            Ok(_) => return Err(ws_error(1, 1, "'[' or '{' expected")),
            Err(e) => return Err(ws_error(e.line(), e.column(), &error_text(&e))),
        }
    }
    if out.is_empty() {
        return Err(ws_error(1, 0, "'[' or '{' expected near end of file"));
    }
    Ok(out)
}

fn ws_error(line: usize, column: usize, text: &str) -> ApiError {
    ApiError::new(
        JanusCode::InvalidJson,
        format!("Invalid Janus API request - <string>({line},{column}): {text}"),
    )
}

/// serde_json's message without its " at line L column C" suffix.
fn error_text(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(pos) => full[..pos].to_owned(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn envelope_lowercases_verb_and_reads_ids() {
        let env = decode_envelope(
            &obj(json!({"janus":"Create","transaction":"t","session_id":null,"handle_id":5})),
            ApiKind::Janus,
        )
        .unwrap();
        assert_eq!(env.verb_lower, "create");
        assert_eq!(env.verb, "Create");
        assert_eq!(env.session_id, 0);
        assert_eq!(env.handle_id, 5);
        assert!(env.handle_present);
    }

    #[test]
    fn envelope_null_handle_is_absent_in_janus_api() {
        let env = decode_envelope(
            &obj(json!({"janus":"x","transaction":"t","handle_id":null})),
            ApiKind::Janus,
        )
        .unwrap();
        assert!(!env.handle_present);
    }

    #[test]
    fn envelope_missing_transaction_keeps_session() {
        let err =
            decode_envelope(&obj(json!({"janus":"x","session_id":7})), ApiKind::Janus).unwrap_err();
        assert_eq!(err.session_id, 7);
        assert_eq!(err.error.reason, "Missing mandatory element (transaction)");
    }

    #[test]
    fn envelope_checks_id_only_on_janus_api() {
        let o = obj(json!({"janus":"create","transaction":"t","id":"x"}));
        assert_eq!(
            decode_envelope(&o, ApiKind::Janus)
                .unwrap_err()
                .error
                .reason,
            "Invalid element type (id should be a positive integer)"
        );
        assert!(decode_envelope(&o, ApiKind::Admin).is_ok());
    }

    #[test]
    fn http_body_errors() {
        assert_eq!(
            parse_http_body(b"[1]").unwrap_err().code,
            JanusCode::InvalidJsonObject
        );
        let e = parse_http_body(b"{\"a\":").unwrap_err();
        assert_eq!(e.code, JanusCode::InvalidJson);
        assert!(
            e.reason.starts_with("JSON error: on line 1: "),
            "{}",
            e.reason
        );
        assert_eq!(
            parse_http_body(b"42").unwrap_err().code,
            JanusCode::InvalidJson
        );
    }

    #[test]
    fn ws_frame_with_several_objects_and_trailing_whitespace() {
        let v = parse_ws_frame(b" {\"a\":1}\n{\"b\":2} \n").unwrap();
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn ws_frame_fails_whole_on_one_error() {
        let e = parse_ws_frame(b"{\"a\":1}{\"b\":").unwrap_err();
        assert_eq!(e.code, JanusCode::InvalidJson);
        assert!(
            e.reason
                .starts_with("Invalid Janus API request - <string>(1,"),
            "{}",
            e.reason
        );
        assert!(parse_ws_frame(b"").is_err());
        assert!(parse_ws_frame(b"   ").is_err());
        assert!(parse_ws_frame(b"42").is_err());
    }
}
