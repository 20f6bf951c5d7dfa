//! The XMTP method table: which gRPC paths the layer knows, and the
//! family each belongs to.
//!
//! Known methods keep their full name in `rpc.method`; anything else is
//! reported as `_OTHER` (with the original path on the span only), so an
//! unexpected caller cannot blow up metric cardinality.

use crate::semconv::OTHER;

/// What a method does, at a glance (`xmtp.rpc.family`).
const PUBLISH: &str = "publish";
const QUERY: &str = "query";
const SUBSCRIBE: &str = "subscribe";
const LOOKUP: &str = "lookup";
const NODES: &str = "nodes";
const HEALTH: &str = "health";

/// Every method of XMTP's V4 (legacy and 2026 service names) and V3 APIs
/// that a client calls, and gRPC health. Paths without the leading slash,
/// as `rpc.method` wants them.
pub(crate) const XMTP_METHODS: &[(&str, &str)] = &[
    // V4 gateway
    (
        "xmtp.xmtpv4.payer_api.PayerApi/PublishClientEnvelopes",
        PUBLISH,
    ),
    ("xmtp.xmtpv4.payer_api.PayerApi/GetNodes", NODES),
    (
        "xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
        PUBLISH,
    ),
    ("xmtp.xmtpv4.gateway_api.GatewayApi/GetNodes", NODES),
    // V4 node
    (
        "xmtp.xmtpv4.message_api.ReplicationApi/QueryEnvelopes",
        QUERY,
    ),
    (
        "xmtp.xmtpv4.message_api.ReplicationApi/GetNewestEnvelope",
        QUERY,
    ),
    ("xmtp.xmtpv4.message_api.ReplicationApi/GetInboxIds", LOOKUP),
    (
        "xmtp.xmtpv4.message_api.ReplicationApi/SubscribeTopics",
        SUBSCRIBE,
    ),
    ("xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes", QUERY),
    ("xmtp.xmtpv4.message_api.QueryApi/GetNewestEnvelope", QUERY),
    ("xmtp.xmtpv4.message_api.QueryApi/GetInboxIds", LOOKUP),
    (
        "xmtp.xmtpv4.message_api.QueryApi/SubscribeTopics",
        SUBSCRIBE,
    ),
    ("xmtp.xmtpv4.message_api.QueryApi/Subscribe", SUBSCRIBE),
    // V3
    ("xmtp.mls.api.v1.MlsApi/SendGroupMessages", PUBLISH),
    ("xmtp.mls.api.v1.MlsApi/SendWelcomeMessages", PUBLISH),
    ("xmtp.mls.api.v1.MlsApi/UploadKeyPackage", PUBLISH),
    ("xmtp.mls.api.v1.MlsApi/FetchKeyPackages", QUERY),
    ("xmtp.mls.api.v1.MlsApi/QueryGroupMessages", QUERY),
    ("xmtp.mls.api.v1.MlsApi/QueryWelcomeMessages", QUERY),
    ("xmtp.mls.api.v1.MlsApi/GetNewestGroupMessage", QUERY),
    ("xmtp.mls.api.v1.MlsApi/SubscribeGroupMessages", SUBSCRIBE),
    ("xmtp.mls.api.v1.MlsApi/SubscribeWelcomeMessages", SUBSCRIBE),
    ("xmtp.mls.api.v1.MlsApi/Subscribe", SUBSCRIBE),
    ("xmtp.mls.api.v1.MlsApi/GetIdentityUpdates", QUERY),
    (
        "xmtp.identity.api.v1.IdentityApi/PublishIdentityUpdate",
        PUBLISH,
    ),
    ("xmtp.identity.api.v1.IdentityApi/GetIdentityUpdates", QUERY),
    ("xmtp.identity.api.v1.IdentityApi/GetInboxIds", LOOKUP),
    (
        "xmtp.identity.api.v1.IdentityApi/VerifySmartContractWalletSignatures",
        QUERY,
    ),
    // Health
    ("grpc.health.v1.Health/Check", HEALTH),
];

/// A method as the layer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Method {
    /// `package.Service/Method`, or `_OTHER`.
    pub(crate) name: &'static str,
    /// `xmtp.rpc.family`, or `_OTHER`.
    pub(crate) family: &'static str,
}

impl Method {
    pub(crate) fn is_known(&self) -> bool {
        self.name != OTHER
    }

    /// Whether the method streams its responses (XMTP's subscriptions).
    pub(crate) fn is_streaming(&self) -> bool {
        self.family == SUBSCRIBE
    }
}

/// Finds `path` (with or without its leading slash) in `table`.
pub(crate) fn lookup(table: &[(&'static str, &'static str)], path: &str) -> Method {
    let path = path.strip_prefix('/').unwrap_or(path);
    table
        .iter()
        .find(|(name, _)| *name == path)
        .map(|&(name, family)| Method { name, family })
        .unwrap_or(Method {
            name: OTHER,
            family: OTHER,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_methods() {
        let known = lookup(
            XMTP_METHODS,
            "/xmtp.xmtpv4.message_api.QueryApi/GetInboxIds",
        );
        assert_eq!(known.name, "xmtp.xmtpv4.message_api.QueryApi/GetInboxIds");
        assert_eq!(known.family, "lookup");
        let unknown = lookup(XMTP_METHODS, "/evil.Service/Method");
        assert_eq!(unknown.name, "_OTHER");
        assert!(!unknown.is_known());
    }
}
