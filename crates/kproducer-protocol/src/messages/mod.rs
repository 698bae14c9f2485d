//! One module per API: a request and a response type each, both directions.

mod add_partitions_to_txn;
mod api_versions;
mod end_txn;
mod fetch;
mod list_offsets;
mod sasl_authenticate;
mod sasl_handshake;
mod tagged_section;

pub use add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult,
};
pub use api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
pub use end_txn::{EndTxnRequest, EndTxnResponse};
pub use fetch::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchResponse, FetchResponsePartition,
    FetchResponseTopic, FetchTopic, ForgottenTopic,
};
pub use list_offsets::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
    ListOffsetsTopic, ListOffsetsTopicResponse,
};
pub use sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
pub use sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
