//! SDP for a Janus-compatible WebRTC server: an attribute-preserving model of RFC 8866
//! session descriptions and a typed JSEP layer that applies the rules Janus 1.1 applies.
//!
//! # The model
//!
//! [`Sdp::parse`] accepts CRLF or LF line endings and keeps every line in order: the
//! session-level lines in [`Sdp::session`], then one [`Media`] per `m=` line with its own
//! lines. Attributes are kept as written (name and value), other lines (`i=`, `k=`, …)
//! verbatim, so [`Sdp::to_string`](std::string::ToString::to_string) writes back the same
//! text with CRLF endings. Typed accessors read what WebRTC needs (mid, direction, codecs,
//! extmaps, ICE and DTLS attributes, candidates, simulcast…) on demand; see [`attr`].
//!
//! Parse errors are the ones Janus reports: each [`SdpError`] knows the 465 reason Janus
//! would send ([`SdpError::janus_reason`]), e.g. `Missing mandatory lines (o=, s= or m=)`.
//!
//! # The JSEP layer ([`jsep`])
//!
//! * [`jsep::RemoteDescription`]: what the core extracts from a client offer or answer (ICE
//!   credentials, fingerprint, setup role, candidates, per m-line codecs, RTX, extmaps, SSRCs,
//!   rids and simulcast, SCTP).
//! * [`jsep::anonymize`]: the SDP a plugin sees (ICE/DTLS/candidates/SSRCs stripped).
//! * [`jsep::generate_answer`]: a plugin's answer to a browser offer (EchoTest, VideoRoom
//!   publisher), choosing codecs in the server's preference order.
//! * [`jsep::OfferBuilder`] and [`jsep::SubscriberOffer`]: offers Janus makes (VideoRoom
//!   subscribers, Streaming viewers) with Janus's fixed payload types and extmap ids, and
//!   reuse of inactive m-lines on renegotiation.
//! * [`jsep::merge`]: adds ICE/DTLS attributes, BUNDLE, RTX, `ssrc`/`msid`, simulcast and
//!   candidates back, in Janus's byte order.
//!
//! ```
//! use portunus_sdp::jsep::{self, AnswerConfig, LocalTransport, MergeContext, RemoteDescription, SdpType};
//!
//! let offer = "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
//!     m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n\
//!     a=ice-pwd:0123456789012345678901\r\n\
//!     a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n\
//!     a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n";
//! // What the Janus core does with a client offer.
//! let remote = RemoteDescription::parse(offer, SdpType::Offer)?;
//! assert_eq!(remote.ice_ufrag, "abcd");
//! let plugin_view = jsep::anonymize(&remote.sdp)?;
//! // What the EchoTest plugin answers.
//! let plugin_answer = jsep::generate_answer(&plugin_view, &AnswerConfig::echotest(), &[])?;
//! // What the core sends back to the browser.
//! let transport = LocalTransport {
//!     ice_ufrag: "efgh".into(),
//!     ice_pwd: "abcdefghijklmnopqrstuv".into(),
//!     fingerprint: "01:02".into(),
//!     public_ip: "192.0.2.2".into(),
//!     candidates: Some(vec!["1 1 udp 2015363327 192.0.2.2 34080 typ host".into()]),
//!     ice_lite: false,
//! };
//! let mut ssrc = 1000;
//! let ctx = MergeContext::for_answer(&remote, transport, &mut || { ssrc += 1; ssrc });
//! let answer = jsep::merge(&plugin_answer, &ctx)?;
//! let text = answer.to_string();
//! assert!(text.contains("a=setup:active\r\n"));
//! assert!(text.contains("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"));
//! assert!(text.ends_with("typ host\r\na=end-of-candidates\r\n"));
//! # Ok::<(), portunus_sdp::SdpError>(())
//! ```
//!
//! Implemented: RFC 8866 §5 (line syntax; `v o s t c b a m` are validated the way Janus does,
//! the rest is kept verbatim), RFC 8829 (JSEP) as Janus applies it, RFC 8843 BUNDLE groups,
//! RFC 8839 candidates and `end-of-candidates`, RFC 8842 `setup`/`fingerprint`, RFC 8285
//! `extmap`, RFC 4588 `apt`, RFC 5576 `ssrc`/`ssrc-group`, RFC 8851 `rid`, RFC 8853
//! `simulcast` (and the pre-RFC `rid=` form), RFC 8830 `msid`, RFC 8841 `sctp-port` and
//! `max-message-size` (plus the legacy `sctpmap`).
//!
//! Out of scope: `m=` kinds other than audio, video and application (Janus rejects them),
//! repeat/zone/key lines beyond keeping them verbatim, SDES `crypto`, ICE candidate
//! gathering or mDNS resolution, codec capability negotiation beyond Janus's codec table.
#![deny(missing_docs)]

pub mod attr;
mod codec;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod janus;
pub mod jsep;
mod parse;
mod write;

use std::fmt;

pub use codec::{CodecName, extension};
pub use error::SdpError;

/// A parsed session description: session-level lines, then media sections, all in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// Session-level lines (`v=` … up to the first `m=`), in order.
    pub session: Vec<Line>,
    /// Media sections in order.
    pub media: Vec<Media>,
}

/// One media section: its `m=` line and the lines that follow it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The `m=` line.
    pub mline: MediaLine,
    /// Every line after `m=` up to the next `m=`, in order.
    pub lines: Vec<Line>,
}

/// One SDP line other than `m=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// An `a=` line.
    Attribute(Attribute),
    /// Any other `<letter>=<value>` line, kept verbatim (`v`, `o`, `s`, `c`, `b`, `t`, …).
    Field(Field),
}

/// An `a=<name>[:<value>]` line (RFC 8866 §5.13), kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name (before the first `:`).
    pub name: String,
    /// The value after the first `:`, if there is one.
    pub value: Option<String>,
}

/// A `<letter>=<value>` line other than `a=` and `m=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The line type letter (`v`, `o`, `s`, `c`, …).
    pub letter: char,
    /// Everything after `=`.
    pub value: String,
}

/// An `m=` line: `m=<media> <port>[/<count>] <proto> <fmt> …` (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// The media type.
    pub kind: MediaKind,
    /// The media type exactly as written (Janus matches it case-insensitively).
    pub kind_text: String,
    /// The port; 0 marks a rejected or disabled m-line (RFC 8829 §5.2.2).
    pub port: u16,
    /// The optional `/<number of ports>`.
    pub port_count: Option<u16>,
    /// The transport protocol, e.g. `UDP/TLS/RTP/SAVPF` or `UDP/DTLS/SCTP`.
    pub proto: String,
    /// The formats: payload types for RTP, `webrtc-datachannel` (or `5000`) for data.
    pub formats: Vec<String>,
}

/// The media types Janus accepts in an `m=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio`
    Audio,
    /// `video`
    Video,
    /// `application` (data channels)
    Application,
}

/// A media direction attribute (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv` (also the meaning of an absent direction).
    SendRecv,
    /// `sendonly`
    SendOnly,
    /// `recvonly`
    RecvOnly,
    /// `inactive`
    Inactive,
}

/// A media identification tag (`a=mid`, RFC 8843 §15).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mid(pub String);

/// An RTP stream identifier (`a=rid`, RFC 8851).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rid(pub String);

/// The `o=` line (RFC 8866 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`, `-` in WebRTC.
    pub username: String,
    /// `<sess-id>`
    pub session_id: u64,
    /// `<sess-version>`
    pub session_version: u64,
    /// `<addrtype>` is `IP6` rather than `IP4`.
    pub ipv6: bool,
    /// `<unicast-address>`
    pub address: String,
}

/// A `c=IN IP4|IP6 <address>` line (RFC 8866 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `IP6` rather than `IP4`.
    pub ipv6: bool,
    /// The connection address (possibly with a TTL or count suffix).
    pub address: String,
}

impl Sdp {
    /// The `o=` line, parsed.
    pub fn origin(&self) -> Option<Origin> {
        field(&self.session, 'o').and_then(Origin::parse)
    }

    /// Replaces the `o=` line (or inserts one after `v=`).
    pub fn set_origin(&mut self, origin: &Origin) {
        set_field(&mut self.session, 'o', origin.to_string(), 1);
    }

    /// The `s=` line's value.
    pub fn session_name(&self) -> Option<&str> {
        field(&self.session, 's')
    }

    /// Replaces the `s=` line (or inserts one after `o=`).
    pub fn set_session_name(&mut self, name: &str) {
        set_field(&mut self.session, 's', name.to_owned(), 2);
    }

    /// The session-level `c=` line, parsed.
    pub fn connection(&self) -> Option<Connection> {
        field(&self.session, 'c').and_then(Connection::parse)
    }

    /// The mids of the first `a=group:BUNDLE` line.
    pub fn bundle_group(&self) -> Option<Vec<&str>> {
        self.attribute_values("group").find_map(|v| {
            let mut parts = v.split_ascii_whitespace();
            parts.next().filter(|s| s.eq_ignore_ascii_case("BUNDLE"))?;
            Some(parts.collect())
        })
    }

    /// The media section with this mid (a missing `a=mid` counts as the m-line index, as in
    /// Janus).
    pub fn media_by_mid(&self, mid: &str) -> Option<&Media> {
        self.media
            .iter()
            .enumerate()
            .find(|(i, m)| m.mid_or_index(*i).0 == mid)
            .map(|(_, m)| m)
    }
}

impl Media {
    /// A media section with only its `m=` line.
    pub fn new(mline: MediaLine) -> Self {
        Self {
            mline,
            lines: Vec::new(),
        }
    }

    /// The media type.
    pub fn kind(&self) -> MediaKind {
        self.mline.kind
    }

    /// The `m=` port (0 = rejected or disabled).
    pub fn port(&self) -> u16 {
        self.mline.port
    }

    /// The `a=mid` value, if any.
    pub fn mid(&self) -> Option<&str> {
        self.attribute_value("mid")
    }

    /// The mid, or the m-line index as a string when there is no `a=mid` (what Janus uses).
    pub fn mid_or_index(&self, index: usize) -> Mid {
        Mid(self.mid().map_or_else(|| index.to_string(), str::to_owned))
    }

    /// The media direction: the last direction attribute, `sendrecv` when there is none.
    pub fn direction(&self) -> Direction {
        self.attributes()
            .filter(|a| a.value.is_none())
            .filter_map(|a| Direction::parse(&a.name))
            .last()
            .unwrap_or(Direction::SendRecv)
    }

    /// Replaces every direction attribute with `direction`, keeping the position of the
    /// first one (or inserting it first when there was none).
    pub fn set_direction(&mut self, direction: Direction) {
        let is_dir = |l: &Line| matches!(l, Line::Attribute(a) if a.value.is_none() && Direction::parse(&a.name).is_some());
        let pos = self.lines.iter().position(is_dir);
        self.lines.retain(|l| !is_dir(l));
        let line = Line::Attribute(Attribute::flag(direction.as_str()));
        let at = pos.unwrap_or_else(|| {
            self.lines
                .iter()
                .take_while(|l| matches!(l, Line::Field(_)))
                .count()
        });
        self.lines.insert(at.min(self.lines.len()), line);
    }

    /// The media-level `c=` line, parsed.
    pub fn connection(&self) -> Option<Connection> {
        field(&self.lines, 'c').and_then(Connection::parse)
    }
}

/// Attribute access shared by the session and by media sections (names compare
/// case-insensitively, as Janus does with `strcasecmp`).
macro_rules! attribute_access {
    ($ty:ty, $field:ident) => {
        impl $ty {
            /// Every attribute, in order.
            pub fn attributes(&self) -> impl Iterator<Item = &Attribute> + '_ {
                self.$field.iter().filter_map(Line::as_attribute)
            }

            /// The first attribute with this name.
            pub fn attribute(&self, name: &str) -> Option<&Attribute> {
                self.attributes().find(|a| a.name.eq_ignore_ascii_case(name))
            }

            /// The value of the first attribute with this name that has a value.
            pub fn attribute_value(&self, name: &str) -> Option<&str> {
                self.attributes().filter(|a| a.name.eq_ignore_ascii_case(name)).find_map(|a| a.value.as_deref())
            }

            /// The values of every attribute with this name, in order.
            pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
                self.attributes().filter(move |a| a.name.eq_ignore_ascii_case(name)).filter_map(|a| a.value.as_deref())
            }

            /// Whether a flag attribute (one without a value) with this name is present.
            pub fn has_flag(&self, name: &str) -> bool {
                self.attributes().any(|a| a.value.is_none() && a.name.eq_ignore_ascii_case(name))
            }

            /// Appends an attribute.
            pub fn push_attribute(&mut self, attribute: Attribute) {
                self.$field.push(Line::Attribute(attribute));
            }

            /// Removes every attribute with this name; returns how many were removed.
            pub fn remove_attributes(&mut self, name: &str) -> usize {
                let before = self.$field.len();
                self.$field.retain(|l| !matches!(l, Line::Attribute(a) if a.name.eq_ignore_ascii_case(name)));
                before - self.$field.len()
            }
        }
    };
}
attribute_access!(Sdp, session);
attribute_access!(Media, lines);

impl Line {
    /// The attribute, if this is an `a=` line.
    pub fn as_attribute(&self) -> Option<&Attribute> {
        match self {
            Self::Attribute(a) => Some(a),
            Self::Field(_) => None,
        }
    }
}

impl Attribute {
    /// `a=<name>:<value>`
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// `a=<name>` (a property attribute without a value).
    pub fn flag(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: None,
        }
    }
}

impl MediaKind {
    /// Parses a media type the way Janus does (case-insensitive; other types are refused).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Audio, Self::Video, Self::Application]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The lowercase SDP token.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Application => "application",
        }
    }
}

impl Direction {
    /// Parses a direction attribute name (case-insensitive, as Janus).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(s))
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction seen from the other side (`sendonly` ↔ `recvonly`).
    pub fn reversed(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            other => other,
        }
    }

    /// Whether the side that wrote this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether the side that wrote this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
}

impl Mid {
    /// The mid as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Rid {
    /// The rid as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Origin {
    /// Parses an `o=` value: `<username> <sess-id> <sess-version> IN IP4|IP6 <address>`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let username = it.next()?.to_owned();
        let session_id = it.next()?.parse().ok()?;
        let session_version = it.next()?.parse().ok()?;
        if it.next()? != "IN" {
            return None;
        }
        let ipv6 = parse_addrtype(it.next()?)?;
        let address = it.next()?.to_owned();
        Some(Self {
            username,
            session_id,
            session_version,
            ipv6,
            address,
        })
    }
}

impl Connection {
    /// Parses a `c=` value: `IN IP4|IP6 <address>`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        if it.next()? != "IN" {
            return None;
        }
        let ipv6 = parse_addrtype(it.next()?)?;
        Some(Self {
            ipv6,
            address: it.next()?.to_owned(),
        })
    }
}

impl fmt::Display for Mid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Mid {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

fn parse_addrtype(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("IP4") {
        Some(false)
    } else if s.eq_ignore_ascii_case("IP6") {
        Some(true)
    } else {
        None
    }
}

fn field(lines: &[Line], letter: char) -> Option<&str> {
    lines.iter().find_map(|l| match l {
        Line::Field(f) if f.letter == letter => Some(f.value.as_str()),
        _ => None,
    })
}

fn set_field(lines: &mut Vec<Line>, letter: char, value: String, default_pos: usize) {
    let existing = lines.iter_mut().find_map(|l| match l {
        Line::Field(f) if f.letter == letter => Some(f),
        _ => None,
    });
    match existing {
        Some(f) => f.value = value,
        None => lines.insert(
            default_pos.min(lines.len()),
            Line::Field(Field { letter, value }),
        ),
    }
}
