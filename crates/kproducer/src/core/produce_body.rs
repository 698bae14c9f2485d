//! A Produce request's body as parts: the small fields encoded into one
//! buffer, each record batch referenced as it is (its `Bytes`), so the
//! batches reach the socket without being copied into a request buffer
//! (the connection writes the parts with vectored writes).
//!
//! The bytes are exactly those of [`ProduceRequest::encode`] (the tests
//! compare the two for every version); only the batches are not copied.
//!
//! [`ProduceRequest::encode`]: kproducer_protocol::messages::ProduceRequest

use bytes::{BufMut, Bytes, BytesMut};
use kproducer_protocol::primitives::{put_array_len, put_nullable_string, put_string};
use kproducer_protocol::{ApiKey, EncodeError, TaggedFields};

/// One partition's batch in a Produce request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionBatch<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) records: &'a Bytes,
}

/// The request-wide fields of a Produce request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProduceFields<'a> {
    pub(crate) transactional_id: Option<&'a str>,
    pub(crate) acks: i16,
    pub(crate) timeout_ms: i32,
}

/// Encodes a Produce request body at `version` as parts in wire order.
/// Batches of one topic are grouped under it in first-seen order, as the
/// request's layout requires.
pub(crate) fn produce_body_parts(
    fields: ProduceFields<'_>,
    batches: &[PartitionBatch<'_>],
    version: i16,
) -> Result<Vec<Bytes>, EncodeError> {
    ApiKey::Produce.check_encode(version)?;
    let flexible = ApiKey::Produce.is_flexible(version);
    // Topics in first-seen order, each with its batches' indices.
    let mut topics: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        match topics.iter_mut().find(|(name, _)| *name == b.topic) {
            Some((_, members)) => members.push(i),
            None => topics.push((b.topic, vec![i])),
        }
    }
    let mut buf = BytesMut::with_capacity(64 + 32 * topics.len() + 16 * batches.len());
    let mut parts = Vec::with_capacity(2 * batches.len() + 1);
    put_nullable_string(
        &mut buf,
        fields.transactional_id,
        flexible,
        "transactional_id",
    )?;
    buf.put_i16(fields.acks);
    buf.put_i32(fields.timeout_ms);
    put_array_len(&mut buf, Some(topics.len()), flexible, "topic_data")?;
    for (name, members) in &topics {
        put_string(&mut buf, name, flexible, "topic_data.name")?;
        put_array_len(&mut buf, Some(members.len()), flexible, "partition_data")?;
        for &i in members {
            let b = batches[i];
            buf.put_i32(b.partition);
            // Non-null bytes and arrays share one length prefix encoding.
            put_array_len(&mut buf, Some(b.records.len()), flexible, "records")?;
            parts.push(buf.split().freeze());
            parts.push(b.records.clone());
            if flexible {
                TaggedFields::default().encode(&mut buf)?;
            }
        }
        if flexible {
            TaggedFields::default().encode(&mut buf)?;
        }
    }
    if flexible {
        TaggedFields::default().encode(&mut buf)?;
    }
    parts.push(buf.freeze());
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use kproducer_protocol::Message;
    use kproducer_protocol::messages::{PartitionProduceData, ProduceRequest, TopicProduceData};

    use super::*;

    fn reference(fields: ProduceFields<'_>, batches: &[PartitionBatch<'_>], version: i16) -> Bytes {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for b in batches {
            let part = PartitionProduceData {
                index: b.partition,
                records: Some(b.records.clone()),
                tagged_fields: Default::default(),
            };
            match topics.iter_mut().find(|t| t.name == b.topic) {
                Some(t) => t.partition_data.push(part),
                None => topics.push(TopicProduceData {
                    name: b.topic.to_owned(),
                    partition_data: vec![part],
                    tagged_fields: Default::default(),
                }),
            }
        }
        let request = ProduceRequest {
            transactional_id: fields.transactional_id.map(str::to_owned),
            acks: fields.acks,
            timeout_ms: fields.timeout_ms,
            topic_data: topics,
            tagged_fields: Default::default(),
        };
        let mut buf = BytesMut::new();
        request.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn parts_are_the_bytes_of_the_whole_request_at_every_version() {
        let small = Bytes::from(vec![1u8; 70]);
        let large = Bytes::from((0..5000).map(|i| i as u8).collect::<Vec<u8>>());
        let empty = Bytes::new();
        let batches = [
            PartitionBatch {
                topic: "orders",
                partition: 3,
                records: &large,
            },
            PartitionBatch {
                topic: "audit",
                partition: 0,
                records: &small,
            },
            PartitionBatch {
                topic: "orders",
                partition: 1,
                records: &small,
            },
            PartitionBatch {
                topic: "audit",
                partition: 7,
                records: &empty,
            },
        ];
        let range = ApiKey::Produce.versions();
        for version in range.min..=range.max {
            for transactional_id in [None, Some("txn-1")] {
                let fields = ProduceFields {
                    transactional_id,
                    acks: -1,
                    timeout_ms: 30_000,
                };
                let parts = produce_body_parts(fields, &batches, version).unwrap();
                let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                assert_eq!(
                    joined,
                    reference(fields, &batches, version).to_vec(),
                    "version {version}, transactional id {transactional_id:?}"
                );
                assert!(
                    parts.iter().any(|p| p.as_ptr() == large.as_ptr()),
                    "the batch itself is a part, not a copy"
                );
            }
        }
    }

    #[test]
    fn an_unsupported_version_is_refused() {
        let b = Bytes::from_static(b"x");
        let batches = [PartitionBatch {
            topic: "t",
            partition: 0,
            records: &b,
        }];
        let fields = ProduceFields {
            transactional_id: None,
            acks: 1,
            timeout_ms: 1,
        };
        assert!(produce_body_parts(fields, &batches, i16::MAX).is_err());
    }
}
