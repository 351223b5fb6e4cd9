//! Janus's internal SDP representation (`janus_sdp` in `sdp-utils.c`): what its parser keeps,
//! and how its writer prints it. The JSEP rules (anonymize, merge, answer and offer
//! generation) are defined on this form, so byte-exact output goes through it.
//!
//! It differs from the attribute-preserving [`Sdp`] model on purpose: lines other than
//! `v o s t c b a m` are dropped, media directions are pulled out of the attribute list and
//! always printed first, only the first `b=AS`/`b=TIAS` of a media section survives, and
//! rejected m-lines are printed with format `0` and only their `a=mid`.

use crate::{Attribute, Direction, Field, Line, Media, MediaKind, MediaLine, Sdp, SdpError};

/// Maximum `m=` line length Janus accepts.
const MAX_MLINE_LEN: usize = 200;

/// `janus_sdp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JSdp {
    pub(crate) version: i64,
    pub(crate) o_name: String,
    pub(crate) o_sessid: u64,
    pub(crate) o_version: u64,
    pub(crate) o_ipv4: bool,
    pub(crate) o_addr: String,
    pub(crate) s_name: String,
    pub(crate) t_start: u64,
    pub(crate) t_stop: u64,
    pub(crate) c: Option<JConn>,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) mlines: Vec<JMline>,
}

/// A connection address as Janus keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JConn {
    pub(crate) ipv4: bool,
    pub(crate) addr: String,
}

/// `janus_sdp_mline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JMline {
    pub(crate) kind: MediaKind,
    pub(crate) type_str: String,
    pub(crate) port: u16,
    pub(crate) proto: String,
    pub(crate) fmts: Vec<String>,
    pub(crate) ptypes: Vec<i64>,
    pub(crate) c: Option<JConn>,
    pub(crate) b: Option<(String, u32)>,
    /// `None` is `JANUS_SDP_DEFAULT`: not printed.
    pub(crate) direction: Option<Direction>,
    pub(crate) attributes: Vec<Attribute>,
}

impl JSdp {
    /// `janus_sdp_new`: an empty description with Janus's defaults.
    pub(crate) fn new(name: &str, address: &str, session_id: u64, version: u64) -> Self {
        Self {
            version: 0,
            o_name: "-".to_owned(),
            o_sessid: session_id,
            o_version: version,
            o_ipv4: true,
            o_addr: address.to_owned(),
            s_name: name.to_owned(),
            t_start: 0,
            t_stop: 0,
            c: Some(JConn {
                ipv4: true,
                addr: address.to_owned(),
            }),
            attributes: Vec::new(),
            mlines: Vec::new(),
        }
    }

    /// Reads a model the way Janus would read its text.
    pub(crate) fn from_sdp(sdp: &Sdp) -> Result<Self, SdpError> {
        parse(&sdp.to_string())
    }

    /// `janus_sdp_write`, as a model.
    pub(crate) fn to_sdp(&self) -> Sdp {
        let ip = |v4: bool| if v4 { "IP4" } else { "IP6" };
        let mut session = vec![
            field('v', self.version.to_string()),
            field(
                'o',
                format!(
                    "{} {} {} IN {} {}",
                    self.o_name,
                    self.o_sessid,
                    self.o_version,
                    ip(self.o_ipv4),
                    self.o_addr
                ),
            ),
            field('s', self.s_name.clone()),
            field('t', format!("{} {}", self.t_start, self.t_stop)),
        ];
        if let Some(c) = &self.c {
            session.push(field('c', format!("IN {} {}", ip(c.ipv4), c.addr)));
        }
        session.extend(self.attributes.iter().cloned().map(Line::Attribute));
        let media = self.mlines.iter().map(JMline::to_media).collect();
        Sdp { session, media }
    }
}

impl JMline {
    /// `janus_sdp_mline_create`.
    pub(crate) fn new(
        kind: MediaKind,
        port: u16,
        proto: &str,
        direction: Option<Direction>,
    ) -> Self {
        Self {
            kind,
            type_str: kind.as_str().to_owned(),
            port,
            proto: proto.to_owned(),
            fmts: Vec::new(),
            ptypes: Vec::new(),
            c: None,
            b: None,
            direction,
            attributes: Vec::new(),
        }
    }

    /// Whether the m-line carries a DTLS/SCTP data channel transport.
    pub(crate) fn is_sctp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("DTLS/SCTP")
            || self.proto.eq_ignore_ascii_case("UDP/DTLS/SCTP")
    }

    /// The first attribute value with this name.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .and_then(|a| a.value.as_deref())
    }

    /// `janus_sdp_remove_payload_type` for this m-line: drops the payload type and every
    /// attribute whose value starts with that number (rtpmap, fmtp, rtcp-fb, and anything
    /// else `atoi` reads the same number from).
    pub(crate) fn remove_payload_type(&mut self, pt: i64) {
        self.ptypes.retain(|p| *p != pt);
        self.attributes
            .retain(|a| a.value.as_deref().is_none_or(|v| atoi(v) != pt));
    }

    fn to_media(&self) -> Media {
        let reject = self.port == 0 && self.kind != MediaKind::Application;
        let formats = if reject {
            vec!["0".to_owned()]
        } else if self.proto.contains("RTP") {
            self.ptypes.iter().map(i64::to_string).collect()
        } else {
            self.fmts.clone()
        };
        let mline = MediaLine {
            kind: self.kind,
            kind_text: self.type_str.clone(),
            port: self.port,
            port_count: None,
            proto: self.proto.clone(),
            formats,
        };
        let mut lines = Vec::new();
        if let Some(c) = &self.c {
            lines.push(field(
                'c',
                format!("IN {} {}", if c.ipv4 { "IP4" } else { "IP6" }, c.addr),
            ));
        }
        if let (true, Some((name, value))) = (self.port > 0, &self.b) {
            lines.push(field('b', format!("{name}:{value}")));
        }
        if let Some(d) = self.direction {
            lines.push(Line::Attribute(Attribute::flag(d.as_str())));
        }
        // A rejected or disabled m-line only keeps its mid.
        lines.extend(
            self.attributes
                .iter()
                .filter(|a| self.port > 0 || a.name.eq_ignore_ascii_case("mid"))
                .cloned()
                .map(Line::Attribute),
        );
        Media { mline, lines }
    }
}

fn field(letter: char, value: String) -> Line {
    Line::Field(Field { letter, value })
}

/// `janus_sdp_parse`: validates `text` exactly as Janus 1.1 does and returns what it keeps.
pub(crate) fn parse(text: &str) -> Result<JSdp, SdpError> {
    if !text.starts_with("v=") {
        return Err(SdpError::NotStartingWithV);
    }
    let mut sdp = JSdp {
        version: 0,
        o_name: String::new(),
        o_sessid: 0,
        o_version: 0,
        o_ipv4: true,
        o_addr: String::new(),
        s_name: String::new(),
        t_start: 0,
        t_stop: 0,
        c: None,
        attributes: Vec::new(),
        mlines: Vec::new(),
    };
    let (mut have_o, mut have_s) = (false, false);
    let mut current: Option<JMline> = None;
    for raw in text.split('\n') {
        // Janus cuts each line at its first CR.
        let line = raw.split('\r').next().unwrap_or_default();
        if line.is_empty() {
            continue;
        }
        if line.len() < 3 {
            return Err(SdpError::LineTooShort {
                len: line.len(),
                line: line.to_owned(),
            });
        }
        if line.as_bytes().get(1) != Some(&b'=') {
            return Err(SdpError::MissingEquals(line.to_owned()));
        }
        // The second byte is '=', so the first one is ASCII and these slices are on char
        // boundaries.
        let letter = line.as_bytes()[0];
        let value = &line[2..];
        if let Some(m) = current.as_mut() {
            match letter {
                b'c' => {
                    if m.c.is_some() {
                        return Err(SdpError::MultipleMediaConnection(line.to_owned()));
                    }
                    m.c = Some(parse_connection(line)?);
                    continue;
                }
                b'b' => {
                    parse_media_bandwidth(m, value)?;
                    continue;
                }
                b'a' => {
                    if !value.contains(':')
                        && let Some(d) = Direction::parse(value)
                    {
                        m.direction = Some(d);
                    } else {
                        m.attributes.push(parse_attribute(value)?);
                    }
                    continue;
                }
                b'm' => sdp.mlines.extend(current.take()),
                _ => continue,
            }
        }
        match letter {
            b'v' => {
                sdp.version = Scan::new(value)
                    .int()
                    .ok_or_else(|| SdpError::InvalidVersion(line.to_owned()))?
            }
            b'o' => {
                if have_o {
                    return Err(SdpError::MultipleOrigin(line.to_owned()));
                }
                parse_origin(&mut sdp, line)?;
                have_o = true;
            }
            b's' => {
                if have_s {
                    return Err(SdpError::MultipleSessionName(line.to_owned()));
                }
                sdp.s_name = value.to_owned();
                have_s = true;
            }
            b't' => {
                let mut s = Scan::new(value);
                let (Some(start), Some(stop)) = (s.u64(), s.u64()) else {
                    return Err(SdpError::InvalidTiming(line.to_owned()));
                };
                (sdp.t_start, sdp.t_stop) = (start, stop);
            }
            b'c' => {
                if sdp.c.is_some() {
                    return Err(SdpError::MultipleSessionConnection(line.to_owned()));
                }
                sdp.c = Some(parse_connection(line)?);
            }
            b'a' => sdp.attributes.push(parse_attribute(value)?),
            b'm' => current = Some(parse_mline(line)?),
            _ => {}
        }
    }
    sdp.mlines.extend(current);
    if !have_o || !have_s || sdp.mlines.is_empty() {
        return Err(SdpError::MissingMandatoryLines);
    }
    Ok(sdp)
}

fn parse_origin(sdp: &mut JSdp, line: &str) -> Result<(), SdpError> {
    // sscanf(line, "o=%255s %llu %llu IN %5s %255s", …) == 5
    let mut s = Scan::new(line.get(2..).unwrap_or_default());
    let name = s.word(255);
    let sessid = name.and(s.u64());
    let version = sessid.and(s.u64());
    let addrtype = version.filter(|_| s.literal("IN")).and_then(|_| s.word(5));
    let addr = addrtype.and(s.word(255));
    let (Some(name), Some(sessid), Some(version), Some(addrtype), Some(addr)) =
        (name, sessid, version, addrtype, addr)
    else {
        return Err(SdpError::InvalidOrigin(line.to_owned()));
    };
    sdp.o_ipv4 = match ip_version(addrtype) {
        Some(v4) => v4,
        None => {
            return Err(SdpError::UnsupportedOriginProtocol {
                addrtype: addrtype.to_owned(),
                line: line.to_owned(),
            });
        }
    };
    sdp.o_name = name.to_owned();
    sdp.o_sessid = sessid;
    sdp.o_version = version;
    sdp.o_addr = addr.to_owned();
    Ok(())
}

fn parse_connection(line: &str) -> Result<JConn, SdpError> {
    // sscanf(line, "c=IN %5s %255s", …) == 2
    let mut s = Scan::new(line);
    let addrtype = Some(())
        .filter(|_| s.literal("c=IN"))
        .and_then(|_| s.word(5));
    let addr = addrtype.and(s.word(255));
    let (Some(addrtype), Some(addr)) = (addrtype, addr) else {
        return Err(SdpError::InvalidConnection(line.to_owned()));
    };
    match ip_version(addrtype) {
        Some(ipv4) => Ok(JConn {
            ipv4,
            addr: addr.to_owned(),
        }),
        None => Err(SdpError::UnsupportedConnectionProtocol {
            addrtype: addrtype.to_owned(),
            line: line.to_owned(),
        }),
    }
}

fn parse_media_bandwidth(m: &mut JMline, value: &str) -> Result<(), SdpError> {
    if m.b.is_some() {
        // Janus keeps the first b=AS/b=TIAS and ignores the rest.
        return Ok(());
    }
    let Some((name, bw)) = value.split_once(':').filter(|(_, v)| !v.is_empty()) else {
        return Err(SdpError::InvalidBandwidth(value.to_owned()));
    };
    if name == "AS" || name == "TIAS" {
        // atol() into a guint32.
        m.b = Some((name.to_owned(), atoi(bw) as u32));
    }
    Ok(())
}

fn parse_attribute(value: &str) -> Result<Attribute, SdpError> {
    match value.split_once(':') {
        None => Ok(Attribute::flag(value)),
        Some((_, "")) => Err(SdpError::InvalidAttribute(value.to_owned())),
        Some((name, v)) => Ok(Attribute::new(name, v)),
    }
}

fn parse_mline(line: &str) -> Result<JMline, SdpError> {
    if line.len() > MAX_MLINE_LEN {
        return Err(SdpError::MediaLineTooLong(line.len()));
    }
    // sscanf(line, "m=%31s %hu %63s %*s", type, &port, proto) == 3
    let invalid = || SdpError::InvalidMediaLine(line.to_owned());
    let mut s = Scan::new(line.get(2..).unwrap_or_default());
    let type_str = s.word(31).ok_or_else(invalid)?;
    // %hu stores strtoul's result in 16 bits.
    let port = s.u64().ok_or_else(invalid)? as u16;
    let proto = s.word(63).ok_or_else(invalid)?;
    let kind = MediaKind::parse(type_str).ok_or_else(invalid)?;
    let mut m = JMline::new(kind, port, proto, Some(Direction::SendRecv));
    m.type_str = type_str.to_owned();
    // Formats are the fields after the third, split on single spaces.
    for f in line.get(2..).unwrap_or_default().split(' ').skip(3) {
        m.fmts.push(f.to_owned());
        let pt = atoi(f);
        if pt >= 0 {
            m.ptypes.push(pt);
        }
    }
    if m.fmts.is_empty() || m.ptypes.is_empty() {
        return Err(SdpError::NoFormats(line.to_owned()));
    }
    Ok(m)
}

/// `true` for IP4, `false` for IP6 (case-insensitive), `None` otherwise.
fn ip_version(addrtype: &str) -> Option<bool> {
    if addrtype.eq_ignore_ascii_case("IP4") {
        Some(true)
    } else if addrtype.eq_ignore_ascii_case("IP6") {
        Some(false)
    } else {
        None
    }
}

/// C `atoi`: optional leading whitespace and sign, then digits; 0 when there are none.
/// Saturates instead of overflowing.
pub(crate) fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

/// A small `sscanf` emulation for the conversions Janus's parser uses.
struct Scan<'a> {
    rest: &'a str,
}

impl<'a> Scan<'a> {
    fn new(s: &'a str) -> Self {
        Self { rest: s }
    }

    fn skip_ws(&mut self) {
        self.rest = self
            .rest
            .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    }

    /// `%<max>s`: skips whitespace, then reads up to `max` non-whitespace characters.
    fn word(&mut self, max: usize) -> Option<&'a str> {
        self.skip_ws();
        let end = self
            .rest
            .char_indices()
            .take(max)
            .take_while(|(_, c)| !c.is_ascii_whitespace() && *c != '\x0b')
            .last()
            .map(|(i, c)| i + c.len_utf8())?;
        let (w, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(w)
    }

    /// `%llu`: skips whitespace, optional sign, at least one digit; saturates like
    /// `strtoull` and wraps a leading minus.
    fn u64(&mut self) -> Option<u64> {
        self.skip_ws();
        let (neg, body) = match self.rest.as_bytes().first() {
            Some(b'-') => (true, &self.rest[1..]),
            Some(b'+') => (false, &self.rest[1..]),
            _ => (false, self.rest),
        };
        let len = body.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let (digits, rest) = body.split_at(len);
        self.rest = rest;
        let n = digits.bytes().fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        });
        Some(if neg { n.wrapping_neg() } else { n })
    }

    /// `%d`.
    fn int(&mut self) -> Option<i64> {
        self.skip_ws();
        let body = self.rest.strip_prefix(['-', '+']).unwrap_or(self.rest);
        body.bytes().next().filter(u8::is_ascii_digit)?;
        Some(atoi(self.rest))
    }

    /// A literal in the format: leading whitespace (a format space) then the exact text.
    fn literal(&mut self, lit: &str) -> bool {
        self.skip_ws();
        match self.rest.strip_prefix(lit) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi("96 apt=100"), 96);
        assert_eq!(atoi("  -3x"), -3);
        assert_eq!(atoi("webrtc-datachannel"), 0);
        assert_eq!(atoi(""), 0);
    }

    #[test]
    fn parses_the_minimal_description_with_default_direction() {
        let j = parse(MIN).unwrap();
        assert_eq!(j.o_sessid, 1);
        assert_eq!(j.mlines.len(), 1);
        assert_eq!(j.mlines[0].direction, Some(Direction::SendRecv));
        assert_eq!(j.mlines[0].ptypes, vec![111]);
    }

    #[test]
    fn writer_prints_direction_first_and_rejected_lines_with_only_their_mid() {
        let text = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\na=mid:1\r\na=recvonly\r\n";
        let out = parse(text).unwrap().to_sdp().to_string();
        assert!(
            out.ends_with(
                "m=video 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\na=mid:1\r\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn m_line_port_overflows_like_janus_hu() {
        let text = MIN.replace("m=audio 9 ", "m=audio 65545 ");
        assert_eq!(parse(&text).unwrap().mlines[0].port, 9);
    }

    #[test]
    fn only_first_b_as_or_tias_is_kept() {
        let text = format!("{MIN}b=CT:5\r\nb=AS:300\r\nb=TIAS:1\r\n");
        assert_eq!(
            parse(&text).unwrap().mlines[0].b,
            Some(("AS".to_owned(), 300))
        );
    }
}
