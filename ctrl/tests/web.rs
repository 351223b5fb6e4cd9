//! The demo pages and `/portunus/status` on the Janus HTTP port, over real HTTP on 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Http, start, test_config};
use portunus_ctrl::metrics::ShardCounters;
use portunus_ctrl::{RunningServer, Server};
use serde_json::json;

const PAGES: &[(&str, &str)] = &[
    ("/demos/index.html", "text/html; charset=utf-8"),
    ("/demos/portunus.js", "text/javascript; charset=utf-8"),
    ("/demos/demo.js", "text/javascript; charset=utf-8"),
    ("/demos/demo.css", "text/css; charset=utf-8"),
    ("/demos/logo.svg", "image/svg+xml"),
    ("/demos/echotest.html", "text/html; charset=utf-8"),
    ("/demos/videoroom.html", "text/html; charset=utf-8"),
    ("/demos/audiobridge.html", "text/html; charset=utf-8"),
    ("/demos/streaming.html", "text/html; charset=utf-8"),
    ("/demos/textroom.html", "text/html; charset=utf-8"),
    ("/demos/status.html", "text/html; charset=utf-8"),
];

/// Send `raw` on a fresh connection and read until the server closes it.
fn exchange(port: u16, raw: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read until close");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn root_is_the_index_page_linking_every_demo() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let body = String::from_utf8(r.body).unwrap();
    for page in [
        "echotest.html",
        "videoroom.html",
        "streaming.html",
        "textroom.html",
        "status.html",
    ] {
        assert!(body.contains(&format!("href=\"/demos/{page}\"")), "{page}");
    }
    assert_eq!(c.get("/demos/").body, c.get("/demos/index.html").body);
}

#[test]
fn every_demo_file_is_served_with_its_content_type() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    for (path, content_type) in PAGES {
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(*content_type), "{path}");
        let on_disk = std::fs::read(format!(
            "{}/web/{}",
            env!("CARGO_MANIFEST_DIR"),
            path.trim_start_matches("/demos/")
        ))
        .unwrap();
        assert_eq!(r.body, on_disk, "{path} is the embedded copy of the file");
    }
}

#[test]
fn pages_load_only_files_the_server_has() {
    // Nothing is fetched from elsewhere: every src/href in the pages is a served /demos/ path.
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    for (path, _) in PAGES.iter().filter(|(p, _)| p.ends_with(".html")) {
        let body = String::from_utf8(c.get(path).body).unwrap();
        for attr in ["src=\"", "href=\""] {
            for part in body.split(attr).skip(1) {
                let target = part.split('"').next().unwrap();
                assert!(!target.contains("//"), "{path} refers to {target}");
                if target.starts_with("/demos/") || target == "/" {
                    assert_eq!(c.get(target).status, 200, "{path} refers to {target}");
                }
            }
        }
    }
}

#[test]
fn unknown_files_are_404() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    for path in [
        "/demos/nope.html",
        "/demos/PORTUNUS.JS",
        "/demos/portunus.js/",
        "/portunus.js",
        "/favicon.ico",
    ] {
        assert_eq!(c.get(path).status, 404, "{path}");
    }
}

#[test]
fn directory_traversal_finds_nothing() {
    let (server, _) = start(test_config());
    let port = server.ports.http.unwrap();
    for path in [
        "/demos/../Cargo.toml",
        "/demos/../src/lib.rs",
        "/demos/%2e%2e/Cargo.toml",
        "/demos/..%2fCargo.toml",
        "/demos//etc/passwd",
        "/demos/./index.html",
        "/demos/../../../../etc/passwd",
    ] {
        let out = exchange(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(out.starts_with("HTTP/1.1 404 "), "{path}: {out}");
        assert!(out.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
    }
}

#[test]
fn head_sends_the_headers_of_get_without_the_body() {
    let (server, _) = start(test_config());
    let port = server.ports.http.unwrap();
    let mut c = Http::connect(port);
    let get = c.get("/demos/portunus.js");
    // HEAD then GET pipelined on one connection: the HEAD answer must carry no body, or the
    // next response would not start where a client expects it.
    let out = exchange(
        port,
        "HEAD /demos/portunus.js HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /demos/logo.svg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (head, rest) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/javascript; charset=utf-8\r\n"));
    assert!(head.contains(&format!("Content-Length: {}\r\n", get.body.len())));
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.contains("Content-Type: image/svg+xml\r\n"));
    let out = exchange(
        port,
        "HEAD /demos/missing.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
}

#[test]
fn other_methods_on_pages_get_what_janus_answers() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    let r = c.request("POST", "/demos/index.html", Some(b"{}"), &[]);
    assert_eq!((r.status, r.body.len()), (404, 0));
    let r = c.request("DELETE", "/", None, &[]);
    assert_eq!(r.json()["error"]["code"], 450);
}

#[test]
fn janus_routing_is_unchanged() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    let r = c.call("/janus", json!({"janus":"create","transaction":"t"}));
    assert_eq!(r["janus"], "success");
    let info = c.get("/janus/info").json();
    assert_eq!(info["janus"], "server_info");
    assert_eq!(c.get("/janusx").status, 404);
    // An unsupported method on /janus still gets Janus's JSON error, not a page answer.
    let r = c.request("PUT", "/janus", Some(b"{}"), &[]);
    assert_eq!(r.json()["error"]["code"], 450);
}

#[test]
fn pages_are_not_served_when_the_janus_base_path_is_root() {
    let mut config = test_config();
    config.http.base_path = "/".into();
    let (server, _) = start(config);
    let mut c = Http::connect(server.ports.http.unwrap());
    let r = c.call("/", json!({"janus":"create","transaction":"t"}));
    assert_eq!(r["janus"], "success");
    assert_ne!(c.get("/demos/portunus.js").status, 200);
}

#[test]
fn the_admin_port_serves_no_pages() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.admin.unwrap());
    assert_eq!(c.get("/").status, 404);
    assert_eq!(c.get("/demos/index.html").status, 404);
    assert_eq!(c.get("/portunus/status").status, 404);
}

#[test]
fn status_json_counts_sessions_and_handles() {
    let (server, _) = start(test_config());
    let mut c = Http::connect(server.ports.http.unwrap());
    let s = c.get("/portunus/status");
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("application/json"));
    let s = s.json();
    assert_eq!(s["sessions"], 0);
    assert_eq!(s["handles"], 0);
    assert_eq!(s["ws_port"], server.ports.ws.unwrap());
    assert!(s["shards"].as_array().unwrap().is_empty());
    let r = c.call("/janus", json!({"janus":"create","transaction":"t"}));
    let sid = r["data"]["id"].as_u64().unwrap();
    let r = c.call(
        &format!("/janus/{sid}"),
        json!({"janus":"attach","plugin":common::TEST_PLUGIN,"transaction":"a"}),
    );
    assert_eq!(r["janus"], "success");
    let s = c.get("/portunus/status").json();
    assert_eq!(s["sessions"], 1);
    assert_eq!(s["handles"], 1);
    assert_eq!(s["requests"]["create"], 1);
    assert_eq!(s["requests"]["attach"], 1);
}

#[test]
fn status_json_wants_the_api_secret_when_one_is_set() {
    let mut config = test_config();
    config.general.api_secret = Some("s3cret".into());
    let (server, _) = start(config);
    let mut c = Http::connect(server.ports.http.unwrap());
    assert_eq!(c.get("/portunus/status").status, 403);
    assert_eq!(c.get("/portunus/status?apisecret=wrong").status, 403);
    assert_eq!(c.get("/portunus/status?apisecret=s3cret").status, 200);
    // The pages themselves stay public.
    assert_eq!(c.get("/demos/status.html").status, 200);
}

#[test]
fn status_json_lists_each_shards_counters() {
    let server = RunningServer::spawn(test_config(), |s: &mut Server| {
        let cp = s.control_plane();
        for shard in [1, 0] {
            let c = ShardCounters {
                packets_in: 100 + u64::from(shard),
                packets_out: 200,
                bytes_in: 3000,
                bytes_out: 4000,
                drops: vec![("no_route".into(), 2)],
                peers: 3,
                forwards: 4,
                ..Default::default()
            };
            cp.set_shard_counters(shard, c);
        }
    })
    .expect("server starts");
    let mut c = Http::connect(server.ports.http.unwrap());
    let s = c.get("/portunus/status").json();
    assert_eq!(
        s["shards"],
        json!([
            {"shard":0,"packets_in":100,"packets_out":200,"bytes_in":3000,"bytes_out":4000,
             "peers":3,"forwards":4,"drops":{"no_route":2}},
            {"shard":1,"packets_in":101,"packets_out":200,"bytes_in":3000,"bytes_out":4000,
             "peers":3,"forwards":4,"drops":{"no_route":2}},
        ])
    );
}
