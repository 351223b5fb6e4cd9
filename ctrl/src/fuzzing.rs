//! Fuzz bodies (always compiled; the `fuzz/` shims call them).

use std::time::Instant;

use serde_json::Value;

use crate::api::{ApiKind, decode_envelope, parse_http_body, parse_ws_frame};
use crate::config::Config;
use crate::server::http::parse_request;
use crate::{ControlPlane, Transport};

/// The HTTP/1.1 request parser: never panics; a parsed request written back parses the same.
pub fn http_request(data: &[u8]) {
    let Ok(Some((req, used))) = parse_request(data, 1 << 20) else {
        return;
    };
    assert!(used <= data.len());
    let mut again = Vec::new();
    let target = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let version = if req.http11 { "1.1" } else { "1.0" };
    again.extend_from_slice(format!("{} {} HTTP/{}\r\n", req.method, target, version).as_bytes());
    if !req.keep_alive {
        again.extend_from_slice(b"Connection: close\r\n");
    } else if !req.http11 {
        again.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    again.extend_from_slice(format!("Content-Length: {}\r\n\r\n", req.body.len()).as_bytes());
    again.extend_from_slice(&req.body);
    let Ok(Some((back, n))) = parse_request(&again, 1 << 20) else {
        panic!("re-serialized request does not parse: {again:?}");
    };
    assert_eq!(n, again.len());
    assert_eq!(
        (back.method, back.path, back.query),
        (req.method, req.path, req.query)
    );
    assert_eq!(back.body, req.body);
    assert_eq!(back.keep_alive, req.keep_alive);
}

/// Janus API request decoding: frame splitting, body parsing, envelope checks, and a whole
/// control plane answering the requests. Never panics; every reply is an object with `janus`.
pub fn janus_request(data: &[u8]) {
    let now = Instant::now();
    let mut cp = ControlPlane::new(&Config::default(), now);
    if let Ok(values) = parse_ws_frame(data) {
        for v in values {
            if let Value::Object(m) = &v {
                let _ = decode_envelope(m, ApiKind::Janus);
                let _ = decode_envelope(m, ApiKind::Admin);
                let text = serde_json::to_vec(m).unwrap_or_default();
                assert_eq!(parse_http_body(&text).ok().as_ref(), Some(m));
            }
            let r = cp.handle_request(now, Transport::Http, v.clone());
            assert!(r.get("janus").is_some_and(Value::is_string));
            let r = cp.handle_admin_request(now, v);
            assert!(r.get("janus").is_some_and(Value::is_string));
        }
    }
    if let Ok(obj) = parse_http_body(data) {
        let r = cp.handle_request(now, Transport::Http, Value::Object(obj));
        assert!(r.get("janus").is_some_and(Value::is_string));
    }
    while cp.poll_output().is_some() {}
}
