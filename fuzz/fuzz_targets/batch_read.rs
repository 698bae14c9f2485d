//! A RECORDS blob's first batch: decode it (magic, lengths, CRC-32C), then
//! decompress and walk every record. Must never panic, and must never
//! allocate more than the input justifies.
#![no_main]

use bytes::Bytes;
use kproducer_protocol::records::RecordBatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = Bytes::copy_from_slice(data);
    let Ok(batch) = RecordBatch::decode(&mut buf) else {
        return;
    };
    let Ok(records) = batch.records() else {
        return;
    };
    for record in records {
        if record.is_err() {
            break;
        }
    }
});
