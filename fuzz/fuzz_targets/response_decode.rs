//! A response body as a client receives it. The first byte picks the API
//! (an index into `ApiKey::ALL`), the next two the version, mapped onto the
//! API's supported range plus one unsupported version either side; the rest
//! is the body. Must never panic.
#![no_main]

use bytes::Bytes;
use kproducer_protocol::ApiKey;
use kproducer_protocol::messages::AnyResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [key_index, v0, v1, body @ ..] = data else {
        return;
    };
    let api_key = ApiKey::ALL[usize::from(*key_index) % ApiKey::ALL.len()];
    let range = api_key.versions();
    let span = range.max - range.min + 3;
    let version = range.min - 1 + i16::from_be_bytes([*v0, *v1]).rem_euclid(span);
    let mut buf = Bytes::copy_from_slice(body);
    let _ = AnyResponse::decode(api_key, version, &mut buf);
});
