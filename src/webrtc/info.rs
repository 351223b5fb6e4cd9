//! Admin `handle_info`: what the core and the shards know of a handle's PeerConnection.

use super::forwarding::publisher_ssrc;
use super::*;

impl Shared {
    /// Asks a shard for the statistics of its connected PeerConnections (for Admin
    /// `handle_info`); the answers arrive as `PeerStats` events.
    pub(super) fn request_peer_stats(&self, shard: ShardId) {
        let requests = self
            .handles
            .iter()
            .filter(|(_, m)| m.shard == shard && m.connected.is_some())
            .map(|(handle, _)| ShardCommand::GetPeerStats {
                peer: peer_id(*handle),
                reply: ReplyTo(handle.0),
            });
        // One wake-up of the shard for all of them, not one per PeerConnection.
        let _ = self.dataplane.send_all(shard, requests);
    }
}

/// Admin `handle_info`'s ICE/DTLS/media sections, in Janus's shape (admin.md §5) as far as
/// this server has the facts.
pub(super) fn handle_info_json(media: &HandleMedia, fingerprint: &str) -> Map<String, Value> {
    let mut info = Map::new();
    info.insert("ice-mode".into(), "lite".into());
    info.insert("ice-role".into(), "controlled".into());
    let mut sdps = Map::new();
    if let Some(remote) = &media.remote {
        sdps.insert(
            "profile".into(),
            remote.rtp_profile.clone().unwrap_or_default().into(),
        );
        sdps.insert("remote".into(), remote.sdp.to_string().into());
    }
    if let Some(local) = &media.local {
        sdps.insert("local".into(), local.sdp.to_string().into());
    }
    info.insert("sdps".into(), Value::Object(sdps));
    let state = if media.connected.is_some() {
        "connected"
    } else {
        "checking"
    };
    let ice = serde_json::json!({
        "state": state,
        "shard": media.shard.0,
        "local-ufrag": media.local_ice.ufrag(),
        "remote-ufrag": media.remote.as_ref().map(|r| r.ice_ufrag.clone()),
        "ready": u8::from(media.connected.is_some()),
    });
    let remote_fp = media.remote.as_ref().and_then(|r| r.fingerprint.as_ref());
    let dtls_role = media.merge.as_ref().map(|m| match m.dtls_role {
        jsep::DtlsRole::Client => "active",
        jsep::DtlsRole::Server => "passive",
    });
    let dtls = serde_json::json!({
        "fingerprint": fingerprint,
        "remote-fingerprint": remote_fp.map(|f| f.value.clone()),
        "remote-fingerprint-hash": remote_fp.map(|f| f.hash.clone()),
        "dtls-role": dtls_role,
        "dtls-state": if media.connected.is_some() { "connected" } else { "created" },
        "srtp-profile": media.connected.map(srtp_profile_name),
        "ready": media.connected.is_some(),
    });
    let mut webrtc = Map::new();
    webrtc.insert("ice".into(), ice);
    webrtc.insert("dtls".into(), dtls);
    webrtc.insert("media".into(), Value::Object(media_info(media)));
    info.insert("webrtc".into(), Value::Object(webrtc));
    info
}

/// The `media` map of `handle_info`, keyed by m-line index, with the shard's statistics.
pub(super) fn media_info(media: &HandleMedia) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(remote) = &media.remote else {
        return out;
    };
    for m in &remote.media {
        let kind = match m.kind {
            SdpKind::Audio => "audio",
            SdpKind::Video => "video",
            SdpKind::Application => "data",
        };
        let mut entry =
            serde_json::json!({"type": kind, "mindex": m.index, "mid": m.mid.to_string()});
        let ours = media
            .local
            .as_ref()
            .and_then(|l| l.media_by_mid(m.mid.as_str()));
        // The SSRC we announced on this m-line, when we send on it.
        let ssrc = media
            .sending_mline(m.mid.as_str())
            .ok()
            .map(|(_, ssrc)| ssrc);
        if m.kind != SdpKind::Application {
            entry["ssrc"] = serde_json::json!({"ssrc": ssrc, "ssrc-peer": publisher_ssrc(m)});
            if let Some(codec) = ours.and_then(|o| o.codecs.first()) {
                entry["codecs"] = serde_json::json!({"pt": codec.payload_type, "codec": codec.name.to_lowercase()});
            }
        }
        if let Some(stats) = &media.stats {
            let inbound = stats
                .inbound
                .iter()
                .filter(|s| s.mid.as_deref() == Some(m.mid.as_str()));
            let (packets_in, bytes_in, nacks_in, lost_in) =
                inbound.fold((0, 0, 0, 0i64), |a, s| {
                    (
                        a.0 + s.packets,
                        a.1 + s.bytes,
                        a.2 + s.nacks_sent,
                        a.3 + s.lost,
                    )
                });
            let outbound = stats.outbound.iter().filter(|s| Some(s.ssrc) == ssrc);
            let (packets_out, bytes_out, nacks_out, rtt) = outbound
                .fold((0, 0, 0, None), |a, s| {
                    (a.0 + s.packets, a.1 + s.bytes, a.2 + s.nacks, a.3.or(s.rtt))
                });
            entry["stats"] = serde_json::json!({
                "in": {"packets": packets_in, "bytes": bytes_in, "nacks": nacks_in},
                "out": {"packets": packets_out, "bytes": bytes_out, "nacks": nacks_out},
            });
            entry["rtcp"] = serde_json::json!({"main": {
                "lost": lost_in,
                "rtt": rtt.map(|r: Duration| u64::try_from(r.as_millis()).unwrap_or(u64::MAX)),
            }});
        }
        out.insert(m.index.to_string(), entry);
    }
    out
}

/// OpenSSL's name of a DTLS-SRTP profile, as Janus reports it.
pub(super) fn srtp_profile_name(profile: portunus_srtp::SrtpProfile) -> &'static str {
    match profile {
        portunus_srtp::SrtpProfile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
        portunus_srtp::SrtpProfile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
        portunus_srtp::SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
        _ => "SRTP_AEAD_AES_256_GCM",
    }
}
