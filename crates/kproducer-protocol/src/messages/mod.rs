//! One module per API: a request and a response type each, both directions.

mod api_versions;
mod find_coordinator;
mod init_producer_id;
mod metadata;
mod produce;

pub use api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
pub use find_coordinator::{Coordinator, FindCoordinatorRequest, FindCoordinatorResponse};
pub use init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
pub use metadata::{
    AUTHORIZED_OPERATIONS_OMITTED, MetadataRequest, MetadataRequestTopic, MetadataResponse,
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
pub use produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceData,
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceData,
    TopicProduceResponse,
};
