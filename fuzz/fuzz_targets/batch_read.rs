//! A RECORDS blob's first batch: decode it (magic, lengths, CRC-32C), then
//! decompress and walk every record. Must never panic, and must never
//! allocate more than the input justifies.
//!
//! Random bytes almost never carry a valid CRC-32C, so a fuzzer left alone
//! stops at the checksum. The first input byte picks the mode: odd repairs
//! the batch length, magic and CRC before decoding, so that the fuzzer
//! reaches decompression and record parsing; even decodes the bytes as they
//! are, so the checks themselves are fuzzed too.
#![no_main]

use bytes::Bytes;
use kproducer_protocol::records::RecordBatch;
use libfuzzer_sys::fuzz_target;

/// Size of a v2 batch header; the CRC covers everything from offset 21.
const HEADER_LEN: usize = 61;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 && bytes.len() >= HEADER_LEN {
        let Ok(batch_length) = i32::try_from(bytes.len() - 12) else {
            return;
        };
        bytes[8..12].copy_from_slice(&batch_length.to_be_bytes());
        bytes[16] = 2;
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    let mut buf = Bytes::from(bytes);
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
