//! One module per API: a request and a response type each, both directions.

mod api_versions;

pub use api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
