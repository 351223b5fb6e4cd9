//! Shared test helpers: a server on free ports, a small HTTP/1.1 client on std `TcpStream`,
//! a tungstenite WebSocket client, and a test plugin (a double for the plugin host).

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a subset")]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portunus_ctrl::config::Config;
use portunus_ctrl::plugin::{
    Jsep, JsepType, MessageResult, Plugin, PluginInfo, PluginInput, PluginOutput,
};
use portunus_ctrl::{ControlPlane, RunningServer, Server};
use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

pub const TEST_PLUGIN: &str = "janus.plugin.testecho";

/// A configuration on free loopback ports with short timers.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.http.port = 0;
    c.websockets.port = 0;
    c.admin.port = 0;
    c.general.json = portunus_ctrl::config::JsonStyle::Compact;
    c
}

/// Start a server with the test plugin registered; returns it and the plugin's input log.
pub fn start(config: Config) -> (RunningServer, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let plugin_log = Arc::clone(&log);
    let server = RunningServer::spawn(config, move |server: &mut Server| {
        let cp: &mut ControlPlane = server.control_plane();
        cp.register_plugin(Box::new(TestPlugin::new(plugin_log)))
            .expect("register");
    })
    .expect("server starts");
    (server, log)
}

/// A minimal SDP that passes the core's first checks.
pub const SDP: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

// ---------------------------------------------------------------------------------------------
// HTTP client

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad JSON {e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct Http {
    reader: BufReader<TcpStream>,
    pub port: u16,
}

impl Http {
    pub fn connect(port: u16) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        Self {
            reader: BufReader::new(s),
            port,
        }
    }

    pub fn from_stream(s: TcpStream) -> Self {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let port = s.peer_addr().map(|a| a.port()).unwrap_or(0);
        Self {
            reader: BufReader::new(s),
            port,
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        extra: &[(&str, &str)],
    ) -> HttpResponse {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: text/plain\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        self.send_raw(&bytes);
        self.read_response().expect("response")
    }

    pub fn post(&mut self, path: &str, json: &Value) -> HttpResponse {
        self.request("POST", path, Some(json.to_string().as_bytes()), &[])
    }

    pub fn get(&mut self, path: &str) -> HttpResponse {
        self.request("GET", path, None, &[])
    }

    /// POST to /janus... and return the JSON reply.
    pub fn call(&mut self, path: &str, json: Value) -> Value {
        let r = self.post(path, &json);
        assert_eq!(r.status, 200);
        r.json()
    }

    /// Read one response; `None` if the server closed the connection first.
    pub fn read_response(&mut self) -> Option<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':')?;
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).ok()?;
        Some(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// True if the server closed the connection (EOF) within `within`.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        self.reader
            .get_mut()
            .set_read_timeout(Some(within))
            .unwrap();
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0))
            || matches!(self.reader.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket client

pub struct Ws {
    pub ws: WebSocket<TcpStream>,
    pending: VecDeque<Value>,
}

impl Ws {
    pub fn connect(port: u16, protocol: &str) -> Self {
        Self::try_connect(port, Some(protocol)).expect("ws handshake")
    }

    pub fn try_connect(port: u16, protocol: Option<&str>) -> Result<Self, tungstenite::Error> {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut req = format!("ws://127.0.0.1:{port}/").into_client_request()?;
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
        }
        let (ws, _resp) = tungstenite::client(req, stream).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => tungstenite::Error::ConnectionClosed,
        })?;
        Ok(Self {
            ws,
            pending: VecDeque::new(),
        })
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("ws send");
    }

    /// Next JSON frame (queued ones first).
    pub fn recv(&mut self) -> Value {
        if let Some(v) = self.pending.pop_front() {
            return v;
        }
        self.recv_frame().expect("a frame")
    }

    fn recv_frame(&mut self) -> Option<Value> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("json frame"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Send a request and return the first frame with its transaction; other frames are kept.
    pub fn call(&mut self, req: Value) -> Value {
        let tx = req.get("transaction").cloned();
        self.send_text(&req.to_string());
        loop {
            let v = self.recv_frame().expect("reply");
            let envelope_error = v["janus"] == "error" && v.get("transaction").is_none();
            if v.get("transaction") == tx.as_ref() || tx.is_none() || envelope_error {
                return v;
            }
            self.pending.push_back(v);
        }
    }

    /// True if the server closes the socket (close frame or EOF) within `within`.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        self.ws.get_mut().set_read_timeout(Some(within)).unwrap();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(Message::Close(_)) => return true,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
        false
    }
}

// ---------------------------------------------------------------------------------------------
// A Janus API client over either transport, for the conformance script.

pub trait Api {
    /// Send one request, return its immediate reply.
    fn call(&mut self, req: Value) -> Value;
    /// The next event for `session`.
    fn event(&mut self, session: u64) -> Value;
    /// Assert no event is pending for `session` (needs a short long-poll timeout on HTTP).
    fn no_event(&mut self, session: u64);
}

pub struct HttpApi(pub Http);

impl Api for HttpApi {
    fn call(&mut self, req: Value) -> Value {
        self.0.call("/janus", req)
    }

    fn event(&mut self, session: u64) -> Value {
        let r = self.0.get(&format!("/janus/{session}?rid=1"));
        assert_eq!(r.status, 200);
        r.json()
    }

    fn no_event(&mut self, session: u64) {
        assert_eq!(self.event(session), json!({"janus": "keepalive"}));
    }
}

pub struct WsApi(pub Ws);

impl Api for WsApi {
    fn call(&mut self, req: Value) -> Value {
        self.0.call(req)
    }

    fn event(&mut self, _session: u64) -> Value {
        self.0.recv()
    }

    fn no_event(&mut self, _session: u64) {
        assert!(self.0.pending.is_empty(), "unexpected {:?}", self.0.pending);
        self.0
            .ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match self.0.ws.read() {
            Err(tungstenite::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            other => panic!("unexpected frame {other:?}"),
        }
        self.0
            .ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
}

pub fn create_session(api: &mut dyn Api) -> u64 {
    let r = api.call(json!({"janus":"create","transaction":"c"}));
    assert_eq!(r["janus"], "success", "{r}");
    r["data"]["id"].as_u64().expect("session id")
}

pub fn attach(api: &mut dyn Api, sid: u64) -> u64 {
    let r =
        api.call(json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN}));
    assert_eq!(r["janus"], "success", "{r}");
    r["data"]["id"].as_u64().expect("handle id")
}

// ---------------------------------------------------------------------------------------------
// Test plugin

/// A plugin double: answers messages according to `body.request`.
///
/// * `sync` → success with `{"echo": body}`
/// * `async` → ack (hint "wait") then an event `{"result":"done"}` with the transaction
/// * `error` → hard error "boom"; `silent` → no reply at all
/// * any message with a JSEP offer → ack, then an event carrying an answer JSEP
/// * `close_pc` → ack, then ClosePeerConnection; `end` → ack, then EndHandle
/// * attach with opaque_id `refuse` → refused with code 42
pub struct TestPlugin {
    out: VecDeque<PluginOutput>,
    log: Arc<Mutex<Vec<String>>>,
    messages: u64,
}

impl TestPlugin {
    pub fn new(log: Arc<Mutex<Vec<String>>>) -> Self {
        Self {
            out: VecDeque::new(),
            log,
            messages: 0,
        }
    }

    fn record(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }
}

impl Plugin for TestPlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            package: TEST_PLUGIN,
            name: "Test echo plugin",
            author: "tests",
            description: "A plugin double for the host tests",
            version: 1,
            version_string: "0.0.1",
        }
    }

    fn handle(&mut self, _now: Instant, input: PluginInput) {
        match input {
            PluginInput::Attach {
                handle, opaque_id, ..
            } => {
                self.record(format!("attach {}", handle.0));
                if opaque_id.as_deref() == Some("refuse") {
                    self.out
                        .push_back(PluginOutput::AttachRefused { handle, code: 42 });
                }
            }
            PluginInput::Message {
                handle,
                transaction,
                body,
                jsep,
            } => {
                self.messages += 1;
                let req = body
                    .get("request")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                self.record(format!(
                    "message {} {req} jsep={}",
                    handle.0,
                    jsep.as_ref().map_or("none", |j| j.kind.as_str())
                ));
                let ack = |hint: Option<&str>| PluginOutput::Reply {
                    handle,
                    result: MessageResult::Ack {
                        hint: hint.map(str::to_owned),
                    },
                };
                if let Some(j) = jsep {
                    self.out.push_back(ack(None));
                    let answer = (j.kind == JsepType::Offer)
                        .then(|| Jsep::new(JsepType::Answer, j.sdp.clone()));
                    self.out.push_back(PluginOutput::Event {
                        handle,
                        transaction: Some(transaction),
                        data: json!({"result": "jsep"}),
                        jsep: answer,
                    });
                    return;
                }
                match req.as_str() {
                    "sync" => self.out.push_back(PluginOutput::Reply {
                        handle,
                        result: MessageResult::Success(json!({"echo": Value::Object(body)})),
                    }),
                    "async" => {
                        self.out.push_back(ack(Some("wait")));
                        self.out.push_back(PluginOutput::Event {
                            handle,
                            transaction: Some(transaction),
                            data: json!({"result": "done"}),
                            jsep: None,
                        });
                    }
                    "offer" => {
                        self.out.push_back(ack(None));
                        self.out.push_back(PluginOutput::Event {
                            handle,
                            transaction: Some(transaction),
                            data: json!({"result": "offer"}),
                            jsep: Some(Jsep::new(JsepType::Offer, SDP)),
                        });
                    }
                    "error" => self.out.push_back(PluginOutput::Reply { handle, result: MessageResult::Error("boom".into()) }),
                    "close_pc" => {
                        self.out.push_back(ack(None));
                        self.out.push_back(PluginOutput::ClosePeerConnection { handle });
                    }
                    "end" => {
                        self.out.push_back(ack(None));
                        self.out.push_back(PluginOutput::EndHandle { handle });
                    }
                    "silent" => {}
                    _ => self.out.push_back(PluginOutput::Reply {
                        handle,
                        result: MessageResult::Success(json!({"testecho": "event", "error_code": 499, "error": "unknown request"})),
                    }),
                }
            }
            PluginInput::Trickle {
                handle,
                candidates,
                completed,
            } => {
                self.record(format!("trickle {} {candidates} {completed}", handle.0));
            }
            PluginInput::Peer { handle, event } => {
                self.record(format!("peer {} {event:?}", handle.0))
            }
            PluginInput::Detach { handle } => self.record(format!("detach {}", handle.0)),
            PluginInput::QueryHandle { handle } => {
                let mut info = serde_json::Map::new();
                info.insert("messages".into(), self.messages.into());
                self.out
                    .push_back(PluginOutput::HandleInfo { handle, info });
            }
            PluginInput::AdminMessage { request } => {
                self.out.push_back(PluginOutput::AdminReply {
                    response: json!({"testecho": "success", "request": request}),
                });
            }
            PluginInput::Timeout => {}
            other => self.record(format!("other {other:?}")),
        }
    }

    fn poll(&mut self) -> Option<PluginOutput> {
        self.out.pop_front()
    }
}
