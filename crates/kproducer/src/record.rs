//! What users send ([`Record`], [`Topic`], [`Header`]) and what they get
//! back ([`RecordMetadata`]).
//!
//! Records are built from cheap handles so that sending one allocates
//! nothing beyond its delivery future: a [`Topic`] is a shared `Arc<str>`
//! (clone it, don't rebuild it per record), keys and values are [`Bytes`]
//! (an owned buffer moves in without a copy), and an empty header list is an
//! empty `Vec` (no allocation).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use kproducer_protocol::records::RecordHeader;

/// A topic name, cheap to clone (a shared `Arc<str>`).
///
/// Create it once and reuse it for every record of that topic:
///
/// ```
/// use kproducer::{Record, Topic};
///
/// let orders = Topic::new("orders");
/// let a = Record::new(orders.clone(), "first");
/// let b = Record::new(orders.clone(), "second");
/// assert_eq!(a.topic, b.topic);
/// assert_eq!(orders.as_str(), "orders");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Arc<str>);

impl Topic {
    /// A topic handle for `name`.
    ///
    /// ```
    /// use kproducer::Topic;
    ///
    /// let orders = Topic::new("orders");
    /// let same: Topic = String::from("orders").into();
    /// assert_eq!(orders, same);
    /// ```
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Topic(name.into())
    }

    /// The topic's name.
    ///
    /// ```
    /// let orders = kproducer::Topic::new("orders");
    /// assert_eq!(orders.as_str(), "orders");
    /// assert_eq!(orders.to_string(), "orders");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared name (what routing keys are built from).
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }

    /// The shared name, taken out of the handle (no reference count
    /// touched).
    pub(crate) fn into_shared(self) -> Arc<str> {
        self.0
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(name: &str) -> Self {
        Topic(Arc::from(name))
    }
}

impl From<String> for Topic {
    fn from(name: String) -> Self {
        Topic(Arc::from(name))
    }
}

impl From<Arc<str>> for Topic {
    fn from(name: Arc<str>) -> Self {
        Topic(name)
    }
}

impl From<&Topic> for Topic {
    fn from(topic: &Topic) -> Self {
        topic.clone()
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A record header: a UTF-8 key and an optional value. Duplicate keys are
/// kept, in order, as Kafka keeps them.
///
/// ```
/// use kproducer::Header;
/// let h = Header::new("trace-id", "abc123");
/// assert_eq!(&h.key[..], b"trace-id");
/// assert_eq!(h.value.as_deref(), Some(&b"abc123"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header key; must be valid UTF-8 (a record with an invalid key
    /// fails with [`Error::InvalidRecord`](crate::Error::InvalidRecord)).
    pub key: Bytes,
    /// The value, or `None` for a null value.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    ///
    /// ```
    /// use kproducer::{Header, Record};
    ///
    /// let json = Header::new("content-type", "application/json");
    /// let record = Record::new("orders", "v").with_header(json);
    /// assert_eq!(record.headers.len(), 1);
    /// ```
    pub fn new(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Header {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A header whose value is null.
    ///
    /// ```
    /// let h = kproducer::Header::null("deleted-by");
    /// assert!(h.value.is_none());
    /// ```
    pub fn null(key: impl Into<Bytes>) -> Self {
        Header {
            key: key.into(),
            value: None,
        }
    }
}

impl RecordHeader for Header {
    fn key(&self) -> &[u8] {
        &self.key
    }
    fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// One record to produce.
///
/// `value` and `key` are [`Bytes`]: a `Vec<u8>`, `String` or `Bytes` moves in
/// without copying. Without an explicit `partition`, keyed records go to
/// `murmur2(key) % partitions` and keyless ones are spread by the configured
/// [`Partitioner`](crate::partitioner::Partitioner). Without a `timestamp`,
/// the producer stamps the current time (CreateTime).
///
/// ```
/// use kproducer::{Header, Record};
///
/// let record = Record::new("orders", "payload")
///     .with_key("customer-7")
///     .with_header(Header::new("source", "web"))
///     .with_timestamp(1_700_000_000_000);
/// assert_eq!(record.key.as_deref(), Some(&b"customer-7"[..]));
/// assert_eq!(record.partition, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The topic.
    pub topic: Topic,
    /// An explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// The key, if any (also what keyed partitioning hashes).
    pub key: Option<Bytes>,
    /// The value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in order (duplicates kept). Empty means no allocation.
    pub headers: Vec<Header>,
    /// Milliseconds since the Unix epoch; `None` means "now".
    pub timestamp: Option<i64>,
}

impl Record {
    /// A record with a value and nothing else.
    ///
    /// ```
    /// use kproducer::{Record, Topic};
    ///
    /// let orders = Topic::new("orders");
    /// let from_str = Record::new(orders.clone(), "text");
    /// let from_vec = Record::new(orders, vec![1u8, 2, 3]); // moves in, no copy
    /// assert_eq!(from_str.value.as_deref(), Some(&b"text"[..]));
    /// assert_eq!(from_vec.key, None);
    /// ```
    pub fn new(topic: impl Into<Topic>, value: impl Into<Bytes>) -> Self {
        Record {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A record with no value (a tombstone for compacted topics).
    ///
    /// ```
    /// let delete = kproducer::Record::tombstone("customers", "customer-7");
    /// assert_eq!(delete.value, None);
    /// assert_eq!(delete.key.as_deref(), Some(&b"customer-7"[..]));
    /// ```
    pub fn tombstone(topic: impl Into<Topic>, key: impl Into<Bytes>) -> Self {
        Record {
            topic: topic.into(),
            partition: None,
            key: Some(key.into()),
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    ///
    /// ```
    /// use kproducer::Record;
    /// use kproducer::partitioner::murmur2_partition;
    ///
    /// // Records with the same key go to the same partition (as with the Java client).
    /// let r = Record::new("orders", "v").with_key("customer-7");
    /// assert_eq!(r.key.as_deref(), Some(&b"customer-7"[..]));
    /// let p = murmur2_partition(b"customer-7", 6);
    /// assert!((0..6).contains(&p));
    /// ```
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sends to this partition, bypassing the partitioner.
    ///
    /// ```
    /// let r = kproducer::Record::new("orders", "v").with_partition(3);
    /// assert_eq!(r.partition, Some(3));
    /// ```
    #[must_use]
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Appends a header (duplicates are kept).
    ///
    /// ```
    /// use kproducer::{Header, Record};
    ///
    /// let r = Record::new("orders", "v")
    ///     .with_header(Header::new("tag", "a"))
    ///     .with_header(Header::new("tag", "b"));
    /// let tags: Vec<_> = r.headers.iter().map(|h| h.value.clone()).collect();
    /// assert_eq!(tags, [Some("a".into()), Some("b".into())]);
    /// ```
    #[must_use]
    pub fn with_header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    ///
    /// ```
    /// let r = kproducer::Record::new("orders", "v").with_timestamp(1_700_000_000_000);
    /// assert_eq!(r.timestamp, Some(1_700_000_000_000));
    /// ```
    #[must_use]
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// An upper bound of the bytes this record takes in a batch; what
    /// `buffer.memory` and `max.request.size` are checked against.
    ///
    /// ```
    /// use kproducer::Record;
    ///
    /// let small = Record::new("orders", "v");
    /// let big = Record::new("orders", vec![0u8; 1000]).with_key("k");
    /// assert!(small.size_bound() < big.size_bound());
    /// assert!(big.size_bound() >= 1001, "at least key plus value");
    /// ```
    pub fn size_bound(&self) -> usize {
        // Per record: length, attributes, timestamp delta, offset delta, key
        // and value lengths, header count: at most 5 + 1 + 10 + 5 + 5 + 5 + 5.
        const RECORD_OVERHEAD: usize = 36;
        // Per header: two varint lengths.
        const HEADER_OVERHEAD: usize = 10;
        let headers: usize = self
            .headers
            .iter()
            .map(|h| HEADER_OVERHEAD + h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
            .sum();
        RECORD_OVERHEAD
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
    }
}

/// Where a record was written.
///
/// ```
/// use kproducer::{RecordMetadata, Topic};
/// let m = RecordMetadata { topic: Topic::new("orders"), partition: 2, offset: 41, timestamp: 1 };
/// assert_eq!(m.to_string(), "orders-2@41");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Topic,
    /// The partition.
    pub partition: i32,
    /// The record's offset, or -1 when the broker does not say (`acks=0`).
    pub offset: i64,
    /// The record's timestamp: the one it was sent with (CreateTime), or the
    /// broker's append time on a LogAppendTime topic.
    pub timestamp: i64,
}

impl fmt::Display for RecordMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}@{}", self.topic, self.partition, self.offset)
    }
}
