//! HTTP/1.1 request framing (httparse) and response writing: the pure part of the HTTP
//! transport. Only `Content-Length` bodies are accepted (what browsers' fetch/XHR/sendBeacon
//! and Janus clients send); `Transfer-Encoding` gets 501.

use std::fmt::Write as _;

/// Largest request head (request line plus headers) accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 64;

/// A parsed request with the headers this server uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Path without the query string.
    pub(crate) path: String,
    /// The query string (without `?`), possibly empty.
    pub(crate) query: String,
    /// HTTP/1.1 (true) or HTTP/1.0.
    pub(crate) http11: bool,
    /// Whether the client wants the connection kept open.
    pub(crate) keep_alive: bool,
    pub(crate) origin: Option<String>,
    pub(crate) acr_method: Option<String>,
    pub(crate) acr_headers: Option<String>,
    /// A WebSocket upgrade: `Upgrade: websocket` plus `Connection: upgrade`.
    pub(crate) upgrade_websocket: bool,
    pub(crate) ws_key: Option<String>,
    pub(crate) ws_version: Option<String>,
    pub(crate) ws_protocols: Vec<String>,
    pub(crate) body: Vec<u8>,
}

/// Why a request cannot be parsed; each maps to a status and a closed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HttpError {
    /// Malformed request line or headers (400).
    BadRequest,
    /// Head larger than [`MAX_HEAD`] or too many headers (431).
    HeadTooLarge,
    /// Body larger than the limit (413).
    BodyTooLarge,
    /// `Transfer-Encoding` (chunked bodies) is not supported (501).
    NotImplemented,
}

impl HttpError {
    pub(crate) fn status(self) -> (u16, &'static str) {
        match self {
            Self::BadRequest => (400, "Bad Request"),
            Self::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Self::BodyTooLarge => (413, "Payload Too Large"),
            Self::NotImplemented => (501, "Not Implemented"),
        }
    }
}

/// Try to parse one request from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((request, consumed)))` when a whole
/// request (head and body) is present.
///
/// # Errors
/// [`HttpError`] for input that can never become a valid request.
pub(crate) fn parse_request(
    buf: &[u8],
    max_body: usize,
) -> Result<Option<(Request, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > MAX_HEAD {
                Err(HttpError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(_) => return Err(HttpError::BadRequest),
    };
    if head_len > MAX_HEAD {
        return Err(HttpError::HeadTooLarge);
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let http11 = req.version == Some(1);
    let mut out = Request {
        method: req.method.unwrap_or("").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        http11,
        keep_alive: http11,
        ..Request::default()
    };
    let mut content_length: Option<usize> = None;
    let mut connection_upgrade = false;
    let mut upgrade_ws = false;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::BadRequest)?
            .trim();
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value.parse().map_err(|_| HttpError::BadRequest)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HttpError::BadRequest);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::NotImplemented);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    out.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    out.keep_alive = true;
                } else if token.eq_ignore_ascii_case("upgrade") {
                    connection_upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade_ws = value.eq_ignore_ascii_case("websocket");
        } else if name.eq_ignore_ascii_case("origin") {
            out.origin = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("access-control-request-method") {
            out.acr_method = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("access-control-request-headers") {
            out.acr_headers = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            out.ws_key = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            out.ws_version = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            out.ws_protocols.extend(
                value
                    .split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty()),
            );
        }
    }
    out.upgrade_websocket = upgrade_ws && connection_upgrade;
    let body_len = content_length.unwrap_or(0);
    if body_len > max_body {
        return Err(HttpError::BodyTooLarge);
    }
    let total = head_len
        .checked_add(body_len)
        .ok_or(HttpError::BodyTooLarge)?;
    let Some(body) = buf.get(head_len..total) else {
        return Ok(None);
    };
    out.body = body.to_vec();
    Ok(Some((out, total)))
}

/// The value of query parameter `name` (first occurrence, percent-decoded).
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `g_ascii_strtoull(s, NULL, 10)`: leading decimal digits, 0 if none (saturating).
pub(crate) fn strtoull(s: &str) -> u64 {
    s.bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |acc, d| {
            acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        })
}

/// `atoi`: optional sign and leading digits, 0 if none.
pub(crate) fn atoi(s: &str) -> i64 {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg { -v } else { v }
}

/// CORS settings of a listener (Janus `allow_origin`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Cors {
    pub(crate) allow_origin: Option<String>,
}

/// A response to write.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn empty(status: u16, reason: &'static str) -> Self {
        Self {
            status,
            reason,
            content_type: None,
            location: None,
            body: Vec::new(),
        }
    }

    pub(crate) fn json(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            reason: "OK",
            content_type: Some("application/json"),
            location: None,
            body,
        }
    }
}

/// Serialize `resp` with Janus's CORS headers into `out`.
pub(crate) fn write_response(
    out: &mut Vec<u8>,
    resp: &Response,
    req: Option<&Request>,
    cors: &Cors,
    keep_alive: bool,
) {
    let mut head = String::with_capacity(256);
    let _ = write!(head, "HTTP/1.1 {} {}\r\n", resp.status, resp.reason);
    if let Some(ct) = resp.content_type {
        let _ = write!(head, "Content-Type: {ct}\r\n");
    }
    if let Some(loc) = &resp.location {
        let _ = write!(head, "Location: {loc}\r\n");
    }
    match &cors.allow_origin {
        Some(o) => {
            let _ = write!(
                head,
                "Access-Control-Allow-Origin: {o}\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"
            );
        }
        None => head.push_str("Access-Control-Allow-Origin: *\r\n"),
    }
    head.push_str("Access-Control-Max-Age: 86400\r\n");
    if let Some(r) = req {
        if let Some(m) = &r.acr_method {
            let _ = write!(head, "Access-Control-Allow-Methods: {}\r\n", sanitize(m));
        }
        if let Some(h) = &r.acr_headers {
            let _ = write!(head, "Access-Control-Allow-Headers: {}\r\n", sanitize(h));
        }
    }
    let _ = write!(head, "Content-Length: {}\r\n", resp.body.len());
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&resp.body);
}

/// Echoed header values must not smuggle line breaks.
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_post_with_body_and_keepalive() {
        let raw = b"POST /janus/12?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}GET";
        let (r, n) = parse_request(raw, 100).unwrap().unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/janus/12");
        assert_eq!(r.query, "x=1");
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive);
        assert_eq!(n, raw.len() - 3);
    }

    #[test]
    fn waits_for_body_and_rejects_oversize() {
        let raw = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}";
        assert_eq!(parse_request(raw, 100), Ok(None));
        assert_eq!(parse_request(raw, 5), Err(HttpError::BodyTooLarge));
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost", 5), Ok(None));
        assert_eq!(
            parse_request(b"\x00\x01 garbage\r\n\r\n", 5),
            Err(HttpError::BadRequest)
        );
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_request(chunked, 5), Err(HttpError::NotImplemented));
    }

    #[test]
    fn http10_closes_by_default_and_upgrade_detected() {
        let (r, _) = parse_request(b"GET / HTTP/1.0\r\n\r\n", 0)
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive);
        let raw = b"GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Protocol: a, janus-protocol\r\n\r\n";
        let (r, _) = parse_request(raw, 0).unwrap().unwrap();
        assert!(r.upgrade_websocket);
        assert_eq!(r.ws_protocols, vec!["a", "janus-protocol"]);
    }

    #[test]
    fn head_limit() {
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_HEAD + 1));
        assert_eq!(parse_request(&raw, 0), Err(HttpError::HeadTooLarge));
    }

    #[test]
    fn query_and_number_helpers() {
        assert_eq!(
            query_param("rid=1&maxev=10&apisecret=a%20b", "apisecret").as_deref(),
            Some("a b")
        );
        assert_eq!(query_param("rid=1", "maxev"), None);
        assert_eq!(strtoull("123abc"), 123);
        assert_eq!(strtoull("abc"), 0);
        assert_eq!(atoi("10"), 10);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn response_has_cors_and_length() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            &Response::json(b"{}".to_vec()),
            None,
            &Cors::default(),
            true,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(s.contains("Access-Control-Allow-Origin: *\r\n"));
        assert!(s.contains("Content-Length: 2\r\n"));
        assert!(s.ends_with("\r\n\r\n{}"));
    }
}
