//! The compression codecs a record batch can use, by name and by attribute id.

use std::fmt;
use std::str::FromStr;

/// A record batch's compression codec (bits 0–2 of the batch attributes).
///
/// Every codec is behind a cargo feature of the same name (all on by default);
/// [`Compression::is_available`] says whether this build includes it.
///
/// ```
/// use kproducer_protocol::records::Compression;
///
/// let c: Compression = "lz4".parse().unwrap();
/// assert_eq!(c, Compression::Lz4);
/// assert_eq!(c.id(), 3);
/// assert_eq!(c.to_string(), "lz4");
/// assert_eq!(Compression::from_id(4), Some(Compression::Zstd));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1), via `flate2`'s pure-Rust backend.
    Gzip,
    /// Snappy (id 2), in the xerial framing Kafka's Java client writes.
    Snappy,
    /// LZ4 (id 3), in the LZ4 frame format with independent 64 KiB blocks.
    Lz4,
    /// Zstandard (id 4), via the pure-Rust `ruzstd`.
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec's id in the batch attributes (0..=4).
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec with attribute id `id`, or `None` for ids Kafka does not
    /// define (5..=7).
    pub const fn from_id(id: u8) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec's name as Kafka's `compression.type` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress with this codec (false
    /// when its cargo feature is off).
    pub const fn is_available(self) -> bool {
        match self {
            Compression::None => true,
            Compression::Gzip => cfg!(feature = "gzip"),
            Compression::Snappy => cfg!(feature = "snappy"),
            Compression::Lz4 => cfg!(feature = "lz4"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string named no compression codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression type {0:?}: expected one of none, gzip, snappy, lz4, zstd")]
pub struct ParseCompressionError(pub String);

impl FromStr for Compression {
    type Err = ParseCompressionError;

    /// Parses Kafka's `compression.type` names, ignoring ASCII case and
    /// surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| ParseCompressionError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_id(c.id()), Some(c));
            assert_eq!(c.to_string().parse::<Compression>(), Ok(c));
            #[cfg(all(
                feature = "gzip",
                feature = "snappy",
                feature = "lz4",
                feature = "zstd"
            ))]
            assert!(c.is_available(), "default features include {c}");
        }
        assert_eq!(" GZIP ".parse::<Compression>(), Ok(Compression::Gzip));
        assert!("brotli".parse::<Compression>().is_err());
        assert_eq!(Compression::from_id(5), None);
        assert_eq!(Compression::from_id(7), None);
    }
}
