//! The demo pages and `/portunus/status` on the Janus HTTP port.
//!
//! The files under `ctrl/web/` are embedded at compile time, so the binary alone serves a
//! working demo (`GET /` is the index, `GET /demos/<file>` the rest). Lookup is by exact name in
//! a fixed table: nothing is read from disk at run time, so no path can escape it.
//! `/portunus/status` is a read-only JSON of counters for the status page, which cannot use the
//! Admin API (another port, loopback only, secret).
//!
//! Paths under the Janus base path are never claimed here, so Janus routing is unchanged (with
//! `base_path = "/"` every path is Janus's and no page is served).

use serde_json::{Map, Value, json};

use super::Server;
use super::http::{Request, Response, query_param};
use crate::api::ApiKind;
use crate::control::constant_time_eq;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded file: its name under `/demos/`, content type and bytes.
struct File {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! embed {
    ($name:literal, $ct:expr) => {
        File {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $name)),
        }
    };
}

/// Every file served; `index.html` is also `GET /`.
const FILES: &[File] = &[
    embed!("index.html", HTML),
    embed!("portunus.js", JS),
    embed!("demo.js", JS),
    embed!("demo.css", CSS),
    embed!("logo.svg", SVG),
    embed!("echotest.html", HTML),
    embed!("videoroom.html", HTML),
    embed!("audiobridge.html", HTML),
    embed!("streaming.html", HTML),
    embed!("textroom.html", HTML),
    embed!("status.html", HTML),
];

/// The status JSON's path.
pub(super) const STATUS_PATH: &str = "/portunus/status";

/// The embedded file for a request path, if it names one.
fn lookup(path: &str) -> Option<&'static File> {
    let name = match path {
        "/" | "/demos" | "/demos/" => "index.html",
        _ => path.strip_prefix("/demos/")?,
    };
    FILES.iter().find(|f| f.name == name)
}

/// Whether `path` belongs to the web namespace (answered here, never by the Janus API).
fn is_web_path(path: &str) -> bool {
    path == "/" || path == "/demos" || path.starts_with("/demos/") || path == STATUS_PATH
}

impl Server {
    /// Answer a GET or HEAD of a demo page or the status JSON; `None` leaves the request to
    /// the Janus API routing (other paths and methods, the Admin listener, or a Janus base path
    /// that covers this one), which answers as Janus would (404 for a POST to `/`).
    pub(super) fn web(&mut self, api: ApiKind, req: &Request) -> Option<Response> {
        let get_or_head =
            req.method.eq_ignore_ascii_case("GET") || req.method.eq_ignore_ascii_case("HEAD");
        if api != ApiKind::Janus
            || !get_or_head
            || !is_web_path(&req.path)
            || super::routes::is_janus_path(&req.path, &self.settings.janus_base)
        {
            return None;
        }
        if req.path == STATUS_PATH {
            return Some(self.status(req));
        }
        Some(match lookup(&req.path) {
            Some(f) => Response {
                status: 200,
                reason: "OK",
                content_type: Some(f.content_type),
                location: None,
                body: f.body.to_vec(),
            },
            None => Response::empty(404, "Not Found"),
        })
    }

    /// Counters for the status page: sessions, handles, API requests and per-shard packets.
    /// With an API secret configured it must be given as `?apisecret=`.
    fn status(&mut self, req: &Request) -> Response {
        if let Some(secret) = &self.cp.config().general.api_secret
            && !query_param(&req.query, "apisecret")
                .is_some_and(|given| constant_time_eq(given.as_bytes(), secret.as_bytes()))
        {
            return Response::empty(403, "Forbidden");
        }
        let sessions = self.cp.session_count();
        let handles = self.cp.handle_count();
        let ws_port = self.ports.ws;
        let m = self.cp.metrics_mut();
        let requests: Map<String, Value> = m
            .requests
            .iter()
            .map(|(verb, n)| ((*verb).to_owned(), Value::from(*n)))
            .collect();
        let shards: Vec<Value> = m
            .shards
            .iter()
            .map(|(id, c)| {
                let drops: Map<String, Value> = c
                    .drops
                    .iter()
                    .map(|(reason, n)| (reason.clone(), Value::from(*n)))
                    .collect();
                json!({
                    "shard": id,
                    "packets_in": c.packets_in,
                    "packets_out": c.packets_out,
                    "bytes_in": c.bytes_in,
                    "bytes_out": c.bytes_out,
                    "peers": c.peers,
                    "forwards": c.forwards,
                    "drops": drops,
                })
            })
            .collect();
        let body = json!({
            "sessions": sessions,
            "handles": handles,
            "ws_port": ws_port,
            "http_connections": m.http_connections,
            "ws_connections": m.ws_connections,
            "sessions_created": m.sessions_created,
            "handles_attached": m.handles_attached,
            "events": m.events,
            "requests": requests,
            "shards": shards,
        });
        Response::json(serde_json::to_vec(&body).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_demos_name_the_index() {
        for p in ["/", "/demos", "/demos/", "/demos/index.html"] {
            assert_eq!(lookup(p).map(|f| f.name), Some("index.html"), "{p}");
        }
    }

    #[test]
    fn only_exact_names_are_found() {
        assert_eq!(
            lookup("/demos/portunus.js").map(|f| f.content_type),
            Some(JS)
        );
        for p in [
            "/demos/../Cargo.toml",
            "/demos/..%2fCargo.toml",
            "/demos//portunus.js",
            "/demos/PORTUNUS.JS",
            "/demos/portunus.js/",
            "/portunus.js",
            "/demos/nope.html",
        ] {
            assert!(lookup(p).is_none(), "{p}");
        }
    }

    #[test]
    fn every_file_has_content() {
        for f in FILES {
            assert!(!f.body.is_empty(), "{}", f.name);
            assert!(is_web_path(&format!("/demos/{}", f.name)));
        }
    }
}
