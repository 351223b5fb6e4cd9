//! `janus_sdp_merge` (and the steps `janus_plugin_handle_sdp` runs before it): a plugin's
//! SDP plus the core's ICE/DTLS state becomes the SDP the client receives.

use crate::attr::Setup;
use crate::janus::{JConn, JMline, JSdp};
use crate::jsep::anonymize::{anonymize_janus, preparse_ports};
use crate::jsep::{DtlsRole, RemoteDescription, RidOrder, SdpType};
use crate::{Attribute, Direction, MediaKind, Mid, Rid, Sdp, SdpError, extension};

/// The default RTP profile when the remote side did not choose one.
const DEFAULT_RTP_PROFILE: &str = "UDP/TLS/RTP/SAVPF";

/// Janus's own ICE and DTLS parameters for one PeerConnection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTransport {
    /// Local ICE ufrag.
    pub ice_ufrag: String,
    /// Local ICE password.
    pub ice_pwd: String,
    /// SHA-256 fingerprint of the DTLS certificate (`AB:CD:…`).
    pub fingerprint: String,
    /// The address written in `o=` and every `c=` (the first `nat_1_1_mapping` or the local
    /// IP); IPv6 when it contains a `:`.
    pub public_ip: String,
    /// Half-trickle (Janus's default): the candidate values (`<foundation> <component> …`,
    /// without `candidate:`) written into every m-line, followed by `a=end-of-candidates`.
    /// `None` is full trickle: no candidates in the SDP.
    pub candidates: Option<Vec<String>>,
    /// `ice_lite = true`: `a=ice-lite` at session level.
    pub ice_lite: bool,
}

/// What the core remembers about a PeerConnection between negotiations, and uses to merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeContext {
    /// Whether the merged SDP is an offer (`a=setup:actpass`) or an answer.
    pub sdp_type: SdpType,
    /// Local ICE/DTLS parameters.
    pub transport: LocalTransport,
    /// Janus's DTLS role, written in answers.
    pub dtls_role: DtlsRole,
    /// Transport profile for audio/video m-lines (the remote's, else `UDP/TLS/RTP/SAVPF`).
    pub rtp_profile: Option<String>,
    /// RFC 4588 RTX negotiated for this PeerConnection.
    pub rfc4588: bool,
    /// `o=` session id used when the plugin's SDP has an id or version of 0 (Janus uses the
    /// wall clock in microseconds; the version then becomes 1).
    pub session_id: u64,
    /// Per m-line state, by index.
    pub media: Vec<MediumState>,
}

/// The core's state for one m-line (`janus_ice_peerconnection_medium`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediumState {
    /// The mid (remote's, the plugin's, or the index).
    pub mid: Mid,
    /// Janus's SSRC for what it sends on this m-line.
    pub ssrc: Option<u32>,
    /// Janus's RTX SSRC (video, RFC 4588).
    pub rtx_ssrc: Option<u32>,
    /// `(payload type, rtx payload type)` pairs.
    pub rtx_payload_types: Vec<(u8, u8)>,
    /// NACK negotiated (RTX is only advertised with it).
    pub nack: bool,
    /// Simulcast rids Janus receives (answers to rid offers), in the order to write them.
    pub recv_rids: Vec<RecvRid>,
    /// The offer used the draft `a=simulcast: send rid=…` form.
    pub legacy_simulcast: bool,
}

/// One rid Janus will receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvRid {
    /// The rid.
    pub rid: Rid,
    /// Paused (`~`) in the offer.
    pub paused: bool,
}

impl MergeContext {
    /// The state Janus builds from a client offer (`janus_sdp_process_remote`), ready to
    /// merge the plugin's answer. `next_ssrc` supplies random SSRCs (called in m-line order:
    /// the SSRC, then the RTX SSRC when one is needed).
    pub fn for_answer(
        remote: &RemoteDescription,
        transport: LocalTransport,
        next_ssrc: &mut dyn FnMut() -> u32,
    ) -> Self {
        let mut rfc4588_so_far = false;
        let mut claimed_rtx: Vec<(u8, u8)> = Vec::new();
        let mut media = Vec::with_capacity(remote.media.len());
        for m in &remote.media {
            let av = m.kind != MediaKind::Application;
            let ssrc = av.then(&mut *next_ssrc);
            let mut rtx_ssrc = (m.kind == MediaKind::Video && rfc4588_so_far).then(&mut *next_ssrc);
            if m.kind == MediaKind::Video
                && rtx_ssrc.is_none()
                && m.peer_rtx_ssrcs.iter().any(Option::is_some)
            {
                rtx_ssrc = Some(next_ssrc());
            }
            let mut rtx_payload_types = Vec::new();
            for &(rtx, apt) in &m.rtx {
                rfc4588_so_far = true;
                // A PeerConnection maps one RTX payload type to one codec.
                if claimed_rtx.iter().any(|&(r, a)| r == rtx && a != apt) {
                    continue;
                }
                claimed_rtx.push((rtx, apt));
                rtx_payload_types.retain(|&(p, _)| p != apt);
                rtx_payload_types.push((apt, rtx));
            }
            let slots = match remote.rid_order {
                RidOrder::Hml => [2, 1, 0],
                RidOrder::Lmh => [0, 1, 2],
            };
            let recv_rids = if m.kind == MediaKind::Video {
                slots
                    .iter()
                    .filter_map(|&i| {
                        m.simulcast_rids[i].clone().map(|rid| RecvRid {
                            rid,
                            paused: m.paused_rids[i],
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            media.push(MediumState {
                mid: m.mid.clone(),
                ssrc,
                rtx_ssrc,
                rtx_payload_types,
                nack: m.nack,
                recv_rids,
                legacy_simulcast: m.simulcast.as_ref().is_some_and(|s| s.legacy),
            });
        }
        if !remote.rfc4588 {
            media.iter_mut().for_each(|m| m.rtx_ssrc = None);
        }
        Self {
            sdp_type: SdpType::Answer,
            transport,
            dtls_role: remote.dtls_role,
            rtp_profile: remote.rtp_profile.clone(),
            rfc4588: remote.rfc4588,
            session_id: 0,
            media,
        }
    }

    /// The state for a Janus offer (`janus_sdp_process_local` and the RTX payload type
    /// assignment of `janus_plugin_handle_sdp`). On a renegotiation pass the previous
    /// context: mids, SSRCs and RTX payload types are kept, an `inactive` m-line loses its
    /// SSRCs, and a re-activated one gets new ones. RTX is offered unless a previous client
    /// answer turned it off ([`Self::apply_remote_answer`]).
    ///
    /// # Errors
    ///
    /// Only for a plugin SDP Janus's parser refuses.
    pub fn for_offer(
        plugin_offer: &Sdp,
        transport: LocalTransport,
        previous: Option<&Self>,
        next_ssrc: &mut dyn FnMut() -> u32,
    ) -> Result<Self, SdpError> {
        let mut j = JSdp::from_sdp(plugin_offer)?;
        preparse_ports(&mut j);
        anonymize_janus(&mut j);
        let rfc4588 = previous.is_none_or(|p| p.rfc4588);
        let prev = |i: usize| previous.and_then(|p| p.media.get(i));
        // Every payload type in use, so RTX payload types do not collide with them.
        let mut used: Vec<u8> = j
            .mlines
            .iter()
            .filter(|m| m.kind != MediaKind::Application)
            .flat_map(|m| m.ptypes.iter())
            .filter_map(|p| u8::try_from(*p).ok())
            .collect();
        used.extend(
            previous
                .into_iter()
                .flat_map(|p| p.media.iter())
                .flat_map(|m| m.rtx_payload_types.iter().map(|&(_, r)| r)),
        );
        let mut media = Vec::with_capacity(j.mlines.len());
        for (i, m) in j.mlines.iter().enumerate() {
            let old = prev(i);
            let mid = old
                .map(|o| o.mid.clone())
                .or_else(|| m.attr("mid").map(Mid::from))
                .unwrap_or_else(|| Mid(i.to_string()));
            let av = m.kind != MediaKind::Application;
            let (ssrc, rtx_ssrc) = if !av || m.direction == Some(Direction::Inactive) {
                (None, None)
            } else {
                let ssrc = old.and_then(|o| o.ssrc).unwrap_or_else(&mut *next_ssrc);
                let rtx = (m.kind == MediaKind::Video && rfc4588)
                    .then(|| old.and_then(|o| o.rtx_ssrc).unwrap_or_else(&mut *next_ssrc));
                (Some(ssrc), rtx)
            };
            let mut rtx_payload_types =
                old.map(|o| o.rtx_payload_types.clone()).unwrap_or_default();
            let mut nack = old.is_some_and(|o| o.nack);
            if m.kind == MediaKind::Video && rfc4588 && rtx_payload_types.is_empty() {
                for pt in m.ptypes.iter().filter_map(|p| u8::try_from(*p).ok()) {
                    if let Some(rtx) = assign_rtx_payload_type(pt, &used) {
                        used.push(rtx);
                        rtx_payload_types.push((pt, rtx));
                    }
                    nack = true;
                }
            }
            media.push(MediumState {
                mid,
                ssrc,
                rtx_ssrc,
                rtx_payload_types,
                nack,
                recv_rids: Vec::new(),
                legacy_simulcast: false,
            });
        }
        Ok(Self {
            sdp_type: SdpType::Offer,
            transport,
            dtls_role: DtlsRole::Client,
            rtp_profile: previous.and_then(|p| p.rtp_profile.clone()),
            rfc4588,
            session_id: previous.map_or(0, |p| p.session_id),
            media,
        })
    }

    /// Updates the state with the client's answer to a Janus offer: its DTLS role, its
    /// transport profile, and RTX (turned off, with the RTX SSRCs, when the answer has no
    /// `apt` mapping).
    pub fn apply_remote_answer(&mut self, answer: &RemoteDescription) {
        self.dtls_role = answer.dtls_role;
        if self.rtp_profile.is_none() {
            self.rtp_profile.clone_from(&answer.rtp_profile);
        }
        self.rfc4588 = answer.rfc4588;
        if !self.rfc4588 {
            self.media.iter_mut().for_each(|m| m.rtx_ssrc = None);
        }
    }
}

/// Janus's RTX payload type for `pt` in its own offers: `pt + 1`, skipping values in use and
/// wrapping from 127 to 96.
fn assign_rtx_payload_type(pt: u8, used: &[u8]) -> Option<u8> {
    let next = |p: u8| if p >= 127 { 96 } else { p + 1 };
    let mut rtx = next(pt);
    while used.contains(&rtx) {
        rtx = next(rtx);
        if rtx == pt {
            return None;
        }
    }
    Some(rtx)
}

/// Adds the core's details to a plugin's SDP, as `janus_plugin_handle_sdp` and
/// `janus_sdp_merge` do, and returns what the client receives.
///
/// The plugin SDP is first read as Janus reads it (pre-parse and anonymizer: ICE/DTLS,
/// `ssrc`, `rid`… a plugin may have written are dropped, as are its `mid` and `msid`, which
/// come back in their place; a Janus offer also loses `rid`/`repaired-rid` extmaps). Then:
///
/// * session: `o=` gets the public IP (and `session_id`, version 1, when the plugin left
///   0), no session `c=`; `a=group:BUNDLE` of the enabled mids, `a=ice-options:trickle`,
///   `a=fingerprint:sha-256 …`, `a=extmap-allow-mixed`, `a=msid-semantic: WMS *`,
///   `a=ice-lite` when configured, then the plugin's own session attributes;
/// * each m-line: port kept (9), audio/video profile from the remote side, `c=` with the
///   public IP, direction, `a=mid`, `a=rtcp-mux` (data: `a=sctp-port:5000`, or
///   `a=sctpmap:5000 webrtc-datachannel 16` for `DTLS/SCTP`), `a=ice-ufrag`, `a=ice-pwd`,
///   `a=ice-options:trickle`, `a=setup` (`actpass` in offers, the DTLS role in answers),
///   the plugin's attributes, RTX `rtpmap`/`fmtp`, `a=ssrc-group:FID`, `a=msid` (the
///   plugin's, else `janus janus<mid>`; not when inactive), `a=ssrc … cname:janus`,
///   `a=rid:<x> recv` and `a=simulcast:recv …`, candidates and `a=end-of-candidates`;
/// * a second data m-line, or an application m-line that is not DTLS/SCTP, is rejected.
///
/// # Errors
///
/// Only for a plugin SDP Janus's parser refuses.
pub fn merge(plugin_sdp: &Sdp, ctx: &MergeContext) -> Result<Sdp, SdpError> {
    let mut j = JSdp::from_sdp(plugin_sdp)?;
    preparse_ports(&mut j);
    // The core takes the mid and msid out of the plugin's SDP and writes them itself.
    let plugin_msids: Vec<Option<String>> = j
        .mlines
        .iter_mut()
        .map(|m| {
            let msid = m
                .attr("msid")
                .filter(|v| v.split_ascii_whitespace().count() >= 2)
                .map(str::to_owned);
            m.attributes.retain(|a| {
                !a.name.eq_ignore_ascii_case("mid") && !a.name.eq_ignore_ascii_case("msid")
            });
            msid
        })
        .collect();
    let has_rid_ext: Vec<bool> = j
        .mlines
        .iter()
        .map(|m| has_extension(m, extension::RID))
        .collect();
    if ctx.sdp_type == SdpType::Offer {
        for m in &mut j.mlines {
            m.attributes.retain(|a| {
                !a.name.eq_ignore_ascii_case("extmap")
                    || a.value.as_deref().is_none_or(|v| {
                        !v.contains(extension::RID) && !v.contains(extension::REPAIRED_RID)
                    })
            });
        }
    }
    anonymize_janus(&mut j);
    merge_session(&mut j, ctx);
    let mut data = 0;
    for (i, m) in j.mlines.iter_mut().enumerate() {
        let Some(medium) = ctx.media.get(i) else {
            continue;
        };
        merge_mline(
            m,
            medium,
            ctx,
            &mut data,
            plugin_msids[i].as_deref(),
            has_rid_ext[i],
        );
    }
    Ok(j.to_sdp())
}

fn has_extension(m: &JMline, uri: &str) -> bool {
    m.attributes.iter().any(|a| {
        a.name.eq_ignore_ascii_case("extmap") && a.value.as_deref().is_some_and(|v| v.contains(uri))
    })
}

fn merge_session(j: &mut JSdp, ctx: &MergeContext) {
    let t = &ctx.transport;
    if j.o_sessid == 0 || j.o_version == 0 {
        j.o_sessid = ctx.session_id;
        j.o_version = 1;
    }
    j.o_ipv4 = !t.public_ip.contains(':');
    j.o_addr.clone_from(&t.public_ip);
    // Chrome dislikes a session-level c= line.
    j.c = None;
    let mut bundle = "BUNDLE".to_owned();
    for (m, medium) in j.mlines.iter().zip(&ctx.media) {
        if m.port > 0 {
            bundle.push(' ');
            bundle.push_str(medium.mid.as_str());
        }
    }
    let mut head = vec![
        Attribute::new("group", bundle),
        Attribute::new("ice-options", "trickle"),
        Attribute::new("fingerprint", format!("sha-256 {}", t.fingerprint)),
        Attribute::flag("extmap-allow-mixed"),
        Attribute::new("msid-semantic", " WMS *"),
    ];
    if t.ice_lite {
        head.push(Attribute::flag("ice-lite"));
    }
    head.append(&mut j.attributes);
    j.attributes = head;
}

fn merge_mline(
    m: &mut JMline,
    medium: &MediumState,
    ctx: &MergeContext,
    data: &mut u32,
    msid: Option<&str>,
    has_rid_ext: bool,
) {
    let t = &ctx.transport;
    let av = m.kind != MediaKind::Application;
    if av {
        m.proto = ctx
            .rtp_profile
            .clone()
            .unwrap_or_else(|| DEFAULT_RTP_PROFILE.to_owned());
    }
    m.c = Some(JConn {
        ipv4: !t.public_ip.contains(':'),
        addr: t.public_ip.clone(),
    });
    let mut head = vec![Attribute::new("mid", medium.mid.as_str())];
    let mut tail = Vec::new();
    if av {
        if m.port == 0 {
            m.direction = Some(Direction::Inactive);
        }
        if medium.nack && ctx.rfc4588 {
            for pt in m.ptypes.clone() {
                let Some(&(_, rtx)) = medium
                    .rtx_payload_types
                    .iter()
                    .find(|(p, _)| i64::from(*p) == pt)
                else {
                    continue;
                };
                m.ptypes.push(i64::from(rtx));
                tail.push(Attribute::new("rtpmap", format!("{rtx} rtx/90000")));
                tail.push(Attribute::new("fmtp", format!("{rtx} apt={pt}")));
            }
        }
        head.push(Attribute::flag("rtcp-mux"));
    } else {
        let usable = m.port > 0 && m.is_sctp();
        if usable {
            *data += 1;
        }
        if !usable || *data > 1 {
            m.port = 0;
            m.direction = Some(Direction::Inactive);
            m.attributes.splice(0..0, head);
            return;
        }
        head.push(if m.proto.eq_ignore_ascii_case("UDP/DTLS/SCTP") {
            Attribute::new("sctp-port", "5000")
        } else {
            Attribute::new("sctpmap", "5000 webrtc-datachannel 16")
        });
    }
    let setup = match ctx.sdp_type {
        SdpType::Offer => Setup::ActPass,
        SdpType::Answer => ctx.dtls_role.setup(),
    };
    head.extend([
        Attribute::new("ice-ufrag", t.ice_ufrag.as_str()),
        Attribute::new("ice-pwd", t.ice_pwd.as_str()),
        Attribute::new("ice-options", "trickle"),
        Attribute::new("setup", setup.as_str()),
    ]);
    let sending = matches!(
        m.direction,
        None | Some(Direction::SendRecv | Direction::SendOnly)
    );
    let ssrc = medium.ssrc.filter(|_| m.port > 0);
    let rtx_ssrc = medium
        .rtx_ssrc
        .filter(|_| m.kind == MediaKind::Video && ctx.rfc4588 && sending);
    if let (Some(s), Some(r)) = (ssrc, rtx_ssrc) {
        tail.push(Attribute::new("ssrc-group", format!("FID {s} {r}")));
    }
    if av {
        if m.direction != Some(Direction::Inactive) {
            let msid = msid.map_or_else(|| format!("janus janus{}", medium.mid), str::to_owned);
            tail.push(Attribute::new("msid", msid));
        }
        if let Some(s) = ssrc {
            tail.push(Attribute::new("ssrc", format!("{s} cname:janus")));
            if let Some(r) = rtx_ssrc {
                tail.push(Attribute::new("ssrc", format!("{r} cname:janus")));
            }
        }
    }
    let rids_kept = ctx.sdp_type == SdpType::Offer || has_rid_ext;
    if m.kind == MediaKind::Video && rids_kept && !medium.recv_rids.is_empty() {
        let mut list = Vec::new();
        for r in &medium.recv_rids {
            tail.push(Attribute::new("rid", format!("{} recv", r.rid.as_str())));
            list.push(format!(
                "{}{}",
                if r.paused { "~" } else { "" },
                r.rid.as_str()
            ));
        }
        let list = list.join(";");
        let value = if medium.legacy_simulcast {
            format!(" recv rid={list}")
        } else {
            format!("recv {list}")
        };
        tail.push(Attribute::new("simulcast", value));
    }
    if let Some(candidates) = &t.candidates {
        tail.extend(
            candidates
                .iter()
                .map(|c| Attribute::new("candidate", c.as_str())),
        );
        tail.push(Attribute::flag("end-of-candidates"));
    }
    m.attributes.splice(0..0, head);
    m.attributes.append(&mut tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Media;
    use crate::jsep::{AnswerConfig, anonymize, generate_answer};

    const ICE: &str = "a=ice-ufrag:uf\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpw\r\na=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\n";

    fn transport() -> LocalTransport {
        LocalTransport {
            ice_ufrag: "loc".into(),
            ice_pwd: "localpasswordlocalpass".into(),
            fingerprint: "CC:DD".into(),
            public_ip: "203.0.113.9".into(),
            candidates: None,
            ice_lite: false,
        }
    }

    fn echo(offer: &str) -> Sdp {
        let remote = RemoteDescription::parse(offer, SdpType::Offer).unwrap();
        let answer = generate_answer(
            &anonymize(&remote.sdp).unwrap(),
            &AnswerConfig::echotest(),
            &[],
        )
        .unwrap();
        let mut n = 0;
        let mut ctx = MergeContext::for_answer(&remote, transport(), &mut || {
            n += 1;
            n
        });
        ctx.session_id = 1_700_000_000;
        merge(&answer, &ctx).unwrap()
    }

    #[test]
    fn second_data_mline_and_non_sctp_application_are_rejected() {
        let offer = format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
             m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n{ICE}a=mid:0\r\na=sctp-port:5000\r\n\
             m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n\
             m=application 9 UDP/BFCP *\r\na=mid:2\r\n"
        );
        let out = echo(&offer);
        assert_eq!(
            out.media.iter().map(|m| m.port()).collect::<Vec<_>>(),
            [9, 0, 0]
        );
        assert_eq!(out.bundle_group(), Some(vec!["0"]));
        assert_eq!(
            out.media[1].to_string(),
            "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 203.0.113.9\r\na=inactive\r\na=mid:1\r\n"
        );
        assert!(!out.to_string().contains("candidate"), "full trickle");
    }

    #[test]
    fn echotest_mirrors_directions_and_never_sends_alone() {
        let offer = format!(
            "v=0\r\no=- 1 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{ICE}a=mid:a\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n\
             m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:w\r\na=rtpmap:96 VP8/90000\r\n"
        );
        let out = echo(&offer);
        assert_eq!(
            out.media.iter().map(Media::direction).collect::<Vec<_>>(),
            [
                Direction::Inactive,
                Direction::RecvOnly,
                Direction::Inactive
            ]
        );
        // Inactive: no msid, but Janus still lists the SSRC it allocated.
        assert!(out.media[0].msid().is_none());
        assert_eq!(out.media[0].ssrc_lines().len(), 1);
        assert_eq!(
            out.media[2].to_string(),
            "m=video 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 203.0.113.9\r\na=inactive\r\na=mid:w\r\n"
        );
        // A client o= version of 0 is replaced by the core's session id, version 1.
        assert_eq!(
            out.origin().map(|o| (o.session_id, o.session_version)),
            Some((1_700_000_000, 1))
        );
    }

    #[test]
    fn active_client_makes_janus_passive() {
        let offer = format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n{}a=setup:active\r\na=rtpmap:0 PCMU/8000\r\n",
            ICE.replace("a=setup:actpass\r\n", "")
        );
        let out = echo(&offer);
        assert_eq!(out.media[0].setup(), Some(Setup::Passive));
        assert_eq!(out.media[0].rtpmaps()[0].encoding, "PCMU");
    }

    #[test]
    fn rtx_payload_type_is_next_free_and_wraps() {
        assert_eq!(assign_rtx_payload_type(96, &[96, 111]), Some(97));
        assert_eq!(assign_rtx_payload_type(96, &[96, 97, 98]), Some(99));
        assert_eq!(assign_rtx_payload_type(127, &[127]), Some(96));
        let all: Vec<u8> = (96..=127).collect();
        assert_eq!(assign_rtx_payload_type(100, &all), None);
    }
}
