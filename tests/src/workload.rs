//! The records every test sends: numbered `0..records`, half keyed, half
//! keyless, so that both partitioners (murmur2 for keys, uniform sticky
//! without) are exercised in one run.

/// What a test sends: record `i` has the value `i` (decimal text); even
/// records carry a key from a fixed set of `distinct_keys`, odd ones none.
///
/// ```
/// use kproducer_integration_tests::workload::Workload;
///
/// let w = Workload::new(10, 3);
/// assert_eq!(w.key(0).as_deref(), Some("k0"));
/// assert_eq!(w.key(1), None);
/// assert_eq!(w.key(6).as_deref(), Some("k0")); // keys repeat: 6 / 2 = 3 ≡ 0 (mod 3)
/// assert_eq!(w.value(7), "7");
/// assert_eq!(w.keys().count(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// How many records, numbered `0..records`.
    pub records: u64,
    /// How many different keys the keyed records use (at least 1).
    pub distinct_keys: u64,
}

impl Workload {
    /// `records` numbered records whose keyed half cycles through
    /// `distinct_keys` keys (0 is taken as 1).
    pub fn new(records: u64, distinct_keys: u64) -> Self {
        Self {
            records,
            distinct_keys: distinct_keys.max(1),
        }
    }

    /// The key of record `i`: `k<n>` for even `i`, none for odd.
    pub fn key(&self, i: u64) -> Option<String> {
        i.is_multiple_of(2)
            .then(|| key_name((i / 2) % self.distinct_keys))
    }

    /// The value of record `i`: `i` in decimal.
    pub fn value(&self, i: u64) -> String {
        i.to_string()
    }

    /// Every key the keyed records use, each once.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        let used = self.records.div_ceil(2).min(self.distinct_keys);
        (0..used).map(key_name)
    }
}

fn key_name(n: u64) -> String {
    format!("k{n}")
}
