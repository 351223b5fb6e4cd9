//! Test harness: a dataplane on 127.0.0.1 and str0m peers (an independent WebRTC stack)
//! as publishers and subscribers, with the SDP written by `portunus-sdp` as Janus would.
//! The test thread plays the control plane.

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use portunus_dataplane::{
    BackendKind, CreatePeer, Dataplane, DataplaneConfig, InboundStream, MediaKind, PeerId, ReplyTo,
    RtcpConfig, ShardCommand, ShardEvent, ShardId, SimulcastInbound, StreamKey, Subscription,
    VideoCodec,
};
use portunus_dtls::{DtlsCertificate, DtlsConfig, DtlsOptions, DtlsRole, Fingerprint};
use portunus_ice::IceCredentials;
use portunus_rtp::{ExtIdMap, PacketKind, classify};
use portunus_sctp::SctpConfig;
use portunus_sdp::CodecName;
use portunus_sdp::jsep::{
    self, AnswerConfig, LocalTransport, MergeContext, OfferStream, RemoteDescription, SdpType,
    SubscriberOffer,
};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaData, MediaKind as StrKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub fn certificate() -> &'static DtlsCertificate {
    static CERT: OnceLock<DtlsCertificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        DtlsCertificate::generate(wall).expect("certificate")
    })
}

/// A dataplane of `shards` shards on 127.0.0.1 with the given backend.
pub fn start(backend: BackendKind, shards: usize, consent: Duration) -> Dataplane {
    let dtls = Arc::new(DtlsConfig::new(certificate(), DtlsOptions::default()).expect("dtls"));
    let mut config = DataplaneConfig::new(dtls);
    config.shards = shards;
    config.pin_cores = false;
    config.bind = vec!["127.0.0.1".parse().expect("ip")];
    config.backend = backend;
    config.consent_timeout = consent;
    config.connect_timeout = Duration::from_secs(10);
    config.rtcp_interval = Duration::from_millis(200);
    let dp = Dataplane::start(config).expect("dataplane starts");
    assert_eq!(dp.backend(), backend);
    dp
}

/// One str0m peer on its own UDP socket.
pub struct Client {
    pub rtc: Rtc,
    pub sock: UdpSocket,
    pub addr: SocketAddr,
    pub server: SocketAddr,
    pub peer: PeerId,
    pub shard: ShardId,
    pub mid: Mid,
    pub connected: bool,
    /// The SSRC of the stream this client sends (publisher) or receives (subscriber).
    pub ssrc: u32,
    /// The VP8 payload type negotiated.
    pub pt: u8,
    pub frames: Vec<MediaData>,
    pub keyframe_requests: usize,
    /// The rid of every keyframe request (simulcast publishers).
    pub keyframe_rids: Vec<String>,
    /// A simulcast publisher's rids, substream 0 first.
    pub rids: Vec<String>,
    /// The RTX payload types `(rtx, apt)` of its offer (publishers).
    pub rtx_pts: Vec<(u8, u8)>,
    /// The transport-wide sequence number extension id of its offer (publishers).
    pub twcc_ext: Option<u8>,
    /// Send-side (TWCC) estimates str0m reported, in bit/s.
    pub twcc: Vec<u64>,
    /// Drop every n-th outgoing RTP packet (0: none), to make the dataplane NACK.
    pub drop_out_every: u32,
    pub rtp_out: u32,
    /// REMB estimates str0m reported (publishers), in bit/s.
    pub remb: Vec<u64>,
    /// str0m saw our receiver reports (egress stats with remote data).
    pub rr_seen: bool,
    /// str0m saw our sender reports (ingress stats with remote data), with packet counts.
    pub sr_packets: Option<u64>,
    /// Whether the test stopped driving it (a peer gone silent).
    pub silent: bool,
    /// Drop every n-th incoming RTP packet (0: none), to make str0m NACK.
    pub drop_every: u32,
    pub rtp_seen: u32,
    pub rtp_dropped: u32,
    /// Data-channel messages received (text).
    pub messages: Vec<String>,
    /// Data-channel messages received, exactly: (binary, bytes).
    pub channel_data: Vec<(bool, Vec<u8>)>,
    /// What the client writes on a channel as soon as it opens.
    pub greeting: Option<String>,
}

fn bind_client() -> (UdpSocket, SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_nonblocking(true).expect("nonblocking");
    let addr = sock.local_addr().expect("addr");
    (sock, addr)
}

fn transport(creds: &IceCredentials, server: SocketAddr) -> LocalTransport {
    LocalTransport {
        ice_ufrag: creds.ufrag().to_owned(),
        ice_pwd: creds.pwd().to_owned(),
        fingerprint: certificate().fingerprint().to_string(),
        public_ip: server.ip().to_string(),
        candidates: Some(vec![format!(
            "1 1 udp 2130706431 {} {} typ host",
            server.ip(),
            server.port()
        )]),
        ice_lite: true,
    }
}

fn next_ssrc_fn(base: u32) -> impl FnMut() -> u32 {
    let mut ssrc = base;
    move || {
        ssrc += 1;
        ssrc
    }
}

/// What `CreatePeer` needs from the remote description.
fn create_command(
    peer: PeerId,
    creds: IceCredentials,
    remote: &RemoteDescription,
    inbound: Vec<InboundStream>,
) -> ShardCommand {
    let fp = remote.fingerprint.as_ref().expect("fingerprint");
    ShardCommand::CreatePeer(Box::new(CreatePeer {
        peer,
        reply: ReplyTo(peer.0),
        local_credentials: creds,
        remote_credentials: Some(
            IceCredentials::new(&remote.ice_ufrag, &remote.ice_pwd).expect("credentials"),
        ),
        dtls_role: match remote.dtls_role {
            jsep::DtlsRole::Client => DtlsRole::Client,
            jsep::DtlsRole::Server => DtlsRole::Server,
        },
        remote_fingerprint: Fingerprint::from_sdp(&format!("{} {}", fp.hash, fp.value))
            .expect("fingerprint"),
        data_channels: None,
        inbound,
    }))
}

fn vp8_pt(media: &jsep::RemoteMedia) -> u8 {
    codec_pt(media, CodecName::Vp8)
}

/// The payload type of the first `codec` on an m-line.
fn codec_pt(media: &jsep::RemoteMedia, codec: CodecName) -> u8 {
    media
        .codecs
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(codec.as_str()))
        .unwrap_or_else(|| panic!("{codec} on the m-line"))
        .payload_type
}

/// The H.264 profile both sides agree on (constrained baseline, level 3.1), which str0m
/// offers with `packetization-mode=1`.
pub const H264_PROFILE: &str = "42e01f";

/// A publisher: str0m offers one sendonly VP8 video; Portunus answers as a VideoRoom
/// publisher and creates the PeerConnection on `shard`.
pub fn publisher(dp: &Dataplane, shard: ShardId, id: u64, now: Instant) -> Client {
    publisher_with(dp, shard, id, now, false)
}

/// A publisher that also offers a data channel (`chat`) when `data` is set.
pub fn publisher_with(dp: &Dataplane, shard: ShardId, id: u64, now: Instant, data: bool) -> Client {
    publisher_inner(dp, shard, id, now, data, None)
}

/// A publisher whose str0m runs its send-side bandwidth estimation (TWCC) from `initial`.
pub fn publisher_with_bwe(
    dp: &Dataplane,
    shard: ShardId,
    id: u64,
    now: Instant,
    initial: str0m::bwe::Bitrate,
) -> Client {
    publisher_inner(dp, shard, id, now, false, Some(initial))
}

fn publisher_inner(
    dp: &Dataplane,
    shard: ShardId,
    id: u64,
    now: Instant,
    data: bool,
    bwe: Option<str0m::bwe::Bitrate>,
) -> Client {
    let (sock, addr) = bind_client();
    let server = dp.local_addrs(shard)[0];
    let mut builder = Rtc::builder().set_stats_interval(Some(Duration::from_millis(200)));
    if bwe.is_some() {
        builder = builder.enable_bwe(bwe);
    }
    let mut rtc = builder.build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let mut change = rtc.sdp_api();
    let mid = change.add_media(StrKind::Video, Direction::SendOnly, None, None, None);
    if data {
        change.add_channel("chat".into());
    }
    let (offer, pending) = change.apply().expect("offer");
    let remote =
        RemoteDescription::parse(&offer.to_sdp_string(), SdpType::Offer).expect("parse offer");
    let creds = IceCredentials::generate(&[id as u8; IceCredentials::RANDOM_BYTES]);
    let plugin_view = jsep::anonymize(&remote.sdp).expect("anonymize");
    let mut policy = AnswerConfig::videoroom_publisher("1");
    policy.accept_data = data;
    let plugin_answer = jsep::generate_answer(&plugin_view, &policy, &[]).expect("answer");
    let mut next = next_ssrc_fn(0x1000_0000 * id as u32);
    let ctx = MergeContext::for_answer(&remote, transport(&creds, server), &mut next);
    let answer = jsep::merge(&plugin_answer, &ctx)
        .expect("merge")
        .to_string();
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
        )
        .expect("str0m accepts the answer");
    let media = &remote.media[0];
    let ssrc = media.peer_ssrcs[0].expect("str0m announces its SSRC");
    let inbound = vec![InboundStream {
        ssrc,
        rtx_ssrc: media.peer_rtx_ssrcs[0],
        mid: media.mid.as_str().to_owned(),
        kind: MediaKind::Video,
    }];
    let pt = vp8_pt(media);
    let rtx_pts = media.rtx.clone();
    let twcc_ext = media
        .extmaps
        .iter()
        .find(|e| e.uri == portunus_sdp::extension::TRANSPORT_WIDE_CC)
        .and_then(|e| u8::try_from(e.id).ok());
    let mut cmd = create_command(PeerId(id), creds, &remote, inbound);
    if let (true, ShardCommand::CreatePeer(c)) = (data, &mut cmd) {
        let m = remote
            .media
            .iter()
            .find(|m| m.kind == portunus_sdp::MediaKind::Application)
            .expect("data m-line");
        c.data_channels = Some(SctpConfig {
            max_message_size_remote: m
                .max_message_size
                .unwrap_or(65_536)
                .try_into()
                .unwrap_or(u32::MAX),
            ..SctpConfig::default()
        });
    }
    send(dp, shard, cmd);
    Client {
        rtc,
        sock,
        addr,
        server,
        peer: PeerId(id),
        shard,
        mid,
        connected: false,
        ssrc,
        pt,
        frames: Vec::new(),
        keyframe_requests: 0,
        keyframe_rids: Vec::new(),
        rids: Vec::new(),
        rtx_pts,
        twcc_ext,
        twcc: Vec::new(),
        drop_out_every: 0,
        rtp_out: 0,
        remb: Vec::new(),
        rr_seen: false,
        sr_packets: None,
        silent: false,
        drop_every: 0,
        rtp_seen: 0,
        rtp_dropped: 0,
        messages: Vec::new(),
        channel_data: Vec::new(),
        greeting: None,
    }
}

/// A simulcast publisher: str0m offers one sendonly VP8 video with rids `l`, `m`, `h`;
/// Portunus answers as a VideoRoom publisher, creates the PeerConnection on `shard` and
/// declares the stream with [`ShardCommand::SetSimulcast`] under `key`.
pub fn simulcast_publisher(
    dp: &Dataplane,
    shard: ShardId,
    id: u64,
    now: Instant,
    key: u32,
) -> Client {
    simulcast_publisher_with(dp, shard, id, now, key, CodecName::Vp8)
}

/// [`simulcast_publisher`] answered with `codec` (H.264: [`H264_PROFILE`],
/// `packetization-mode=1`, as a VideoRoom with `h264_profile` set does); `pt` is the
/// payload type the answer kept.
pub fn simulcast_publisher_with(
    dp: &Dataplane,
    shard: ShardId,
    id: u64,
    now: Instant,
    key: u32,
    codec: CodecName,
) -> Client {
    use str0m::media::{Simulcast, SimulcastLayer};
    let (sock, addr) = bind_client();
    let server = dp.local_addrs(shard)[0];
    let mut rtc = Rtc::builder()
        .set_stats_interval(Some(Duration::from_millis(200)))
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let mut change = rtc.sdp_api();
    let mut sim = Simulcast::new();
    for rid in ["h", "m", "l"] {
        sim.add_send_layer(SimulcastLayer::new(rid));
    }
    let mid = change.add_media(StrKind::Video, Direction::SendOnly, None, None, Some(sim));
    let (offer, pending) = change.apply().expect("offer");
    let remote =
        RemoteDescription::parse(&offer.to_sdp_string(), SdpType::Offer).expect("parse offer");
    let creds = IceCredentials::generate(&[id as u8; IceCredentials::RANDOM_BYTES]);
    let plugin_view = jsep::anonymize(&remote.sdp).expect("anonymize");
    let mut policy = AnswerConfig::videoroom_publisher("1");
    policy.video_codecs = vec![codec];
    if codec == CodecName::H264 {
        policy.h264_profile = Some(H264_PROFILE.to_owned());
    }
    let plugin_answer = jsep::generate_answer(&plugin_view, &policy, &[]).expect("answer");
    let mut next = next_ssrc_fn(0x1000_0000 * id as u32);
    let ctx = MergeContext::for_answer(&remote, transport(&creds, server), &mut next);
    let answer = jsep::merge(&plugin_answer, &ctx)
        .expect("merge")
        .to_string();
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
        )
        .expect("str0m accepts the answer");
    let answered = RemoteDescription::parse(&answer, SdpType::Answer).expect("parse answer");
    let media = &remote.media[0];
    let ext = |uri: &str| {
        media
            .extmaps
            .iter()
            .find(|e| e.uri == uri)
            .and_then(|e| u8::try_from(e.id).ok())
    };
    let rids: Vec<String> = media
        .simulcast_rids
        .iter()
        .map(|r| r.as_ref().expect("three rids").0.clone())
        .collect();
    let stream = SimulcastInbound {
        key,
        mid: media.mid.as_str().to_owned(),
        ssrcs: [None; 3],
        rtx_ssrcs: [None; 3],
        rids: [
            Some(rids[0].clone()),
            Some(rids[1].clone()),
            Some(rids[2].clone()),
        ],
        rid_ext: ext(portunus_sdp::extension::RID),
        repaired_rid_ext: ext(portunus_sdp::extension::REPAIRED_RID),
        mid_ext: ext(portunus_sdp::extension::MID),
    };
    assert!(stream.rid_ext.is_some(), "the rid extension was negotiated");
    let pt = codec_pt(&answered.media[0], codec);
    send(
        dp,
        shard,
        create_command(PeerId(id), creds, &remote, Vec::new()),
    );
    send(
        dp,
        shard,
        ShardCommand::SetSimulcast {
            peer: PeerId(id),
            stream: Box::new(stream),
        },
    );
    Client {
        rtc,
        sock,
        addr,
        server,
        peer: PeerId(id),
        shard,
        mid,
        connected: false,
        ssrc: key,
        pt,
        frames: Vec::new(),
        keyframe_requests: 0,
        keyframe_rids: Vec::new(),
        rids,
        rtx_pts: Vec::new(),
        twcc_ext: None,
        twcc: Vec::new(),
        drop_out_every: 0,
        rtp_out: 0,
        remb: Vec::new(),
        rr_seen: false,
        sr_packets: None,
        silent: false,
        drop_every: 0,
        rtp_seen: 0,
        rtp_dropped: 0,
        messages: Vec::new(),
        channel_data: Vec::new(),
        greeting: None,
    }
}

/// A subscriber: Portunus offers one sendonly VP8 video (as a VideoRoom subscriber), str0m
/// answers, and the PeerConnection is created on `shard`.
pub fn subscriber(dp: &Dataplane, shard: ShardId, id: u64, now: Instant) -> Client {
    subscriber_with(dp, shard, id, now, CodecName::Vp8)
}

/// [`subscriber`] offered `codec` (H.264: [`H264_PROFILE`], `packetization-mode=1`).
pub fn subscriber_with(
    dp: &Dataplane,
    shard: ShardId,
    id: u64,
    now: Instant,
    codec: CodecName,
) -> Client {
    let (sock, addr) = bind_client();
    let server = dp.local_addrs(shard)[0];
    let mut rtc = Rtc::builder()
        .set_stats_interval(Some(Duration::from_millis(200)))
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let creds = IceCredentials::generate(&[id as u8; IceCredentials::RANDOM_BYTES]);
    let mut offer = SubscriberOffer::new("VideoRoom 1", 4242);
    let mut stream = OfferStream::video(codec);
    if codec == CodecName::H264 {
        stream.h264_profile = Some(H264_PROFILE.to_owned());
    }
    offer.subscribe(stream);
    let mut next = next_ssrc_fn(0x1000_0000 * id as u32);
    let (sdp, _ctx) = offer
        .offer(transport(&creds, server), None, &mut next)
        .expect("offer");
    let offer_text = sdp.to_string();
    let ours = RemoteDescription::parse(&offer_text, SdpType::Offer).expect("own offer parses");
    let answer = rtc
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&offer_text).expect("offer parses"))
        .expect("str0m accepts the offer");
    let remote =
        RemoteDescription::parse(&answer.to_sdp_string(), SdpType::Answer).expect("parse answer");
    let media = &ours.media[0];
    let ssrc = media.ssrcs.first().expect("we announce an SSRC").ssrc;
    let pt = codec_pt(media, codec);
    let mid = Mid::from(media.mid.as_str());
    send(
        dp,
        shard,
        create_command(PeerId(id), creds, &remote, Vec::new()),
    );
    Client {
        rtc,
        sock,
        addr,
        server,
        peer: PeerId(id),
        shard,
        mid,
        connected: false,
        ssrc,
        pt,
        frames: Vec::new(),
        keyframe_requests: 0,
        keyframe_rids: Vec::new(),
        rids: Vec::new(),
        rtx_pts: Vec::new(),
        twcc_ext: None,
        twcc: Vec::new(),
        drop_out_every: 0,
        rtp_out: 0,
        remb: Vec::new(),
        rr_seen: false,
        sr_packets: None,
        silent: false,
        drop_every: 0,
        rtp_seen: 0,
        rtp_dropped: 0,
        messages: Vec::new(),
        channel_data: Vec::new(),
        greeting: None,
    }
}

/// Forwards `publisher`'s video to `sub`.
pub fn subscribe(dp: &Dataplane, publisher: &Client, sub: &Client) {
    let s = Subscription {
        subscriber: sub.peer,
        source: StreamKey {
            publisher: publisher.peer,
            ssrc: publisher.ssrc,
        },
        source_shard: publisher.shard,
        ssrc: sub.ssrc,
        rtx: None,
        payload_types: vec![(publisher.pt, sub.pt)],
        extensions: ExtIdMap::new(),
        clock_rate: 90_000,
        kind: MediaKind::Video,
        codec: Some(VideoCodec::Vp8),
        simulcast: None,
    };
    dp.add_forward(sub.shard, s).expect("queue has room");
}

pub fn send(dp: &Dataplane, shard: ShardId, cmd: ShardCommand) {
    dp.send(shard, cmd).expect("command queue has room");
}

impl Client {
    /// Sends [`ShardCommand::ConfigureRtcp`] with `config` for this client's PeerConnection.
    pub fn configure_rtcp(&self, dp: &Dataplane, config: RtcpConfig) {
        send(
            dp,
            self.shard,
            ShardCommand::ConfigureRtcp {
                peer: self.peer,
                config: Box::new(config),
            },
        );
    }

    /// Feeds str0m what arrived, and sends what it wants to send.
    pub fn drive(&mut self, now: Instant) {
        if self.silent {
            return;
        }
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.sock.recv_from(&mut buf) {
            if classify(&buf[..n]) == PacketKind::Rtp {
                self.rtp_seen += 1;
                if self.drop_every > 0 && self.rtp_seen.is_multiple_of(self.drop_every) {
                    self.rtp_dropped += 1;
                    continue;
                }
            }
            let Ok(contents) = buf[..n].try_into() else {
                continue;
            };
            let receive = Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.addr,
                contents,
            };
            // str0m reports datagrams it cannot use as errors; the session goes on.
            let _ = self.rtc.handle_input(Input::Receive(now, receive));
        }
        self.rtc
            .handle_input(Input::Timeout(now))
            .expect("str0m timeout");
        loop {
            match self.rtc.poll_output().expect("str0m output") {
                Output::Timeout(_) => break,
                Output::Transmit(t) => {
                    if classify(&t.contents) == PacketKind::Rtp && self.drop_out_every > 0 {
                        self.rtp_out += 1;
                        if self.rtp_out.is_multiple_of(self.drop_out_every) {
                            continue;
                        }
                    }
                    let _ = self.sock.send_to(&t.contents, t.destination);
                }
                Output::Event(e) => match e {
                    Event::Connected => self.connected = true,
                    Event::MediaData(m) => self.frames.push(m),
                    Event::EgressBitrateEstimate(str0m::bwe::BweKind::Remb {
                        estimate, ..
                    }) => {
                        self.remb.push(estimate.as_u64());
                    }
                    Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc {
                        estimate, ..
                    }) => {
                        self.twcc.push(estimate.as_u64());
                    }
                    Event::MediaEgressStats(st) if st.remote.is_some() => self.rr_seen = true,
                    Event::MediaIngressStats(st) => {
                        if let Some(r) = st.remote {
                            self.sr_packets = Some(r.packets);
                        }
                    }
                    Event::KeyframeRequest(r) => {
                        self.keyframe_requests += 1;
                        if let Some(rid) = r.rid {
                            self.keyframe_rids.push(rid.to_string());
                        }
                    }
                    Event::ChannelOpen(id, _) => {
                        if let (Some(text), Some(mut ch)) = (&self.greeting, self.rtc.channel(id)) {
                            ch.write(false, text.as_bytes()).expect("str0m writes");
                        }
                    }
                    Event::ChannelData(d) => {
                        self.channel_data.push((d.binary, d.data.clone()));
                        self.messages
                            .push(String::from_utf8_lossy(&d.data).into_owned());
                    }
                    _ => {}
                },
            }
        }
    }

    /// Writes a small (one-packet) VP8 frame `n` on simulcast substream `layer`; `key`
    /// makes it a keyframe. The payload names the layer and the frame.
    pub fn write_layer(&mut self, now: Instant, layer: usize, n: u32, key: bool) {
        let mut data = vec![if key { 0x10 } else { 0x11 }, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        data.push(layer as u8);
        data.extend_from_slice(&n.to_be_bytes());
        data.resize(200, 0x33);
        let pt = self.pt.into();
        let rid = str0m::media::Rid::from(self.rids[layer].as_str());
        let w = self.rtc.writer(self.mid).expect("writer").rid(rid);
        w.write(pt, now, MediaTime::from_90khz(u64::from(n) * 3000), data)
            .expect("str0m writes the frame");
    }

    /// Writes VP8 frame `n` (a publisher only).
    pub fn write_frame(&mut self, now: Instant, n: u32) {
        let data = frame(n);
        let pt = self.pt.into();
        let w = self.rtc.writer(self.mid).expect("writer");
        w.write(pt, now, MediaTime::from_90khz(u64::from(n) * 3000), data)
            .expect("str0m writes the frame");
    }
}

/// Frame `n`: a VP8 keyframe header followed by bytes that name the frame; 3000 bytes, so
/// each frame is several equal-size RTP packets (a GSO batch).
pub fn frame(n: u32) -> Vec<u8> {
    let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
    f.extend_from_slice(&n.to_be_bytes());
    while f.len() < 3000 {
        f.push((f.len() as u32 ^ n) as u8);
    }
    f
}

/// Drives clients and collects events until `done` says so or `limit` passes.
pub fn run_until(
    dp: &Dataplane,
    clients: &mut [&mut Client],
    events: &mut Vec<ShardEvent>,
    limit: Duration,
    mut done: impl FnMut(&[&mut Client], &[ShardEvent]) -> bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        let now = Instant::now();
        for c in clients.iter_mut() {
            c.drive(now);
        }
        while let Some(ev) = dp.try_recv() {
            events.push(ev);
        }
        if done(clients, events) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// Waits until every client and its PeerConnection are connected.
pub fn connect_all(dp: &Dataplane, clients: &mut [&mut Client], events: &mut Vec<ShardEvent>) {
    let ids: Vec<PeerId> = clients.iter().map(|c| c.peer).collect();
    let ok = run_until(dp, clients, events, Duration::from_secs(10), |cs, evs| {
        cs.iter().all(|c| c.connected)
            && ids.iter().all(|id| {
                evs.iter()
                    .any(|e| matches!(e, ShardEvent::PeerConnected { peer, .. } if peer == id))
            })
    });
    let failed: Vec<&ShardEvent> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ShardEvent::CommandFailed { .. } | ShardEvent::Hangup { .. }
            )
        })
        .collect();
    assert!(ok, "every peer connects; failures: {failed:?}");
}

/// The latest stats snapshot of `shard`.
pub fn stats(
    dp: &Dataplane,
    shard: ShardId,
    clients: &mut [&mut Client],
    events: &mut Vec<ShardEvent>,
) -> portunus_dataplane::ShardStats {
    send(dp, shard, ShardCommand::GetStats);
    let before = events.len();
    let ok = run_until(dp, clients, events, Duration::from_secs(5), |_, evs| {
        evs[before..]
            .iter()
            .any(|e| matches!(e, ShardEvent::Stats(s) if s.shard == shard))
    });
    assert!(ok, "stats arrive");
    events[before..]
        .iter()
        .rev()
        .find_map(|e| match e {
            ShardEvent::Stats(s) if s.shard == shard => Some((**s).clone()),
            _ => None,
        })
        .expect("stats")
}

/// An audio publisher: str0m offers one sendonly Opus audio; Portunus answers as a VideoRoom
/// publisher (which accepts the ssrc-audio-level extension) and creates the PeerConnection
/// on `shard`. Also returns the offer's ssrc-audio-level extension id. `pt` is Opus's.
pub fn audio_publisher(
    dp: &Dataplane,
    shard: ShardId,
    id: u64,
    now: Instant,
) -> (Client, Option<u8>) {
    let (sock, addr) = bind_client();
    let server = dp.local_addrs(shard)[0];
    let mut rtc = Rtc::builder()
        .set_stats_interval(Some(Duration::from_millis(200)))
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    let mut change = rtc.sdp_api();
    let mid = change.add_media(StrKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, pending) = change.apply().expect("offer");
    let remote =
        RemoteDescription::parse(&offer.to_sdp_string(), SdpType::Offer).expect("parse offer");
    let creds = IceCredentials::generate(&[id as u8; IceCredentials::RANDOM_BYTES]);
    let plugin_view = jsep::anonymize(&remote.sdp).expect("anonymize");
    let policy = AnswerConfig::videoroom_publisher("1");
    let plugin_answer = jsep::generate_answer(&plugin_view, &policy, &[]).expect("answer");
    let mut next = next_ssrc_fn(0x1000_0000 * id as u32);
    let ctx = MergeContext::for_answer(&remote, transport(&creds, server), &mut next);
    let answer = jsep::merge(&plugin_answer, &ctx)
        .expect("merge")
        .to_string();
    rtc.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
        )
        .expect("str0m accepts the answer");
    let media = &remote.media[0];
    let ssrc = media.peer_ssrcs[0].expect("str0m announces its SSRC");
    let inbound = vec![InboundStream {
        ssrc,
        rtx_ssrc: None,
        mid: media.mid.as_str().to_owned(),
        kind: MediaKind::Audio,
    }];
    let pt = media
        .codecs
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case("opus"))
        .expect("opus")
        .payload_type;
    let level_ext = media
        .extmaps
        .iter()
        .find(|e| e.uri == portunus_sdp::extension::AUDIO_LEVEL)
        .and_then(|e| u8::try_from(e.id).ok());
    send(
        dp,
        shard,
        create_command(PeerId(id), creds, &remote, inbound),
    );
    let client = Client {
        rtc,
        sock,
        addr,
        server,
        peer: PeerId(id),
        shard,
        mid,
        connected: false,
        ssrc,
        pt,
        frames: Vec::new(),
        keyframe_requests: 0,
        keyframe_rids: Vec::new(),
        rids: Vec::new(),
        rtx_pts: Vec::new(),
        twcc_ext: None,
        twcc: Vec::new(),
        drop_out_every: 0,
        rtp_out: 0,
        remb: Vec::new(),
        channel_data: Vec::new(),
        rr_seen: false,
        sr_packets: None,
        silent: false,
        drop_every: 0,
        rtp_seen: 0,
        rtp_dropped: 0,
        messages: Vec::new(),
        greeting: None,
    };
    (client, level_ext)
}

impl Client {
    /// Writes Opus packet `n` (20 ms each) of an audio publisher, with the RFC 6464 level
    /// `level` (-dBov, 0 loudest … 127 silence) when given.
    pub fn write_audio(&mut self, now: Instant, n: u32, level: Option<u8>) {
        let pt = self.pt.into();
        let mut w = self.rtc.writer(self.mid).expect("writer");
        if let Some(level) = level {
            w = w.audio_level(-(level as i8), level < 127);
        }
        let ts = MediaTime::new(u64::from(n) * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        w.write(pt, now, ts, vec![0xfc, 0xff, 0xfe, n as u8])
            .expect("str0m writes the packet");
    }
}
