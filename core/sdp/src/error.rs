//! The crate's error type and its mapping to Janus API errors.

/// Size of the error buffer Janus formats parser errors into (`char error_str[512]`).
const JANUS_ERROR_BUFFER: usize = 512;

/// Why an SDP was refused or could not be built.
///
/// Syntax errors carry the exact text of Janus's parser (`janus_sdp_parse`), which Janus puts
/// in the `reason` of its 465 error; [`SdpError::janus_reason`] returns that reason for every
/// variant, including the ones where Janus's reason is not the `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The text does not begin with `v=`.
    #[error("Invalid SDP (doesn't start with v=)")]
    NotStartingWithV,
    /// A non-empty line shorter than three bytes.
    #[error("Invalid line ({len} bytes): {line}")]
    LineTooShort {
        /// Its length in bytes.
        len: usize,
        /// The line.
        line: String,
    },
    /// A line whose second character is not `=`.
    #[error("Invalid line (2nd char is not '='): {0}")]
    MissingEquals(String),
    /// A `v=` line without a number.
    #[error("Invalid v= line: {0}")]
    InvalidVersion(String),
    /// A second `o=` line.
    #[error("Multiple o= lines: {0}")]
    MultipleOrigin(String),
    /// An `o=` line that does not have the six fields.
    #[error("Invalid o= line: {0}")]
    InvalidOrigin(String),
    /// An `o=` line whose address type is neither IP4 nor IP6.
    #[error("Invalid o= line (unsupported protocol {addrtype}): {line}")]
    UnsupportedOriginProtocol {
        /// The address type found.
        addrtype: String,
        /// The line.
        line: String,
    },
    /// A second `s=` line.
    #[error("Multiple s= lines: {0}")]
    MultipleSessionName(String),
    /// A `t=` line without two numbers.
    #[error("Invalid t= line: {0}")]
    InvalidTiming(String),
    /// A second session-level `c=` line.
    #[error("Multiple global c= lines: {0}")]
    MultipleSessionConnection(String),
    /// A second `c=` line in one media section.
    #[error("Multiple m-line c= lines: {0}")]
    MultipleMediaConnection(String),
    /// A `c=` line that is not `IN <addrtype> <address>`.
    #[error("Invalid c= line: {0}")]
    InvalidConnection(String),
    /// A `c=` line whose address type is neither IP4 nor IP6.
    #[error("Invalid c= line (unsupported protocol {addrtype}): {line}")]
    UnsupportedConnectionProtocol {
        /// The address type found.
        addrtype: String,
        /// The line.
        line: String,
    },
    /// An attribute written `a=<name>:` with an empty value (the text is the line without `a=`,
    /// as Janus prints it).
    #[error("Invalid a= line: {0}")]
    InvalidAttribute(String),
    /// A media-level `b=` line without `<type>:<value>` (the line without `b=`).
    #[error("Invalid b= line: {0}")]
    InvalidBandwidth(String),
    /// An `m=` line longer than 200 bytes.
    #[error("Invalid m= line (too long): {0}")]
    MediaLineTooLong(usize),
    /// An `m=` line Janus cannot read, or with a media type other than audio, video or
    /// application.
    #[error("Invalid m= line: {0}")]
    InvalidMediaLine(String),
    /// An `m=` line without formats.
    #[error("Invalid m= line (no payload types/formats): {0}")]
    NoFormats(String),
    /// No `o=`, `s=` or `m=` line.
    #[error("Missing mandatory lines (o=, s= or m=)")]
    MissingMandatoryLines,
    /// An active audio/video m-line whose `a=mid` is longer than 16 characters
    /// (`janus_sdp_preparse`; Janus answers 465 with an **empty** reason).
    #[error("mid on m-line #{mline} too large: ({len} > 16)")]
    MidTooLong {
        /// The m-line index.
        mline: usize,
        /// The mid length.
        len: usize,
    },
    /// `a=mid` or `a=setup` without a value (`janus_sdp_preparse`; empty 465 reason).
    #[error("Invalid {0} attribute (no value)")]
    MissingValue(&'static str),
    /// A `mid` longer than 16 characters found while processing the remote description (an
    /// m-line the pre-parse does not check: data, or port 0).
    #[error("mid on m-line #{mline} too large: ({len} > 16)")]
    RemoteMidTooLong {
        /// The m-line index.
        mline: usize,
        /// The mid length.
        len: usize,
    },
    /// No ICE ufrag/pwd or no sha-256/sha-1 fingerprint for the first m-line.
    #[error("SDP missing mandatory information")]
    MissingMandatoryInformation,
    /// An `a=msid` line without two tokens.
    #[error("Invalid msid on m-line #{0}")]
    InvalidMsid(usize),
    /// Caller misuse: a codec the m-line kind cannot carry, or one Janus does not know.
    #[error("unsupported codec for this m-line: {0}")]
    UnsupportedCodec(String),
}

impl SdpError {
    /// The `reason` Janus puts in its error reply for this failure.
    ///
    /// Syntax errors: the parser text (this error's `Display`). Pre-parse refusals
    /// ([`Self::MidTooLong`], [`Self::MissingValue`]): the empty string, because Janus
    /// returns its error buffer without having written to it. Processing errors: `Error
    /// processing SDP`.
    ///
    /// Janus formats the parser text into a 512-byte buffer, so a reason quoting a long line
    /// is cut to 511 bytes (here at a character boundary).
    pub fn janus_reason(&self) -> String {
        match self {
            Self::MidTooLong { .. } | Self::MissingValue(_) => String::new(),
            Self::RemoteMidTooLong { .. }
            | Self::MissingMandatoryInformation
            | Self::InvalidMsid(_) => "Error processing SDP".to_owned(),
            other => {
                let mut text = other.to_string();
                let mut cut = text.len().min(JANUS_ERROR_BUFFER - 1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text
            }
        }
    }

    /// The Janus API error code: 465 (`JANUS_ERROR_JSEP_INVALID_SDP`), or 469 when a
    /// processing error happens on a renegotiation (Janus reuses
    /// `JANUS_ERROR_UNEXPECTED_ANSWER` there, with the same `Error processing SDP` reason).
    pub fn janus_code(&self, renegotiation: bool) -> u16 {
        if renegotiation && self.is_processing_error() {
            469
        } else {
            465
        }
    }

    /// Whether the text was refused by the parser (as opposed to a later semantic check).
    pub fn is_syntax_error(&self) -> bool {
        !self.is_processing_error()
            && !matches!(
                self,
                Self::MidTooLong { .. } | Self::MissingValue(_) | Self::UnsupportedCodec(_)
            )
    }

    fn is_processing_error(&self) -> bool {
        matches!(
            self,
            Self::RemoteMidTooLong { .. }
                | Self::MissingMandatoryInformation
                | Self::InvalidMsid(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preparse_refusals_have_the_empty_janus_reason() {
        let e = SdpError::MidTooLong { mline: 0, len: 17 };
        assert_eq!(e.janus_reason(), "");
        assert_eq!(e.janus_code(false), 465);
        assert!(!e.is_syntax_error());
    }

    #[test]
    fn processing_errors_become_469_on_renegotiation() {
        let e = SdpError::MissingMandatoryInformation;
        assert_eq!(e.janus_reason(), "Error processing SDP");
        assert_eq!(e.janus_code(false), 465);
        assert_eq!(e.janus_code(true), 469);
    }

    #[test]
    fn long_reasons_are_cut_like_janus_error_buffer() {
        let e = SdpError::MissingEquals("x".repeat(600));
        assert_eq!(e.janus_reason().len(), 511);
        assert!(e.to_string().len() > 600);
    }

    #[test]
    fn syntax_errors_use_the_parser_text() {
        let e = SdpError::MissingMandatoryLines;
        assert_eq!(e.janus_reason(), "Missing mandatory lines (o=, s= or m=)");
        assert_eq!(e.janus_code(true), 465);
        assert!(e.is_syntax_error());
    }
}
