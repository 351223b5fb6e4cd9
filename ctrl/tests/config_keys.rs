//! Configuration keys that reach the API: `plugins.disable`, `general.interface` and
//! `nat.nat_1_1_mapping` in `info`; and HEAD on the Janus paths.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Api, Http, HttpApi, TEST_PLUGIN, create_session, start, test_config};
use serde_json::json;

#[test]
fn a_disabled_plugin_is_not_registered_and_attach_gives_460() {
    for entry in [TEST_PLUGIN, "libjanus_testecho.so"] {
        let mut config = test_config();
        config.plugins.disable = vec![entry.into()];
        let (server, _) = start(config);
        let mut api = HttpApi(Http::connect(server.ports.http.unwrap()));
        let info = api.call(json!({"janus":"info","transaction":"i"}));
        assert_eq!(info["plugins"], json!({}), "{entry}");
        let sid = create_session(&mut api);
        assert_eq!(
            api.call(
                json!({"janus":"attach","transaction":"a","session_id":sid,"plugin":TEST_PLUGIN})
            ),
            json!({"janus":"error","session_id":sid,"transaction":"a",
                "error":{"code":460,"reason":format!("No such plugin '{TEST_PLUGIN}'")}})
        );
    }
    // Disabling another plugin leaves this one alone.
    let mut config = test_config();
    config.plugins.disable = vec!["janus.plugin.videoroom".into()];
    let (server, _) = start(config);
    let mut api = HttpApi(Http::connect(server.ports.http.unwrap()));
    let sid = create_session(&mut api);
    common::attach(&mut api, sid);
}

#[test]
fn info_reports_the_interface_and_the_nat_mapping() {
    let mut config = test_config();
    config.general.interface = Some("10.0.0.5".parse().unwrap());
    config.nat.nat_1_1_mapping = vec![
        "203.0.113.1".parse().unwrap(),
        "2001:db8::7".parse().unwrap(),
    ];
    let (server, _) = start(config);
    let mut api = HttpApi(Http::connect(server.ports.http.unwrap()));
    let info = api.call(json!({"janus":"info","transaction":"i"}));
    assert_eq!(info["local-ip"], "10.0.0.5");
    assert_eq!(info["public-ip"], "203.0.113.1");
    assert_eq!(info["public-ips"], json!(["203.0.113.1", "2001:db8::7"]));
    // Janus's key order: public-ip right after local-ip.
    let keys: Vec<&String> = info.as_object().unwrap().keys().collect();
    let local = keys.iter().position(|k| *k == "local-ip").unwrap();
    assert_eq!(keys[local + 1], "public-ip");
    let (server, _) = start(test_config());
    let mut api = HttpApi(Http::connect(server.ports.http.unwrap()));
    let info = api.call(json!({"janus":"info","transaction":"i"}));
    assert!(info.get("public-ip").is_none());
    assert!(info.get("public-ips").is_none());
}

/// Janus's HTTP transport answers any method but GET, POST and OPTIONS with the 450
/// `Unsupported method <M>` error object, and libmicrohttpd sends a HEAD answer's headers
/// (Content-Length included) without its body. So HEAD on a Janus or Admin path gives the
/// headers of that error, and a request pipelined behind it is read correctly.
#[test]
fn head_on_janus_paths_is_the_unsupported_method_error_without_its_body() {
    let (server, _) = start(test_config());
    let error = json!({"janus":"error","error":{"code":450,"reason":"Unsupported method HEAD"}});
    let length = serde_json::to_vec(&error).unwrap().len();
    for (port, path) in [
        (server.ports.http.unwrap(), "/janus"),
        (server.ports.http.unwrap(), "/janus/info"),
        (server.ports.http.unwrap(), "/janus/1234"),
        (server.ports.admin.unwrap(), "/admin"),
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let ping = json!({"janus":"ping","transaction":"p"}).to_string();
        let base = if path.starts_with("/admin") {
            "/admin"
        } else {
            "/janus"
        };
        let raw = format!(
            "HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n\
             POST {base} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{ping}",
            ping.len()
        );
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let (head, rest) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {head}");
        assert!(
            head.contains("Content-Type: application/json\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("Content-Length: {length}\r\n")),
            "{head}"
        );
        assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {rest}");
        let body = rest.split_once("\r\n\r\n").unwrap().1;
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            json!({"janus":"pong","transaction":"p"})
        );
    }
}
