//! The record value every perf driver sends.

/// `size` bytes of uppercase ASCII letters, the same on every run and in every
/// client: like Apache Kafka's `kafka-producer-perf-test`, which fills its
/// payload with random `A`–`Z`, so codecs see text that compresses somewhat
/// (about 5 bits of entropy per byte) rather than zeros or noise. Generated
/// from a fixed seed with splitmix64; every record reuses it.
///
/// ```
/// let payload = kproducer_perf::perf_payload(100);
/// assert_eq!(payload.len(), 100);
/// assert!(payload.iter().all(u8::is_ascii_uppercase));
/// assert_eq!(payload, kproducer_perf::perf_payload(100));
/// ```
#[must_use]
pub fn perf_payload(size: usize) -> Vec<u8> {
    const SEED: u64 = 0x6b70_726f_6475_6365; // "kproduce"
    let mut state = SEED;
    (0..size)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // z % 26 < 26, so the sum stays within b'A'..=b'Z'.
            b'A' + (z % 26) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_many_letters_and_is_a_prefix_of_longer_payloads() {
        let short = perf_payload(100);
        let long = perf_payload(1024);
        assert_eq!(&long[..100], &short[..]);
        let distinct: std::collections::BTreeSet<u8> = long.iter().copied().collect();
        assert!(
            distinct.len() >= 20,
            "only {} distinct letters",
            distinct.len()
        );
        assert!(perf_payload(0).is_empty());
    }
}
