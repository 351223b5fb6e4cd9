//! Text → [`Sdp`]: Janus's validation, then every line kept in order.

use crate::{Attribute, Field, Line, Media, MediaKind, MediaLine, Sdp, SdpError, janus};

impl Sdp {
    /// Parses a session description with CRLF or LF line endings.
    ///
    /// The text is first validated exactly as Janus 1.1's `janus_sdp_parse` does, so the
    /// error is the one Janus would report (see [`SdpError::janus_reason`]). Then every
    /// non-empty line is kept in order: attributes split at their first `:`, other lines
    /// verbatim. As in Janus, a line ends at its first CR and empty lines are skipped.
    ///
    /// # Errors
    ///
    /// The first error Janus's parser would report; [`SdpError::InvalidMediaLine`] also for an
    /// `m=` port that does not fit in 16 bits (Janus silently truncates it) and for an `m=`
    /// line whose media, port and proto are not separated by single spaces (Janus tolerates
    /// that but then misreads the formats).
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        janus::parse(text)?;
        let mut sdp = Self {
            session: Vec::new(),
            media: Vec::new(),
        };
        for raw in text.split('\n') {
            let line = raw.split('\r').next().unwrap_or_default();
            if line.is_empty() {
                continue;
            }
            // Validated above: at least three bytes with '=' second, so byte 0 is ASCII.
            let letter = char::from(line.as_bytes()[0]);
            let value = &line[2..];
            let parsed = match letter {
                'm' => {
                    let mline = MediaLine::parse(value)
                        .ok_or_else(|| SdpError::InvalidMediaLine(line.to_owned()))?;
                    sdp.media.push(Media::new(mline));
                    continue;
                }
                'a' => Line::Attribute(match value.split_once(':') {
                    Some((name, v)) => Attribute::new(name, v),
                    None => Attribute::flag(value),
                }),
                _ => Line::Field(Field {
                    letter,
                    value: value.to_owned(),
                }),
            };
            match sdp.media.last_mut() {
                Some(m) => m.lines.push(parsed),
                None => sdp.session.push(parsed),
            }
        }
        Ok(sdp)
    }
}

impl MediaLine {
    /// An `m=` line with no port count.
    pub fn new(kind: MediaKind, port: u16, proto: impl Into<String>, formats: Vec<String>) -> Self {
        Self {
            kind,
            kind_text: kind.as_str().to_owned(),
            port,
            port_count: None,
            proto: proto.into(),
            formats,
        }
    }

    /// Parses the value of an `m=` line: `<media> <port>[/<count>] <proto> <fmt> …`.
    ///
    /// Fields are separated by single spaces, and formats are every space-separated field
    /// after the third (an empty field between two spaces is kept), which is how Janus reads
    /// them; so the line is written back unchanged.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split(' ');
        let kind_text = it.next()?;
        let kind = MediaKind::parse(kind_text)?;
        let port_text = it.next()?;
        let (port, port_count) = match port_text.split_once('/') {
            Some((p, n)) => (p.parse().ok()?, Some(n.parse().ok()?)),
            None => (port_text.parse().ok()?, None),
        };
        let proto = it
            .next()
            .filter(|p| !p.is_empty() && !p.contains(|c: char| c.is_ascii_whitespace()))?
            .to_owned();
        let formats = it.map(str::to_owned).collect();
        Some(Self {
            kind,
            kind_text: kind_text.to_owned(),
            port,
            port_count,
            proto,
            formats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;

    const CHROME_LIKE: &str = "v=0\r\n\
o=- 4898894276658142913 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS s1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:0 PCMU/8000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
i=data\r\n\
a=mid:1\r\n\
a=sctp-port:5000\r\n";

    fn err(text: &str) -> String {
        Sdp::parse(text).unwrap_err().janus_reason()
    }

    #[test]
    fn keeps_every_line_in_order_and_writes_back_the_same_text() {
        let sdp = Sdp::parse(CHROME_LIKE).unwrap();
        assert_eq!(sdp.session.len(), 7);
        assert_eq!(sdp.media.len(), 2);
        assert_eq!(
            sdp.media[1].lines[1],
            Line::Field(Field {
                letter: 'i',
                value: "data".into()
            })
        );
        assert_eq!(sdp.to_string(), CHROME_LIKE);
    }

    #[test]
    fn accepts_lf_line_endings() {
        let lf = CHROME_LIKE.replace("\r\n", "\n");
        let sdp = Sdp::parse(&lf).unwrap();
        assert_eq!(sdp.to_string(), CHROME_LIKE);
    }

    #[test]
    fn typed_accessors_read_session_and_media() {
        let sdp = Sdp::parse(CHROME_LIKE).unwrap();
        assert_eq!(sdp.origin().unwrap().session_id, 4_898_894_276_658_142_913);
        assert_eq!(sdp.session_name(), Some("-"));
        assert_eq!(sdp.bundle_group(), Some(vec!["0", "1"]));
        assert_eq!(sdp.media[0].mid(), Some("0"));
        assert_eq!(sdp.media[0].direction(), Direction::SendRecv);
        assert_eq!(sdp.media[0].connection().unwrap().address, "0.0.0.0");
        assert_eq!(
            sdp.media_by_mid("1").unwrap().kind(),
            MediaKind::Application
        );
        assert!(sdp.has_flag("extmap-allow-mixed"));
    }

    #[test]
    fn refuses_text_not_starting_with_v() {
        assert_eq!(
            err("o=- 1 1 IN IP4 1.1.1.1\r\n"),
            "Invalid SDP (doesn't start with v=)"
        );
    }

    #[test]
    fn refuses_missing_mandatory_lines() {
        assert_eq!(
            err("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n"),
            "Missing mandatory lines (o=, s= or m=)"
        );
        assert_eq!(
            err("v=0\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n"),
            "Missing mandatory lines (o=, s= or m=)"
        );
    }

    #[test]
    fn refuses_malformed_lines_with_janus_text() {
        let head = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\n";
        assert_eq!(err(&format!("{head}x\r\n")), "Invalid line (1 bytes): x");
        assert_eq!(
            err(&format!("{head}ab=c\r\n")),
            "Invalid line (2nd char is not '='): ab=c"
        );
        assert_eq!(err(&format!("{head}a=foo:\r\n")), "Invalid a= line: foo:");
        assert_eq!(err(&format!("{head}t=0\r\n")), "Invalid t= line: t=0");
        assert_eq!(
            err(&format!("{head}c=IN IP5 1.2.3.4\r\n")),
            "Invalid c= line (unsupported protocol IP5): c=IN IP5 1.2.3.4"
        );
        assert_eq!(
            err(&format!("{head}m=text 9 RTP/AVP 0\r\n")),
            "Invalid m= line: m=text 9 RTP/AVP 0"
        );
        assert_eq!(
            err(&format!("{head}m=audio 9 RTP/AVP\r\n")),
            "Invalid m= line (no payload types/formats): m=audio 9 RTP/AVP"
        );
        assert_eq!(
            err(&format!("{head}m=audio x RTP/AVP 0\r\n")),
            "Invalid m= line: m=audio x RTP/AVP 0"
        );
        assert_eq!(
            err(&format!(
                "{head}m=audio 9 RTP/AVP 0\r\nc=IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\n"
            )),
            "Multiple m-line c= lines: c=IN IP4 1.1.1.1"
        );
        assert_eq!(
            err(&format!("{head}m=audio 9 RTP/AVP 0\r\nb=AS\r\n")),
            "Invalid b= line: AS"
        );
        assert_eq!(err(&format!("{head}s=x\r\n")), "Multiple s= lines: s=x");
        assert_eq!(
            err("v=0\r\no=- 1 1 IN IP4\r\n"),
            "Invalid o= line: o=- 1 1 IN IP4"
        );
        assert_eq!(
            err("v=0\r\no=- 1 1 IN IPX 1.1.1.1\r\n"),
            "Invalid o= line (unsupported protocol IPX): o=- 1 1 IN IPX 1.1.1.1"
        );
        assert_eq!(
            err(&format!("{head}m=audio 9 RTP/AVP {}\r\n", "0 ".repeat(100))),
            "Invalid m= line (too long): 218"
        );
    }

    #[test]
    fn mline_with_port_count_parses() {
        let m = MediaLine::parse("video 49170/2 RTP/AVP 31").unwrap();
        assert_eq!((m.port, m.port_count), (49170, Some(2)));
        assert_eq!(m.to_string(), "m=video 49170/2 RTP/AVP 31");
    }

    #[test]
    fn set_direction_replaces_in_place() {
        let mut sdp = Sdp::parse(CHROME_LIKE).unwrap();
        sdp.media[0].set_direction(Direction::RecvOnly);
        assert_eq!(sdp.media[0].direction(), Direction::RecvOnly);
        assert!(
            sdp.to_string()
                .contains("a=mid:0\r\na=recvonly\r\na=rtpmap:111")
        );
        sdp.media[1].set_direction(Direction::Inactive);
        assert!(
            sdp.to_string()
                .contains("i=data\r\na=inactive\r\na=mid:1\r\n")
        );
    }
}
