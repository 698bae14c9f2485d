//! Kafka's error codes: every code Apache Kafka defines, its name, whether
//! Kafka's clients retry it, and what it means.
//!
//! The table follows `org.apache.kafka.common.protocol.Errors` up to Kafka 4.1
//! (code 133). A code is retriable exactly when Kafka's Java client maps it to
//! a subclass of `RetriableException`; codes newer than this table are kept
//! as they are (so they round-trip) and treated as not retriable, as the Java
//! client treats codes it does not know (`UNKNOWN_SERVER_ERROR`).
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_error_codes>

use std::fmt;

/// A Kafka error code as it travels in a response.
///
/// A newtype over the wire `i16` with one associated constant per code Kafka
/// defines, so any value round-trips, including codes newer than this crate.
///
/// ```
/// use kproducer_protocol::ErrorCode;
///
/// let code = ErrorCode::from_i16(45);
/// assert_eq!(code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
/// assert_eq!(code.name(), "OUT_OF_ORDER_SEQUENCE_NUMBER");
/// assert!(!code.is_retriable());
/// assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
/// assert_eq!(
///     code.to_string(),
///     "OUT_OF_ORDER_SEQUENCE_NUMBER (45): the broker received an out of order sequence number"
/// );
///
/// // Codes newer than this crate survive untouched.
/// let future = ErrorCode::from(999);
/// assert_eq!(future.as_i16(), 999);
/// assert!(!future.is_known());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(i16);

/// What the table knows about one code.
struct CodeInfo {
    name: &'static str,
    retriable: bool,
    meaning: &'static str,
}

macro_rules! error_codes {
    ($( ($code:literal, $name:ident, $retriable:literal, $meaning:literal); )*) => {
        impl ErrorCode {
            $(
                #[doc = concat!(stringify!($code), ": ", $meaning, ".")]
                pub const $name: ErrorCode = ErrorCode($code);
            )*

            /// Every code this crate knows, in increasing order.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            const fn info(self) -> Option<CodeInfo> {
                match self.0 {
                    $(
                        $code => Some(CodeInfo {
                            name: stringify!($name),
                            retriable: $retriable,
                            meaning: $meaning,
                        }),
                    )*
                    _ => None,
                }
            }
        }
    };
}

// (code, name as Kafka spells it, retriable in Kafka's Java client, meaning).
// Meanings follow Kafka's own messages, shortened where they ran long.
error_codes! {
    (-1, UNKNOWN_SERVER_ERROR, false, "the server experienced an unexpected error when processing the request");
    (0, NONE, false, "no error");
    (1, OFFSET_OUT_OF_RANGE, false, "the requested offset is not within the range of offsets maintained by the server");
    (2, CORRUPT_MESSAGE, true, "the message failed its CRC check, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt");
    (3, UNKNOWN_TOPIC_OR_PARTITION, true, "this server does not host this topic-partition");
    (4, INVALID_FETCH_SIZE, false, "the requested fetch size is invalid");
    (5, LEADER_NOT_AVAILABLE, true, "the topic-partition has no leader, as a leadership election is in progress");
    (6, NOT_LEADER_OR_FOLLOWER, true, "this broker is not the partition's leader (or, for requests any replica may serve, not one of its replicas)");
    (7, REQUEST_TIMED_OUT, true, "the request timed out");
    (8, BROKER_NOT_AVAILABLE, false, "the broker is not available");
    (9, REPLICA_NOT_AVAILABLE, true, "the replica is not available for the requested topic-partition");
    (10, MESSAGE_TOO_LARGE, false, "the request included a message larger than the max message size the server will accept");
    (11, STALE_CONTROLLER_EPOCH, false, "the controller moved to another broker");
    (12, OFFSET_METADATA_TOO_LARGE, false, "the metadata field of the offset request was too large");
    (13, NETWORK_EXCEPTION, true, "the server disconnected before a response was received");
    (14, COORDINATOR_LOAD_IN_PROGRESS, true, "the coordinator is loading and hence can't process requests");
    (15, COORDINATOR_NOT_AVAILABLE, true, "the coordinator is not available");
    (16, NOT_COORDINATOR, true, "this is not the correct coordinator");
    (17, INVALID_TOPIC_EXCEPTION, false, "the request attempted to perform an operation on an invalid topic");
    (18, RECORD_LIST_TOO_LARGE, false, "the request included a message batch larger than the configured segment size on the server");
    (19, NOT_ENOUGH_REPLICAS, true, "messages are rejected since there are fewer in-sync replicas than required");
    (20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, "messages are written to the log, but to fewer in-sync replicas than required");
    (21, INVALID_REQUIRED_ACKS, false, "produce request specified an invalid value for required acks");
    (22, ILLEGAL_GENERATION, false, "specified group generation id is not valid");
    (23, INCONSISTENT_GROUP_PROTOCOL, false, "the member's supported group protocols are incompatible with those of the existing members, or empty");
    (24, INVALID_GROUP_ID, false, "the configured groupId is invalid");
    (25, UNKNOWN_MEMBER_ID, false, "the coordinator is not aware of this member");
    (26, INVALID_SESSION_TIMEOUT, false, "the session timeout is outside the range the broker allows (group.min.session.timeout.ms and group.max.session.timeout.ms)");
    (27, REBALANCE_IN_PROGRESS, false, "the group is rebalancing, so a rejoin is needed");
    (28, INVALID_COMMIT_OFFSET_SIZE, false, "the committing offset data size is not valid");
    (29, TOPIC_AUTHORIZATION_FAILED, false, "topic authorization failed");
    (30, GROUP_AUTHORIZATION_FAILED, false, "group authorization failed");
    (31, CLUSTER_AUTHORIZATION_FAILED, false, "cluster authorization failed");
    (32, INVALID_TIMESTAMP, false, "the timestamp of the message is out of acceptable range");
    (33, UNSUPPORTED_SASL_MECHANISM, false, "the broker does not support the requested SASL mechanism");
    (34, ILLEGAL_SASL_STATE, false, "request is not valid given the current SASL state");
    (35, UNSUPPORTED_VERSION, false, "the version of API is not supported");
    (36, TOPIC_ALREADY_EXISTS, false, "topic with this name already exists");
    (37, INVALID_PARTITIONS, false, "number of partitions is below 1");
    (38, INVALID_REPLICATION_FACTOR, false, "replication factor is below 1 or larger than the number of available brokers");
    (39, INVALID_REPLICA_ASSIGNMENT, false, "replica assignment is invalid");
    (40, INVALID_CONFIG, false, "configuration is invalid");
    (41, NOT_CONTROLLER, true, "this is not the correct controller for this cluster");
    (42, INVALID_REQUEST, false, "the request was malformed by the client library or sent to an incompatible broker; see the broker logs");
    (43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false, "the message format version on the broker does not support the request");
    (44, POLICY_VIOLATION, false, "request parameters do not satisfy the configured policy");
    (45, OUT_OF_ORDER_SEQUENCE_NUMBER, false, "the broker received an out of order sequence number");
    (46, DUPLICATE_SEQUENCE_NUMBER, false, "the broker received a duplicate sequence number");
    (47, INVALID_PRODUCER_EPOCH, false, "the producer attempted to produce with an old epoch");
    (48, INVALID_TXN_STATE, false, "the producer attempted a transactional operation in an invalid state");
    (49, INVALID_PRODUCER_ID_MAPPING, false, "the producer id is not currently assigned to its transactional id");
    (50, INVALID_TRANSACTION_TIMEOUT, false, "the transaction timeout is larger than the broker allows (transaction.max.timeout.ms)");
    (51, CONCURRENT_TRANSACTIONS, true, "another operation on the same transaction is ongoing");
    (52, TRANSACTION_COORDINATOR_FENCED, false, "the transaction coordinator sending a WriteTxnMarker is no longer the coordinator for this producer");
    (53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, "transactional id authorization failed");
    (54, SECURITY_DISABLED, false, "security features are disabled");
    (55, OPERATION_NOT_ATTEMPTED, false, "the broker did not attempt this operation, because other operations in the same batched request failed");
    (56, KAFKA_STORAGE_ERROR, true, "the broker hit a disk error while accessing a log file");
    (57, LOG_DIR_NOT_FOUND, false, "the user-specified log directory is not found in the broker config");
    (58, SASL_AUTHENTICATION_FAILED, false, "SASL authentication failed");
    (59, UNKNOWN_PRODUCER_ID, false, "the broker has no state for this producer id, for example because its records were all deleted by retention");
    (60, REASSIGNMENT_IN_PROGRESS, false, "a partition reassignment is in progress");
    (61, DELEGATION_TOKEN_AUTH_DISABLED, false, "the delegation token feature is not enabled");
    (62, DELEGATION_TOKEN_NOT_FOUND, false, "the delegation token was not found on the server");
    (63, DELEGATION_TOKEN_OWNER_MISMATCH, false, "the specified principal is not a valid owner or renewer");
    (64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false, "delegation token requests are not allowed on PLAINTEXT or 1-way SSL channels, nor on delegation-token-authenticated channels");
    (65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false, "delegation token authorization failed");
    (66, DELEGATION_TOKEN_EXPIRED, false, "the delegation token has expired");
    (67, INVALID_PRINCIPAL_TYPE, false, "the supplied principal type is not supported");
    (68, NON_EMPTY_GROUP, false, "the group is not empty");
    (69, GROUP_ID_NOT_FOUND, false, "the group id does not exist");
    (70, FETCH_SESSION_ID_NOT_FOUND, true, "the fetch session ID was not found");
    (71, INVALID_FETCH_SESSION_EPOCH, true, "the fetch session epoch is invalid");
    (72, LISTENER_NOT_FOUND, true, "the leader broker has no listener matching the one on which the metadata request was processed");
    (73, TOPIC_DELETION_DISABLED, false, "topic deletion is disabled");
    (74, FENCED_LEADER_EPOCH, true, "the leader epoch in the request is older than the epoch on the broker");
    (75, UNKNOWN_LEADER_EPOCH, true, "the leader epoch in the request is newer than the epoch on the broker");
    (76, UNSUPPORTED_COMPRESSION_TYPE, false, "the requesting client does not support the compression type of given partition");
    (77, STALE_BROKER_EPOCH, false, "broker epoch has changed");
    (78, OFFSET_NOT_AVAILABLE, true, "the leader's high watermark has not caught up after a recent election, so offsets cannot be guaranteed to be monotonic");
    (79, MEMBER_ID_REQUIRED, false, "the group member needs a valid member id before entering a consumer group");
    (80, PREFERRED_LEADER_NOT_AVAILABLE, true, "the preferred leader was not available");
    (81, GROUP_MAX_SIZE_REACHED, false, "the consumer group has reached its max size");
    (82, FENCED_INSTANCE_ID, false, "another static consumer with the same group.instance.id has registered with a different member.id");
    (83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true, "eligible topic partition leaders are not available");
    (84, ELECTION_NOT_NEEDED, true, "leader election not needed for topic partition");
    (85, NO_REASSIGNMENT_IN_PROGRESS, false, "no partition reassignment is in progress");
    (86, GROUP_SUBSCRIBED_TO_TOPIC, false, "deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it");
    (87, INVALID_RECORD, false, "the record failed validation on the broker and was rejected");
    (88, UNSTABLE_OFFSET_COMMIT, true, "there are unstable offsets that need to be cleared");
    (89, THROTTLING_QUOTA_EXCEEDED, true, "the throttling quota has been exceeded");
    (90, PRODUCER_FENCED, false, "a newer producer with the same transactional id has fenced this one");
    (91, RESOURCE_NOT_FOUND, false, "a request illegally referred to a resource that does not exist");
    (92, DUPLICATE_RESOURCE, false, "a request illegally referred to the same resource twice");
    (93, UNACCEPTABLE_CREDENTIAL, false, "requested credential would not meet criteria for acceptability");
    (94, INCONSISTENT_VOTER_SET, false, "the sender or recipient of a voter-only request is not one of the expected voters");
    (95, INVALID_UPDATE_VERSION, false, "the given update version was invalid");
    (96, FEATURE_UPDATE_FAILED, false, "unable to update finalized features due to an unexpected server error");
    (97, PRINCIPAL_DESERIALIZATION_FAILURE, false, "request principal deserialization failed during forwarding, an internal error in the cluster's security setup");
    (98, SNAPSHOT_NOT_FOUND, false, "requested snapshot was not found");
    (99, POSITION_OUT_OF_RANGE, false, "the requested position is negative or not less than the size of the snapshot");
    (100, UNKNOWN_TOPIC_ID, true, "this server does not host this topic ID");
    (101, DUPLICATE_BROKER_REGISTRATION, false, "this broker ID is already in use");
    (102, BROKER_ID_NOT_REGISTERED, false, "the given broker ID was not registered");
    (103, INCONSISTENT_TOPIC_ID, true, "the log's topic ID did not match the topic ID in the request");
    (104, INCONSISTENT_CLUSTER_ID, false, "the cluster id in the request does not match the server's");
    (105, TRANSACTIONAL_ID_NOT_FOUND, false, "the transactional id could not be found");
    (106, FETCH_SESSION_TOPIC_ID_ERROR, true, "the fetch session encountered inconsistent topic ID usage");
    (107, INELIGIBLE_REPLICA, false, "the new ISR contains at least one ineligible replica");
    (108, NEW_LEADER_ELECTED, false, "the AlterPartition request updated the partition state but the leader has changed");
    (109, OFFSET_MOVED_TO_TIERED_STORAGE, false, "the requested offset is moved to tiered storage");
    (110, FENCED_MEMBER_EPOCH, false, "the member epoch is fenced by the group coordinator; the member must abandon its partitions and rejoin");
    (111, UNRELEASED_INSTANCE_ID, false, "the instance id is still used by another member of the consumer group, which must leave first");
    (112, UNSUPPORTED_ASSIGNOR, false, "the assignor or its version range is not supported by the consumer group");
    (113, STALE_MEMBER_EPOCH, false, "the member epoch is stale; the member must retry once it has its updated epoch from ConsumerGroupHeartbeat");
    (114, MISMATCHED_ENDPOINT_TYPE, false, "the request was sent to an endpoint of the wrong type");
    (115, UNSUPPORTED_ENDPOINT_TYPE, false, "this endpoint type is not supported yet");
    (116, UNKNOWN_CONTROLLER_ID, false, "this controller ID is not known");
    (117, UNKNOWN_SUBSCRIPTION_ID, false, "the push telemetry request had an invalid or outdated subscription id");
    (118, TELEMETRY_TOO_LARGE, false, "the push telemetry request was larger than the broker accepts");
    (119, INVALID_REGISTRATION, false, "the controller considers the broker registration invalid");
    (120, TRANSACTION_ABORTABLE, false, "the transaction hit an error; abort it to keep using this transactional id");
    (121, INVALID_RECORD_STATE, false, "the record state is invalid, so the delivery acknowledgement could not be completed");
    (122, SHARE_SESSION_NOT_FOUND, true, "the share session was not found");
    (123, INVALID_SHARE_SESSION_EPOCH, true, "the share session epoch is invalid");
    (124, FENCED_STATE_EPOCH, false, "the share coordinator rejected the request because the share-group state epoch did not match");
    (125, INVALID_VOTER_KEY, false, "the voter key doesn't match the receiving replica's key");
    (126, DUPLICATE_VOTER, false, "the voter is already part of the set of voters");
    (127, VOTER_NOT_FOUND, false, "the voter is not part of the set of voters");
    (128, INVALID_REGULAR_EXPRESSION, false, "the regular expression is not valid");
    (129, REBOOTSTRAP_REQUIRED, false, "the client's metadata is stale; it should rebootstrap to obtain new metadata");
    (130, STREAMS_INVALID_TOPOLOGY, false, "the supplied topology is invalid");
    (131, STREAMS_INVALID_TOPOLOGY_EPOCH, false, "the supplied topology epoch is invalid");
    (132, STREAMS_TOPOLOGY_FENCED, false, "the supplied topology epoch is outdated");
    (133, SHARE_SESSION_LIMIT_REACHED, true, "the limit of share sessions has been reached");
}

impl ErrorCode {
    /// The code for a wire value. Every `i16` is accepted.
    pub const fn from_i16(code: i16) -> Self {
        Self(code)
    }

    /// The wire value.
    pub const fn as_i16(self) -> i16 {
        self.0
    }

    /// True for `NONE` (0): the operation succeeded.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// True when this crate knows the code.
    pub const fn is_known(self) -> bool {
        self.info().is_some()
    }

    /// True when Kafka's clients retry an operation that failed with this
    /// code (the Java client maps it to a `RetriableException`). `NONE` and
    /// codes this crate does not know are not retriable.
    ///
    /// Note that some codes the idempotent producer recovers from are not
    /// retriable in this sense (`OUT_OF_ORDER_SEQUENCE_NUMBER`,
    /// `UNKNOWN_PRODUCER_ID`, `INVALID_PRODUCER_EPOCH`): recovering from them
    /// takes more than resending, and is the producer's decision.
    pub const fn is_retriable(self) -> bool {
        match self.info() {
            Some(info) => info.retriable,
            None => false,
        }
    }

    /// The code's name as Kafka spells it, e.g. `"OUT_OF_ORDER_SEQUENCE_NUMBER"`;
    /// `"UNRECOGNIZED_ERROR_CODE"` for a code this crate does not know.
    pub const fn name(self) -> &'static str {
        match self.info() {
            Some(info) => info.name,
            None => "UNRECOGNIZED_ERROR_CODE",
        }
    }

    /// A short sentence saying what the code means.
    pub const fn meaning(self) -> &'static str {
        match self.info() {
            Some(info) => info.meaning,
            None => "the broker sent an error code this client does not know (is it newer?)",
        }
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        Self(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.meaning())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_known_code_roundtrips_and_is_unique() {
        let mut names = HashSet::new();
        for (i, &code) in ErrorCode::KNOWN.iter().enumerate() {
            assert_eq!(ErrorCode::from_i16(code.as_i16()), code);
            assert_eq!(i16::from(ErrorCode::from(code.as_i16())), code.as_i16());
            assert!(code.is_known());
            assert!(names.insert(code.name()), "duplicate name {}", code.name());
            if i > 0 {
                assert!(
                    ErrorCode::KNOWN[i - 1] < code,
                    "table out of order at {code:?}"
                );
            }
        }
    }

    #[test]
    fn table_covers_every_code_from_minus_one_to_133() {
        let known: Vec<i16> = ErrorCode::KNOWN.iter().map(|c| c.as_i16()).collect();
        assert_eq!(known, (-1..=133).collect::<Vec<i16>>());
    }

    #[test]
    fn any_i16_roundtrips() {
        for v in i16::MIN..=i16::MAX {
            assert_eq!(ErrorCode::from(v).as_i16(), v);
        }
        assert!(!ErrorCode::from(134).is_known());
        assert!(!ErrorCode::from(-2).is_known());
        assert!(!ErrorCode::from(134).is_retriable());
    }

    #[test]
    fn retriable_codes_the_producer_cares_about() {
        // Hand-checked against the exception hierarchy in Kafka's
        // org.apache.kafka.common.errors (RetriableException subclasses).
        let expected: &[(i16, &str, bool)] = &[
            (3, "UNKNOWN_TOPIC_OR_PARTITION", true),
            (5, "LEADER_NOT_AVAILABLE", true),
            (6, "NOT_LEADER_OR_FOLLOWER", true),
            (7, "REQUEST_TIMED_OUT", true),
            (13, "NETWORK_EXCEPTION", true),
            (14, "COORDINATOR_LOAD_IN_PROGRESS", true),
            (15, "COORDINATOR_NOT_AVAILABLE", true),
            (16, "NOT_COORDINATOR", true),
            (19, "NOT_ENOUGH_REPLICAS", true),
            (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true),
            (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false),
            (46, "DUPLICATE_SEQUENCE_NUMBER", false),
            (47, "INVALID_PRODUCER_EPOCH", false),
            (51, "CONCURRENT_TRANSACTIONS", true),
            (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false),
            (59, "UNKNOWN_PRODUCER_ID", false),
            (87, "INVALID_RECORD", false),
            (90, "PRODUCER_FENCED", false),
            (10, "MESSAGE_TOO_LARGE", false),
            (2, "CORRUPT_MESSAGE", true),
            (56, "KAFKA_STORAGE_ERROR", true),
            (74, "FENCED_LEADER_EPOCH", true),
            (120, "TRANSACTION_ABORTABLE", false),
        ];
        for &(v, name, retriable) in expected {
            let code = ErrorCode::from(v);
            assert_eq!(code.name(), name, "code {v}");
            assert_eq!(code.is_retriable(), retriable, "{name}");
        }
    }

    #[test]
    fn the_whole_retriable_set() {
        let retriable: Vec<i16> = ErrorCode::KNOWN
            .iter()
            .filter(|c| c.is_retriable())
            .map(|c| c.as_i16())
            .collect();
        assert_eq!(
            retriable,
            [
                2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80,
                83, 84, 88, 89, 100, 103, 106, 122, 123, 133
            ]
        );
    }

    #[test]
    fn ok_and_display() {
        assert!(ErrorCode::NONE.is_ok());
        assert!(ErrorCode::default().is_ok());
        assert!(!ErrorCode::UNKNOWN_SERVER_ERROR.is_ok());
        assert_eq!(ErrorCode::NONE.to_string(), "NONE (0): no error");
        assert_eq!(
            format!("{:?}", ErrorCode::PRODUCER_FENCED),
            "PRODUCER_FENCED(90)"
        );
        assert_eq!(
            ErrorCode::from(500).to_string(),
            "UNRECOGNIZED_ERROR_CODE (500): the broker sent an error code this client does not know (is it newer?)"
        );
        for code in ErrorCode::KNOWN {
            let meaning = code.meaning();
            assert!(!meaning.is_empty() && !meaning.ends_with('.'), "{code:?}");
        }
    }
}
