//! A request frame as a broker receives it: header, then the body of
//! whichever API and version the header names. Must never panic.
#![no_main]

use bytes::Bytes;
use kproducer_protocol::messages::AnyRequest;
use kproducer_protocol::{ApiKey, RequestHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = Bytes::copy_from_slice(data);
    let Ok(header) = RequestHeader::decode(&mut buf) else {
        return;
    };
    let Some(api_key) = ApiKey::from_i16(header.api_key) else {
        return;
    };
    let _ = AnyRequest::decode(api_key, header.api_version, &mut buf);
});
