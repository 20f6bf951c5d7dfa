//! Why an operation failed, in a handful of classes that are safe to use as
//! metric labels.
//!
//! Every failure the client can meet lands in exactly one [`ErrorClass`]:
//! a gRPC status code, an HTTP status without gRPC framing, a transport
//! error, our own deadline, a dropped call, a response that breaks the
//! protocol, a write that never became readable, or a local crypto failure.
//!
//! | class          | from                                                        | retryable |
//! |----------------|-------------------------------------------------------------|-----------|
//! | `connect`      | refused, DNS or TLS failure before a request was sent       | yes       |
//! | `timeout`      | `DEADLINE_EXCEEDED`, HTTP 408, or our own deadline          | yes       |
//! | `cancelled`    | `CANCELLED`, or the caller dropped the call                 | no        |
//! | `unavailable`  | `UNAVAILABLE`, HTTP 502/503/504                             | yes       |
//! | `rate_limited` | `RESOURCE_EXHAUSTED`, HTTP 429                              | yes       |
//! | `auth`         | `UNAUTHENTICATED`, `PERMISSION_DENIED`, HTTP 401/403        | no        |
//! | `invalid`      | `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `OUT_OF_RANGE`, HTTP 400 | no |
//! | `not_found`    | `NOT_FOUND`                                                 | no        |
//! | `conflict`     | `ALREADY_EXISTS`, `ABORTED`                                 | yes       |
//! | `server`       | `INTERNAL`, `UNKNOWN`, `DATA_LOSS`, `UNIMPLEMENTED`, other HTTP 5xx/404 | no |
//! | `protocol`     | a response that does not decode or breaks the protocol, other HTTP codes | no |
//! | `not_visible`  | the write was accepted but never became readable in time    | yes       |
//! | `client`       | a local crypto or MLS failure                               | no        |
//!
//! `not_visible` is how XMTP reveals a silently rejected identity update:
//! the gateway accepts it, the indexer drops it, and readers never see it.

use std::error::Error as StdError;
use std::fmt;

use tonic::Code;

use crate::codec::DecodeFailure;

/// The class of a failed operation or call. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Could not reach the endpoint.
    Connect,
    /// A deadline passed.
    Timeout,
    /// The caller gave up.
    Cancelled,
    /// The service said it is unavailable.
    Unavailable,
    /// The service refused because of load or quota.
    RateLimited,
    /// Not authenticated or not allowed.
    Auth,
    /// The request was rejected as invalid.
    Invalid,
    /// The addressed thing does not exist.
    NotFound,
    /// Concurrent modification or duplicate.
    Conflict,
    /// The service failed internally.
    Server,
    /// The response broke the protocol.
    Protocol,
    /// An accepted write never became readable.
    NotVisible,
    /// A local failure (crypto, MLS).
    Client,
}

impl ErrorClass {
    /// Every class, in documentation order.
    pub const ALL: [ErrorClass; 13] = [
        Self::Connect,
        Self::Timeout,
        Self::Cancelled,
        Self::Unavailable,
        Self::RateLimited,
        Self::Auth,
        Self::Invalid,
        Self::NotFound,
        Self::Conflict,
        Self::Server,
        Self::Protocol,
        Self::NotVisible,
        Self::Client,
    ];

    /// The label value (`xmtp.error.class`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::Auth => "auth",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Server => "server",
            Self::Protocol => "protocol",
            Self::NotVisible => "not_visible",
            Self::Client => "client",
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Connect
                | Self::Timeout
                | Self::Unavailable
                | Self::RateLimited
                | Self::Conflict
                | Self::NotVisible
        )
    }

    /// The class of a gRPC status code; `None` for `OK`.
    pub fn from_code(code: Code) -> Option<Self> {
        Some(match code {
            Code::Ok => return None,
            Code::DeadlineExceeded => Self::Timeout,
            Code::Cancelled => Self::Cancelled,
            Code::Unavailable => Self::Unavailable,
            Code::ResourceExhausted => Self::RateLimited,
            Code::Unauthenticated | Code::PermissionDenied => Self::Auth,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => Self::Invalid,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists | Code::Aborted => Self::Conflict,
            Code::Internal | Code::Unknown | Code::DataLoss | Code::Unimplemented => Self::Server,
        })
    }

    /// The class of an HTTP response that carried no gRPC status.
    pub fn from_http_status(status: http::StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::Invalid,
            401 | 403 => Self::Auth,
            408 => Self::Timeout,
            429 => Self::RateLimited,
            502..=504 => Self::Unavailable,
            404 | 500..=599 => Self::Server,
            _ => Self::Protocol,
        }
    }

    /// The class of a status returned by a tonic client.
    ///
    /// tonic reports transport failures and undecodable responses as
    /// statuses too; their source chain tells them apart from what the
    /// server said.
    pub fn from_status(status: &tonic::Status) -> Option<Self> {
        let source = status.source();
        if chain_has(source, |e| e.is::<DecodeFailure>()) {
            return Some(Self::Protocol);
        }
        if chain_has(source, is_connect_error) {
            return Some(Self::Connect);
        }
        if chain_has(source, is_timeout_error) {
            return Some(Self::Timeout);
        }
        Self::from_code(status.code())
    }

    /// The class of a transport error returned by an http service (what a
    /// tower layer below tonic sees instead of a status).
    pub fn from_transport_error(error: &(dyn StdError + 'static)) -> Self {
        if chain_has(Some(error), is_timeout_error) {
            Self::Timeout
        } else if chain_has(Some(error), is_connect_error) {
            Self::Connect
        } else {
            Self::Unavailable
        }
    }
}

/// An error that knows its class: what the operation layer needs from a
/// service's error type.
pub trait Classify {
    /// The class of this error.
    fn class(&self) -> ErrorClass;
    /// A short, low-cardinality name (`error.type`); the class by default.
    fn error_type(&self) -> &'static str {
        self.class().as_str()
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The upper-case name of a gRPC code, as OpenTelemetry writes it.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

fn chain_has(
    mut error: Option<&(dyn StdError + 'static)>,
    test: impl Fn(&(dyn StdError + 'static)) -> bool,
) -> bool {
    while let Some(e) = error {
        if test(e) {
            return true;
        }
        error = e.source();
    }
    false
}

/// Failures that happen before a connection exists. hyper-util names its
/// connector errors in their message ("tcp connect error", "dns error");
/// the io kinds catch the rest.
fn is_connect_error(error: &(dyn StdError + 'static)) -> bool {
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        use std::io::ErrorKind::*;
        if matches!(
            io.kind(),
            ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable
        ) {
            return true;
        }
    }
    let text = error.to_string();
    text.starts_with("tcp connect error")
        || text.starts_with("dns error")
        || text.contains("invalid peer certificate")
}

fn is_timeout_error(error: &(dyn StdError + 'static)) -> bool {
    // tonic's channel fails a call whose grpc-timeout passed with
    // TimeoutExpired.
    error.is::<tower::timeout::error::Elapsed>()
        || error.is::<tokio::time::error::Elapsed>()
        || error.is::<tonic::TimeoutExpired>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grpc_code_has_one_class() {
        assert_eq!(ErrorClass::from_code(Code::Ok), None);
        assert_eq!(
            ErrorClass::from_code(Code::ResourceExhausted),
            Some(ErrorClass::RateLimited)
        );
        assert_eq!(
            ErrorClass::from_code(Code::FailedPrecondition),
            Some(ErrorClass::Invalid)
        );
        assert_eq!(
            ErrorClass::from_code(Code::Unimplemented),
            Some(ErrorClass::Server)
        );
    }

    #[test]
    fn decode_failures_are_protocol_errors() {
        let mut status = tonic::Status::internal("bad bytes");
        status.set_source(std::sync::Arc::new(DecodeFailure("eof".into())));
        assert_eq!(ErrorClass::from_status(&status), Some(ErrorClass::Protocol));
    }

    #[test]
    fn an_expired_grpc_timeout_is_a_timeout() {
        let expired: Box<dyn StdError + Send + Sync> = Box::new(tonic::TimeoutExpired(()));
        assert_eq!(
            ErrorClass::from_transport_error(expired.as_ref()),
            ErrorClass::Timeout
        );
    }

    #[test]
    fn labels_are_unique() {
        let mut labels: Vec<_> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ErrorClass::ALL.len());
    }
}
