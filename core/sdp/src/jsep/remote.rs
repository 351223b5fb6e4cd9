//! What the Janus core reads from a client's SDP (`janus_sdp_preparse` and
//! `janus_sdp_process_remote` in `sdp.c`).

use crate::attr::{
    Candidate, Extmap, Fingerprint, Fmtp, Msid, RidDescription, Rtpmap, Sctpmap, Setup, Simulcast,
    SsrcGroup, SsrcLine,
};
use crate::jsep::SdpType;
use crate::{Direction, Media, MediaKind, Mid, Rid, Sdp, SdpError, extension};

/// The longest `a=mid` Janus accepts.
const MAX_MID_LEN: usize = 16;

/// The remote side of a negotiation, as the Janus core understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDescription {
    /// Offer or answer.
    pub sdp_type: SdpType,
    /// The description as parsed (unmodified).
    pub sdp: Sdp,
    /// ICE ufrag: the first m-line's, else the session-level one.
    pub ice_ufrag: String,
    /// ICE password, same rule.
    pub ice_pwd: String,
    /// `a=ice-lite` at session level.
    pub ice_lite: bool,
    /// `a=ice-options` tokens (session level, else first m-line).
    pub ice_options: Vec<String>,
    /// The DTLS fingerprint (sha-256, or sha-1 which Janus tolerates): the first m-line's,
    /// else the session-level one. `None` only with [`RemoteOptions::require_fingerprint`]
    /// off.
    pub fingerprint: Option<Fingerprint>,
    /// The `a=setup` the peer wrote (last media-level one, else session-level).
    pub setup: Option<Setup>,
    /// The DTLS role Janus takes towards this peer.
    pub dtls_role: DtlsRole,
    /// Candidates of the first m-line (the BUNDLE transport Janus uses), in order.
    pub candidates: Vec<Candidate>,
    /// The first m-line (or the session) has `a=end-of-candidates`.
    pub end_of_candidates: bool,
    /// The mids of the first `a=group:BUNDLE`.
    pub bundle: Option<Vec<Mid>>,
    /// Session-level `a=extmap-allow-mixed`.
    pub extmap_allow_mixed: bool,
    /// Some m-line maps an RTX payload type (`a=fmtp:<rtx> apt=<pt>`): RFC 4588 is on for
    /// this PeerConnection. Without it Janus retransmits on the original SSRC.
    pub rfc4588: bool,
    /// The transport profile of the first audio/video m-line (Janus reuses it in its
    /// answers).
    pub rtp_profile: Option<String>,
    /// The `jsep.rid_order` the description was read with.
    pub rid_order: RidOrder,
    /// One entry per m-line, in order.
    pub media: Vec<RemoteMedia>,
}

/// Options for reading a remote description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteOptions {
    /// `jsep.rid_order`: which rid is the highest quality.
    pub rid_order: RidOrder,
    /// Refuse a description without a usable fingerprint (Janus does unless
    /// `no_webrtc_encryption`).
    pub require_fingerprint: bool,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            rid_order: RidOrder::Hml,
            require_fingerprint: true,
        }
    }
}

/// `jsep.rid_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RidOrder {
    /// `hml` (default): the first rid is the highest quality.
    #[default]
    Hml,
    /// `lmh`: the first rid is the lowest quality.
    Lmh,
}

/// The DTLS role Janus plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Janus connects (`a=setup:active` in its answer).
    Client,
    /// Janus accepts (`a=setup:passive` in its answer).
    Server,
}

/// One m-line of the remote description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// m-line index.
    pub index: usize,
    /// Media type.
    pub kind: MediaKind,
    /// Port after Janus's pre-parse (a first m-line or a `bundle-only` m-line with port 0
    /// counts as enabled, port 9); 0 means rejected.
    pub port: u16,
    /// Transport protocol.
    pub proto: String,
    /// `a=bundle-only`.
    pub bundle_only: bool,
    /// `a=mid`, or the index when absent.
    pub mid: Mid,
    /// Direction written by the peer.
    pub direction: Direction,
    /// Every format of the `m=` line, in order, with its rtpmap/fmtp/rtcp-fb.
    pub codecs: Vec<Codec>,
    /// RTX mappings `(rtx payload type, associated payload type)` in `fmtp` order.
    pub rtx: Vec<(u8, u8)>,
    /// Some `a=rtcp-fb` asks for NACK (Janus then retransmits).
    pub nack: bool,
    /// Header extensions.
    pub extmaps: Vec<Extmap>,
    /// `a=ssrc` lines.
    pub ssrcs: Vec<SsrcLine>,
    /// `a=ssrc-group` lines.
    pub ssrc_groups: Vec<SsrcGroup>,
    /// `a=rid` lines.
    pub rids: Vec<RidDescription>,
    /// `a=simulcast`.
    pub simulcast: Option<Simulcast>,
    /// `a=msid`.
    pub msid: Option<Msid>,
    /// Janus's simulcast view: the rid of substream 0 (lowest) to 2 (highest), from the `a=rid`
    /// lines in the `rid_order`; at most three.
    pub simulcast_rids: [Option<Rid>; 3],
    /// Which of [`Self::simulcast_rids`] the `a=simulcast` send list marks paused (`~`).
    pub paused_rids: [bool; 3],
    /// The peer's SSRCs per substream as Janus maps them without rids (plain `a=ssrc`,
    /// `ssrc-group:SIM`, `ssrc-group:FID`).
    pub peer_ssrcs: [Option<u32>; 3],
    /// The RTX SSRC of each of [`Self::peer_ssrcs`] (`ssrc-group:FID`).
    pub peer_rtx_ssrcs: [Option<u32>; 3],
    /// With rid simulcast, the first `a=ssrc` (Janus's fallback if rids are not negotiated).
    pub fallback_ssrc: Option<u32>,
    /// `a=sctp-port` (or the legacy `a=sctpmap` port).
    pub sctp_port: Option<u16>,
    /// `a=max-message-size`, 65536 for a data m-line without it (RFC 8841 §6.1).
    pub max_message_size: Option<u64>,
    /// Legacy `a=sctpmap`.
    pub sctpmap: Option<Sctpmap>,
    /// Media-level `a=ice-ufrag`.
    pub ice_ufrag: Option<String>,
    /// Media-level `a=ice-pwd`.
    pub ice_pwd: Option<String>,
    /// Candidates in this m-line.
    pub candidates: Vec<Candidate>,
    /// `a=end-of-candidates` in this m-line.
    pub end_of_candidates: bool,
}

/// One source of an m-line: the `a=ssrc` attributes of one SSRC, gathered (RFC 5576 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The SSRC.
    pub ssrc: u32,
    /// `cname`
    pub cname: Option<String>,
    /// `msid` (legacy per-SSRC form).
    pub msid: Option<Msid>,
    /// Every attribute in order, including `cname` and `msid`.
    pub attributes: Vec<(String, Option<String>)>,
}

/// One format of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name from `a=rtpmap` (or the RFC 3551 static assignment).
    pub name: String,
    /// Clock rate.
    pub clock_rate: u32,
    /// Channels, when given.
    pub channels: Option<u16>,
    /// `a=fmtp` parameters.
    pub fmtp: Option<String>,
    /// `a=rtcp-fb` feedback for this payload type (and `*`).
    pub rtcp_fb: Vec<String>,
    /// The RTX payload type associated with this one.
    pub rtx_payload_type: Option<u8>,
}

impl RemoteDescription {
    /// Parses and checks a client SDP with the default options (rid order `hml`,
    /// fingerprint required).
    ///
    /// # Errors
    ///
    /// Any [`SdpError`] Janus would report for this text; see [`SdpError::janus_reason`].
    pub fn parse(text: &str, sdp_type: SdpType) -> Result<Self, SdpError> {
        Self::parse_with(text, sdp_type, RemoteOptions::default())
    }

    /// Parses and checks a client SDP.
    ///
    /// # Errors
    ///
    /// Syntax errors; pre-parse refusals ([`SdpError::MidTooLong`] for an enabled audio/video
    /// m-line, [`SdpError::MissingValue`] for `a=mid`/`a=setup` without value); processing
    /// errors ([`SdpError::InvalidMsid`], [`SdpError::RemoteMidTooLong`],
    /// [`SdpError::MissingMandatoryInformation`] when the first m-line has no ICE
    /// credentials or fingerprint).
    pub fn parse_with(
        text: &str,
        sdp_type: SdpType,
        options: RemoteOptions,
    ) -> Result<Self, SdpError> {
        Self::from_sdp(Sdp::parse(text)?, sdp_type, options)
    }

    /// Checks an already parsed description (see [`Self::parse_with`]).
    ///
    /// # Errors
    ///
    /// As [`Self::parse_with`], without the syntax errors.
    pub fn from_sdp(sdp: Sdp, sdp_type: SdpType, options: RemoteOptions) -> Result<Self, SdpError> {
        preparse(&sdp, sdp_type)?;
        let mut ufrag = sdp.attribute_value("ice-ufrag").map(str::to_owned);
        let mut pwd = sdp.attribute_value("ice-pwd").map(str::to_owned);
        let mut fingerprint = sdp
            .attribute_values("fingerprint")
            .filter_map(Fingerprint::parse)
            .filter(Fingerprint::is_supported)
            .last();
        let mut media = Vec::with_capacity(sdp.media.len());
        for (index, m) in sdp.media.iter().enumerate() {
            for mid in m.attribute_values("mid") {
                if mid.len() > MAX_MID_LEN {
                    return Err(SdpError::RemoteMidTooLong {
                        mline: index,
                        len: mid.len(),
                    });
                }
            }
            if m.attribute_values("msid")
                .any(|v| v.split_ascii_whitespace().count() < 2)
            {
                return Err(SdpError::InvalidMsid(index));
            }
            if index == 0 {
                // The first m-line's values override the session-level ones.
                if let Some(v) = m.attribute_values("ice-ufrag").last() {
                    ufrag = Some(v.to_owned());
                }
                if let Some(v) = m.attribute_values("ice-pwd").last() {
                    pwd = Some(v.to_owned());
                }
                if let Some(f) = m
                    .attribute_values("fingerprint")
                    .filter_map(Fingerprint::parse)
                    .filter(Fingerprint::is_supported)
                    .last()
                {
                    fingerprint = Some(f);
                }
                if ufrag.is_none()
                    || pwd.is_none()
                    || (options.require_fingerprint && fingerprint.is_none())
                {
                    return Err(SdpError::MissingMandatoryInformation);
                }
            }
            media.push(RemoteMedia::read(index, m, options.rid_order));
        }
        let (Some(ice_ufrag), Some(ice_pwd)) = (ufrag, pwd) else {
            return Err(SdpError::MissingMandatoryInformation);
        };
        // Every media-level setup overrides the previous one (holdconn changes nothing).
        let roles =
            |it: &mut dyn Iterator<Item = Setup>| it.filter(|s| *s != Setup::HoldConn).last();
        let setup = roles(
            &mut sdp
                .media
                .iter()
                .flat_map(|m| m.attribute_values("setup"))
                .filter_map(Setup::parse),
        )
        .or_else(|| roles(&mut sdp.attribute_values("setup").filter_map(Setup::parse)));
        let dtls_role = match setup {
            Some(Setup::Active) => DtlsRole::Server,
            _ => DtlsRole::Client,
        };
        let ice_options = sdp
            .attribute_value("ice-options")
            .or_else(|| {
                sdp.media
                    .first()
                    .and_then(|m| m.attribute_value("ice-options"))
            })
            .map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let first = media.first();
        Ok(Self {
            sdp_type,
            ice_ufrag,
            ice_pwd,
            ice_lite: sdp.has_flag("ice-lite"),
            ice_options,
            fingerprint,
            setup,
            dtls_role,
            candidates: first.map(|m| m.candidates.clone()).unwrap_or_default(),
            end_of_candidates: sdp.has_flag("end-of-candidates")
                || first.is_some_and(|m| m.end_of_candidates),
            bundle: sdp
                .bundle_group()
                .map(|g| g.into_iter().map(Mid::from).collect()),
            extmap_allow_mixed: sdp.has_flag("extmap-allow-mixed"),
            rfc4588: media.iter().any(|m| !m.rtx.is_empty()),
            rtp_profile: media
                .iter()
                .find(|m| m.kind != MediaKind::Application)
                .map(|m| m.proto.clone()),
            rid_order: options.rid_order,
            media,
            sdp,
        })
    }

    /// The m-line with this mid.
    pub fn media_by_mid(&self, mid: &str) -> Option<&RemoteMedia> {
        self.media.iter().find(|m| m.mid.as_str() == mid)
    }

    /// Whether these credentials differ from a previous description's (an ICE restart).
    pub fn is_ice_restart_from(&self, previous: &Self) -> bool {
        self.ice_ufrag != previous.ice_ufrag || self.ice_pwd != previous.ice_pwd
    }
}

impl DtlsRole {
    /// The `a=setup` Janus writes in an answer for this role.
    pub fn setup(self) -> Setup {
        match self {
            Self::Client => Setup::Active,
            Self::Server => Setup::Passive,
        }
    }
}

impl RemoteMedia {
    fn read(index: usize, m: &Media, rid_order: RidOrder) -> Self {
        let bundle_only = m.has_flag("bundle-only");
        let port = if m.port() == 0 && (index == 0 || bundle_only) {
            9
        } else {
            m.port()
        };
        let rtx: Vec<(u8, u8)> = m
            .attribute_values("fmtp")
            .filter_map(Fmtp::parse)
            .filter_map(|f| Some((f.payload_type, f.apt()?)))
            .collect();
        let codecs = read_codecs(m, &rtx);
        let rids = m.rids();
        let simulcast = m.simulcast();
        let (simulcast_rids, paused_rids) = janus_rids(m, simulcast.as_ref(), rid_order);
        let ssrcs = m.ssrc_lines();
        let ssrc_groups = m.ssrc_groups();
        let mut me = Self {
            index,
            kind: m.kind(),
            port,
            proto: m.mline.proto.clone(),
            bundle_only,
            mid: m.mid_or_index(index),
            direction: m.direction(),
            codecs,
            rtx,
            nack: m.attribute_values("rtcp-fb").any(|v| v.contains("nack")),
            extmaps: m.extmaps(),
            ssrcs,
            ssrc_groups,
            rids,
            simulcast,
            msid: m.msid(),
            simulcast_rids,
            paused_rids,
            peer_ssrcs: [None; 3],
            peer_rtx_ssrcs: [None; 3],
            fallback_ssrc: None,
            sctp_port: m.sctp_port(),
            max_message_size: m.max_message_size(),
            sctpmap: m.sctpmap(),
            ice_ufrag: m.attribute_value("ice-ufrag").map(str::to_owned),
            ice_pwd: m.attribute_value("ice-pwd").map(str::to_owned),
            candidates: m.candidates(),
            end_of_candidates: m.has_flag("end-of-candidates"),
        };
        me.map_ssrcs();
        me
    }

    /// Whether the m-line is rejected or disabled (port 0 after the pre-parse).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// The id of a header extension the peer offered, by URI.
    pub fn extension_id(&self, uri: &str) -> Option<u16> {
        self.extmaps.iter().find(|e| e.uri == uri).map(|e| e.id)
    }

    /// The rid header extension id, when rid-based simulcast is offered (`jsep.simulcast`'s
    /// `rid-ext`).
    pub fn rid_extension_id(&self) -> Option<u16> {
        self.extension_id(extension::RID)
    }

    /// Whether this m-line is rid- or SSRC-based simulcast.
    pub fn is_simulcast(&self) -> bool {
        self.simulcast_rids.iter().flatten().count() > 1
            || self.peer_ssrcs.iter().flatten().count() > 1
    }

    /// The `a=ssrc` lines grouped by SSRC, in order of first appearance.
    pub fn sources(&self) -> Vec<Source> {
        let mut out: Vec<Source> = Vec::new();
        for line in &self.ssrcs {
            let i = match out.iter().position(|s| s.ssrc == line.ssrc) {
                Some(i) => i,
                None => {
                    out.push(Source {
                        ssrc: line.ssrc,
                        cname: None,
                        msid: None,
                        attributes: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let source = &mut out[i];
            match (line.name.as_str(), line.value.as_deref()) {
                ("cname", Some(v)) if source.cname.is_none() => source.cname = Some(v.to_owned()),
                ("msid", Some(v)) if source.msid.is_none() => source.msid = Msid::parse(v),
                _ => {}
            }
            source
                .attributes
                .push((line.name.clone(), line.value.clone()));
        }
        out
    }

    /// The codec for a payload type.
    pub fn codec(&self, payload_type: u8) -> Option<&Codec> {
        self.codecs.iter().find(|c| c.payload_type == payload_type)
    }

    /// `janus_sdp_parse_ssrc_group` / `janus_sdp_parse_ssrc`: SIM groups, then FID groups,
    /// then plain SSRCs; groups are ignored for audio and when rids are in use.
    fn map_ssrcs(&mut self) {
        let rid_based = self.simulcast_rids.iter().any(Option::is_some);
        if self.kind == MediaKind::Video && !rid_based {
            let groups = self.ssrc_groups.clone();
            for g in groups.iter().filter(|g| g.semantics.contains("SIM")) {
                self.map_group(g, false);
            }
            for g in groups.iter().filter(|g| g.semantics.contains("FID")) {
                self.map_group(g, true);
            }
        }
        let Some(first) = self.ssrcs.iter().map(|s| s.ssrc).find(|s| *s != 0) else {
            return;
        };
        if rid_based {
            self.fallback_ssrc = Some(first);
        } else if self.peer_ssrcs[0].is_none() {
            self.peer_ssrcs[0] = Some(first);
        }
    }

    fn map_group(&mut self, g: &SsrcGroup, fid: bool) {
        let Some(&first) = g.ssrcs.first() else {
            return;
        };
        if !self.peer_ssrcs.contains(&Some(first)) && self.peer_ssrcs[0].is_none() {
            self.peer_ssrcs[0] = Some(first);
        }
        for (i, &ssrc) in g.ssrcs.iter().enumerate().skip(1) {
            if fid {
                if i == 1
                    && let Some(slot) = (0..3).find(|&k| {
                        self.peer_ssrcs[k] == Some(first) && self.peer_rtx_ssrcs[k].is_none()
                    })
                {
                    self.peer_rtx_ssrcs[slot] = Some(ssrc);
                }
            } else if i <= 2 {
                self.peer_ssrcs[i] = Some(ssrc);
            }
        }
    }
}

/// The pre-parse checks (`janus_sdp_preparse`).
fn preparse(sdp: &Sdp, sdp_type: SdpType) -> Result<(), SdpError> {
    let check_setup = sdp_type == SdpType::Offer;
    let mut setup_found = false;
    if check_setup && let Some(a) = sdp.attribute("setup") {
        if a.value.is_none() {
            return Err(SdpError::MissingValue("setup"));
        }
        setup_found = true;
    }
    for (index, m) in sdp.media.iter().enumerate() {
        let bundle_only = m.has_flag("bundle-only");
        let enabled = m.port() > 0 || index == 0 || bundle_only;
        for a in m.attributes() {
            if a.name.eq_ignore_ascii_case("mid") {
                let Some(v) = &a.value else {
                    return Err(SdpError::MissingValue("mid"));
                };
                if enabled && m.kind() != MediaKind::Application && v.len() > MAX_MID_LEN {
                    return Err(SdpError::MidTooLong {
                        mline: index,
                        len: v.len(),
                    });
                }
            } else if check_setup && !setup_found && a.name.eq_ignore_ascii_case("setup") {
                if a.value.is_none() {
                    return Err(SdpError::MissingValue("setup"));
                }
                setup_found = true;
            }
        }
    }
    Ok(())
}

fn read_codecs(m: &Media, rtx: &[(u8, u8)]) -> Vec<Codec> {
    let rtpmaps = m.rtpmaps();
    m.mline
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| {
            let (name, clock_rate, channels) = match rtpmaps.iter().find(|r| r.payload_type == pt) {
                Some(Rtpmap {
                    encoding,
                    clock_rate,
                    channels,
                    ..
                }) => (encoding.clone(), *clock_rate, *channels),
                None => {
                    let (name, rate) = static_payload_type(pt)?;
                    (name.to_owned(), rate, None)
                }
            };
            Some(Codec {
                payload_type: pt,
                name,
                clock_rate,
                channels,
                fmtp: m.fmtp(pt).map(|f| f.params),
                rtcp_fb: m.rtcp_fb(pt),
                rtx_payload_type: rtx.iter().find(|(_, apt)| *apt == pt).map(|(r, _)| *r),
            })
        })
        .collect()
}

/// RFC 3551 §6 static audio/video payload types a browser may list without `a=rtpmap`.
fn static_payload_type(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        26 => ("JPEG", 90000),
        31 => ("H261", 90000),
        34 => ("H263", 90000),
        _ => return None,
    })
}

/// Janus's `rid[3]` and `disabled_rid[3]`: the first three `a=rid` lines placed by
/// `rid_order`, then compacted towards substream 0; `~` in the `a=simulcast` send list marks
/// a rid paused.
fn janus_rids(
    m: &Media,
    simulcast: Option<&Simulcast>,
    order: RidOrder,
) -> ([Option<Rid>; 3], [bool; 3]) {
    let mut rids: [Option<Rid>; 3] = [None, None, None];
    // Janus reads "%15s" from every a=rid value, whatever its direction.
    let found = m
        .attribute_values("rid")
        .filter_map(|v| v.split_ascii_whitespace().next())
        .map(|r| Rid(r.chars().take(15).collect()));
    let slots = match order {
        RidOrder::Hml => [2, 1, 0],
        RidOrder::Lmh => [0, 1, 2],
    };
    for (rid, slot) in found.zip(slots) {
        rids[slot] = Some(rid);
    }
    if rids[0].is_none() && rids[2].is_some() {
        rids = [rids[1].take(), rids[2].take(), None];
    }
    if rids[0].is_none() && rids[1].is_some() {
        rids = [rids[1].take(), None, None];
    }
    let mut paused = [false; 3];
    if let Some(sc) = simulcast.filter(|s| !s.legacy) {
        for s in sc.send.iter().flatten().filter(|s| s.paused) {
            if let Some(i) = rids.iter().position(|r| {
                r.as_ref()
                    .is_some_and(|r| r.0.eq_ignore_ascii_case(s.rid.as_str()))
            }) {
                paused[i] = true;
            }
        }
    }
    (rids, paused)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    const ICE: &str =
        "a=ice-ufrag:uf\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpw\r\na=fingerprint:sha-256 AA:BB\r\n";

    fn offer(media: &str) -> String {
        format!("{HEAD}{media}")
    }

    #[test]
    fn media_level_credentials_of_first_mline_win() {
        let text = format!(
            "{HEAD}a=ice-ufrag:session\r\na=ice-pwd:sessionpwd\r\na=fingerprint:sha-1 00:11\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:other\r\n"
        );
        let r = RemoteDescription::parse(&text, SdpType::Offer).unwrap();
        assert_eq!(
            (r.ice_ufrag.as_str(), r.ice_pwd.as_str()),
            ("uf", "pwpwpwpwpwpwpwpwpwpwpw")
        );
        assert_eq!(r.fingerprint.unwrap().hash, "sha-256");
    }

    #[test]
    fn session_level_credentials_are_used_when_the_mline_has_none() {
        let text = format!("{HEAD}{ICE}m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n");
        assert_eq!(
            RemoteDescription::parse(&text, SdpType::Offer)
                .unwrap()
                .ice_ufrag,
            "uf"
        );
    }

    #[test]
    fn missing_credentials_or_unsupported_fingerprint_is_a_processing_error() {
        let text = offer(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=ice-ufrag:uf\r\na=fingerprint:sha-256 AA\r\n",
        );
        let e = RemoteDescription::parse(&text, SdpType::Offer).unwrap_err();
        assert_eq!(e, SdpError::MissingMandatoryInformation);
        assert_eq!(e.janus_reason(), "Error processing SDP");
        let text = offer(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=ice-ufrag:uf\r\na=ice-pwd:p\r\na=fingerprint:sha-512 AA\r\n",
        );
        assert_eq!(
            RemoteDescription::parse(&text, SdpType::Offer).unwrap_err(),
            SdpError::MissingMandatoryInformation
        );
        let unencrypted = RemoteOptions {
            require_fingerprint: false,
            ..RemoteOptions::default()
        };
        assert!(
            RemoteDescription::parse_with(&text, SdpType::Offer, unencrypted)
                .unwrap()
                .fingerprint
                .is_none()
        );
    }

    #[test]
    fn long_mid_on_an_active_mline_is_refused_with_an_empty_reason() {
        let text = offer(&format!(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}a=mid:01234567890123456\r\n"
        ));
        let e = RemoteDescription::parse(&text, SdpType::Offer).unwrap_err();
        assert_eq!(e, SdpError::MidTooLong { mline: 0, len: 17 });
        assert_eq!(e.janus_reason(), "");
        let text = offer(&format!(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}a=mid:0123456789012345\r\n"
        ));
        assert!(RemoteDescription::parse(&text, SdpType::Offer).is_ok());
        let text = offer(&format!(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:01234567890123456\r\n"
        ));
        assert_eq!(
            RemoteDescription::parse(&text, SdpType::Offer)
                .unwrap_err()
                .janus_reason(),
            "Error processing SDP"
        );
    }

    #[test]
    fn mid_or_setup_without_value_is_refused() {
        let text = offer(&format!("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}a=mid\r\n"));
        assert_eq!(
            RemoteDescription::parse(&text, SdpType::Offer).unwrap_err(),
            SdpError::MissingValue("mid")
        );
        let text = offer(&format!(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}a=setup\r\n"
        ));
        assert_eq!(
            RemoteDescription::parse(&text, SdpType::Offer).unwrap_err(),
            SdpError::MissingValue("setup")
        );
    }

    #[test]
    fn malformed_msid_is_refused() {
        let text = offer(&format!(
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}a=msid:onlyone\r\n"
        ));
        assert_eq!(
            RemoteDescription::parse(&text, SdpType::Offer).unwrap_err(),
            SdpError::InvalidMsid(0)
        );
    }

    #[test]
    fn setup_roles_map_to_janus_dtls_roles() {
        for (setup, role) in [
            ("actpass", DtlsRole::Client),
            ("passive", DtlsRole::Client),
            ("active", DtlsRole::Server),
        ] {
            let text = offer(&format!(
                "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{ICE}a=setup:{setup}\r\n"
            ));
            let r = RemoteDescription::parse(&text, SdpType::Offer).unwrap();
            assert_eq!(r.dtls_role, role, "{setup}");
        }
        assert_eq!(DtlsRole::Client.setup(), Setup::Active);
        assert_eq!(DtlsRole::Server.setup(), Setup::Passive);
    }

    #[test]
    fn absent_mid_is_the_index_and_first_mline_port_zero_counts_as_enabled() {
        let text = offer(&format!(
            "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n{ICE}m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=bundle-only\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
        ));
        let r = RemoteDescription::parse(&text, SdpType::Offer).unwrap();
        assert_eq!(
            r.media.iter().map(|m| m.mid.as_str()).collect::<Vec<_>>(),
            ["0", "1", "2"]
        );
        assert_eq!(
            r.media.iter().map(|m| m.port).collect::<Vec<_>>(),
            [9, 9, 0]
        );
        assert_eq!(r.media[0].codecs[0].name, "PCMU");
    }

    #[test]
    fn rids_follow_rid_order_and_compaction() {
        let text = offer(&format!(
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n{ICE}a=rid:h send\r\na=rid:m send\r\na=simulcast:send h;~m\r\n"
        ));
        let r = RemoteDescription::parse(&text, SdpType::Offer).unwrap();
        let m = &r.media[0];
        assert_eq!(
            m.simulcast_rids,
            [Some(Rid("m".into())), Some(Rid("h".into())), None]
        );
        assert_eq!(m.paused_rids, [true, false, false]);
        let lmh = RemoteOptions {
            rid_order: RidOrder::Lmh,
            ..RemoteOptions::default()
        };
        let r = RemoteDescription::parse_with(&text, SdpType::Offer, lmh).unwrap();
        assert_eq!(
            r.media[0].simulcast_rids,
            [Some(Rid("h".into())), Some(Rid("m".into())), None]
        );
    }

    #[test]
    fn ssrc_groups_map_to_substreams_and_rtx() {
        let text = offer(&format!(
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n{ICE}a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
             a=ssrc-group:SIM 1 2 3\r\na=ssrc-group:FID 1 11\r\na=ssrc-group:FID 2 12\r\na=ssrc-group:FID 3 13\r\na=ssrc:1 cname:x\r\n"
        ));
        let r = RemoteDescription::parse(&text, SdpType::Offer).unwrap();
        let m = &r.media[0];
        assert_eq!(m.peer_ssrcs, [Some(1), Some(2), Some(3)]);
        assert_eq!(m.peer_rtx_ssrcs, [Some(11), Some(12), Some(13)]);
        assert!(m.is_simulcast() && m.nack && r.rfc4588);
        let sources = m.sources();
        assert_eq!(sources.len(), 1);
        assert_eq!(
            (sources[0].ssrc, sources[0].cname.as_deref()),
            (1, Some("x"))
        );
        assert_eq!(m.codec(96).unwrap().rtx_payload_type, Some(97));
    }

    #[test]
    fn data_mline_defaults_max_message_size() {
        let text = offer(&format!(
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n{ICE}a=sctp-port:5000\r\n"
        ));
        let r = RemoteDescription::parse(&text, SdpType::Offer).unwrap();
        assert_eq!(
            (r.media[0].sctp_port, r.media[0].max_message_size),
            (Some(5000), Some(65_536))
        );
        assert_eq!(r.rtp_profile, None);
    }
}
