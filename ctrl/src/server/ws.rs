//! WebSocket connections: the upgrade handshake (subprotocol required) and message handling.

use std::cmp::Reverse;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use mio::Token;
use serde_json::Value;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role as WsRole, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::conn::{Conn, HttpConn, State, Stream};
use super::http::{self, Request, Response};
use super::{Server, to_bytes};
use crate::api::{ApiKind, parse_ws_frame, response};
use crate::config::JsonStyle;
use crate::{AdminReply, ConnId, Transport};

/// Initial read buffer per WebSocket: Janus messages are small, and tungstenite's 128 KiB
/// default would cost 128 MiB per thousand idle sockets; the buffer grows for big SDPs.
const READ_BUFFER: usize = 4096;
/// Outgoing bytes a slow client may leave unread before it is disconnected.
const MAX_WRITE_BUFFER: usize = 8 << 20;

impl Server {
    /// Answer the upgrade (101 with the subprotocol echoed) or refuse it (400).
    pub(super) fn upgrade(
        &mut self,
        now: Instant,
        token: Token,
        conn: &mut Conn,
        mut h: HttpConn,
        req: &Request,
        leftover: Vec<u8>,
    ) -> bool {
        let proto = match conn.role.api {
            ApiKind::Janus => "janus-protocol",
            ApiKind::Admin => "janus-admin-protocol",
        };
        let key = req.ws_key.as_deref().filter(|_| {
            req.method.eq_ignore_ascii_case("GET")
                && req.ws_version.as_deref() == Some("13")
                && req.ws_protocols.iter().any(|p| p == proto)
        });
        let Some(key) = key else {
            let resp = Response::empty(400, "Bad Request");
            http::write_response(&mut h.wbuf, &resp, None, &self.settings.cors, false);
            h.flush();
            self.cp.metrics_mut().connections_dropped += 1;
            conn.state = State::Http(h);
            return false;
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {proto}\r\n\r\n"
        );
        h.wbuf.extend_from_slice(head.as_bytes());
        // The 101 is tiny and the socket fresh: if it does not go out at once, give up rather
        // than interleave it with frames.
        if !h.flush() || !h.wbuf.is_empty() {
            conn.state = State::Http(h);
            return false;
        }
        let m = self.cp.metrics_mut();
        m.http_connections = m.http_connections.saturating_sub(1);
        m.ws_connections += 1;
        let max = self.settings.ws_max_message;
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
            .max_write_buffer_size(MAX_WRITE_BUFFER)
            .read_buffer_size(READ_BUFFER);
        let ws = WebSocket::from_partially_read(h.stream, leftover, WsRole::Server, Some(config));
        // No idle deadline on WebSockets (sessions time out instead), only the ping timer.
        conn.set_deadline(None);
        self.arm_ping(now, token, conn);
        self.service_ws(now, token, conn, Box::new(ws))
    }

    /// Read every available message, answer each request, flush. False closes.
    pub(super) fn service_ws(
        &mut self,
        now: Instant,
        token: Token,
        conn: &mut Conn,
        mut ws: Box<WebSocket<Stream>>,
    ) -> bool {
        let from = Transport::Ws(ConnId(token.0 as u64));
        let api = conn.role.api;
        let mut alive = true;
        let mut heard = false;
        loop {
            let read = ws.read();
            heard |= read.is_ok();
            let data = match read {
                Ok(Message::Text(t)) => t.as_bytes().to_vec(),
                Ok(Message::Binary(b)) => b.to_vec(),
                // Pongs (and pings, which tungstenite answers) only prove the client alive.
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::Capacity(_)) => {
                    self.cp.metrics_mut().connections_dropped += 1;
                    let frame = CloseFrame {
                        code: CloseCode::Size,
                        reason: "message too big".into(),
                    };
                    let _ = ws.close(Some(frame));
                    alive = false;
                    break;
                }
                Err(_) => {
                    alive = false;
                    break;
                }
            };
            if !self.ws_message(now, from, api, &mut ws, &data) {
                alive = false;
                break;
            }
        }
        match ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => alive = false,
        }
        if heard {
            self.arm_ping(now, token, conn);
        }
        conn.state = State::Ws(ws);
        alive
    }

    /// Something arrived on (or we just upgraded) a WebSocket: the next ping is due a full
    /// `pingpong_trigger` from `now`.
    fn arm_ping(&mut self, now: Instant, token: Token, conn: &mut Conn) {
        let Some((trigger, _)) = self.pingpong() else {
            return;
        };
        conn.ping_outstanding = false;
        if let Some(at) = conn.set_deadline(Some(now + trigger)) {
            self.timers.push(Reverse((at, token.0)));
        }
    }

    /// The deadline of WebSocket `token` passed: send a ping, or close the connection when
    /// the previous ping got nothing back within `pingpong_timeout` (Janus's pingpong).
    pub(super) fn ws_deadline(&mut self, now: Instant, token: Token) {
        let Some((_, timeout)) = self.pingpong() else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let State::Ws(ws) = &mut conn.state else {
            return;
        };
        if conn.ping_outstanding {
            tracing::debug!(conn = token.0, "WebSocket ping unanswered, closing");
            self.cp.metrics_mut().connections_dropped += 1;
            self.to_close.push(token);
            return;
        }
        let sent = match ws.send(Message::Ping(Vec::new().into())) {
            Ok(()) => true,
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => true,
            Err(_) => false,
        };
        if !sent {
            self.to_close.push(token);
            return;
        }
        conn.ping_outstanding = true;
        if let Some(at) = conn.set_deadline(Some(now + timeout)) {
            self.timers.push(Reverse((at, token.0)));
        }
    }

    fn pingpong(&self) -> Option<(Duration, Duration)> {
        self.cp.config().websockets.pingpong()
    }

    fn ws_message(
        &mut self,
        now: Instant,
        from: Transport,
        api: ApiKind,
        ws: &mut WebSocket<Stream>,
        data: &[u8],
    ) -> bool {
        self.cp.metrics_mut().ws_messages += 1;
        let requests = match parse_ws_frame(data) {
            Ok(v) => v,
            Err(e) => return send_json(ws, &response::error(0, None, &e), self.settings.json),
        };
        for request in requests {
            let reply = match api {
                ApiKind::Janus => self.cp.handle_request(now, from, request),
                ApiKind::Admin => match self.cp.admin_request(now, request) {
                    AdminReply::Now(reply) => reply,
                    AdminReply::Later(ticket) => {
                        // Answered by `finish_net_check`; other requests go on meanwhile.
                        if let Transport::Ws(ConnId(id)) = from {
                            let token = Token(usize::try_from(id).unwrap_or(usize::MAX));
                            self.admin_waiting.insert(ticket, token);
                        }
                        continue;
                    }
                },
            };
            if !send_json(ws, &reply, self.settings.json) {
                return false;
            }
        }
        true
    }
}

/// Queue one JSON text frame. False if the connection must close (write buffer full, error).
pub(super) fn send_json(ws: &mut WebSocket<Stream>, json: &Value, style: JsonStyle) -> bool {
    let text = String::from_utf8(to_bytes(json, style)).unwrap_or_default();
    match ws.send(Message::text(text)) {
        Ok(()) => true,
        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => true,
        Err(_) => false,
    }
}
