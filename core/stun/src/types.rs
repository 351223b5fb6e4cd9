//! Small value types of the STUN header and attributes.

use core::fmt;

/// The class of a STUN message (RFC 8489 §5: the C1 and C0 bits of the message type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request, answered by a success or error response.
    Request,
    /// An indication, which gets no response.
    Indication,
    /// A success response to a request.
    SuccessResponse,
    /// An error response to a request; carries ERROR-CODE.
    ErrorResponse,
}

impl Class {
    /// The two class bits (C1 C0) as a number 0..=3.
    pub const fn bits(self) -> u16 {
        match self {
            Self::Request => 0b00,
            Self::Indication => 0b01,
            Self::SuccessResponse => 0b10,
            Self::ErrorResponse => 0b11,
        }
    }

    /// The class for the two class bits (C1 C0); only the low two bits are read.
    pub const fn from_bits(bits: u16) -> Self {
        match bits & 0b11 {
            0b00 => Self::Request,
            0b01 => Self::Indication,
            0b10 => Self::SuccessResponse,
            _ => Self::ErrorResponse,
        }
    }

    /// True for success and error responses.
    pub const fn is_response(self) -> bool {
        matches!(self, Self::SuccessResponse | Self::ErrorResponse)
    }
}

/// A 12-bit STUN method (RFC 8489 §5, §18.2). Only Binding is used by ICE; others parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method(u16);

impl Method {
    /// The Binding method (0x001), the only one ICE and consent freshness use.
    pub const BINDING: Self = Self(0x001);

    /// A method from its 12-bit number; higher bits are dropped.
    pub const fn new(value: u16) -> Self {
        Self(value & 0x0fff)
    }

    /// The 12-bit method number.
    pub const fn value(self) -> u16 {
        self.0
    }
}

/// Encodes class and method into the 14-bit message type (RFC 8489 §5, figure 3).
pub(crate) const fn encode_message_type(class: Class, method: Method) -> u16 {
    let m = method.0;
    let c = class.bits();
    (m & 0x000f) | ((m & 0x0070) << 1) | ((m & 0x0f80) << 2) | ((c & 0b01) << 4) | ((c & 0b10) << 7)
}

/// Splits a 14-bit message type into class and method.
pub(crate) const fn decode_message_type(t: u16) -> (Class, Method) {
    let m = (t & 0x000f) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0f80);
    let c = ((t >> 4) & 0b01) | ((t >> 7) & 0b10);
    (Class::from_bits(c), Method(m))
}

/// The 96-bit transaction id of a STUN message (RFC 8489 §5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransactionId(pub [u8; 12]);

impl TransactionId {
    /// The raw 12 bytes.
    pub const fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A STUN attribute type (RFC 8489 §14, §18.3; RFC 8445 §16.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeType(pub u16);

impl AttributeType {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    pub const MAPPED_ADDRESS: Self = Self(0x0001);
    /// USERNAME (RFC 8489 §14.3).
    pub const USERNAME: Self = Self(0x0006);
    /// MESSAGE-INTEGRITY, HMAC-SHA1 (RFC 8489 §14.5).
    pub const MESSAGE_INTEGRITY: Self = Self(0x0008);
    /// ERROR-CODE (RFC 8489 §14.8).
    pub const ERROR_CODE: Self = Self(0x0009);
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    pub const UNKNOWN_ATTRIBUTES: Self = Self(0x000a);
    /// REALM (RFC 8489 §14.9).
    pub const REALM: Self = Self(0x0014);
    /// NONCE (RFC 8489 §14.10).
    pub const NONCE: Self = Self(0x0015);
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6). Not supported: ICE uses SHA-1 integrity, so
    /// this counts as an unknown attribute (ignored when it follows MESSAGE-INTEGRITY).
    pub const MESSAGE_INTEGRITY_SHA256: Self = Self(0x001c);
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    pub const XOR_MAPPED_ADDRESS: Self = Self(0x0020);
    /// PRIORITY (RFC 8445 §7.1.1).
    pub const PRIORITY: Self = Self(0x0024);
    /// USE-CANDIDATE (RFC 8445 §7.1.2).
    pub const USE_CANDIDATE: Self = Self(0x0025);
    /// SOFTWARE (RFC 8489 §14.14).
    pub const SOFTWARE: Self = Self(0x8022);
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    pub const ALTERNATE_SERVER: Self = Self(0x8023);
    /// FINGERPRINT (RFC 8489 §14.7).
    pub const FINGERPRINT: Self = Self(0x8028);
    /// ICE-CONTROLLED (RFC 8445 §7.1.3).
    pub const ICE_CONTROLLED: Self = Self(0x8029);
    /// ICE-CONTROLLING (RFC 8445 §7.1.3).
    pub const ICE_CONTROLLING: Self = Self(0x802a);

    /// True for types 0x0000-0x7FFF, which a receiver must understand (RFC 8489 §14).
    pub const fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// True for the attributes this crate understands. A comprehension-required attribute
    /// that is not known here is what a 420 (Unknown Attribute) response reports.
    pub const fn is_known(self) -> bool {
        matches!(
            self,
            Self::MAPPED_ADDRESS
                | Self::USERNAME
                | Self::MESSAGE_INTEGRITY
                | Self::ERROR_CODE
                | Self::UNKNOWN_ATTRIBUTES
                | Self::REALM
                | Self::NONCE
                | Self::XOR_MAPPED_ADDRESS
                | Self::PRIORITY
                | Self::USE_CANDIDATE
                | Self::SOFTWARE
                | Self::ALTERNATE_SERVER
                | Self::FINGERPRINT
                | Self::ICE_CONTROLLED
                | Self::ICE_CONTROLLING
        )
    }
}

/// A parsed ERROR-CODE attribute (RFC 8489 §14.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The code, 300..=699 (class × 100 + number).
    pub code: u16,
    /// The reason phrase as sent (UTF-8 by the RFC, not checked here).
    pub reason: &'a [u8],
}

/// Well-known RFC 8489 §14.8 / RFC 8445 §7.3.1.1 error codes.
pub mod codes {
    /// 300 Try Alternate.
    pub const TRY_ALTERNATE: u16 = 300;
    /// 400 Bad Request: malformed request.
    pub const BAD_REQUEST: u16 = 400;
    /// 401 Unauthorized: bad or missing credentials.
    pub const UNAUTHORIZED: u16 = 401;
    /// 403 Forbidden.
    pub const FORBIDDEN: u16 = 403;
    /// 420 Unknown Attribute: an unknown comprehension-required attribute was present.
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    /// 438 Stale Nonce.
    pub const STALE_NONCE: u16 = 438;
    /// 487 Role Conflict (RFC 8445 §7.3.1.1).
    pub const ROLE_CONFLICT: u16 = 487;
    /// 500 Server Error.
    pub const SERVER_ERROR: u16 = 500;

    /// The conventional reason phrase for `code` (RFC 8489 §14.8), or "" when there is none.
    pub const fn reason_phrase(code: u16) -> &'static str {
        match code {
            TRY_ALTERNATE => "Try Alternate",
            BAD_REQUEST => "Bad Request",
            UNAUTHORIZED => "Unauthorized",
            FORBIDDEN => "Forbidden",
            UNKNOWN_ATTRIBUTE => "Unknown Attribute",
            STALE_NONCE => "Stale Nonce",
            ROLE_CONFLICT => "Role Conflict",
            SERVER_ERROR => "Server Error",
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_round_trips_every_class_and_method() {
        for m in 0..0x1000u16 {
            for c in [
                Class::Request,
                Class::Indication,
                Class::SuccessResponse,
                Class::ErrorResponse,
            ] {
                let t = encode_message_type(c, Method::new(m));
                assert_eq!(t & 0xc000, 0);
                assert_eq!(decode_message_type(t), (c, Method::new(m)));
            }
        }
    }

    #[test]
    fn binding_types_match_rfc_values() {
        assert_eq!(encode_message_type(Class::Request, Method::BINDING), 0x0001);
        assert_eq!(
            encode_message_type(Class::Indication, Method::BINDING),
            0x0011
        );
        assert_eq!(
            encode_message_type(Class::SuccessResponse, Method::BINDING),
            0x0101
        );
        assert_eq!(
            encode_message_type(Class::ErrorResponse, Method::BINDING),
            0x0111
        );
    }
}
