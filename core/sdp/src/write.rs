//! [`Sdp`] → text, CRLF line endings (RFC 8866 §5).

use std::fmt::{self, Write as _};

use crate::{Attribute, Connection, Field, Line, Media, MediaLine, Origin, Sdp};

impl Sdp {
    /// Appends the description to `out` (what `to_string` returns).
    pub fn write_to(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = write!(out, "{self}");
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.session {
            write!(f, "{line}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\r\n", self.mline)?;
        for line in &self.lines {
            write!(f, "{line}\r\n")?;
        }
        Ok(())
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attribute(a) => a.fmt(f),
            Self::Field(x) => x.fmt(f),
        }
    }
}

/// `a=<name>[:<value>]`
impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{v}", self.name),
            None => write!(f, "a={}", self.name),
        }
    }
}

/// `<letter>=<value>`
impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.letter, self.value)
    }
}

/// `m=<media> <port>[/<count>] <proto>[ <fmt>…]`
impl fmt::Display for MediaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.kind_text, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        Ok(())
    }
}

/// The `o=` value (without `o=`).
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = if self.ipv6 { "IP6" } else { "IP4" };
        write!(
            f,
            "{} {} {} IN {ip} {}",
            self.username, self.session_id, self.session_version, self.address
        )
    }
}

/// The `c=` value (without `c=`).
impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IN {} {}",
            if self.ipv6 { "IP6" } else { "IP4" },
            self.address
        )
    }
}
