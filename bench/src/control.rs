//! One Janus API connection over WebSocket (subprotocol `janus-protocol`), non-blocking after
//! the handshake so that a client thread can drive it from the same loop as its UDP sockets.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

use crate::BenchError;

/// A Janus API connection.
#[derive(Debug)]
pub struct Control {
    ws: WebSocket<TcpStream>,
    next_transaction: u64,
    /// Messages read while waiting for a particular answer.
    backlog: VecDeque<Value>,
}

impl Control {
    /// Connects to `url` (`ws://host:port/`) and completes the WebSocket handshake.
    ///
    /// # Errors
    /// [`BenchError::Api`] when the connection or handshake fails.
    pub fn connect(url: &str) -> Result<Self, BenchError> {
        let mut request = url
            .into_client_request()
            .map_err(|e| BenchError::Api(format!("{url}: {e}")))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| BenchError::Api(format!("{url}: no host")))?;
        let stream =
            TcpStream::connect(&host).map_err(|e| BenchError::Api(format!("{host}: {e}")))?;
        stream.set_nodelay(true).ok();
        let (ws, _) = tungstenite::client::client(request, stream)
            .map_err(|e| BenchError::Api(format!("{url}: {e}")))?;
        ws.get_ref()
            .set_nonblocking(true)
            .map_err(|e| BenchError::Api(e.to_string()))?;
        Ok(Self {
            ws,
            next_transaction: 1,
            backlog: VecDeque::new(),
        })
    }

    /// The socket, to register with a poller.
    pub fn socket(&self) -> &TcpStream {
        self.ws.get_ref()
    }

    /// Sends `body` with a fresh `transaction` and returns the transaction.
    ///
    /// # Errors
    /// [`BenchError::Api`] when the connection is gone.
    pub fn send(&mut self, mut body: Value) -> Result<String, BenchError> {
        let transaction = format!("t{}", self.next_transaction);
        self.next_transaction += 1;
        body["transaction"] = json!(transaction);
        match self.ws.send(Message::text(body.to_string())) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(BenchError::Api(format!("send: {e}"))),
        }
        Ok(transaction)
    }

    /// Flushes queued output and reads the next message, if one is there.
    ///
    /// # Errors
    /// [`BenchError::Api`] when the connection failed or closed.
    pub fn poll(&mut self) -> Result<Option<Value>, BenchError> {
        if let Some(v) = self.backlog.pop_front() {
            return Ok(Some(v));
        }
        self.read_one()
    }

    fn read_one(&mut self) -> Result<Option<Value>, BenchError> {
        match self.ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(BenchError::Api(format!("flush: {e}"))),
        }
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    let value = serde_json::from_str(text.as_str())
                        .map_err(|e| BenchError::Api(format!("bad JSON from server: {e}")))?;
                    return Ok(Some(value));
                }
                Ok(Message::Close(_)) => {
                    return Err(BenchError::Api("server closed the connection".into()));
                }
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                    return Ok(None);
                }
                Err(e) => return Err(BenchError::Api(format!("read: {e}"))),
            }
        }
    }

    /// Sends `body` and waits (blocking, up to `timeout`) for its final answer: `success`,
    /// `error`, or the plugin `event` that follows an `ack`. Other messages are kept for
    /// [`Self::poll`].
    ///
    /// # Errors
    /// [`BenchError::Api`] on `error`, a plugin error, a timeout or a broken connection.
    pub fn request(&mut self, body: Value, timeout: Duration) -> Result<Value, BenchError> {
        let transaction = self.send(body)?;
        let deadline = Instant::now() + timeout;
        let mut held = VecDeque::new();
        let result = loop {
            if Instant::now() > deadline {
                break Err(BenchError::Api(format!(
                    "no answer to {transaction} in {timeout:?}"
                )));
            }
            let next = self.read_one()?;
            let Some(msg) = next else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            if msg["transaction"].as_str() != Some(transaction.as_str()) || msg["janus"] == "ack" {
                if msg["janus"] != "ack" {
                    held.push_back(msg);
                }
                continue;
            }
            break check_answer(msg);
        };
        self.backlog.append(&mut held);
        result
    }
}

/// Turns a Janus answer into an error when it is `error` or carries a plugin error.
///
/// # Errors
/// [`BenchError::Api`] with the code and reason.
pub fn check_answer(msg: Value) -> Result<Value, BenchError> {
    if msg["janus"] == "error" {
        return Err(BenchError::Api(format!(
            "error {}: {}",
            msg["error"]["code"], msg["error"]["reason"]
        )));
    }
    let data = &msg["plugindata"]["data"];
    if let Some(code) = data.get("error_code") {
        return Err(BenchError::Api(format!(
            "plugin error {code}: {}",
            data["error"]
        )));
    }
    Ok(msg)
}
