//! The value every perf record carries: the same bytes as the benchmark
//! peers send (`bench/peers`), so compression sees the same data in every
//! client.

/// `size` uppercase ASCII letters from a fixed splitmix64 sequence: like
/// Kafka's perf tool (random `A`–`Z`), text that compresses somewhat, the
/// same on every run and in every client.
pub(crate) fn perf_payload(size: usize) -> Vec<u8> {
    /// "kproduce" in ASCII: the seed the peers use too.
    const SEED: u64 = 0x6b70_726f_6475_6365;
    let mut state = SEED;
    (0..size)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // z % 26 < 26, so this stays within b'A'..=b'Z'.
            b'A' + (z % 26) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_only_deterministic_and_prefix_stable() {
        let short = perf_payload(100);
        let long = perf_payload(1024);
        assert_eq!(short.len(), 100);
        assert!(long.iter().all(u8::is_ascii_uppercase));
        assert_eq!(&long[..100], &short[..]);
        let distinct: std::collections::BTreeSet<u8> = long.iter().copied().collect();
        assert!(distinct.len() >= 20);
    }
}
