//! Per-process DTLS configuration: the OpenSSL context and the timer policy.

use std::time::Duration;

use openssl::ssl::{
    SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};

use crate::callbacks;
use crate::{DtlsCertificate, DtlsError, Fingerprint};

/// A DTLS-SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `SRTP_AEAD_AES_128_GCM` (0x0007): preferred, cheapest per packet.
    AeadAes128Gcm,
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (0x0001): the mandatory-to-implement profile.
    Aes128CmSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32` (0x0002).
    Aes128CmSha1_32,
}

impl SrtpProfile {
    /// The IANA "DTLS-SRTP Protection Profiles" identifier.
    pub const fn iana_id(self) -> u16 {
        match self {
            Self::Aes128CmSha1_80 => 0x0001,
            Self::Aes128CmSha1_32 => 0x0002,
            Self::AeadAes128Gcm => 0x0007,
        }
    }

    /// The profile with IANA identifier `id`, if this crate supports it.
    pub const fn from_iana_id(id: u16) -> Option<Self> {
        match id {
            0x0001 => Some(Self::Aes128CmSha1_80),
            0x0002 => Some(Self::Aes128CmSha1_32),
            0x0007 => Some(Self::AeadAes128Gcm),
            _ => None,
        }
    }

    /// SRTP master key length in bytes.
    pub const fn master_key_len(self) -> usize {
        16
    }

    /// SRTP master salt length in bytes: 14 for AES-CM (RFC 3711 §8.2), 12 for GCM
    /// (RFC 7714 §12).
    pub const fn master_salt_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm => 12,
            Self::Aes128CmSha1_80 | Self::Aes128CmSha1_32 => 14,
        }
    }

    /// OpenSSL's name for the profile, as `SSL_CTX_set_tlsext_use_srtp` takes it.
    pub const fn openssl_name(self) -> &'static str {
        match self {
            Self::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            Self::Aes128CmSha1_80 => "SRTP_AES128_CM_SHA1_80",
            Self::Aes128CmSha1_32 => "SRTP_AES128_CM_SHA1_32",
        }
    }
}

/// What a [`DtlsConfig`] is built from. `Default` suits browsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsOptions {
    /// SRTP profiles in preference order. A server picks the first one the client also offers
    /// (RFC 5764 §4.1.1), so GCM comes first by default. Must not be empty.
    pub srtp_profiles: Vec<SrtpProfile>,
    /// OpenSSL cipher list (TLS 1.2 names). The default covers what Chrome, Firefox and Safari
    /// offer, with AEAD suites first; ECDHE-RSA suites only matter in the client role, towards
    /// peers with RSA certificates.
    pub cipher_list: String,
    /// Largest datagram OpenSSL may write during the handshake (`SSL_set_mtu`). 1200 keeps
    /// clear of IPv6 minimum MTU trouble with TURN and VPN overheads, as browsers do.
    pub mtu: u16,
    /// First retransmission timeout of each flight (RFC 6347 §4.2.4.1 suggests 1 s; WebRTC
    /// stacks use far less). Doubles on each expiry.
    pub initial_retransmit_timeout: Duration,
    /// Ceiling of the doubling retransmission timeout.
    pub max_retransmit_timeout: Duration,
    /// Give up the handshake when a retransmission timer expires after this many
    /// retransmissions in total. OpenSSL itself gives up on a flight after 12 expiries,
    /// which is reported the same way.
    pub max_retransmissions: u32,
    /// Give up the handshake when it has not finished this long after it started.
    pub handshake_timeout: Duration,
}

impl Default for DtlsOptions {
    fn default() -> Self {
        Self {
            srtp_profiles: vec![
                SrtpProfile::AeadAes128Gcm,
                SrtpProfile::Aes128CmSha1_80,
                SrtpProfile::Aes128CmSha1_32,
            ],
            cipher_list: DEFAULT_CIPHER_LIST.to_owned(),
            mtu: 1200,
            initial_retransmit_timeout: Duration::from_millis(100),
            max_retransmit_timeout: Duration::from_secs(3),
            max_retransmissions: 10,
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// The shared DTLS setup: one OpenSSL `SSL_CTX` holding the certificate, ciphers and SRTP
/// profiles, used for connections in either role.
///
/// Build it once per process (an `SSL_CTX` costs about 100 µs) and create every
/// [`crate::DtlsConnection`] from it. It is `Send + Sync`.
pub struct DtlsConfig {
    ctx: SslContext,
    fingerprint: Fingerprint,
    options: DtlsOptions,
    callback_index: callbacks::StateIndex,
}

impl DtlsConfig {
    /// Builds the OpenSSL context.
    ///
    /// # Errors
    /// [`DtlsError::InvalidConfig`] for an empty profile list, a zero timeout or an MTU below
    /// 256, and [`DtlsError::Ssl`] when OpenSSL rejects the cipher list or key material.
    pub fn new(cert: &DtlsCertificate, options: DtlsOptions) -> Result<Self, DtlsError> {
        validate(&options)?;
        let callback_index = callbacks::state_index()?;
        let mut b = SslContextBuilder::new(SslMethod::dtls())?;
        // WebRTC requires DTLS 1.2 (RFC 8827 §6.5); OpenSSL 3.0 has no DTLS 1.3.
        b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
        b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
        b.set_cipher_list(&options.cipher_list)?;
        let profiles: Vec<&str> = options
            .srtp_profiles
            .iter()
            .map(|p| p.openssl_name())
            .collect();
        b.set_tlsext_use_srtp(&profiles.join(":"))?;
        b.set_certificate(cert.x509())?;
        b.set_private_key(cert.key())?;
        b.check_private_key()?;
        // NO_QUERY_MTU: the BIO cannot know the path MTU; the MTU is set per connection.
        // CIPHER_SERVER_PREFERENCE: our order (AEAD first) wins when we are the server.
        // NO_RENEGOTIATION: WebRTC never renegotiates; refusing it removes an attack surface.
        b.set_options(
            SslOptions::NO_QUERY_MTU
                | SslOptions::CIPHER_SERVER_PREFERENCE
                | SslOptions::NO_RENEGOTIATION
                | SslOptions::NO_TICKET,
        );
        b.set_session_cache_mode(SslSessionCacheMode::OFF);
        // Both sides present certificates; the per-connection callback checks the peer's
        // against its SDP fingerprint instead of a CA chain (RFC 8827 §6.5).
        b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        Ok(Self {
            ctx: b.build(),
            fingerprint: cert.fingerprint().clone(),
            options,
            callback_index,
        })
    }

    /// The local certificate's fingerprint, for `a=fingerprint` in local SDP.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The options this config was built from.
    pub fn options(&self) -> &DtlsOptions {
        &self.options
    }

    pub(crate) fn context(&self) -> &SslContext {
        &self.ctx
    }

    pub(crate) fn callback_index(&self) -> callbacks::StateIndex {
        self.callback_index
    }
}

impl std::fmt::Debug for DtlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsConfig")
            .field("fingerprint", &self.fingerprint)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn validate(o: &DtlsOptions) -> Result<(), DtlsError> {
    if o.srtp_profiles.is_empty() {
        return Err(DtlsError::InvalidConfig("no SRTP profile"));
    }
    if o.mtu < MIN_MTU {
        return Err(DtlsError::InvalidConfig("MTU below 256"));
    }
    if o.initial_retransmit_timeout.is_zero() || o.handshake_timeout.is_zero() {
        return Err(DtlsError::InvalidConfig("zero timeout"));
    }
    if o.max_retransmit_timeout < o.initial_retransmit_timeout {
        return Err(DtlsError::InvalidConfig(
            "max retransmit timeout below the initial one",
        ));
    }
    Ok(())
}

/// Smallest MTU accepted; OpenSSL refuses less than about 256 anyway (`dtls1_min_mtu`).
const MIN_MTU: u16 = 256;

/// ECDHE suites only (forward secrecy), AEAD first, CBC-SHA last for old peers.
const DEFAULT_CIPHER_LIST: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:\
ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA";
