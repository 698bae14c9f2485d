//! Tests of from_properties against the key table and docs/configuration.md.
