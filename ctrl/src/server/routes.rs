//! HTTP request handling: Janus's `janus_http_handler` and `janus_http_admin_handler` paths,
//! long-poll parking, and `/metrics`.

use std::time::Instant;

use mio::Token;
use serde_json::{Map, Value};

use super::conn::{Awaiting, Conn, HttpConn, Parked, State};
use super::http::{self, HttpError, Request, Response, atoi, query_param, strtoull};
use super::{Server, to_bytes};
use crate::api::response;
use crate::api::validate::id_value;
use crate::api::{ApiError, ApiKind, JanusCode, parse_http_body};
use crate::{AdminReply, AdminTicket, LongPollRefusal, SessionId, Transport};

/// What to do with one request.
enum Action {
    Respond(Response),
    Park(Parked),
    /// Answer when the Admin request's network check is done.
    Await(AdminTicket),
    /// Close without answering (Janus does this for a POST without a body).
    Close,
}

impl Server {
    /// Read, answer every complete request, write. Returns false to close the connection.
    pub(super) fn service_http(
        &mut self,
        now: Instant,
        token: Token,
        conn: &mut Conn,
        mut h: HttpConn,
    ) -> bool {
        let cap = self.settings.max_body + http::MAX_HEAD + 64 * 1024;
        let alive = h.fill(cap);
        let mut answered = false;
        while h.parked.is_none() && h.awaiting.is_none() && !h.close_after_write {
            let (req, used) = match http::parse_request(&h.rbuf, self.settings.max_body) {
                Ok(None) => break,
                Ok(Some(r)) => r,
                Err(e) => {
                    self.reject(&mut h, e);
                    break;
                }
            };
            h.rbuf.drain(..used);
            self.cp.metrics_mut().http_requests += 1;
            if req.upgrade_websocket && conn.role.ws {
                let leftover = std::mem::take(&mut h.rbuf);
                return self.upgrade(now, token, conn, h, &req, leftover);
            }
            if !conn.role.http {
                self.reject(&mut h, HttpError::BadRequest);
                break;
            }
            match self.route(now, conn.role.api, &req) {
                Action::Respond(resp) => {
                    http::write_response(
                        &mut h.wbuf,
                        &resp,
                        Some(&req),
                        &self.settings.cors,
                        req.keep_alive,
                    );
                    if req.method.eq_ignore_ascii_case("HEAD") {
                        // HEAD is GET without the body (RFC 9110 §9.3.2).
                        h.wbuf.truncate(h.wbuf.len() - resp.body.len());
                    }
                    h.close_after_write |= !req.keep_alive;
                    answered = true;
                }
                Action::Park(p) => {
                    self.http_sessions
                        .entry(p.session)
                        .or_default()
                        .polls
                        .push(token);
                    h.parked = Some(p);
                    self.arm(token, conn, now + self.settings.long_poll);
                }
                Action::Await(ticket) => {
                    self.admin_waiting.insert(ticket, token);
                    let request = Request {
                        body: Vec::new(),
                        ..req
                    };
                    h.awaiting = Some(Box::new(Awaiting { ticket, request }));
                    self.arm(token, conn, now + self.settings.idle);
                }
                Action::Close => return false,
            }
        }
        if !h.flush() || !alive || (h.close_after_write && h.wbuf.is_empty()) {
            conn.state = State::Http(h);
            return false;
        }
        if answered && h.parked.is_none() {
            self.arm(token, conn, now + self.settings.idle);
        }
        conn.state = State::Http(h);
        true
    }

    /// Set a connection's deadline while it is out of the map.
    pub(super) fn arm(&mut self, token: Token, conn: &mut Conn, at: Instant) {
        if let Some(push) = conn.set_deadline(Some(at)) {
            self.timers.push(std::cmp::Reverse((push, token.0)));
        }
    }

    fn reject(&mut self, h: &mut HttpConn, e: HttpError) {
        let (status, reason) = e.status();
        http::write_response(
            &mut h.wbuf,
            &Response::empty(status, reason),
            None,
            &self.settings.cors,
            false,
        );
        h.close_after_write = true;
        self.cp.metrics_mut().connections_dropped += 1;
    }

    fn route(&mut self, now: Instant, api: ApiKind, req: &Request) -> Action {
        if let Some(resp) = self.web(api, req) {
            return Action::Respond(resp);
        }
        let is = |m: &str| req.method.eq_ignore_ascii_case(m);
        if api == ApiKind::Admin && req.path == "/metrics" && is("GET") {
            let mut r = Response::json(self.cp.render_metrics().into_bytes());
            r.content_type = Some("text/plain; version=0.0.4");
            return Action::Respond(r);
        }
        if !(is("GET") || is("POST") || is("OPTIONS")) {
            let e = ApiError::new(
                JanusCode::TransportSpecific,
                format!("Unsupported method {}", req.method),
            );
            return self.json(&response::error(0, None, &e));
        }
        if self.settings.enforce_cors && !self.origin_allowed(req) {
            return Action::Respond(Response::empty(403, "Forbidden"));
        }
        if is("OPTIONS") {
            return Action::Respond(Response::empty(200, "OK"));
        }
        let base = match api {
            ApiKind::Janus => self.settings.janus_base.clone(),
            ApiKind::Admin => self.settings.admin_base.clone(),
        };
        let Some((session, handle)) = split_path(&req.path, &base) else {
            return Action::Respond(Response::empty(404, "Not Found"));
        };
        if is("POST") && req.body.is_empty() {
            return Action::Close;
        }
        if session.as_deref() == Some("info") {
            return self.info(now, api, req);
        }
        if is("GET") {
            return match api {
                ApiKind::Janus => {
                    self.long_poll(now, req, session.as_deref(), handle.as_deref(), &base)
                }
                ApiKind::Admin => {
                    let e = ApiError::new(JanusCode::InvalidJson, "Request payload missing");
                    self.json(&response::error(0, None, &e))
                }
            };
        }
        let mut obj = match parse_http_body(&req.body) {
            Ok(o) => o,
            Err(e) => return self.json(&response::error(0, None, &e)),
        };
        if let Err(e) = merge_path_ids(&mut obj, session.as_deref(), handle.as_deref()) {
            return self.json(&response::error(0, None, &e));
        }
        let reply = match api {
            ApiKind::Janus => self
                .cp
                .handle_request(now, Transport::Http, Value::Object(obj)),
            ApiKind::Admin => match self.cp.admin_request(now, Value::Object(obj)) {
                AdminReply::Now(reply) => reply,
                AdminReply::Later(ticket) => return Action::Await(ticket),
            },
        };
        self.json(&reply)
    }

    fn json(&self, v: &Value) -> Action {
        Action::Respond(Response::json(to_bytes(v, self.settings.json)))
    }

    fn origin_allowed(&self, req: &Request) -> bool {
        match (&self.settings.cors.allow_origin, &req.origin) {
            (Some(allowed), Some(origin)) => origin.starts_with(allowed.as_str()),
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    /// `GET <base>/info`: a fake `info` request with a random transaction.
    fn info(&mut self, now: Instant, api: ApiKind, req: &Request) -> Action {
        if !req.method.eq_ignore_ascii_case("GET") {
            return match api {
                ApiKind::Janus => Action::Respond(Response::empty(400, "Bad Request")),
                ApiKind::Admin => {
                    let e = ApiError::new(
                        JanusCode::TransportSpecific,
                        "Use GET for the info endpoint",
                    );
                    self.json(&response::error(0, None, &e))
                }
            };
        }
        let request = serde_json::json!({"janus": "info", "transaction": random_transaction()});
        let reply = match api {
            ApiKind::Janus => self.cp.handle_request(now, Transport::Http, request),
            ApiKind::Admin => self.cp.handle_admin_request(now, request),
        };
        self.json(&reply)
    }

    /// Janus's long-poll checks, in its order: session id, credentials (403), the implicit
    /// keepalive, the handle-path redirect (302), the session (404), then events or parking.
    fn long_poll(
        &mut self,
        now: Instant,
        req: &Request,
        session: Option<&str>,
        handle: Option<&str>,
        base: &str,
    ) -> Action {
        let sid = session.map_or(0, strtoull);
        if sid == 0 {
            return Action::Respond(Response::empty(404, "Not Found"));
        }
        let secret = query_param(&req.query, "apisecret");
        let token = query_param(&req.query, "token");
        let result = self
            .cp
            .handle_long_poll(now, sid, secret.as_deref(), token.as_deref());
        if result == Err(LongPollRefusal::Forbidden) {
            return Action::Respond(Response::empty(403, "Forbidden"));
        }
        if handle.is_some() {
            let mut r = Response::empty(302, "Found");
            r.location = Some(format!("{base}/{}", session.unwrap_or_default()));
            return Action::Respond(r);
        }
        let Ok(sid) = result else {
            return Action::Respond(Response::empty(404, "Not Found"));
        };
        let max_ev = query_param(&req.query, "maxev")
            .map_or(1, |m| atoi(&m))
            .max(1);
        let max_ev = usize::try_from(max_ev).unwrap_or(1);
        match self.take_events(sid, max_ev) {
            Some(body) => self.json(&body),
            None => Action::Park(Parked {
                session: sid,
                max_ev,
                keep_alive: req.keep_alive,
            }),
        }
    }

    /// Up to `max_ev` queued events: one object when `max_ev == 1`, else an array.
    fn take_events(&mut self, sid: SessionId, max_ev: usize) -> Option<Value> {
        let q = self.http_sessions.get_mut(&sid)?;
        if q.events.is_empty() {
            return None;
        }
        if max_ev == 1 {
            return q.events.pop_front();
        }
        let n = max_ev.min(q.events.len());
        Some(Value::Array(q.events.drain(..n).collect()))
    }
}

/// Whether the Janus API routing claims `path` (the demo pages must not shadow it).
pub(super) fn is_janus_path(path: &str, base: &str) -> bool {
    split_path(path, base).is_some()
}

/// Split `<base>[/<session>[/<handle>]]`; `None` for other paths (404).
fn split_path(path: &str, base: &str) -> Option<(Option<String>, Option<String>)> {
    if path == base {
        return Some((None, None));
    }
    let rest = if base == "/" {
        path
    } else {
        path.strip_prefix(base)?
    };
    let rest = rest.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let session = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
    let handle = session
        .as_ref()
        .and(parts.next())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if handle.is_some() && parts.next().is_some_and(|s| !s.is_empty()) {
        return None;
    }
    Some((session, handle))
}

/// The HTTP transport puts the path ids into the request, refusing conflicts (457).
fn merge_path_ids(
    obj: &mut Map<String, Value>,
    session: Option<&str>,
    handle: Option<&str>,
) -> Result<(), ApiError> {
    for (key, path, what) in [
        ("session_id", session, "session"),
        ("handle_id", handle, "handle"),
    ] {
        let in_body = id_value(obj.get(key));
        let in_path = path.map_or(0, strtoull);
        if in_body != 0 && path.is_some() && in_path != in_body {
            let reason = format!("Conflicting {what} ID (payload and path)");
            return Err(ApiError::new(JanusCode::InvalidRequestPath, reason));
        }
        if in_body == 0 && in_path > 0 {
            obj.insert(key.into(), in_path.into());
        }
    }
    Ok(())
}

fn random_transaction() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..11)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn path_split_follows_janus() {
        assert_eq!(split_path("/janus", "/janus"), Some((None, None)));
        assert_eq!(split_path("/janus/", "/janus"), Some((None, None)));
        assert_eq!(
            split_path("/janus/1", "/janus"),
            Some((Some("1".into()), None))
        );
        assert_eq!(
            split_path("/janus/1/2", "/janus"),
            Some((Some("1".into()), Some("2".into())))
        );
        assert_eq!(split_path("/janus/1/2/3", "/janus"), None);
        assert_eq!(split_path("/janusx", "/janus"), None);
        assert_eq!(split_path("/other", "/janus"), None);
    }

    #[test]
    fn path_ids_merge_and_conflict() {
        let mut o = json!({"janus":"x"}).as_object().cloned().unwrap();
        merge_path_ids(&mut o, Some("5"), Some("6")).unwrap();
        assert_eq!(o["session_id"], 5);
        assert_eq!(o["handle_id"], 6);
        let mut o = json!({"session_id": 7}).as_object().cloned().unwrap();
        let e = merge_path_ids(&mut o, Some("5"), None).unwrap_err();
        assert_eq!(e.reason, "Conflicting session ID (payload and path)");
    }
}
