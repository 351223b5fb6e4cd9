//! SRTP protection profiles: the DTLS-SRTP identifiers and the sizes that follow from them.

/// An SRTP protection profile (crypto suite), as negotiated by DTLS-SRTP (RFC 5764 §4.1.2).
///
/// The sizes here are what callers need to size buffers and to split DTLS exporter output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpProfile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (RFC 5764, id 0x0001): AES-128 counter mode, 80-bit
    /// HMAC-SHA1 tag on SRTP and SRTCP.
    Aes128CmHmacSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32` (RFC 5764, id 0x0002): as above with a 32-bit SRTP tag.
    /// SRTCP still carries an 80-bit tag (RFC 5764 §4.1.2).
    Aes128CmHmacSha1_32,
    /// `SRTP_AEAD_AES_128_GCM` (RFC 7714, id 0x0007): AES-128-GCM with a 16-byte tag.
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM` (RFC 7714, id 0x0008): AES-256-GCM with a 16-byte tag.
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Maps a DTLS-SRTP protection profile id (RFC 5764 §4.1.2, RFC 7714 §14.2) to a profile;
    /// `None` for ids this crate does not implement.
    pub const fn from_iana_id(id: u16) -> Option<Self> {
        match id {
            0x0001 => Some(Self::Aes128CmHmacSha1_80),
            0x0002 => Some(Self::Aes128CmHmacSha1_32),
            0x0007 => Some(Self::AeadAes128Gcm),
            0x0008 => Some(Self::AeadAes256Gcm),
            _ => None,
        }
    }

    /// The DTLS-SRTP protection profile id.
    pub const fn iana_id(self) -> u16 {
        match self {
            Self::Aes128CmHmacSha1_80 => 0x0001,
            Self::Aes128CmHmacSha1_32 => 0x0002,
            Self::AeadAes128Gcm => 0x0007,
            Self::AeadAes256Gcm => 0x0008,
        }
    }

    /// Master key length in bytes.
    pub const fn master_key_len(self) -> usize {
        match self {
            Self::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes: 14 for AES-CM (RFC 3711 §8.2), 12 for AEAD (RFC 7714 §12).
    pub const fn master_salt_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 | Self::Aes128CmHmacSha1_32 => 14,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
        }
    }

    /// Length of the DTLS exporter output for this profile (RFC 5764 §4.2):
    /// `2 * (master_key_len + master_salt_len)`.
    pub const fn keying_material_len(self) -> usize {
        2 * (self.master_key_len() + self.master_salt_len())
    }

    /// Authentication tag length appended to SRTP packets.
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 => 10,
            Self::Aes128CmHmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// Authentication tag length appended to SRTCP packets; 10 for both AES-CM profiles
    /// (the `_32` suffix only shortens the SRTP tag).
    pub const fn rtcp_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 | Self::Aes128CmHmacSha1_32 => 10,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// Bytes `protect_rtp` adds to an RTP packet (the tag; no MKI is used). With cryptex
    /// enabled, see [`crate::SrtpContext::rtp_overhead`], which can be 4 bytes more.
    pub const fn rtp_overhead(self) -> usize {
        self.rtp_tag_len()
    }

    /// Bytes `protect_rtcp` adds to an RTCP packet: the 4-byte E|SRTCP-index word and the tag.
    pub const fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }

    /// Whether this is an AEAD (GCM) profile.
    pub const fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm | Self::AeadAes256Gcm)
    }
}

/// The four keys and salts of a DTLS-SRTP exporter output, split as RFC 5764 §4.2 lays them
/// out: `client_key | server_key | client_salt | server_salt`.
///
/// Which half is local depends on the DTLS role (`a=setup`), not on offer/answer: the DTLS
/// client sends with the client key and salt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DtlsSrtpKeys<'a> {
    /// Master key used by the DTLS client to send.
    pub client_key: &'a [u8],
    /// Master key used by the DTLS server to send.
    pub server_key: &'a [u8],
    /// Master salt used by the DTLS client to send.
    pub client_salt: &'a [u8],
    /// Master salt used by the DTLS server to send.
    pub server_salt: &'a [u8],
}

impl<'a> DtlsSrtpKeys<'a> {
    /// Splits `material` (the `EXTRACTOR-dtls_srtp` export, RFC 5764 §4.2) for `profile`.
    ///
    /// # Errors
    /// [`crate::SrtpError::BadKeyingMaterialLength`] unless `material` is exactly
    /// [`SrtpProfile::keying_material_len`] bytes.
    pub fn split(profile: SrtpProfile, material: &'a [u8]) -> Result<Self, crate::SrtpError> {
        let expected = profile.keying_material_len();
        if material.len() != expected {
            return Err(crate::SrtpError::BadKeyingMaterialLength {
                expected,
                actual: material.len(),
            });
        }
        let k = profile.master_key_len();
        let s = profile.master_salt_len();
        let (client_key, rest) = material.split_at(k);
        let (server_key, rest) = rest.split_at(k);
        let (client_salt, server_salt) = rest.split_at(s);
        Ok(Self {
            client_key,
            server_key,
            client_salt,
            server_salt,
        })
    }
}

impl core::fmt::Debug for DtlsSrtpKeys<'_> {
    // Key material never goes into logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DtlsSrtpKeys").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_ids_round_trip() {
        for id in 0..=0x00ffu16 {
            if let Some(p) = SrtpProfile::from_iana_id(id) {
                assert_eq!(p.iana_id(), id);
            }
        }
        assert_eq!(
            SrtpProfile::from_iana_id(0x0001),
            Some(SrtpProfile::Aes128CmHmacSha1_80)
        );
        assert_eq!(
            SrtpProfile::from_iana_id(0x0002),
            Some(SrtpProfile::Aes128CmHmacSha1_32)
        );
        assert_eq!(
            SrtpProfile::from_iana_id(0x0007),
            Some(SrtpProfile::AeadAes128Gcm)
        );
        assert_eq!(
            SrtpProfile::from_iana_id(0x0008),
            Some(SrtpProfile::AeadAes256Gcm)
        );
        assert_eq!(SrtpProfile::from_iana_id(0x0005), None);
    }

    #[test]
    fn aes_cm_32_uses_an_80_bit_srtcp_tag() {
        let p = SrtpProfile::Aes128CmHmacSha1_32;
        assert_eq!(p.rtp_tag_len(), 4);
        assert_eq!(p.rtcp_tag_len(), 10);
        assert_eq!(p.rtcp_overhead(), 14);
    }

    #[test]
    fn splits_keying_material_in_rfc5764_order() {
        let p = SrtpProfile::AeadAes128Gcm;
        let material: Vec<u8> = (0..p.keying_material_len() as u8).collect();
        let keys = DtlsSrtpKeys::split(p, &material).unwrap();
        assert_eq!(keys.client_key, &material[0..16]);
        assert_eq!(keys.server_key, &material[16..32]);
        assert_eq!(keys.client_salt, &material[32..44]);
        assert_eq!(keys.server_salt, &material[44..56]);
        assert!(DtlsSrtpKeys::split(p, &material[1..]).is_err());
    }
}
