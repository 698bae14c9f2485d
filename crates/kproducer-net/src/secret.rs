//! [`Secret`]: a password or key that never shows up in logs or errors.

use std::fmt;

use zeroize::Zeroizing;

/// A password, token or private key.
///
/// `Debug` and `Display` print `[redacted]`, so a `Secret` can sit in a
/// configuration struct that is logged, traced (`?config`, `%secret`) or
/// formatted into an error without leaking. There is no `Serialize`, and no
/// `Deref` to `str`: the only way to the value is
/// [`expose`](Secret::expose), which is easy to find in a review. The
/// memory holding the value is overwritten with zeros when the last clone is
/// dropped (copies a caller made with `expose` are the caller's to manage).
///
/// ```
/// use kproducer_net::Secret;
///
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password}"), "[redacted]");
/// assert_eq!(format!("{password:?}"), "[redacted]");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value itself. Call it only where the value is used (put on the
    /// wire, fed to a key derivation), never to log it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// True when the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Compares in time independent of where the values first differ (only
/// their lengths leak), so a server comparing passwords with it gives no
/// timing hint.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("p4ssw0rd");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            user: String,
            password: Secret,
        }
        let c = Config {
            user: "alice".into(),
            password: s.clone(),
        };
        for text in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{c:?}"),
            format!("{c:#?}"),
        ] {
            assert!(!text.contains("p4ssw0rd"), "{text}");
        }
        assert!(format!("{c:?}").contains("[redacted]"));
    }

    #[test]
    fn equality_compares_the_values() {
        assert_eq!(Secret::new("a"), Secret::from("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_ne!(Secret::new("a"), Secret::new("ab"));
        assert!(Secret::default().is_empty());
    }
}
