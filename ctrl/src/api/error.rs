//! Janus API error codes and their default reasons (`src/apierror.h` of Janus 1.1.2).

use std::fmt;

/// A Janus API error code, as sent in `error.code`.
///
/// The numbering is Janus's own (`src/apierror.h`); janus.js and janode switch on these numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JanusCode {
    /// 403: wrong or missing `apisecret` / `token` / `admin_secret`.
    Unauthorized,
    /// 405: the token may not use this plugin.
    UnauthorizedPlugin,
    /// 450: a transport-level problem (HTTP method, `/info` misuse).
    TransportSpecific,
    /// 452: no request.
    MissingRequest,
    /// 453: unknown verb at session or handle level.
    UnknownRequest,
    /// 454: unparsable JSON.
    InvalidJson,
    /// 455: JSON that is not an object where one is needed.
    InvalidJsonObject,
    /// 456: a required member is missing.
    MissingMandatoryElement,
    /// 457: a verb sent at the wrong level, or path/body id conflict.
    InvalidRequestPath,
    /// 458: unknown or expired session.
    SessionNotFound,
    /// 459: unknown handle.
    HandleNotFound,
    /// 460: `attach` to a plugin that is not registered.
    PluginNotFound,
    /// 461: the plugin refused the handle.
    PluginAttach,
    /// 462: the plugin failed the message or is gone.
    PluginMessage,
    /// 463: detach or hangup without a plugin.
    PluginDetach,
    /// 464: `jsep.type` is neither offer nor answer.
    JsepUnknownType,
    /// 465: the SDP could not be parsed or processed.
    JsepInvalidSdp,
    /// 466: trickle for a PeerConnection that does not exist (Janus spells it `TRICKE_INVALID_STREAM`).
    TrickleInvalidStream,
    /// 467: a member has the wrong JSON type.
    InvalidElementType,
    /// 468: `create` with an id already in use.
    SessionConflict,
    /// 469: an answer without an offer, or a failed renegotiation.
    UnexpectedAnswer,
    /// 470: unknown token (Admin API).
    TokenNotFound,
    /// 471: the PeerConnection is in the wrong state.
    WebrtcState,
    /// 472: `accept_new_sessions` is false.
    NotAcceptingSessions,
    /// 490: anything else.
    Unknown,
}

impl JanusCode {
    /// The number sent on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Unauthorized => 403,
            Self::UnauthorizedPlugin => 405,
            Self::TransportSpecific => 450,
            Self::MissingRequest => 452,
            Self::UnknownRequest => 453,
            Self::InvalidJson => 454,
            Self::InvalidJsonObject => 455,
            Self::MissingMandatoryElement => 456,
            Self::InvalidRequestPath => 457,
            Self::SessionNotFound => 458,
            Self::HandleNotFound => 459,
            Self::PluginNotFound => 460,
            Self::PluginAttach => 461,
            Self::PluginMessage => 462,
            Self::PluginDetach => 463,
            Self::JsepUnknownType => 464,
            Self::JsepInvalidSdp => 465,
            Self::TrickleInvalidStream => 466,
            Self::InvalidElementType => 467,
            Self::SessionConflict => 468,
            Self::UnexpectedAnswer => 469,
            Self::TokenNotFound => 470,
            Self::WebrtcState => 471,
            Self::NotAcceptingSessions => 472,
            Self::Unknown => 490,
        }
    }

    /// The reason Janus sends when the code comes without a custom text (`janus_get_api_error`).
    pub fn default_reason(self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized request (wrong or missing secret/token)",
            Self::UnauthorizedPlugin => "Unauthorized access to plugin (token is not allowed to)",
            Self::TransportSpecific => "Transport specific error",
            Self::MissingRequest => "Missing request",
            Self::UnknownRequest => "Unknown request",
            Self::InvalidJson => "Invalid JSON",
            Self::InvalidJsonObject => "Invalid JSON Object",
            Self::MissingMandatoryElement => "Missing mandatory element",
            Self::InvalidRequestPath => "Invalid path for this request",
            Self::SessionNotFound => "Session not found",
            Self::HandleNotFound => "Handle not found",
            Self::PluginNotFound => "Plugin not found",
            Self::PluginAttach => "Error attaching plugin",
            Self::PluginMessage => "Error sending message to plugin",
            Self::PluginDetach => "Error detaching from plugin",
            Self::JsepUnknownType => "Unsupported JSEP type",
            Self::JsepInvalidSdp => "Invalid SDP",
            Self::TrickleInvalidStream => "Invalid stream",
            Self::InvalidElementType => "Invalid element type",
            Self::SessionConflict => "Session ID already in use",
            Self::UnexpectedAnswer => "Unexpected ANSWER (no OFFER)",
            Self::TokenNotFound => "Token not found",
            Self::WebrtcState => "Wrong WebRTC state",
            Self::NotAcceptingSessions => "Currently not accepting new sessions",
            Self::Unknown => "Unknown error",
        }
    }
}

/// A Janus API error: a code and the reason text sent with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The code.
    pub code: JanusCode,
    /// The `error.reason` text.
    pub reason: String,
}

impl ApiError {
    /// An error with a custom reason.
    pub fn new(code: JanusCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// An error with Janus's default reason for `code`.
    pub fn plain(code: JanusCode) -> Self {
        Self::new(code, code.default_reason())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.code(), self.reason)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_apierror_h() {
        assert_eq!(JanusCode::Unauthorized.code(), 403);
        assert_eq!(JanusCode::InvalidRequestPath.code(), 457);
        assert_eq!(JanusCode::NotAcceptingSessions.code(), 472);
        assert_eq!(JanusCode::Unknown.code(), 490);
    }

    #[test]
    fn plain_error_uses_default_reason() {
        let e = ApiError::plain(JanusCode::SessionNotFound);
        assert_eq!(e.reason, "Session not found");
        assert_eq!(e.to_string(), "458 Session not found");
    }
}
