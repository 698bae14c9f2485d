//! The encoded size of one record of a v2 batch, computed before it is
//! written (to reserve its room and to check `batch.size`).

use crate::error::EncodeError;
use crate::records::builder::RecordHeader;
use crate::records::varint;

/// Length of a record's body (everything after its length prefix) and the
/// wire value of its key length, checking every length fits an i32.
#[inline(always)]
pub(crate) fn record_len<H: RecordHeader>(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> Result<(usize, i32), EncodeError> {
    fn len_of(b: Option<&[u8]>, what: &'static str) -> Result<(i32, usize), EncodeError> {
        match b {
            None => Ok((-1, 1)),
            Some(b) => {
                let n = i32::try_from(b.len()).map_err(|_| EncodeError::TooLong {
                    what,
                    length: b.len(),
                })?;
                Ok((n, varint::varint_len(n) + b.len()))
            }
        }
    }
    let (key_len, key_size) = len_of(key, "record key")?;
    let (_, value_size) = len_of(value, "record value")?;
    let count = i32::try_from(headers.len()).map_err(|_| EncodeError::TooLong {
        what: "record headers",
        length: headers.len(),
    })?;
    let mut body = 1
        + varint::varlong_len(timestamp_delta)
        + varint::varint_len(offset_delta)
        + key_size
        + value_size
        + varint::varint_len(count);
    for h in headers {
        body += len_of(Some(h.key()), "record header key")?.1;
        body += len_of(h.value(), "record header value")?.1;
    }
    if body > i32::MAX as usize - 5 {
        return Err(EncodeError::TooLong {
            what: "record",
            length: body,
        });
    }
    Ok((body, key_len))
}
