//! The JSEP rules Janus 1.1 applies between a client and a plugin.
//!
//! A client offer flows: text → [`RemoteDescription::parse`] (the core's checks and what it
//! keeps) → [`anonymize`] (what the plugin sees) → [`generate_answer`] (the plugin's answer)
//! → [`merge`] with a [`MergeContext::for_answer`] (what the client receives).
//!
//! A Janus offer flows: [`OfferBuilder`] or [`SubscriberOffer`] (the plugin's offer) →
//! [`merge`] with a [`MergeContext::for_offer`] → client; the client's answer comes back
//! through [`RemoteDescription::parse`] with [`SdpType::Answer`].

mod anonymize;
mod answer;
mod merge;
mod offer;
mod remote;

pub use anonymize::anonymize;
pub use answer::{AnswerConfig, MlinePolicy, OpusFmtp, generate_answer};
pub use merge::{LocalTransport, MediumState, MergeContext, RecvRid, merge};
pub use offer::{OfferBuilder, OfferStream, SubscriberOffer, SubscriberSlot};
pub use remote::{
    Codec, DtlsRole, RemoteDescription, RemoteMedia, RemoteOptions, RidOrder, Source,
};

/// Whether a description is an offer or an answer (`jsep.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// `offer`
    Offer,
    /// `answer`
    Answer,
}

impl SdpType {
    /// Parses `jsep.type` (`offer` / `answer`, case-insensitive as Janus).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("offer") {
            Some(Self::Offer)
        } else if s.eq_ignore_ascii_case("answer") {
            Some(Self::Answer)
        } else {
            None
        }
    }

    /// `offer` or `answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Answer => "answer",
        }
    }
}
