//! HTTPS and WSS with a configured certificate and key.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use common::{start, test_config};
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::{X509, X509NameBuilder};
use serde_json::{Value, json};
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;

/// Write a fresh self-signed P-256 certificate and key; returns their paths.
fn self_signed(tag: &str) -> (PathBuf, PathBuf) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    let dir = std::env::temp_dir().join(format!("portunus-ctrl-tls-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.to_pem().unwrap()).unwrap();
    std::fs::write(&k, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (c, k)
}

fn tls_connect(port: u16) -> SslStream<TcpStream> {
    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    b.build().connect("localhost", tcp).unwrap()
}

#[test]
fn https_and_wss_serve_the_janus_api() {
    let (cert, key) = self_signed("api");
    let mut c = test_config();
    c.http.https = true;
    c.http.secure_port = 0;
    c.websockets.wss = true;
    c.websockets.wss_port = 0;
    c.certificates.cert_pem = Some(cert);
    c.certificates.cert_key = Some(key);
    let (server, _) = start(c);

    let mut s = tls_connect(server.ports.https.unwrap());
    let body = json!({"janus":"ping","transaction":"p"}).to_string();
    let req = format!(
        "POST /janus HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    let json: Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json, json!({"janus":"pong","transaction":"p"}));

    let port = server.ports.wss.unwrap();
    let mut req = format!("wss://127.0.0.1:{port}/")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "janus-protocol".parse().unwrap());
    let (mut ws, _) = tungstenite::client(req, tls_connect(port)).unwrap();
    ws.send(Message::text(
        json!({"janus":"create","transaction":"c"}).to_string(),
    ))
    .unwrap();
    let reply: Value = serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply["janus"], "success");
    assert!(reply["data"]["id"].as_u64().is_some());
}

#[test]
fn https_without_usable_key_fails_to_bind() {
    let (cert, _) = self_signed("bad");
    let mut c = test_config();
    c.http.https = true;
    c.http.secure_port = 0;
    c.certificates.cert_pem = Some(cert.clone());
    c.certificates.cert_key = Some(cert);
    let e = portunus_ctrl::Server::bind(&c)
        .err()
        .expect("a certificate is not a key");
    assert!(matches!(e, portunus_ctrl::CtrlError::Tls(_)), "{e}");
}
