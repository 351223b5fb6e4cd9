//! Typed values of the attributes WebRTC uses, and accessors that read them from a
//! [`Media`] section or the session. Each type parses an attribute *value* (the text after
//! `a=<name>:`) and prints it back with `Display`.

use std::fmt;
use std::net::IpAddr;

use crate::{Direction, Media, Rid, Sdp};

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (`opus`, `VP8`, `rtx`, …).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count, when given.
    pub channels: Option<u16>,
}

/// `a=fmtp:<pt> <parameters>` (RFC 8866 §6.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// Payload type.
    pub payload_type: u8,
    /// The parameters as written.
    pub params: String,
}

/// `a=rtcp-fb:<pt|*> <feedback>` (RFC 4585 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpFb {
    /// Payload type, `None` for `*`.
    pub payload_type: Option<u8>,
    /// The feedback type and parameters (`nack`, `nack pli`, `transport-cc`, …).
    pub feedback: String,
}

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extmap {
    /// Extension id (1-14 one-byte, up to 255 two-byte).
    pub id: u16,
    /// Optional direction.
    pub direction: Option<Direction>,
    /// The extension URI.
    pub uri: String,
    /// Extension attributes after the URI.
    pub attributes: Option<String>,
}

/// `a=fingerprint:<hash function> <fingerprint>` (RFC 8122 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function as written (`sha-256`).
    pub hash: String,
    /// Colon-separated hex bytes.
    pub value: String,
}

/// `a=setup` (RFC 4145 §4, RFC 8842).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: the endpoint initiates the DTLS handshake (DTLS client).
    Active,
    /// `passive`: the endpoint waits for the handshake (DTLS server).
    Passive,
    /// `actpass`: either (offers).
    ActPass,
    /// `holdconn`
    HoldConn,
}

/// An ICE candidate (RFC 8839 §5.1), from `a=candidate` or a trickle message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Foundation.
    pub foundation: String,
    /// Component id (1 = RTP; 2 = RTCP, unused with rtcp-mux).
    pub component: u16,
    /// Transport as written (`udp`, `UDP`, `tcp`).
    pub transport: String,
    /// Priority.
    pub priority: u32,
    /// Connection address: IPv4, IPv6 or an mDNS `.local` name, kept as a string.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Candidate type.
    pub kind: CandidateType,
    /// `raddr`
    pub related_address: Option<String>,
    /// `rport`
    pub related_port: Option<u16>,
    /// `tcptype` (RFC 6544).
    pub tcp_type: Option<String>,
    /// Other extension attributes (`generation`, `ufrag`, `network-cost`, …) in order.
    pub extensions: Vec<(String, String)>,
}

/// `typ` of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateType {
    /// `host`
    Host,
    /// `srflx`
    ServerReflexive,
    /// `prflx`
    PeerReflexive,
    /// `relay`
    Relay,
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcLine {
    /// The SSRC.
    pub ssrc: u32,
    /// Source attribute name (`cname`, `msid`, …).
    pub name: String,
    /// Its value.
    pub value: Option<String>,
}

/// `a=ssrc-group:<semantics> <ssrc> …` (RFC 5576 §4.2): `FID` (RTX), `SIM`, `FEC-FR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcGroup {
    /// Semantics token.
    pub semantics: String,
    /// SSRCs in order.
    pub ssrcs: Vec<u32>,
}

/// `a=rid:<id> <send|recv> [<restrictions>]` (RFC 8851 §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RidDescription {
    /// The rid.
    pub rid: Rid,
    /// `send` (true) or `recv` (false).
    pub send: bool,
    /// `pt=` restriction.
    pub payload_types: Vec<u8>,
    /// Other restrictions (`max-width=1280`, …) in order.
    pub restrictions: Vec<(String, Option<String>)>,
}

/// `a=simulcast` (RFC 8853 §5.1), or the pre-RFC form with `rid=` lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simulcast {
    /// Send streams in preference order; each entry lists alternatives.
    pub send: Vec<Vec<SimulcastStream>>,
    /// Receive streams.
    pub recv: Vec<Vec<SimulcastStream>>,
    /// Written with the draft `rid=` syntax (old Firefox).
    pub legacy: bool,
}

/// One rid in a simulcast list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastStream {
    /// The rid.
    pub rid: Rid,
    /// `~`: initially paused.
    pub paused: bool,
}

/// `a=msid:<stream id> [<track id>]` (RFC 8830 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msid {
    /// MediaStream id (`-` for none).
    pub stream: String,
    /// Track id (application data).
    pub track: Option<String>,
}

/// `a=group:<semantics> <mid> …` (RFC 5888).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `BUNDLE`, `LS`, …
    pub semantics: String,
    /// Member mids.
    pub mids: Vec<String>,
}

/// Legacy `a=sctpmap:<port> <protocol> [<streams>]` (draft-ietf-mmusic-sctp-sdp-05).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sctpmap {
    /// SCTP port.
    pub port: u16,
    /// `webrtc-datachannel`
    pub protocol: String,
    /// Number of streams.
    pub streams: Option<u32>,
}

/// `max-message-size` when the attribute is absent (RFC 8841 §6.1).
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 65_536;

impl Rtpmap {
    /// Parses `<pt> <encoding>/<clock>[/<channels>]`.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.split_once(' ')?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?.to_owned();
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = parts.next().map(str::parse).transpose().ok()?;
        Some(Self {
            payload_type: pt.parse().ok()?,
            encoding,
            clock_rate,
            channels,
        })
    }
}

impl Fmtp {
    /// Parses `<pt> <parameters>`.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, params) = value.split_once(' ')?;
        Some(Self {
            payload_type: pt.parse().ok()?,
            params: params.to_owned(),
        })
    }

    /// A `key=value` parameter (parameters are `;`-separated; keys compare
    /// case-insensitively).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then_some(v.trim())
        })
    }

    /// The RTX `apt` (associated payload type, RFC 4588 §8.6).
    pub fn apt(&self) -> Option<u8> {
        self.param("apt")?.parse().ok()
    }
}

impl RtcpFb {
    /// Parses `<pt|*> <feedback>`.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, feedback) = value.split_once(' ')?;
        let payload_type = if pt == "*" {
            None
        } else {
            Some(pt.parse().ok()?)
        };
        Some(Self {
            payload_type,
            feedback: feedback.trim().to_owned(),
        })
    }
}

impl Extmap {
    /// Parses `<id>[/<direction>] <uri> [<attributes>]`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.splitn(3, ' ');
        let id_dir = it.next()?;
        let (id, direction) = match id_dir.split_once('/') {
            Some((id, d)) => (id, Some(Direction::parse(d)?)),
            None => (id_dir, None),
        };
        let uri = it.next().filter(|u| !u.is_empty())?.to_owned();
        let attributes = it.next().map(str::to_owned);
        Some(Self {
            id: id.parse().ok()?,
            direction,
            uri,
            attributes,
        })
    }
}

impl Fingerprint {
    /// Parses `<hash> <value>`.
    pub fn parse(value: &str) -> Option<Self> {
        let (hash, v) = value.trim().split_once(' ')?;
        Some(Self {
            hash: hash.to_owned(),
            value: v.trim().to_owned(),
        })
    }

    /// Whether the hash function is one Janus uses (`sha-256`, or `sha-1` which it tolerates).
    pub fn is_supported(&self) -> bool {
        self.hash.eq_ignore_ascii_case("sha-256") || self.hash.eq_ignore_ascii_case("sha-1")
    }
}

impl Setup {
    /// Parses a setup value (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Active, Self::Passive, Self::ActPass, Self::HoldConn]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::ActPass => "actpass",
            Self::HoldConn => "holdconn",
        }
    }
}

impl Candidate {
    /// Parses a candidate, with or without the `candidate:` prefix trickle messages carry.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.strip_prefix("candidate:").unwrap_or(value);
        let mut it = value.split_ascii_whitespace();
        let foundation = it.next()?.to_owned();
        let component = it.next()?.parse().ok()?;
        let transport = it.next()?.to_owned();
        let priority = it.next()?.parse().ok()?;
        let address = it.next()?.to_owned();
        let port = it.next()?.parse().ok()?;
        if it.next()? != "typ" {
            return None;
        }
        let kind = CandidateType::parse(it.next()?)?;
        let mut c = Self {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            kind,
            related_address: None,
            related_port: None,
            tcp_type: None,
            extensions: Vec::new(),
        };
        while let Some(name) = it.next() {
            let value = it.next()?;
            match name {
                "raddr" => c.related_address = Some(value.to_owned()),
                "rport" => c.related_port = Some(value.parse().ok()?),
                "tcptype" => c.tcp_type = Some(value.to_owned()),
                _ => c.extensions.push((name.to_owned(), value.to_owned())),
            }
        }
        Some(c)
    }

    /// Whether the address is an mDNS name (`….local`), which Janus resolves before use.
    pub fn is_mdns(&self) -> bool {
        self.address.to_ascii_lowercase().ends_with(".local")
    }

    /// The address as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }
}

impl CandidateType {
    /// Parses a `typ` value.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Host,
            Self::ServerReflexive,
            Self::PeerReflexive,
            Self::Relay,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// The `typ` token.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::ServerReflexive => "srflx",
            Self::PeerReflexive => "prflx",
            Self::Relay => "relay",
        }
    }
}

impl SsrcLine {
    /// Parses `<ssrc> <attribute>[:<value>]`.
    pub fn parse(value: &str) -> Option<Self> {
        let (ssrc, attr) = value.split_once(' ')?;
        let (name, value) = match attr.split_once(':') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (attr, None),
        };
        Some(Self {
            ssrc: ssrc.parse().ok()?,
            name: name.to_owned(),
            value,
        })
    }
}

impl SsrcGroup {
    /// Parses `<semantics> <ssrc> …`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let semantics = it.next()?.to_owned();
        let ssrcs = it.map(str::parse).collect::<Result<Vec<u32>, _>>().ok()?;
        Some(Self { semantics, ssrcs })
    }
}

impl RidDescription {
    /// Parses `<id> <send|recv> [<restriction>;…]`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let rid = Rid(it.next()?.to_owned());
        let send = match it.next()? {
            "send" => true,
            "recv" => false,
            _ => return None,
        };
        let mut payload_types = Vec::new();
        let mut restrictions = Vec::new();
        for r in it
            .next()
            .unwrap_or_default()
            .split(';')
            .filter(|r| !r.is_empty())
        {
            match r.split_once('=') {
                Some(("pt", pts)) => {
                    payload_types = pts
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<Vec<u8>, _>>()
                        .ok()?;
                }
                Some((k, v)) => restrictions.push((k.to_owned(), Some(v.to_owned()))),
                None => restrictions.push((r.to_owned(), None)),
            }
        }
        Some(Self {
            rid,
            send,
            payload_types,
            restrictions,
        })
    }
}

impl Simulcast {
    /// Parses `send <list> [recv <list>]` (either order), and the draft form
    /// ` send rid=<list>`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut sc = Self::default();
        let mut it = value.split_ascii_whitespace();
        while let Some(dir) = it.next() {
            let mut list = it.next()?;
            if let Some(l) = list.strip_prefix("rid=") {
                sc.legacy = true;
                list = l;
            }
            let streams = list
                .split(';')
                .map(|alts| {
                    alts.split(',')
                        .map(|r| {
                            let (paused, id) =
                                r.strip_prefix('~').map_or((false, r), |id| (true, id));
                            (!id.is_empty()).then(|| SimulcastStream {
                                rid: Rid(id.to_owned()),
                                paused,
                            })
                        })
                        .collect::<Option<Vec<_>>>()
                })
                .collect::<Option<Vec<_>>>()?;
            match dir {
                "send" if sc.send.is_empty() => sc.send = streams,
                "recv" if sc.recv.is_empty() => sc.recv = streams,
                _ => return None,
            }
        }
        (!sc.send.is_empty() || !sc.recv.is_empty()).then_some(sc)
    }
}

impl Msid {
    /// Parses `<stream> [<track>]`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let stream = it.next()?.to_owned();
        Some(Self {
            stream,
            track: it.next().map(str::to_owned),
        })
    }
}

impl Group {
    /// Parses `<semantics> <mid> …`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let semantics = it.next()?.to_owned();
        Some(Self {
            semantics,
            mids: it.map(str::to_owned).collect(),
        })
    }
}

impl Sctpmap {
    /// Parses `<port> <protocol> [<streams>]`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut it = value.split_ascii_whitespace();
        let port = it.next()?.parse().ok()?;
        let protocol = it.next()?.to_owned();
        let streams = it.next().map(str::parse).transpose().ok()?;
        Some(Self {
            port,
            protocol,
            streams,
        })
    }
}

/// Typed reads of session-level attributes.
impl Sdp {
    /// Every `a=group` line.
    pub fn groups(&self) -> Vec<Group> {
        self.attribute_values("group")
            .filter_map(Group::parse)
            .collect()
    }

    /// The session-level `a=fingerprint`.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.attribute_value("fingerprint")
            .and_then(Fingerprint::parse)
    }

    /// The session-level `a=setup`.
    pub fn setup(&self) -> Option<Setup> {
        self.attribute_value("setup").and_then(Setup::parse)
    }
}

/// Typed reads of media-level attributes.
impl Media {
    /// Every parseable `a=rtpmap`, in order.
    pub fn rtpmaps(&self) -> Vec<Rtpmap> {
        self.attribute_values("rtpmap")
            .filter_map(Rtpmap::parse)
            .collect()
    }

    /// The `a=fmtp` for a payload type.
    pub fn fmtp(&self, payload_type: u8) -> Option<Fmtp> {
        self.attribute_values("fmtp")
            .filter_map(Fmtp::parse)
            .find(|f| f.payload_type == payload_type)
    }

    /// The `a=rtcp-fb` feedback types for a payload type (including `*` lines), in order.
    pub fn rtcp_fb(&self, payload_type: u8) -> Vec<String> {
        self.attribute_values("rtcp-fb")
            .filter_map(RtcpFb::parse)
            .filter(|f| f.payload_type.is_none_or(|p| p == payload_type))
            .map(|f| f.feedback)
            .collect()
    }

    /// Every parseable `a=extmap`, in order.
    pub fn extmaps(&self) -> Vec<Extmap> {
        self.attribute_values("extmap")
            .filter_map(Extmap::parse)
            .collect()
    }

    /// Every parseable `a=candidate`, in order.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.attribute_values("candidate")
            .filter_map(Candidate::parse)
            .collect()
    }

    /// Every parseable `a=ssrc`, in order.
    pub fn ssrc_lines(&self) -> Vec<SsrcLine> {
        self.attribute_values("ssrc")
            .filter_map(SsrcLine::parse)
            .collect()
    }

    /// Every parseable `a=ssrc-group`, in order.
    pub fn ssrc_groups(&self) -> Vec<SsrcGroup> {
        self.attribute_values("ssrc-group")
            .filter_map(SsrcGroup::parse)
            .collect()
    }

    /// Every parseable `a=rid`, in order.
    pub fn rids(&self) -> Vec<RidDescription> {
        self.attribute_values("rid")
            .filter_map(RidDescription::parse)
            .collect()
    }

    /// The `a=simulcast` attribute.
    pub fn simulcast(&self) -> Option<Simulcast> {
        self.attribute_value("simulcast").and_then(Simulcast::parse)
    }

    /// The `a=msid` attribute.
    pub fn msid(&self) -> Option<Msid> {
        self.attribute_value("msid").and_then(Msid::parse)
    }

    /// `a=sctp-port`, or the port of a legacy `a=sctpmap`.
    pub fn sctp_port(&self) -> Option<u16> {
        self.attribute_value("sctp-port")
            .and_then(|p| p.trim().parse().ok())
            .or_else(|| self.sctpmap().map(|m| m.port))
    }

    /// `a=max-message-size`, or 65536 for a data m-line without it (RFC 8841 §6.1).
    pub fn max_message_size(&self) -> Option<u64> {
        match self.attribute_value("max-message-size") {
            Some(v) => v.trim().parse().ok(),
            None => {
                (self.kind() == crate::MediaKind::Application).then_some(DEFAULT_MAX_MESSAGE_SIZE)
            }
        }
    }

    /// The legacy `a=sctpmap`.
    pub fn sctpmap(&self) -> Option<Sctpmap> {
        self.attribute_value("sctpmap").and_then(Sctpmap::parse)
    }

    /// The media-level `a=fingerprint`.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.attribute_value("fingerprint")
            .and_then(Fingerprint::parse)
    }

    /// The media-level `a=setup`.
    pub fn setup(&self) -> Option<Setup> {
        self.attribute_value("setup").and_then(Setup::parse)
    }
}

impl fmt::Display for Rtpmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        match self.channels {
            Some(c) => write!(f, "/{c}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Fmtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.payload_type, self.params)
    }
}

impl fmt::Display for RtcpFb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.payload_type {
            Some(pt) => write!(f, "{pt} {}", self.feedback),
            None => write!(f, "* {}", self.feedback),
        }
    }
}

impl fmt::Display for Extmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(d) = self.direction {
            write!(f, "/{}", d.as_str())?;
        }
        write!(f, " {}", self.uri)?;
        match &self.attributes {
            Some(a) => write!(f, " {a}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash, self.value)
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(a) = &self.related_address {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.related_port {
            write!(f, " rport {p}")?;
        }
        if let Some(t) = &self.tcp_type {
            write!(f, " tcptype {t}")?;
        }
        for (k, v) in &self.extensions {
            write!(f, " {k} {v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SsrcLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.ssrc, self.name)?;
        match &self.value {
            Some(v) => write!(f, ":{v}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for SsrcGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semantics)?;
        for s in &self.ssrcs {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RidDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.rid.as_str(),
            if self.send { "send" } else { "recv" }
        )?;
        let mut sep = " ";
        if !self.payload_types.is_empty() {
            let pts: Vec<String> = self.payload_types.iter().map(u8::to_string).collect();
            write!(f, "{sep}pt={}", pts.join(","))?;
            sep = ";";
        }
        for (k, v) in &self.restrictions {
            match v {
                Some(v) => write!(f, "{sep}{k}={v}")?,
                None => write!(f, "{sep}{k}")?,
            }
            sep = ";";
        }
        Ok(())
    }
}

impl fmt::Display for Simulcast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |streams: &[Vec<SimulcastStream>]| {
            streams
                .iter()
                .map(|alts| {
                    alts.iter()
                        .map(|s| format!("{}{}", if s.paused { "~" } else { "" }, s.rid.as_str()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect::<Vec<_>>()
                .join(";")
        };
        let prefix = if self.legacy { "rid=" } else { "" };
        let mut parts = Vec::new();
        if !self.send.is_empty() {
            parts.push(format!("send {prefix}{}", list(&self.send)));
        }
        if !self.recv.is_empty() {
            parts.push(format!("recv {prefix}{}", list(&self.recv)));
        }
        f.write_str(&parts.join(" "))
    }
}

impl fmt::Display for Msid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stream)?;
        match &self.track {
            Some(t) => write!(f, " {t}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semantics)?;
        for m in &self.mids {
            write!(f, " {m}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Sctpmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.port, self.protocol)?;
        match self.streams {
            Some(s) => write!(f, " {s}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_with_and_without_channels() {
        let r = Rtpmap::parse("111 opus/48000/2").unwrap();
        assert_eq!(
            (
                r.payload_type,
                r.encoding.as_str(),
                r.clock_rate,
                r.channels
            ),
            (111, "opus", 48000, Some(2))
        );
        assert_eq!(Rtpmap::parse("96 VP8/90000").unwrap().channels, None);
        assert_eq!(r.to_string(), "111 opus/48000/2");
        assert!(Rtpmap::parse("x VP8/90000").is_none());
    }

    #[test]
    fn fmtp_reads_apt_and_params() {
        let f = Fmtp::parse("97 apt=96").unwrap();
        assert_eq!(f.apt(), Some(96));
        let f = Fmtp::parse("111 minptime=10;useinbandfec=1").unwrap();
        assert_eq!(f.param("useinbandfec"), Some("1"));
        assert_eq!(f.apt(), None);
    }

    #[test]
    fn extmap_with_direction_and_attributes() {
        let e = Extmap::parse("9/sendonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id").unwrap();
        assert_eq!((e.id, e.direction), (9, Some(Direction::SendOnly)));
        let e = Extmap::parse("4 urn:x attr1 attr2").unwrap();
        assert_eq!(e.attributes.as_deref(), Some("attr1 attr2"));
        assert_eq!(e.to_string(), "4 urn:x attr1 attr2");
    }

    #[test]
    fn candidate_with_mdns_and_extensions() {
        let c = Candidate::parse("2614447551 1 udp 2113937151 ae0a8dbb-45ac-455d-b579-c6c31b8fe1a5.local 60562 typ host generation 0 network-cost 999").unwrap();
        assert!(c.is_mdns());
        assert_eq!(c.ip(), None);
        assert_eq!(
            c.extensions,
            vec![
                ("generation".into(), "0".into()),
                ("network-cost".into(), "999".into())
            ]
        );
        let c = Candidate::parse("candidate:5 1 UDP 8331263 34.203.250.103 46016 typ relay raddr 34.203.250.103 rport 46016").unwrap();
        assert_eq!(c.kind, CandidateType::Relay);
        assert_eq!(c.related_port, Some(46016));
        assert_eq!(
            c.to_string(),
            "5 1 UDP 8331263 34.203.250.103 46016 typ relay raddr 34.203.250.103 rport 46016"
        );
        let c = Candidate::parse("1 1 udp 2122260223 2001:db8::1 54400 typ host tcptype passive")
            .unwrap();
        assert_eq!(c.ip(), "2001:db8::1".parse().ok());
        assert_eq!(c.tcp_type.as_deref(), Some("passive"));
        assert!(Candidate::parse("1 1 udp 1 1.2.3.4 5 host").is_none());
    }

    #[test]
    fn simulcast_rfc_and_legacy_forms() {
        let s = Simulcast::parse("send h;~m;l").unwrap();
        assert_eq!(s.send.len(), 3);
        assert!(s.send[1][0].paused);
        assert!(!s.legacy);
        assert_eq!(s.to_string(), "send h;~m;l");
        let s = Simulcast::parse(" send rid=a;b recv rid=c").unwrap();
        assert!(s.legacy);
        assert_eq!(s.recv[0][0].rid.as_str(), "c");
        let s = Simulcast::parse("recv 1;2,3").unwrap();
        assert_eq!(s.recv[1].len(), 2);
        assert!(Simulcast::parse("send").is_none());
        assert!(Simulcast::parse("send a send b").is_none());
    }

    #[test]
    fn rid_with_restrictions() {
        let r = RidDescription::parse("h send pt=96,97;max-width=1280;max-height=720").unwrap();
        assert_eq!(r.payload_types, vec![96, 97]);
        assert_eq!(r.restrictions.len(), 2);
        assert!(r.send);
        assert_eq!(
            r.to_string(),
            "h send pt=96,97;max-width=1280;max-height=720"
        );
        assert!(!RidDescription::parse("l recv").unwrap().send);
    }

    #[test]
    fn ssrc_lines_and_groups() {
        let s = SsrcLine::parse("2162341691 msid:stream track").unwrap();
        assert_eq!(
            (s.ssrc, s.name.as_str(), s.value.as_deref()),
            (2_162_341_691, "msid", Some("stream track"))
        );
        let g = SsrcGroup::parse("FID 1 2").unwrap();
        assert_eq!(g.ssrcs, vec![1, 2]);
    }

    #[test]
    fn sctpmap_and_setup() {
        let m = Sctpmap::parse("5000 webrtc-datachannel 256").unwrap();
        assert_eq!((m.port, m.streams), (5000, Some(256)));
        assert_eq!(Setup::parse("ACTPASS"), Some(Setup::ActPass));
    }
}
