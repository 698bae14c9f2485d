//! The table of APIs this crate speaks, with the versions it supports and the
//! first flexible (KIP-482) version of each. Header versions are derived from
//! this table, never repeated by hand.

use std::fmt;

/// An inclusive range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// True when `version` lies in the range.
    pub const fn contains(&self, version: i16) -> bool {
        version >= self.min && version <= self.max
    }

    /// The highest version in both ranges, if they overlap.
    ///
    /// ```
    /// use kproducer_protocol::VersionRange;
    /// let ours = VersionRange { min: 3, max: 11 };
    /// assert_eq!(ours.highest_common(VersionRange { min: 0, max: 9 }), Some(9));
    /// assert_eq!(ours.highest_common(VersionRange { min: 0, max: 2 }), None);
    /// ```
    pub const fn highest_common(&self, other: VersionRange) -> Option<i16> {
        let lo = if self.min > other.min {
            self.min
        } else {
            other.min
        };
        let hi = if self.max < other.max {
            self.max
        } else {
            other.max
        };
        if lo <= hi { Some(hi) } else { None }
    }
}

macro_rules! api_keys {
    ($( $(#[$doc:meta])* $name:ident = $key:literal, $min:literal..=$max:literal, flexible $flex:expr; )*) => {
        /// A Kafka API this crate implements.
        ///
        /// ```
        /// use kproducer_protocol::ApiKey;
        ///
        /// let key = ApiKey::from_i16(0).unwrap();
        /// assert_eq!(key, ApiKey::Produce);
        /// assert_eq!(key.to_string(), "Produce(0)");
        /// assert!(!key.is_flexible(8) && key.is_flexible(9));
        /// assert_eq!(key.request_header_version(9), 2);
        /// assert_eq!(ApiKey::from_i16(1000), None);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i16)]
        #[non_exhaustive]
        pub enum ApiKey {
            $( $(#[$doc])* $name = $key, )*
        }

        impl ApiKey {
            /// Every API in the table.
            pub const ALL: &'static [ApiKey] = &[$(ApiKey::$name),*];

            /// The API for a wire key, if this crate implements it.
            pub const fn from_i16(key: i16) -> Option<ApiKey> {
                match key {
                    $( $key => Some(ApiKey::$name), )*
                    _ => None,
                }
            }

            /// The versions this crate can encode and decode.
            pub const fn versions(self) -> VersionRange {
                match self {
                    $( ApiKey::$name => VersionRange { min: $min, max: $max }, )*
                }
            }

            /// The first flexible version (compact types and tagged fields),
            /// or `None` when no supported version is flexible.
            pub const fn flexible_since(self) -> Option<i16> {
                match self {
                    $( ApiKey::$name => $flex, )*
                }
            }

            /// The API's name as Kafka spells it.
            pub const fn name(self) -> &'static str {
                match self {
                    $( ApiKey::$name => stringify!($name), )*
                }
            }
        }
    };
}

api_keys! {
    /// Produce (0).
    Produce = 0, 3..=11, flexible Some(9);
    /// Fetch (1), for the fake broker's consumers.
    Fetch = 1, 4..=12, flexible Some(12);
    /// ListOffsets (2), for the fake broker's consumers.
    ListOffsets = 2, 1..=7, flexible Some(6);
    /// Metadata (3).
    Metadata = 3, 0..=12, flexible Some(9);
    /// FindCoordinator (10).
    FindCoordinator = 10, 0..=4, flexible Some(3);
    /// SaslHandshake (17).
    SaslHandshake = 17, 0..=1, flexible None;
    /// ApiVersions (18).
    ApiVersions = 18, 0..=3, flexible Some(3);
    /// InitProducerId (22).
    InitProducerId = 22, 0..=5, flexible Some(2);
    /// AddPartitionsToTxn (24).
    AddPartitionsToTxn = 24, 0..=3, flexible Some(3);
    /// AddOffsetsToTxn (25).
    AddOffsetsToTxn = 25, 0..=3, flexible Some(3);
    /// EndTxn (26).
    EndTxn = 26, 0..=3, flexible Some(3);
    /// TxnOffsetCommit (28).
    TxnOffsetCommit = 28, 0..=3, flexible Some(3);
    /// SaslAuthenticate (36).
    SaslAuthenticate = 36, 0..=2, flexible Some(2);
}

impl ApiKey {
    /// The wire value.
    pub const fn as_i16(self) -> i16 {
        self as i16
    }

    /// True when `version` of this API uses flexible encoding.
    pub const fn is_flexible(self, version: i16) -> bool {
        match self.flexible_since() {
            Some(v) => version >= v,
            None => false,
        }
    }

    /// Request header version: 2 for flexible versions, 1 otherwise.
    pub const fn request_header_version(self, version: i16) -> i16 {
        if self.is_flexible(version) { 2 } else { 1 }
    }

    /// Response header version: 1 for flexible versions, 0 otherwise. The
    /// ApiVersions response always uses header v0, so that a client can read
    /// it whatever version it asked for (KIP-511).
    pub const fn response_header_version(self, version: i16) -> i16 {
        match self {
            ApiKey::ApiVersions => 0,
            _ if self.is_flexible(version) => 1,
            _ => 0,
        }
    }

    /// Checks that `version` is supported, for encode paths.
    pub fn check_encode(self, version: i16) -> Result<(), crate::EncodeError> {
        let r = self.versions();
        if r.contains(version) {
            Ok(())
        } else {
            Err(crate::EncodeError::UnsupportedVersion {
                api: self.name(),
                version,
                min: r.min,
                max: r.max,
            })
        }
    }

    /// Checks that `version` is supported, for decode paths.
    pub fn check_decode(self, version: i16) -> Result<(), crate::DecodeError> {
        let r = self.versions();
        if r.contains(version) {
            Ok(())
        } else {
            Err(crate::DecodeError::UnsupportedVersion {
                api: self.name(),
                version,
                min: r.min,
                max: r.max,
            })
        }
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.as_i16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for &k in ApiKey::ALL {
            assert_eq!(ApiKey::from_i16(k.as_i16()), Some(k));
            let r = k.versions();
            assert!(r.min <= r.max, "{k}");
            if let Some(f) = k.flexible_since() {
                assert!(
                    r.contains(f),
                    "{k}: flexible boundary outside supported range"
                );
            }
        }
        assert_eq!(ApiKey::from_i16(99), None);
    }

    #[test]
    fn flexible_boundaries_match_kafkas_message_definitions() {
        // `flexibleVersions` in Kafka's clients/src/main/resources/common/
        // message/<Api>Request.json (checked against apache/kafka trunk,
        // October 2024). A wrong boundary breaks every message of the API
        // symmetrically, which round trips cannot see.
        let kafka: &[(ApiKey, Option<i16>)] = &[
            (ApiKey::Produce, Some(9)),
            (ApiKey::Fetch, Some(12)),
            (ApiKey::ListOffsets, Some(6)),
            (ApiKey::Metadata, Some(9)),
            (ApiKey::FindCoordinator, Some(3)),
            (ApiKey::SaslHandshake, None),
            (ApiKey::ApiVersions, Some(3)),
            (ApiKey::InitProducerId, Some(2)),
            (ApiKey::AddPartitionsToTxn, Some(3)),
            (ApiKey::AddOffsetsToTxn, Some(3)),
            (ApiKey::EndTxn, Some(3)),
            (ApiKey::TxnOffsetCommit, Some(3)),
            (ApiKey::SaslAuthenticate, Some(2)),
        ];
        assert_eq!(kafka.len(), ApiKey::ALL.len());
        for &(key, flexible) in kafka {
            assert_eq!(key.flexible_since(), flexible, "{key}");
        }
    }

    #[test]
    fn header_versions_follow_flexible_boundary() {
        assert_eq!(ApiKey::Produce.request_header_version(8), 1);
        assert_eq!(ApiKey::Produce.request_header_version(9), 2);
        assert_eq!(ApiKey::Produce.response_header_version(8), 0);
        assert_eq!(ApiKey::Produce.response_header_version(9), 1);
        assert_eq!(ApiKey::ApiVersions.request_header_version(3), 2);
        assert_eq!(ApiKey::ApiVersions.response_header_version(3), 0);
        assert_eq!(ApiKey::SaslHandshake.request_header_version(1), 1);
    }
}
