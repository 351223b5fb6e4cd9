//! Stored-token authentication (Janus `token_auth` without `token_auth_secret`).

use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;

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
