//! The fuzz bodies under proptest: arbitrary bytes and arbitrary JSON request bodies never
//! panic and never produce output for another handle.

use portunus_plugins::fuzzing::plugin_inputs;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..3000).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z]{0,8}".prop_map(Value::String),
        Just(Value::from(1234)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys the plugins read, so that bodies get past the first checks.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "request",
            "textroom",
            "transaction",
            "room",
            "username",
            "display",
            "text",
            "to",
            "tos",
            "secret",
            "pin",
            "action",
            "allowed",
            "audio",
            "video",
            "bitrate",
            "substream",
            "temporal",
            "fallback",
            "description",
            "history",
            "is_private",
            "permanent",
            "admin_key",
            "ack",
            "new_description",
            "new_pin",
            "record",
            "ptype",
            "streams",
            "feed",
            "mid",
            "sub_mid",
            "subscribe",
            "unsubscribe",
            "publisher_id",
            "stream_id",
            "host",
            "port",
            "mute",
            "id",
            "send",
            "type",
            "media",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

fn verb() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        "join",
        "leave",
        "message",
        "announcement",
        "list",
        "listparticipants",
        "exists",
        "create",
        "edit",
        "destroy",
        "allowed",
        "kick",
        "setup",
        "ack",
        "restart",
    ])
    .prop_map(Value::from)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        plugin_inputs(&data);
    }

    #[test]
    fn arbitrary_bodies_never_panic(mut body in prop::collection::vec((key(), json_value()), 0..8),
                                    v in verb()) {
        body.push(("request".into(), v.clone()));
        body.push(("textroom".into(), v));
        body.push(("transaction".into(), Value::from("t")));
        let body: Map<String, Value> = body.into_iter().collect();
        plugin_inputs(&serde_json::to_vec(&Value::Object(body)).unwrap());
    }
}
