//! The fuzz bodies, fed arbitrary and near-valid bytes so `cargo test` exercises them.

use portunus_ctrl::fuzzing;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn http_request_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::http_request(&data);
    }

    #[test]
    fn http_request_round_trips_near_valid_input(
        method in "(GET|POST|OPTIONS|PUT)",
        path in "/[a-z0-9/]{0,20}",
        query in "[a-z0-9=&]{0,16}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        close in any::<bool>(),
    ) {
        let mut raw = format!("{method} {path}?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n", body.len()).into_bytes();
        if close {
            raw.extend_from_slice(b"Connection: close\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&body);
        fuzzing::http_request(&raw);
    }

    #[test]
    fn janus_request_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::janus_request(&data);
    }

    #[test]
    fn janus_request_handles_near_valid_json(
        verb in "(create|attach|message|trickle|keepalive|destroy|claim|info|ping|detach|hangup|Create|x)",
        session in proptest::option::of(any::<i64>()),
        handle in proptest::option::of(0u64..3),
        extra in "(|,\"body\":\\{\\}|,\"jsep\":\\{\"type\":\"offer\"\\}|,\"candidate\":null|,\"plugin\":\"p\")",
    ) {
        let mut s = format!("{{\"janus\":\"{verb}\",\"transaction\":\"t\"");
        if let Some(sid) = session {
            s.push_str(&format!(",\"session_id\":{sid}"));
        }
        if let Some(h) = handle {
            s.push_str(&format!(",\"handle_id\":{h}"));
        }
        s.push_str(&extra);
        s.push('}');
        fuzzing::janus_request(s.as_bytes());
    }
}
