//! What both agents share: authenticating an inbound Binding request (RFC 8489 §9.1.3,
//! RFC 8445 §7.3) and writing the responses.

use core::net::SocketAddr;

use portunus_stun::{
    AttributeType, Class, IntegrityKey, MessageWriter, Method, StunError, StunHeader, StunMessage,
    TransactionId, codes,
};

use crate::IceError;

/// Most unknown attributes listed in one 420 response; more are not reported.
pub(crate) const MAX_UNKNOWN: usize = 4;

/// A response waiting for `poll_transmit`, small enough to queue by value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) tid: TransactionId,
    pub(crate) kind: ReplyKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum ReplyKind {
    /// Success with XOR-MAPPED-ADDRESS = the request's source (RFC 8445 §7.3.1.2).
    Success,
    /// An error response; `integrity` is false when the request was not authenticated
    /// (RFC 8489 §9.1.3: 400 and 401 carry no MESSAGE-INTEGRITY).
    Error { code: u16, integrity: bool },
    /// 420 with UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1).
    UnknownAttributes {
        attrs: [AttributeType; MAX_UNKNOWN],
        len: u8,
    },
}

impl Reply {
    /// Writes the response into `out`, keyed by the local password as the request was.
    pub(crate) fn write(&self, key: &IntegrityKey, out: &mut [u8]) -> Result<usize, StunError> {
        let class = match self.kind {
            ReplyKind::Success => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        };
        let mut w = MessageWriter::new(out, class, Method::BINDING, self.tid);
        match self.kind {
            ReplyKind::Success => {
                w.add_xor_mapped_address(self.remote);
                w.finish_with_integrity_and_fingerprint(key)
            }
            ReplyKind::Error { code, integrity } => {
                w.add_error_code(code, codes::reason_phrase(code));
                if integrity {
                    w.finish_with_integrity_and_fingerprint(key)
                } else {
                    w.finish_with_fingerprint()
                }
            }
            ReplyKind::UnknownAttributes { attrs, len } => {
                let n = usize::from(len).min(MAX_UNKNOWN);
                w.add_error_code(codes::UNKNOWN_ATTRIBUTE, "Unknown Attribute")
                    .add_unknown_attributes(&attrs[..n]);
                w.finish_with_integrity_and_fingerprint(key)
            }
        }
    }
}

/// An authenticated Binding request (USERNAME, MESSAGE-INTEGRITY, FINGERPRINT all good).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValidRequest<'a> {
    pub(crate) tid: TransactionId,
    /// The sender's ufrag: the part of USERNAME after the first ':'.
    pub(crate) remote_ufrag: &'a [u8],
    pub(crate) priority: Option<u32>,
    pub(crate) use_candidate: bool,
    pub(crate) controlling: Option<u64>,
    pub(crate) controlled: Option<u64>,
}

/// What an inbound datagram turned out to be.
pub(crate) enum Inbound<'a> {
    Request(ValidRequest<'a>),
    /// A Binding success or error response whose FINGERPRINT checked out; the agent matches
    /// the transaction and checks MESSAGE-INTEGRITY with the remote password.
    Response(StunMessage<'a>),
    /// A Binding indication (keepalive, RFC 8445 §11): nothing to do.
    Indication,
}

/// A rejected datagram: the error for the caller and the response to queue, if any.
pub(crate) struct Rejection {
    pub(crate) error: IceError,
    pub(crate) reply: Option<Reply>,
}

/// The credentials a request must match.
pub(crate) struct Expect<'k> {
    pub(crate) local_ufrag: &'k [u8],
    /// `None` before the remote description arrived: the sender's ufrag is not checked.
    pub(crate) remote_ufrag: Option<&'k [u8]>,
    pub(crate) key: &'k IntegrityKey,
}

/// Parses and authenticates `datagram` in RFC 8489 §6.3 / §9.1.3 order: framing, FINGERPRINT,
/// USERNAME and MESSAGE-INTEGRITY, then unknown comprehension-required attributes.
pub(crate) fn classify<'a>(
    datagram: &'a [u8],
    expect: &Expect<'_>,
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<Inbound<'a>, Rejection> {
    let header = StunHeader::parse(datagram).map_err(|_| drop_with(IceError::NotStun))?;
    let reply_to = |kind| Reply {
        local,
        remote,
        tid: header.transaction_id,
        kind,
    };
    let reject = |e: StunError| Rejection {
        error: IceError::Stun(e),
        reply: match (header.class, e.response_code()) {
            (Class::Request, Some(code)) => Some(reply_to(ReplyKind::Error {
                code,
                integrity: false,
            })),
            _ => None,
        },
    };
    let msg = StunMessage::parse(datagram).map_err(reject)?;
    match msg.fingerprint() {
        Some(_) if !msg.verify_fingerprint() => return Err(drop_with(IceError::NotStun)),
        Some(_) => {}
        // RFC 8445 §7.2.2 requires FINGERPRINT on every check and response.
        None => return Err(reject(StunError::MissingFingerprint)),
    }
    if msg.method() != Method::BINDING {
        return Err(match msg.class() {
            Class::Request => reject(StunError::UnsupportedMethod),
            _ => drop_with(IceError::Unexpected),
        });
    }
    match msg.class() {
        Class::Request => {}
        Class::Indication => return Ok(Inbound::Indication),
        Class::SuccessResponse | Class::ErrorResponse => return Ok(Inbound::Response(msg)),
    }
    let remote_ufrag = authenticate(&msg, expect).map_err(reject)?;
    let mut unknown = msg.unknown_comprehension_required();
    if let Some(first) = unknown.next() {
        let mut attrs = [first; MAX_UNKNOWN];
        let mut len = 1;
        for (slot, t) in attrs.iter_mut().skip(1).zip(unknown) {
            *slot = t;
            len += 1;
        }
        return Err(Rejection {
            error: IceError::Stun(StunError::UnknownAttribute { attr: first }),
            reply: Some(reply_to(ReplyKind::UnknownAttributes { attrs, len })),
        });
    }
    Ok(Inbound::Request(ValidRequest {
        tid: msg.transaction_id(),
        remote_ufrag,
        priority: msg.priority(),
        use_candidate: msg.use_candidate(),
        controlling: msg.ice_controlling(),
        controlled: msg.ice_controlled(),
    }))
}

/// RFC 8489 §9.1.3 with short-term credentials: USERNAME must be `local:remote` and
/// MESSAGE-INTEGRITY must verify with the local password. Returns the sender's ufrag.
fn authenticate<'a>(msg: &StunMessage<'a>, expect: &Expect<'_>) -> Result<&'a [u8], StunError> {
    let (Some(username), Some(_)) = (msg.username(), msg.message_integrity()) else {
        return Err(StunError::MissingIntegrity);
    };
    let colon = username
        .iter()
        .position(|&b| b == b':')
        .ok_or(StunError::UnknownUsername)?;
    let (ours, theirs) = (&username[..colon], &username[colon + 1..]);
    if ours != expect.local_ufrag || expect.remote_ufrag.is_some_and(|r| r != theirs) {
        return Err(StunError::UnknownUsername);
    }
    if !msg.verify_integrity_with(expect.key) {
        return Err(StunError::BadIntegrity);
    }
    Ok(theirs)
}

fn drop_with(error: IceError) -> Rejection {
    Rejection { error, reply: None }
}

/// Writes an ICE connectivity check (RFC 8445 §7.2.2): USERNAME `remote:local`, PRIORITY,
/// the role attribute with our tie-breaker, optionally USE-CANDIDATE, then
/// MESSAGE-INTEGRITY keyed by the remote password and FINGERPRINT.
pub(crate) struct CheckRequest<'k> {
    pub(crate) tid: TransactionId,
    pub(crate) local_ufrag: &'k [u8],
    pub(crate) remote_ufrag: &'k [u8],
    pub(crate) priority: u32,
    pub(crate) controlling: bool,
    pub(crate) tie_breaker: u64,
    pub(crate) use_candidate: bool,
}

impl CheckRequest<'_> {
    pub(crate) fn write(
        &self,
        remote_key: &IntegrityKey,
        out: &mut [u8],
    ) -> Result<usize, StunError> {
        let mut w = MessageWriter::new(out, Class::Request, Method::BINDING, self.tid);
        w.add_username_parts(self.remote_ufrag, self.local_ufrag)
            .add_priority(self.priority);
        if self.controlling {
            w.add_ice_controlling(self.tie_breaker);
        } else {
            w.add_ice_controlled(self.tie_breaker);
        }
        if self.use_candidate {
            w.add_use_candidate();
        }
        w.finish_with_integrity_and_fingerprint(remote_key)
    }
}
