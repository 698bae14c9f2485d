//! Chaos between the producer and a broker over TCP: a seeded proxy
//! ([`proxy`]) per broker address, reached through [`transport`].

#![allow(dead_code, unreachable_pub)]

pub mod proxy;
pub mod readback;
pub mod transport;
