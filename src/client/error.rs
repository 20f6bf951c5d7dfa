//! The client's error: one variant per kind of cause, each mapping to one
//! [`ErrorClass`].

use std::time::Duration;

use crate::classify::{grpc_code_name, ErrorClass};
use crate::identity::IdentityError;
use crate::mls::MlsError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A call returned a non-OK status (or failed in transport, which
    /// tonic also reports as a status).
    #[error("{method} failed: {status}")]
    Rpc {
        /// The gRPC path, e.g. `/xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes`.
        method: &'static str,
        /// What tonic returned.
        status: tonic::Status,
    },
    /// A call did not finish within the client's per-call deadline.
    #[error("{method} did not answer within {timeout:?}")]
    Timeout {
        /// The gRPC path.
        method: &'static str,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// A write was accepted but never became readable.
    #[error("{what} was accepted but not readable after {waited:?}")]
    NotVisible {
        /// What was written.
        what: &'static str,
        /// How long the client polled.
        waited: Duration,
    },
    /// An inbox to add has no identity (or no usable key package).
    #[error("unknown inbox: {0}")]
    UnknownInbox(String),
    /// Another commit reached the group first.
    #[error("another commit was applied to the group before ours")]
    Conflict,
    /// The server answered something that breaks the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Local identity cryptography failed.
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    /// MLS failed, locally or on bad remote input.
    #[error("mls: {0}")]
    Mls(#[from] MlsError),
    /// The operation was asked of something that cannot do it.
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// The error's class (see [`crate::classify`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Rpc { status, .. } => {
                ErrorClass::from_status(status).unwrap_or(ErrorClass::Server)
            }
            Self::Timeout { .. } => ErrorClass::Timeout,
            Self::NotVisible { .. } => ErrorClass::NotVisible,
            Self::UnknownInbox(_) => ErrorClass::NotFound,
            Self::Conflict => ErrorClass::Conflict,
            Self::Protocol(_) => ErrorClass::Protocol,
            Self::Mls(error) if error.is_remote_fault() => ErrorClass::Protocol,
            Self::Identity(_) | Self::Mls(_) | Self::Usage(_) => ErrorClass::Client,
        }
    }

    /// A short, low-cardinality name for the error (`error.type`): the gRPC
    /// code for failed calls, the class otherwise.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Rpc { status, .. }
                if self.class() != ErrorClass::Connect && self.class() != ErrorClass::Protocol =>
            {
                grpc_code_name(status.code())
            }
            _ => self.class().as_str(),
        }
    }
}

impl crate::classify::Classify for ClientError {
    fn class(&self) -> ErrorClass {
        ClientError::class(self)
    }

    fn error_type(&self) -> &'static str {
        ClientError::error_type(self)
    }
}
