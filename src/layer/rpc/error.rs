//! What the RPC layer needs from the errors it passes through.
//!
//! The layer returns the inner service's error and body error types
//! unchanged (no erasure to `BoxError`), but it still has to look inside
//! a failure to classify it: a deadline, a refused connection, a reset
//! stream carrying a status. [`InspectError`] is that view, implemented for
//! the error types a gRPC stack meets.

use std::error::Error as StdError;

use crate::layer::BoxError;

/// An error the RPC layer can look into.
pub trait InspectError {
    /// The error as a standard error, to walk its source chain.
    fn as_std_error(&self) -> &(dyn StdError + 'static);
}

impl InspectError for BoxError {
    fn as_std_error(&self) -> &(dyn StdError + 'static) {
        self.as_ref()
    }
}

impl InspectError for tonic::transport::Error {
    fn as_std_error(&self) -> &(dyn StdError + 'static) {
        self
    }
}

impl InspectError for tonic::Status {
    fn as_std_error(&self) -> &(dyn StdError + 'static) {
        self
    }
}

impl InspectError for std::io::Error {
    fn as_std_error(&self) -> &(dyn StdError + 'static) {
        self
    }
}

impl InspectError for std::convert::Infallible {
    fn as_std_error(&self) -> &(dyn StdError + 'static) {
        match *self {}
    }
}
