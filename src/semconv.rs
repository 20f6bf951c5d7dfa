//! Every telemetry name this crate emits, in one place.
//!
//! The RPC names follow the OpenTelemetry semantic conventions at the
//! version pinned in [`SEMCONV_VERSION`]. The RPC conventions are still a
//! release candidate and keep renaming keys (`rpc.response.status_code` is
//! already `rpc.status_code` on their main branch), so a rename is one line
//! here. The `xmtp.*` names are this crate's own. Dashboards and tests read
//! these constants rather than repeating the strings.

/// The semantic-conventions release the RPC names follow.
pub const SEMCONV_VERSION: &str = "1.44.0";
/// Schema URL of that release, set on the instrumentation scope.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.44.0";
/// Instrumentation scope name.
pub const SCOPE_NAME: &str = "xmtp-opmon";

// --- RPC (OpenTelemetry semantic conventions) -----------------------------

/// `rpc.system.name`; always [`RPC_SYSTEM_GRPC`] here.
pub const RPC_SYSTEM_NAME: &str = "rpc.system.name";
/// The value of `rpc.system.name`.
pub const RPC_SYSTEM_GRPC: &str = "grpc";
/// Fully qualified `package.Service/Method`, or `_OTHER`.
pub const RPC_METHOD: &str = "rpc.method";
/// The original method when `rpc.method` is `_OTHER`.
pub const RPC_METHOD_ORIGINAL: &str = "rpc.method_original";
/// The gRPC status code as a string (`OK`, `UNAVAILABLE`, …).
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// Set only on failures: the status code string, or a class for failures
/// that produced no status.
pub const ERROR_TYPE: &str = "error.type";
/// Host of the configured target.
pub const SERVER_ADDRESS: &str = "server.address";
/// Port of the configured target.
pub const SERVER_PORT: &str = "server.port";
/// Value of `rpc.method` for methods outside the known table.
pub const OTHER: &str = "_OTHER";

/// `rpc.client.call.duration`: histogram of call durations in seconds.
pub const RPC_CLIENT_CALL_DURATION: &str = "rpc.client.call.duration";
/// The 14 bucket boundaries the conventions advise for RPC durations (s).
pub const RPC_DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// `rpc.client.time_to_first_message`: histogram of the time from the
/// start of a server-streaming call to its first response message (s),
/// with the labels of [`RPC_CLIENT_CALL_DURATION`] but the status and
/// error type (recorded when the first message arrives, since a
/// subscription may stay open for days). Uses [`OPERATION_BOUNDARIES`]: a
/// stream's first message may wait for news far longer than a unary call.
pub const RPC_CLIENT_TIME_TO_FIRST_MESSAGE: &str = "rpc.client.time_to_first_message";
/// Response messages a server-streaming call received, on its span.
pub const XMTP_RPC_MESSAGES_RECEIVED: &str = "xmtp.rpc.messages_received";

// --- XMTP operations (this crate's names) ----------------------------------

/// The operation (`identity.create`, `group.create`, `group.add_members`,
/// `identity.lookup`).
pub const XMTP_OPERATION: &str = "xmtp.operation";
/// The kind of an RPC (`publish`, `query`, `lookup`, `subscribe`, `nodes`,
/// `health`, or `_OTHER`), from the layer's method table.
pub const XMTP_RPC_FAMILY: &str = "xmtp.rpc.family";
/// The phase of an operation (`key_package.publish`, …).
pub const XMTP_PHASE: &str = "xmtp.phase";
/// The network generation: `v4` or `v3`.
pub const XMTP_API: &str = "xmtp.api";
/// Where the traffic comes from: `real` (an app) or `synthetic` (a benchmark).
pub const XMTP_TRAFFIC: &str = "xmtp.traffic";
/// Resource attribute naming the benchmark run that produced the
/// telemetry (the `run_id` of its `run.json`). Never a metric label: every
/// run would be a new series.
pub const XMTP_RUN_ID: &str = "xmtp.run.id";
/// `ok` or `error`.
pub const XMTP_OUTCOME: &str = "xmtp.outcome";
/// The error class on failures (see [`crate::classify`]).
pub const XMTP_ERROR_CLASS: &str = "xmtp.error.class";
/// Bounded group-size bucket, for metrics.
pub const XMTP_GROUP_SIZE_BUCKET: &str = "xmtp.group.size_bucket";
/// Exact group size, on spans only.
pub const XMTP_GROUP_SIZE: &str = "xmtp.group.size";
/// Members added by the operation, on spans only.
pub const XMTP_MEMBERS_ADDED: &str = "xmtp.members.added";

/// XMTP's operation names, the values of [`XMTP_OPERATION`] that this
/// crate's client reports. Other clients report their own names.
pub mod op_names {
    /// A new inbox with one installation.
    pub const IDENTITY_CREATE: &str = "identity.create";
    /// A new group, optionally with initial members.
    pub const GROUP_CREATE: &str = "group.create";
    /// Adding inboxes to an existing group.
    pub const GROUP_ADD_MEMBERS: &str = "group.add_members";
    /// Looking up the inbox of an address.
    pub const IDENTITY_LOOKUP: &str = "identity.lookup";
    /// Sending an application message to a group.
    pub const MESSAGE_SEND: &str = "message.send";
    /// From the start of a send until another member received and
    /// decrypted the message.
    pub const MESSAGE_VISIBLE: &str = "message.visible";
    /// From the start of an addition until the added installation joined
    /// the group from its welcome.
    pub const MEMBER_VISIBLE: &str = "member.visible";
    /// From the start of an identity creation until another connection
    /// resolves the address to the inbox and reads its associations.
    pub const IDENTITY_VISIBLE: &str = "identity.visible";
}

/// `xmtp.client.operation.duration`: histogram of operation durations (s).
pub const OPERATION_DURATION: &str = "xmtp.client.operation.duration";
/// `xmtp.client.phase.duration`: histogram of phase durations (s).
pub const PHASE_DURATION: &str = "xmtp.client.phase.duration";
/// `xmtp.client.operation.active`: up-down counter of operations in flight.
pub const OPERATION_ACTIVE: &str = "xmtp.client.operation.active";
/// Unit of every duration histogram.
pub const UNIT_SECONDS: &str = "s";
/// Unit of the in-flight counter.
pub const UNIT_OPERATIONS: &str = "{operation}";

/// Bucket boundaries of operation and phase durations (s): the RPC
/// boundaries, extended below for local phases and above for waits on
/// the chain path.
pub const OPERATION_BOUNDARIES: [f64; 19] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    15.0, 30.0, 60.0,
];

/// The bounded bucket of a group size (`xmtp.group.size_bucket`).
pub fn group_size_bucket(size: usize) -> &'static str {
    match size {
        0..=1 => "1",
        2..=10 => "2-10",
        11..=50 => "11-50",
        51..=100 => "51-100",
        101..=250 => "101-250",
        _ => "251+",
    }
}

/// Unit, description and boundaries of each histogram this crate records.
pub fn histogram_boundaries(name: &str) -> Option<&'static [f64]> {
    match name {
        RPC_CLIENT_CALL_DURATION => Some(&RPC_DURATION_BOUNDARIES),
        OPERATION_DURATION | PHASE_DURATION | RPC_CLIENT_TIME_TO_FIRST_MESSAGE => {
            Some(&OPERATION_BOUNDARIES)
        }
        _ => None,
    }
}

/// The unit of a metric this crate records.
pub fn unit(name: &str) -> Option<&'static str> {
    match name {
        RPC_CLIENT_CALL_DURATION
        | RPC_CLIENT_TIME_TO_FIRST_MESSAGE
        | OPERATION_DURATION
        | PHASE_DURATION => Some(UNIT_SECONDS),
        OPERATION_ACTIVE => Some(UNIT_OPERATIONS),
        _ => None,
    }
}

/// Envelopes held by the embedded node's store (an up-down counter).
pub const NODE_STORE_ENVELOPES: &str = "xmtp.node.store.envelopes";
/// Bytes held by the embedded node's store (an up-down counter).
pub const NODE_STORE_BYTES: &str = "xmtp.node.store.size";
/// Envelopes the embedded node's store has evicted (a counter).
pub const NODE_STORE_EVICTIONS: &str = "xmtp.node.store.evictions";
/// Topics the embedded node's store has forgotten whole, least recently
/// used first, once what its rules keep outgrew the size cap (a counter).
pub const NODE_STORE_FORGOTTEN: &str = "xmtp.node.store.forgotten";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_sorted_and_sizes_bucketed() {
        for bounds in [&RPC_DURATION_BOUNDARIES[..], &OPERATION_BOUNDARIES[..]] {
            assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        }
        assert_eq!(group_size_bucket(1), "1");
        assert_eq!(group_size_bucket(10), "2-10");
        assert_eq!(group_size_bucket(100), "51-100");
        assert_eq!(group_size_bucket(10_000), "251+");
    }
}
