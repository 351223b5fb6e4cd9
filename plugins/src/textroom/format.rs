//! How answers are worded and written: the verb per channel, jansson's JSON layouts, the
//! plugin's data-channel offer.

use super::*;

/// An answer as the channel words it: `{"textroom":<verb>,"transaction"?,…}`.
pub(super) fn render(a: Answer, via: Via, tx: Option<&str>) -> Value {
    let mut m = Map::new();
    if let Some(key) = a.key {
        let verb = if via == Via::Api { a.api } else { a.dc };
        m.insert(key.into(), verb.into());
    }
    if let Some(t) = tx {
        m.insert("transaction".into(), t.into());
    }
    m.extend(a.rest);
    Value::Object(m)
}

/// The plugin's offer (before the core adds ICE/DTLS): one data channel m-line.
pub(super) fn offer_sdp(session_id: u64, version: u64) -> String {
    format!(
        "v=0\r\no=- {session_id} {version} IN IP4 127.0.0.1\r\ns=Janus TextRoom plugin\r\nt=0 0\r\n\
         m=application 1 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 1.1.1.1\r\na=sctp-port:5000\r\n"
    )
}

/// Writes data-channel JSON the way jansson does for the configured format.
pub(super) fn format_json(v: &Value, format: JsonFormat) -> String {
    match format {
        JsonFormat::Compact => v.to_string(),
        JsonFormat::Indented => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            match serde::Serialize::serialize(v, &mut ser) {
                Ok(()) => String::from_utf8(buf).unwrap_or_default(),
                Err(_) => v.to_string(),
            }
        }
        JsonFormat::Plain => {
            let mut buf = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, PlainFormatter);
            match serde::Serialize::serialize(v, &mut ser) {
                Ok(()) => String::from_utf8(buf).unwrap_or_default(),
                Err(_) => v.to_string(),
            }
        }
    }
}

/// jansson's `JSON_INDENT(0)`: one line, `", "` and `": "` separators.
pub(super) struct PlainFormatter;

impl serde_json::ser::Formatter for PlainFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}
