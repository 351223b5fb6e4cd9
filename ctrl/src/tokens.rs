//! Stored-token authentication (Janus `token_auth` without `token_auth_secret`).

use std::collections::BTreeMap;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// Tokens added through the Admin API and the plugins each may use.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tokens {
    map: BTreeMap<String, Vec<String>>,
}

impl Tokens {
    /// Whether `token` was added.
    pub(crate) fn is_valid(&self, token: &str) -> bool {
        self.map.contains_key(token)
    }

    /// Whether `token` may attach to `plugin`.
    pub(crate) fn allows(&self, token: &str, plugin: &str) -> bool {
        self.map
            .get(token)
            .is_some_and(|p| p.iter().any(|x| x == plugin))
    }

    /// Add (or extend) a token with these plugins.
    pub(crate) fn add(&mut self, token: &str, plugins: &[&str]) {
        let entry = self.map.entry(token.to_owned()).or_default();
        for p in plugins {
            if !entry.iter().any(|x| x == p) {
                entry.push((*p).to_owned());
            }
        }
    }

    /// Remove plugins from a token; false if the token is unknown.
    pub(crate) fn disallow(&mut self, token: &str, plugins: &[&str]) -> bool {
        match self.map.get_mut(token) {
            Some(list) => {
                list.retain(|x| !plugins.contains(&x.as_str()));
                true
            }
            None => false,
        }
    }

    /// Remove a token; false if it was unknown.
    pub(crate) fn remove(&mut self, token: &str) -> bool {
        self.map.remove(token).is_some()
    }

    /// Plugins `token` may use.
    pub(crate) fn plugins(&self, token: &str) -> &[String] {
        self.map.get(token).map(Vec::as_slice).unwrap_or(&[])
    }

    /// All tokens with their plugins.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// Janus's HMAC token check (`janus_auth_check_signature[_contains]` in `src/auth.c`): token
/// `<expiry unix s>,<realm>[,<desc>…]:<base64 HMAC-SHA1 of the part before ':'>`, not expired
/// at `unix_now`, realm `janus`, and listing `plugin` when one is given.
pub(crate) fn check_signed(token: &str, secret: &str, unix_now: u64, plugin: Option<&str>) -> bool {
    let Some((data, signature)) = token.split_once(':') else {
        return false;
    };
    if signature.contains(':') {
        return false;
    }
    let mut fields = data.split(',');
    let (Some(expiry), Some(realm)) = (fields.next(), fields.next()) else {
        return false;
    };
    let Ok(expiry) = expiry.trim().parse::<i64>() else {
        return false;
    };
    if expiry < 0 || i64::try_from(unix_now).unwrap_or(i64::MAX) > expiry || realm != "janus" {
        return false;
    }
    if let Some(p) = plugin
        && !fields.any(|d| d == p)
    {
        return false;
    }
    let Some(expected) = sign(secret, data) else {
        return false;
    };
    expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Base64 HMAC-SHA1 of `data` with `secret`.
pub(crate) fn sign(secret: &str, data: &str) -> Option<String> {
    let key = PKey::hmac(secret.as_bytes()).ok()?;
    let mut signer = Signer::new(MessageDigest::sha1(), &key).ok()?;
    signer.update(data.as_bytes()).ok()?;
    Some(openssl::base64::encode_block(&signer.sign_to_vec().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_check_expiry_realm_plugin_and_signature() {
        let data = "2000000000,janus,janus.plugin.echotest";
        let token = format!("{data}:{}", sign("s", data).unwrap());
        assert!(check_signed(&token, "s", 1_900_000_000, None));
        assert!(check_signed(
            &token,
            "s",
            1_900_000_000,
            Some("janus.plugin.echotest")
        ));
        assert!(!check_signed(
            &token,
            "s",
            1_900_000_000,
            Some("janus.plugin.videoroom")
        ));
        assert!(!check_signed(&token, "s", 2_000_000_001, None), "expired");
        assert!(
            !check_signed(&token, "other", 1_900_000_000, None),
            "wrong secret"
        );
        assert!(!check_signed("2000000000,janus", "s", 0, None));
        let other_realm = "2000000000,other";
        assert!(!check_signed(
            &format!("{other_realm}:{}", sign("s", other_realm).unwrap()),
            "s",
            0,
            None
        ));
    }

    #[test]
    fn add_allow_disallow_remove() {
        let mut t = Tokens::default();
        t.add("a", &["p1", "p2"]);
        assert!(t.is_valid("a") && t.allows("a", "p1") && !t.allows("a", "p3"));
        assert!(t.disallow("a", &["p1"]));
        assert!(!t.allows("a", "p1"));
        assert!(!t.disallow("zz", &["p1"]));
        assert!(t.remove("a"));
        assert!(!t.remove("a"));
        assert!(!t.is_valid("a"));
    }
}
