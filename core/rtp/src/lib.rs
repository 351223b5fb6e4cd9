//! RTP and RTCP for the SFU hot path: zero-copy views, in-place rewriting and
//! writers into caller buffers, with no allocation per packet.
//!
//! # What it does
//!
//! - **RTP** (RFC 3550 §5.1): [`RtpPacket`] is a read-only view of a packet,
//!   [`RtpPacketMut`] rewrites marker, payload type, sequence number, timestamp,
//!   SSRC and extension ids in place, and [`write_rtp`] builds a packet.
//!   [`SeqNo`], [`extend_seq`] and [`SeqExtender`] extend 16-bit sequence numbers.
//! - **Header extensions** (RFC 8285 §4.2–§4.3): one- and two-byte forms
//!   ([`ext`]), typed values for mid, rid, repaired-rid, audio level (RFC 6464),
//!   abs-send-time, transport-wide CC, video orientation and playout delay
//!   ([`ext::typed`]); unknown elements pass through untouched.
//! - **RTX** (RFC 4588 §4): [`write_rtx`] and [`recover_rtx`].
//! - **RTCP** ([`rtcp`]): compound iteration (RFC 3550 §6, reduced-size per RFC 5506
//!   tolerated) with views and writers for SR, RR, SDES, BYE (RFC 3550 §6.4–§6.6),
//!   generic NACK and PLI (RFC 4585 §6.2.1, §6.3.1), FIR (RFC 5104 §4.3.1), REMB
//!   (draft-alvestrand-rmcat-remb-03) and transport-wide CC feedback
//!   (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
//! - **Codecs** ([`codec`]): keyframe detection for VP8 (RFC 7741), VP9 (RFC 9628),
//!   H.264 (RFC 6184) and AV1; the VP8 descriptor with in-place PictureID and
//!   TL0PICIDX rewrite for simulcast switching.
//! - **Demux** (RFC 7983 §7, RFC 5761 §4): [`classify`] a datagram's first bytes.
//!
//! # Out of scope
//!
//! SRTP (see `portunus-srtp`), jitter buffers, depacketization into frames, FEC
//! (RED/ULPFEC/FlexFEC), RTCP XR and APP contents (passed through raw), RFC 8888
//! congestion feedback, the transport-wide-cc-02 extension with feedback requests,
//! and the VP9 scalability structure. The crate holds no state beyond
//! [`SeqExtender`]: it is a toolbox of parsers and writers, not a state machine.
//!
//! # Per-packet use
//!
//! ```
//! use portunus_rtp::rtcp::{RtcpCompound, RtcpPacket};
//! use portunus_rtp::{ExtIdMap, PacketKind, RtpPacketMut, Ssrc, classify};
//!
//! // A publisher's VP8 packet with a one-byte extension (id 3 = transport-cc).
//! let mut buf = [
//!     0x90, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 9, // header, X set
//!     0xbe, 0xde, 0x00, 0x01, 0x31, 0x00, 0x07, 0x00, // ext: id 3, 2 bytes
//!     0x10, 0x00, 0x9d, 0x01, 0x2a, // VP8 keyframe start
//! ];
//! assert_eq!(classify(&buf), PacketKind::Rtp);
//!
//! // The subscriber negotiated transport-cc as id 5: remap and restamp in place.
//! let mut map = ExtIdMap::new();
//! map.set(3, 5)?;
//! let mut pkt = RtpPacketMut::parse(&mut buf)?;
//! pkt.set_ssrc(Ssrc(0xabcd));
//! pkt.set_sequence_number(1000);
//! assert_eq!(pkt.remap_extension_ids(&map), 0);
//! let view = pkt.as_packet();
//! assert_eq!(view.extension(5), Some(&[0x00, 0x07][..]));
//! assert!(portunus_rtp::codec::vp8::is_keyframe(view.payload()));
//!
//! // RTCP from the subscriber: collect NACKed sequence numbers.
//! let mut rtcp = [0u8; 64];
//! let n = portunus_rtp::rtcp::write_nack(&mut rtcp, Ssrc(1), Ssrc(0xabcd), &[998, 999])?;
//! assert_eq!(classify(&rtcp[..n]), PacketKind::Rtcp);
//! for pkt in RtcpCompound::new(&rtcp[..n]) {
//!     if let RtcpPacket::Nack(nack) = pkt? {
//!         assert_eq!(nack.lost().collect::<Vec<_>>(), [998, 999]);
//!     }
//! }
//! # Ok::<(), portunus_rtp::RtpError>(())
//! ```

#![deny(missing_docs)]

mod bytes;
pub mod codec;
mod demux;
mod error;
pub mod ext;
#[doc(hidden)]
pub mod fuzzing;
mod ids;
pub mod rtcp;
mod rtp;
mod rtx;

pub use demux::{PacketKind, classify};
pub use error::RtpError;
pub use ext::{
    ExtIdMap, ExtensionBlock, ExtensionElement, ExtensionForm, ExtensionIter, Extensions,
};
pub use ids::{SeqExtender, SeqNo, Ssrc, extend_seq};
pub use rtp::{Csrcs, RTP_HEADER_LEN, RtpHeader, RtpPacket, RtpPacketMut, write_rtp};
pub use rtx::{recover_rtx, rtx_osn, write_rtx};
