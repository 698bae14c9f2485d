//! Reading a partition back over TCP with Fetch, for brokers the test
//! cannot inspect directly (tansu).

use bytes::Bytes;
use kproducer_net::{BrokerAddress, Connection, ConnectionConfig, TcpTransport};
use kproducer_protocol::messages::{FetchPartition, FetchRequest, FetchTopic};
use kproducer_protocol::records::RecordBatch;

/// Every record value of `topic`-`partition` from `offset` on, with its
/// offset, read from the broker at `addr`. `Err` says what went wrong.
pub async fn values(
    addr: &BrokerAddress,
    topic: &str,
    partition: i32,
) -> Result<Vec<(i64, Bytes)>, String> {
    let conn = Connection::connect(&TcpTransport::default(), addr, ConnectionConfig::default())
        .await
        .map_err(|e| format!("fetch connection to {addr}: {e}"))?;
    let mut values = Vec::new();
    let mut offset = 0;
    loop {
        let request = FetchRequest {
            max_wait_ms: 0,
            topics: vec![FetchTopic {
                topic: topic.to_owned(),
                partitions: vec![FetchPartition {
                    partition,
                    current_leader_epoch: -1,
                    fetch_offset: offset,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 8 * 1024 * 1024,
                    tagged_fields: Default::default(),
                }],
                tagged_fields: Default::default(),
            }],
            ..FetchRequest::default()
        };
        let response = conn
            .send_version(&request, 12)
            .await
            .map_err(|e| format!("fetch {topic}-{partition}@{offset}: {e}"))?;
        let p = response
            .responses
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or("fetch answered no partition")?;
        if p.error_code != 0 {
            return Err(format!("fetch {topic}-{partition}: error {}", p.error_code));
        }
        let Some(blob) = p.records.clone().filter(|b| !b.is_empty()) else {
            break;
        };
        let before = values.len();
        let start = offset;
        for batch in RecordBatch::decode_all(blob) {
            let Ok(batch) = batch else { break };
            let header = *batch.header();
            let records = batch.records().map_err(|e| e.to_string())?;
            for r in records {
                let r = r.map_err(|e| e.to_string())?;
                let o = r.offset(&header);
                if o >= start {
                    values.push((o, r.value.clone().unwrap_or_default()));
                }
            }
            offset = offset.max(header.last_offset() + 1);
        }
        if values.len() == before && offset == start {
            break;
        }
    }
    Ok(values)
}
