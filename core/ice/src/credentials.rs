//! ICE ufrag/pwd (RFC 8445 §5.3, RFC 8839 §5.4).

use crate::IceError;

/// The 64 ice-chars (RFC 8839 §5.4: ALPHA / DIGIT / "+" / "/"), so one random byte's low six
/// bits pick a character without bias.
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Length of a generated ufrag: 48 random bits, well above the 24 bits RFC 8445 §5.3 requires.
const GENERATED_UFRAG_LEN: usize = 8;
/// Length of a generated pwd: 144 random bits, above the 128 bits RFC 8445 §5.3 requires.
const GENERATED_PWD_LEN: usize = 24;

/// An ICE username fragment and password.
#[derive(Clone, PartialEq, Eq)]
pub struct IceCredentials {
    ufrag: String,
    pwd: String,
}

impl IceCredentials {
    /// Bytes of randomness [`Self::generate`] takes.
    pub const RANDOM_BYTES: usize = GENERATED_UFRAG_LEN + GENERATED_PWD_LEN;

    /// Credentials from SDP strings, checked against RFC 8839 §5.4: a ufrag of 4-256 and a
    /// pwd of 22-256 ice-chars.
    ///
    /// # Errors
    /// [`IceError::InvalidCredentials`] when either string breaks those rules.
    pub fn new(ufrag: &str, pwd: &str) -> Result<Self, IceError> {
        if !valid(ufrag, 4) || !valid(pwd, 22) {
            return Err(IceError::InvalidCredentials);
        }
        Ok(Self {
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
        })
    }

    /// Fresh credentials (an 8-character ufrag and a 24-character pwd) from caller-supplied
    /// random bytes, e.g. from the OS RNG; this crate never draws randomness itself.
    pub fn generate(random: &[u8; Self::RANDOM_BYTES]) -> Self {
        let pick = |b: &u8| char::from(ICE_CHARS[usize::from(b & 63)]);
        let (u, p) = random.split_at(GENERATED_UFRAG_LEN);
        Self {
            ufrag: u.iter().map(pick).collect(),
            pwd: p.iter().map(pick).collect(),
        }
    }

    /// The username fragment (`a=ice-ufrag`).
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    /// The password (`a=ice-pwd`).
    pub fn pwd(&self) -> &str {
        &self.pwd
    }
}

impl core::fmt::Debug for IceCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The ufrag is public in SDP; the password is a secret and never printed.
        f.debug_struct("IceCredentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &"..")
            .finish()
    }
}

fn valid(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len()) && s.bytes().all(|b| ICE_CHARS.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_meet_rfc_8839_lengths_and_charset() {
        let mut r = [0u8; IceCredentials::RANDOM_BYTES];
        for (i, b) in r.iter_mut().enumerate() {
            *b = (i * 37) as u8;
        }
        let c = IceCredentials::generate(&r);
        assert_eq!(c.ufrag().len(), 8);
        assert_eq!(c.pwd().len(), 24);
        assert!(IceCredentials::new(c.ufrag(), c.pwd()).is_ok());
    }

    #[test]
    fn different_randomness_gives_different_credentials() {
        let a = IceCredentials::generate(&[1; 32]);
        let b = IceCredentials::generate(&[2; 32]);
        assert_ne!(a.ufrag(), b.ufrag());
        assert_ne!(a.pwd(), b.pwd());
    }

    #[test]
    fn rejects_short_or_non_ice_char_credentials() {
        let pwd = "abcdefghijklmnopqrstuv";
        assert!(IceCredentials::new("abcd", pwd).is_ok());
        assert_eq!(
            IceCredentials::new("abc", pwd),
            Err(IceError::InvalidCredentials)
        );
        assert_eq!(
            IceCredentials::new("ab:d", pwd),
            Err(IceError::InvalidCredentials)
        );
        assert_eq!(
            IceCredentials::new("abcd", &pwd[1..]),
            Err(IceError::InvalidCredentials)
        );
        assert_eq!(
            IceCredentials::new(&"a".repeat(257), pwd),
            Err(IceError::InvalidCredentials)
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let c = IceCredentials::new("abcd", "abcdefghijklmnopqrstuv").unwrap();
        assert!(!format!("{c:?}").contains("abcdefghijklmnopqrstuv"));
    }
}
