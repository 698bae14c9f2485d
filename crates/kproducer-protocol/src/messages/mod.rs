//! One module per API: a request and a response type each, both directions.

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod any;
mod api_versions;
mod end_txn;
mod fetch;
mod find_coordinator;
mod init_producer_id;
mod list_offsets;
mod metadata;
mod produce;
mod sasl_authenticate;
mod sasl_handshake;
mod tagged_section;
mod txn_offset_commit;

pub use add_offsets_to_txn::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
pub use add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult,
};
pub use any::{AnyRequest, AnyResponse};
pub use api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
pub use end_txn::{EndTxnRequest, EndTxnResponse};
pub use fetch::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchResponse, FetchResponsePartition,
    FetchResponseTopic, FetchTopic, ForgottenTopic,
};
pub use find_coordinator::{Coordinator, FindCoordinatorRequest, FindCoordinatorResponse};
pub use init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
pub use list_offsets::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
    ListOffsetsTopic, ListOffsetsTopicResponse,
};
pub use metadata::{
    AUTHORIZED_OPERATIONS_OMITTED, MetadataRequest, MetadataRequestTopic, MetadataResponse,
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
pub use produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceData,
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceData,
    TopicProduceResponse,
};
pub use sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
pub use sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
pub use txn_offset_commit::{
    TxnOffsetCommitPartition, TxnOffsetCommitPartitionResult, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse, TxnOffsetCommitTopic, TxnOffsetCommitTopicResult,
};
