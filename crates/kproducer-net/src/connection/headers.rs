//! Request headers encoded once per connection, so the send path takes a
//! reference-counted copy instead of allocating and encoding a header (and
//! cloning the client id) for every request.

use bytes::{Bytes, BytesMut};
use kproducer_protocol::{ApiKey, EncodeError, RequestHeader};

/// Every (API, version) header this client can send, correlation id 0 (the
/// connection's task patches the real one in).
#[derive(Debug)]
pub(crate) struct EncodedHeaders {
    /// Indexed like `ApiKey::ALL`, then by `version - min`.
    table: Vec<Vec<Bytes>>,
}

impl EncodedHeaders {
    pub(crate) fn new(client_id: Option<&str>) -> Result<Self, (ApiKey, i16, EncodeError)> {
        let mut table = Vec::with_capacity(ApiKey::ALL.len());
        for &api in ApiKey::ALL {
            let r = api.versions();
            let mut per_version = Vec::new();
            for version in r.min..=r.max {
                let mut buf = BytesMut::with_capacity(16 + client_id.map_or(0, str::len));
                RequestHeader {
                    api_key: api.as_i16(),
                    api_version: version,
                    correlation_id: 0,
                    client_id: client_id.map(str::to_owned),
                    tagged_fields: Default::default(),
                }
                .encode(&mut buf)
                .map_err(|e| (api, version, e))?;
                per_version.push(buf.freeze());
            }
            table.push(per_version);
        }
        Ok(Self { table })
    }

    /// The header for `api` at `version`, if this client supports it.
    pub(crate) fn get(&self, api: ApiKey, version: i16) -> Option<Bytes> {
        let i = ApiKey::ALL.iter().position(|&k| k == api)?;
        let offset = usize::try_from(version.checked_sub(api.versions().min)?).ok()?;
        self.table.get(i)?.get(offset).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_headers_equal_freshly_encoded_ones() {
        let h = EncodedHeaders::new(Some("app")).unwrap();
        for &api in ApiKey::ALL {
            let r = api.versions();
            for v in r.min..=r.max {
                let mut fresh = BytesMut::new();
                RequestHeader {
                    api_key: api.as_i16(),
                    api_version: v,
                    correlation_id: 0,
                    client_id: Some("app".into()),
                    tagged_fields: Default::default(),
                }
                .encode(&mut fresh)
                .unwrap();
                assert_eq!(h.get(api, v).unwrap(), fresh.freeze(), "{api} v{v}");
            }
            assert!(h.get(api, r.max + 1).is_none());
            assert!(h.get(api, r.min - 1).is_none());
        }
    }
}
