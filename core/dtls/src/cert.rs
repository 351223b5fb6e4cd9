//! The local certificate and SDP fingerprints (RFC 8122 §5).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509NameBuilder, X509Ref};

use crate::DtlsError;

/// A DTLS certificate and its private key: self-signed ECDSA P-256 for WebRTC, or loaded
/// from PEM.
///
/// Generate one at startup and share it by reference into [`crate::DtlsConfig::new`];
/// generating costs well under a millisecond but is not free.
#[derive(Clone)]
pub struct DtlsCertificate {
    cert: X509,
    key: PKey<Private>,
    fingerprint: Fingerprint,
}

impl DtlsCertificate {
    /// Generates a self-signed ECDSA P-256 certificate with a random 64-bit serial, valid from
    /// one day before `now` (peers' clocks drift; WebRTC peers do not check validity anyway)
    /// until [`Self::VALIDITY`] after it.
    ///
    /// `now` is wall-clock time supplied by the caller: this crate reads no clock.
    ///
    /// # Errors
    /// [`DtlsError::InvalidConfig`] for a `now` before 1970, [`DtlsError::Ssl`] if OpenSSL
    /// fails.
    pub fn generate(now: SystemTime) -> Result<Self, DtlsError> {
        let unix = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| DtlsError::InvalidConfig("certificate time before 1970"))?
            .as_secs();
        let unix = libc::time_t::try_from(unix)
            .map_err(|_| DtlsError::InvalidConfig("certificate time out of range"))?;
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;

        let mut serial = BigNum::new()?;
        serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
        let serial = Asn1Integer::from_bn(&serial)?;

        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, "portunus")?;
        let name = name.build();

        let mut builder = X509::builder()?;
        builder.set_version(2)?; // X.509 v3
        builder.set_serial_number(&serial)?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        let day = Self::BACKDATE.as_secs() as libc::time_t;
        let validity = Self::VALIDITY.as_secs() as libc::time_t;
        let not_before = Asn1Time::from_unix(unix.saturating_sub(day))?;
        let not_after = Asn1Time::from_unix(unix.saturating_add(validity))?;
        builder.set_not_before(&not_before)?;
        builder.set_not_after(&not_after)?;
        builder.sign(&key, MessageDigest::sha256())?;
        Ok(Self::from_parts(builder.build(), key)?)
    }

    /// Loads a certificate and its private key from PEM.
    ///
    /// # Errors
    /// [`DtlsError::Ssl`] when either does not parse, and [`DtlsError::InvalidConfig`] when
    /// the key does not belong to the certificate.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, DtlsError> {
        let cert = X509::from_pem(cert_pem)?;
        let key = PKey::private_key_from_pem(key_pem)?;
        if !cert.public_key()?.public_eq(&key) {
            return Err(DtlsError::InvalidConfig(
                "private key does not match the certificate",
            ));
        }
        Ok(Self::from_parts(cert, key)?)
    }

    fn from_parts(cert: X509, key: PKey<Private>) -> Result<Self, openssl::error::ErrorStack> {
        let fingerprint = Fingerprint::of_certificate(&cert, FingerprintAlgorithm::Sha256)?;
        Ok(Self {
            cert,
            key,
            fingerprint,
        })
    }

    /// The certificate's SHA-256 fingerprint, as `a=fingerprint:sha-256 …` advertises it.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The certificate as PEM.
    ///
    /// # Errors
    /// [`DtlsError::Ssl`] if OpenSSL fails to encode.
    pub fn certificate_pem(&self) -> Result<Vec<u8>, DtlsError> {
        Ok(self.cert.to_pem()?)
    }

    /// The private key as unencrypted PKCS#8 PEM. Handle with care.
    ///
    /// # Errors
    /// [`DtlsError::Ssl`] if OpenSSL fails to encode.
    pub fn private_key_pem(&self) -> Result<Vec<u8>, DtlsError> {
        Ok(self.key.private_key_to_pem_pkcs8()?)
    }

    /// How long a generated certificate is valid after the `now` it was generated at.
    pub const VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);
    /// How far before `now` a generated certificate's validity starts.
    pub const BACKDATE: Duration = Duration::from_secs(24 * 3600);

    pub(crate) fn x509(&self) -> &X509Ref {
        &self.cert
    }

    pub(crate) fn key(&self) -> &PKey<Private> {
        &self.key
    }
}

impl fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// A hash function of the SDP `a=fingerprint` attribute (RFC 8122 §5, RFC 4572 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FingerprintAlgorithm {
    /// `sha-1`: legacy, still accepted from peers.
    Sha1,
    /// `sha-224`.
    Sha224,
    /// `sha-256`: what browsers use and what this crate advertises.
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl FingerprintAlgorithm {
    /// The SDP token, lower case (`sha-256`).
    pub fn sdp_name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha224 => "sha-224",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// Parses an SDP token; RFC 8122 §5 makes it case-insensitive.
    pub fn from_sdp_name(name: &str) -> Option<Self> {
        [
            Self::Sha1,
            Self::Sha224,
            Self::Sha256,
            Self::Sha384,
            Self::Sha512,
        ]
        .into_iter()
        .find(|a| a.sdp_name().eq_ignore_ascii_case(name))
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn message_digest(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha224 => MessageDigest::sha224(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// A certificate fingerprint as exchanged in SDP (`a=fingerprint:sha-256 AB:CD:…`).
///
/// `Display` writes the SDP hex form, upper case and colon separated (`AB:CD:…`);
/// [`Fingerprint::sdp_value`] prefixes the hash name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    algorithm: FingerprintAlgorithm,
    digest: Vec<u8>,
}

impl Fingerprint {
    /// A fingerprint from raw digest bytes.
    ///
    /// # Errors
    /// [`DtlsError::InvalidFingerprint`] when the length does not fit the algorithm.
    pub fn new(algorithm: FingerprintAlgorithm, digest: &[u8]) -> Result<Self, DtlsError> {
        if digest.len() != algorithm.digest_len() {
            return Err(DtlsError::InvalidFingerprint(
                "digest length does not fit the hash",
            ));
        }
        Ok(Self {
            algorithm,
            digest: digest.to_vec(),
        })
    }

    /// Parses the hex part, `AB:CD:…` (either case).
    ///
    /// # Errors
    /// [`DtlsError::InvalidFingerprint`] for anything but colon-separated byte pairs of the
    /// algorithm's length.
    pub fn from_hex(algorithm: FingerprintAlgorithm, hex: &str) -> Result<Self, DtlsError> {
        let mut digest = Vec::with_capacity(algorithm.digest_len());
        for pair in hex.trim().split(':') {
            let &[hi, lo] = pair.as_bytes() else {
                return Err(DtlsError::InvalidFingerprint(
                    "expected colon-separated byte pairs",
                ));
            };
            let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) else {
                return Err(DtlsError::InvalidFingerprint("not a hex digit"));
            };
            digest.push(hi << 4 | lo);
        }
        Self::new(algorithm, &digest)
    }

    /// Parses an `a=fingerprint` attribute value: `<hash-func> SP <hex>` (RFC 8122 §5).
    ///
    /// # Errors
    /// [`DtlsError::InvalidFingerprint`] for an unknown hash or malformed hex.
    pub fn from_sdp(value: &str) -> Result<Self, DtlsError> {
        let Some((name, hex)) = value.trim().split_once(' ') else {
            return Err(DtlsError::InvalidFingerprint("expected `<hash> <hex>`"));
        };
        let Some(algorithm) = FingerprintAlgorithm::from_sdp_name(name) else {
            return Err(DtlsError::InvalidFingerprint("unsupported hash function"));
        };
        Self::from_hex(algorithm, hex)
    }

    /// The fingerprint of a DER certificate under `algorithm`.
    pub(crate) fn of_certificate(
        cert: &X509Ref,
        algorithm: FingerprintAlgorithm,
    ) -> Result<Self, openssl::error::ErrorStack> {
        let digest = cert.digest(algorithm.message_digest())?;
        Ok(Self {
            algorithm,
            digest: digest.to_vec(),
        })
    }

    /// Whether `cert` hashes to this fingerprint.
    pub(crate) fn matches(&self, cert: &X509Ref) -> bool {
        cert.digest(self.algorithm.message_digest())
            .is_ok_and(|d| d.as_ref() == self.digest.as_slice())
    }

    /// The hash function.
    pub fn algorithm(&self) -> FingerprintAlgorithm {
        self.algorithm
    }

    /// The raw digest.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The full attribute value, `sha-256 AB:CD:…`.
    pub fn sdp_value(&self) -> String {
        format!("{} {self}", self.algorithm.sdp_name())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.digest.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.sdp_value())
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_790_000_000)
    }

    #[test]
    fn generated_fingerprint_is_uppercase_colon_separated_sha256() {
        let cert = DtlsCertificate::generate(some_time()).unwrap();
        let text = cert.fingerprint().to_string();
        assert_eq!(text.len(), 32 * 3 - 1);
        assert!(text.split(':').all(|p| {
            p.len() == 2
                && p.bytes()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        }));
        let expected = cert.x509().digest(MessageDigest::sha256()).unwrap();
        assert_eq!(cert.fingerprint().digest(), expected.as_ref());
        assert!(cert.fingerprint().sdp_value().starts_with("sha-256 "));
    }

    #[test]
    fn generated_certificate_is_p256_with_requested_validity() {
        let cert = DtlsCertificate::generate(some_time()).unwrap();
        let x = cert.x509();
        let ec = x.public_key().unwrap().ec_key().unwrap();
        assert_eq!(ec.group().curve_name(), Some(Nid::X9_62_PRIME256V1));
        let start = Asn1Time::from_unix(1_790_000_000 - 86_400).unwrap();
        let end = Asn1Time::from_unix(1_790_000_000 + 30 * 86_400).unwrap();
        assert_eq!(
            x.not_before().compare(&start).unwrap(),
            std::cmp::Ordering::Equal
        );
        assert_eq!(
            x.not_after().compare(&end).unwrap(),
            std::cmp::Ordering::Equal
        );
    }

    #[test]
    fn generated_serials_differ() {
        let a = DtlsCertificate::generate(some_time()).unwrap();
        let b = DtlsCertificate::generate(some_time()).unwrap();
        let (sa, sb) = (a.x509().serial_number(), b.x509().serial_number());
        assert_ne!(sa.to_bn().unwrap(), sb.to_bn().unwrap());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn pem_round_trip_keeps_fingerprint() {
        let cert = DtlsCertificate::generate(some_time()).unwrap();
        let again = DtlsCertificate::from_pem(
            &cert.certificate_pem().unwrap(),
            &cert.private_key_pem().unwrap(),
        )
        .unwrap();
        assert_eq!(again.fingerprint(), cert.fingerprint());
    }

    #[test]
    fn pem_with_foreign_key_is_rejected() {
        let a = DtlsCertificate::generate(some_time()).unwrap();
        let b = DtlsCertificate::generate(some_time()).unwrap();
        let err =
            DtlsCertificate::from_pem(&a.certificate_pem().unwrap(), &b.private_key_pem().unwrap())
                .unwrap_err();
        assert!(matches!(err, DtlsError::InvalidConfig(_)));
    }

    #[test]
    fn fingerprint_parses_sdp_value_case_insensitively() {
        let hex = (0..32)
            .map(|i| format!("{:02x}", i * 7))
            .collect::<Vec<_>>()
            .join(":");
        let fp = Fingerprint::from_sdp(&format!("SHA-256 {hex}")).unwrap();
        assert_eq!(fp.algorithm(), FingerprintAlgorithm::Sha256);
        assert_eq!(fp.to_string(), hex.to_uppercase());
        assert_eq!(Fingerprint::from_sdp(&fp.sdp_value()).unwrap(), fp);
    }

    #[test]
    fn fingerprint_rejects_malformed_hex() {
        let ok = vec!["AB"; 32].join(":");
        assert!(Fingerprint::from_hex(FingerprintAlgorithm::Sha256, &ok).is_ok());
        for bad in [
            vec!["AB"; 31].join(":"),
            vec!["AB"; 33].join(":"),
            ok.replacen("AB", "A", 1),
            ok.replacen("AB", "GB", 1),
            ok.replacen(':', "-", 1),
            ok.replacen("AB", "é", 1),
            String::new(),
        ] {
            assert!(
                Fingerprint::from_hex(FingerprintAlgorithm::Sha256, &bad).is_err(),
                "{bad}"
            );
        }
        assert!(Fingerprint::from_sdp(&format!("md5 {ok}")).is_err());
        assert!(Fingerprint::from_sdp(&ok).is_err());
    }
}
